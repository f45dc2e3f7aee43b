//! The rollout rules, case by case.

use super::*;

fn plan(json: &str) -> Result<Plan, RolloutError> {
    Plan::parse(json.as_bytes())
}

fn three_rings() -> Plan {
    plan(r#"{"rings":[{"tag":"canary"},{"percent":10},{"percent":100}],"soak":"15m","maxFailedPercent":5,"minReportedPercent":80}"#)
        .unwrap()
}

fn rollout(p: Plan) -> Rollout {
    Rollout {
        plan: p,
        candidate_version: 2,
        candidate: "AB".into(),
        candidate_size: 10,
        state: State::Active,
        ring: 0,
        ring_started_at: 1000,
        started_at: 1000,
        reason: None,
    }
}

#[test]
fn the_issue_example_plan_reads_and_writes_back_the_same() {
    let p = three_rings();
    assert_eq!(p.rings.len(), 3);
    assert_eq!(p.soak_secs, 900);
    assert_eq!(p.max_failed_percent, 5.0);
    let again = Plan::parse(p.to_json().to_string().as_bytes()).unwrap();
    assert_eq!(again, p);
    assert_eq!(p.to_json()["soak"], "15m");
}

#[test]
fn bad_plans_are_refused_with_the_reason() {
    for (json, says) in [
        (r#"{"rings":[]}"#, "1 to 10 rings"),
        (r#"{"rings":[{"percent":0}]}"#, "above 0"),
        (r#"{"rings":[{"percent":101}]}"#, "at most 100"),
        (r#"{"rings":[{"percent":50},{"percent":10}]}"#, "cumulative"),
        (r#"{"rings":[{"tag":"a","percent":5}]}"#, "exactly one"),
        (r#"{"rings":[{}]}"#, "exactly one"),
        (r#"{"rings":[{"tag":"a/b"}]}"#, "slashes"),
        (r#"{"rings":[{"tag":"a"},{"tag":"A"}]}"#, "already a ring"),
        (r#"{"rings":[{"tag":"a"}],"soak":"soon"}"#, "not a duration"),
        (r#"{"rings":[{"tag":"a"}],"soak":"31days"}"#, "30 days"),
        (
            r#"{"rings":[{"tag":"a"}],"maxFailedPercent":-1}"#,
            "0 to 100",
        ),
        (r#"{"rings":[{"tag":"a"}],"extra":1}"#, "unknown field"),
        ("[", "EOF"),
    ] {
        let e = plan(json).unwrap_err().to_string();
        assert!(e.contains(says), "{json}: {e}");
    }
}

#[test]
fn buckets_are_stable_and_spread_evenly() {
    let id = Uuid::parse_str("6a9a4c6e-0d1e-4b5c-9d64-9f1d8b0c2e11").unwrap();
    assert_eq!(bucket(&id), bucket(&id));
    // Pinned: a node must keep its ring across releases and replicas.
    assert_eq!(bucket(&Uuid::nil()), {
        let d = Sha256::digest([0u8; 16]);
        u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % BUCKETS
    });
    let ids: Vec<Uuid> = (0..10_000u128).map(|i| Uuid::from_u128(i * 7919)).collect();
    let under_10 = ids.iter().filter(|i| bucket(i) < 1000).count();
    assert!((850..=1150).contains(&under_10), "{under_10}");
}

#[test]
fn a_node_is_in_the_first_ring_that_takes_it() {
    let p = three_rings();
    let ids: Vec<Uuid> = (0..2000u128)
        .map(|i| Uuid::from_u128(i * 104_729))
        .collect();
    let canary = vec!["Canary".to_string()];
    assert!(ids.iter().all(|i| p.ring_of(i, &canary) == Some(0)));
    let second = ids.iter().filter(|i| p.ring_of(i, &[]) == Some(1)).count();
    let third = ids.iter().filter(|i| p.ring_of(i, &[]) == Some(2)).count();
    assert_eq!(second + third, ids.len());
    assert!((150..=250).contains(&second), "{second}");
    let only_tag = plan(r#"{"rings":[{"tag":"canary"}]}"#).unwrap();
    assert_eq!(only_tag.ring_of(&ids[0], &[]), None);
}

#[test]
fn rings_reached_are_served_the_candidate_and_others_are_not() {
    let mut r = rollout(three_rings());
    let id = (0..u128::MAX)
        .map(Uuid::from_u128)
        .find(|i| bucket(i) >= 1000)
        .unwrap();
    assert!(r.serves_candidate(&id, &["canary".into()]));
    assert!(!r.serves_candidate(&id, &[]));
    r.ring = 2;
    assert!(r.serves_candidate(&id, &[]));
    r.state = State::Halted;
    assert!(r.serves_candidate(&id, &[]));
    r.state = State::Aborted;
    assert!(!r.serves_candidate(&id, &["canary".into()]));
}

fn tally(nodes: u64, reported: u64, failed: u64) -> Tally {
    Tally {
        nodes,
        on_candidate: nodes,
        reported,
        failed,
    }
}

#[test]
fn a_ring_waits_for_its_soak_and_reports_then_passes() {
    let r = rollout(three_rings());
    assert!(
        matches!(r.judge(&tally(10, 10, 0), 1000 + 899), Verdict::Wait(w) if w.contains("soaking"))
    );
    assert!(
        matches!(r.judge(&tally(10, 7, 0), 1000 + 900), Verdict::Wait(w) if w.contains("80% needed"))
    );
    assert!(matches!(
        r.judge(&tally(10, 8, 0), 1000 + 900),
        Verdict::Pass(_)
    ));
    assert!(
        matches!(r.judge(&tally(0, 0, 0), 1000 + 900), Verdict::Pass(w) if w.contains("no nodes"))
    );
}

#[test]
fn a_ring_with_too_many_failures_fails_before_its_soak_ends() {
    let r = rollout(three_rings());
    assert!(matches!(
        r.judge(&tally(100, 10, 5), 1001),
        Verdict::Wait(_)
    ));
    assert!(
        matches!(r.judge(&tally(100, 10, 6), 1001), Verdict::Fail(w) if w.contains("6 of 100"))
    );
}

#[test]
fn only_runs_of_the_candidate_since_the_ring_started_count() {
    let mut t = Tally::default();
    t.add(true, Some(("failed", 999, "ab")), "AB", 1000);
    t.add(true, Some(("failed", 1000, "cd")), "AB", 1000);
    t.add(true, Some(("non-compliant", 1000, "cd,ab")), "AB", 1000);
    t.add(true, Some(("compliant", 1001, "AB")), "AB", 1000);
    t.add(false, None, "AB", 1000);
    assert_eq!(
        t,
        Tally {
            nodes: 5,
            on_candidate: 4,
            reported: 2,
            failed: 1
        }
    );
}

#[test]
fn passing_every_ring_makes_the_candidate_current() {
    let mut r = rollout(three_rings());
    let step = r.apply(Verdict::Pass("ok".into()), 2000).unwrap();
    assert_eq!(step.audit_name(), "rollout.advance");
    assert_eq!((r.ring, r.ring_started_at), (1, 2000));
    r.apply(Verdict::Pass("ok".into()), 3000).unwrap();
    let done = r.apply(Verdict::Pass("ok".into()), 4000).unwrap();
    assert!(matches!(done, Step::Done { .. }));
    assert_eq!(r.state, State::Done);
    assert_eq!(r.apply(Verdict::Pass("ok".into()), 5000), None);
}

#[test]
fn a_halted_rollout_moves_only_by_an_operator() {
    let mut r = rollout(three_rings());
    r.apply(Verdict::Fail("too many".into()), 2000).unwrap();
    assert_eq!(r.state, State::Halted);
    assert_eq!(r.apply(Verdict::Pass("ok".into()), 2001), None);
    assert_eq!(r.ring, 0);
    r.resume(3000).unwrap();
    assert_eq!((r.state, r.ring_started_at), (State::Active, 3000));
    assert!(r.resume(3001).is_err());
    r.apply(Verdict::Fail("again".into()), 3002).unwrap();
    let step = r.promote("alice", 4000).unwrap();
    assert_eq!(
        step.describe(),
        "ring 2 gets the candidate: promoted by alice"
    );
    assert_eq!(r.state, State::Active);
    r.abort("bob").unwrap();
    assert_eq!(r.state, State::Aborted);
    let e = r.promote("alice", 5000).unwrap_err().to_string();
    assert!(e.contains("aborted"), "{e}");
}

#[test]
fn a_waiting_verdict_changes_only_the_reason() {
    let mut r = rollout(three_rings());
    assert_eq!(r.apply(Verdict::Wait("soaking".into()), 1001), None);
    assert_eq!(r.reason.as_deref(), Some("soaking"));
    assert_eq!(r.state, State::Active);
}
