//! Rollout plans as the admin API receives them: parsing never panics, a plan that passes has
//! 1 to 10 rings with non-decreasing percentages, reads back the same from what it writes, and
//! puts any node in at most one ring.
#![no_main]
use dsc_core::pull::rollout::{MAX_RINGS, Plan, Ring};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = Plan::parse(data) else {
        return;
    };
    assert!((1..=MAX_RINGS).contains(&plan.rings.len()));
    let mut highest = 0.0;
    for ring in &plan.rings {
        if let Ring::Percent(p) = ring {
            assert!(*p > 0.0 && *p <= 100.0 && *p >= highest);
            highest = *p;
        }
    }
    let again = Plan::parse(plan.to_json().to_string().as_bytes()).expect("a written plan reads back");
    assert_eq!(again.rings.len(), plan.rings.len());
    assert_eq!(again.soak_secs, plan.soak_secs);
    let id = uuid::Uuid::from_slice(&{
        let mut b = [0u8; 16];
        for (i, x) in data.iter().take(16).enumerate() {
            b[i] = *x;
        }
        b
    })
    .unwrap_or_default();
    if let Some(r) = plan.ring_of(&id, &[]) {
        assert!(r < plan.rings.len());
    }
});
