//! Pull-protocol bodies (registration, GetDscAction, SendReport, and the GetDscAction answer an
//! agent reads): never panic; a GetDscAction that parses always gets a decision the LCM can
//! parse.
#![no_main]
use dsc_core::pull::action::decide;
use dsc_core::pull::messages::{
    GetDscActionRequest, GetDscActionResponse, RegisterRequest, parse_report,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<RegisterRequest>(data);
    let _ = parse_report(data);
    let _ = serde_json::from_slice::<GetDscActionResponse>(data);
    if let Ok(req) = serde_json::from_slice::<GetDscActionRequest>(data) {
        let names = vec!["Web".to_string(), "P1".to_string()];
        let d = decide(&req, &names, |n| (n == "Web").then(|| "AB".repeat(32)));
        let json = String::from_utf8(d.response.to_odata_json("http://x")).unwrap();
        assert!(!json.contains("UpdateMetaConfig\""));
    }
});
