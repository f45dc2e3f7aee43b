//! Configuration documents and `--parameters` input (JSON or YAML): parsing, parameter
//! resolution and run ordering never panic.
#![no_main]
use dsc_core::config::document::{parse_document, parse_parameters_input, resolve_parameters, run_order};
use dsc_core::expr::Isolated;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_parameters_input(&text);
    if let Ok(doc) = parse_document(&text) {
        let _ = resolve_parameters(&doc, &serde_json::Map::new(), &Isolated);
        // dependsOn taken literally (already `type:name`), so ordering sees arbitrary ids.
        let ids: Vec<Vec<String>> = doc.resources.iter().map(|r| r.depends_on.clone().unwrap_or_default()).collect();
        if let Ok(order) = run_order(&doc.resources, &ids) {
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, (0..doc.resources.len()).collect::<Vec<_>>());
        }
    }
});
