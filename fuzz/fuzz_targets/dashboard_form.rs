//! Dashboard form posts as the server decodes them: the first line is the `Content-Type`, the
//! rest the body. Never panics; a multipart form yields at most one file, and every field name
//! and value comes from the body.
#![no_main]
use dsc_pull_server::ui::form::Form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]).into_owned();
    let body = bytes::Bytes::copy_from_slice(data.get(split + 1..).unwrap_or_default());
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else { return };
    if let Ok(form) = rt.block_on(Form::parse(&content_type, body.clone())) {
        let total: usize = form.fields.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= body.len() * 3 + 16, "fields larger than the body they came from");
        if let Some(file) = &form.file {
            assert!(file.len() <= body.len());
        }
    }
});
