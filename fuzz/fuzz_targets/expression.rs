//! Configuration expressions: parsing and evaluating arbitrary text never panics, and every
//! error carries a column inside the text.
#![no_main]
use dsc_core::expr::{Context, evaluate, parse};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

struct Ctx;
impl Context for Ctx {
    fn parameter(&self, name: &str) -> Option<Value> {
        (name == "p").then(|| json!({"a": [1, "x", {"b": true}]}))
    }
    fn variable(&self, _: &str) -> Option<Value> {
        Some(json!("v"))
    }
    fn reference(&self, _: &str) -> Option<Value> {
        None
    }
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::UNIX_EPOCH
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse(&text) {
        Ok(e) => {
            if let Err(err) = evaluate(&e, &Ctx, &text) {
                assert!(err.column >= 1 && err.column <= text.chars().count() + 1, "{err}");
            }
        }
        Err(err) => assert!(err.column >= 1 && err.column <= text.chars().count() + 1, "{err}"),
    }
});
