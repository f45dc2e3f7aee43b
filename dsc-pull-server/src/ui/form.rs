//! Posted dashboard forms: `application/x-www-form-urlencoded` and `multipart/form-data`
//! bodies (already read, and bounded, by the caller) decoded into fields and at most one file.
//! Malformed input is an error message for the page, never a panic.

use crate::http::query_params;
use bytes::Bytes;
use std::collections::HashMap;

/// A posted form's fields (and the uploaded file, for multipart forms).
pub struct Form {
    pub fields: HashMap<String, String>,
    pub file: Option<Bytes>,
}

impl Form {
    /// A field's value ("" when absent).
    pub fn get(&self, k: &str) -> &str {
        self.fields.get(k).map(String::as_str).unwrap_or("")
    }

    /// A comma-separated list, trimmed, without empty items.
    pub fn list(&self, k: &str) -> Vec<String> {
        self.get(k)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Decodes a body by its `Content-Type`: multipart when it names a boundary, else
    /// URL-encoded (invalid UTF-8 is replaced, not refused).
    pub async fn parse(content_type: &str, body: Bytes) -> Result<Form, String> {
        if let Ok(boundary) = multer::parse_boundary(content_type) {
            return multipart(body, boundary).await;
        }
        let text = String::from_utf8_lossy(&body);
        Ok(Form {
            fields: query_params(Some(&text)).into_iter().collect(),
            file: None,
        })
    }
}

async fn multipart(body: Bytes, boundary: String) -> Result<Form, String> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form {
        fields: HashMap::new(),
        file: None,
    };
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("the upload is not a valid form: {e}"))?
    {
        let name = field.name().unwrap_or("").to_string();
        let is_file = field.file_name().is_some();
        let data = field
            .bytes()
            .await
            .map_err(|e| format!("the upload is not a valid form: {e}"))?;
        if is_file {
            form.file = Some(data);
        } else {
            form.fields
                .insert(name, String::from_utf8_lossy(&data).into_owned());
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(content_type: &str, body: &[u8]) -> Result<Form, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(Form::parse(content_type, Bytes::copy_from_slice(body)))
    }

    #[test]
    fn url_encoded_fields_are_decoded() {
        let f = parse(
            "application/x-www-form-urlencoded",
            b"name=a+b%2Fc&tags=web,+db,,&empty=",
        )
        .unwrap();
        assert_eq!(f.get("name"), "a b/c");
        assert_eq!(f.list("tags"), ["web", "db"]);
        assert_eq!(f.get("missing"), "");
        assert!(f.file.is_none());
    }

    #[test]
    fn a_multipart_upload_gives_its_fields_and_file() {
        let body = b"--X\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mof\"\r\n\r\nMOF\r\n--X--\r\n";
        let f = parse("multipart/form-data; boundary=X", body).unwrap();
        assert_eq!(f.get("csrf"), "tok");
        assert_eq!(f.file.as_deref(), Some(&b"MOF"[..]));
    }

    #[test]
    fn a_broken_multipart_body_is_an_error_not_a_panic() {
        let err = parse("multipart/form-data; boundary=X", b"--X\r\nno headers").err();
        assert!(err.unwrap().contains("not a valid form"));
    }
}
