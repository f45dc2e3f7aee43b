//! Pull-protocol path routing: never panics, and a routed configuration or module name never
//! carries a path separator or `..`.
#![no_main]
use dsc_core::pull::path::{Method, Route, route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = [Method::Get, Method::Put, Method::Post, Method::Other][(m % 4) as usize];
    let path = String::from_utf8_lossy(rest);
    if let Ok(r) = route(method, &path) {
        let names: Vec<&str> = match &r {
            Route::GetConfiguration { name, .. } => vec![name],
            Route::GetModule { name, version } => vec![name, version],
            _ => vec![],
        };
        for n in names {
            assert!(!n.contains('/') && !n.contains('\\') && !n.contains(".."), "unsafe name routed: {n:?}");
        }
    }
});
