//! Content checksums as the pull protocol spells them: SHA-256, uppercase hex.

use sha2::{Digest, Sha256};
use std::io::Read;

/// The only checksum algorithm the protocol uses.
pub const ALGORITHM: &str = "SHA-256";

pub use crate::text::upper_hex;

/// SHA-256 of `bytes`, as 64 uppercase hex characters.
pub fn sha256_hex(bytes: &[u8]) -> String {
    upper_hex(&Sha256::digest(bytes))
}

/// SHA-256 of everything `reader` yields (streamed), as 64 uppercase hex characters.
pub fn sha256_hex_reader(mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(upper_hex(&hasher.finalize()))
}

/// Whether `text` is a well-formed checksum (64 hex digits, any case).
pub fn is_checksum(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares two checksums the way the LCM needs: case-insensitively (LCMs have been seen
/// sending lowercase hex).
pub fn same_checksum(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_uppercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
        assert_eq!(sha256_hex_reader(&b"abc"[..]).unwrap(), sha256_hex(b"abc"));
        assert!(same_checksum("ba7816bf", "BA7816BF"));
        assert!(is_checksum(&sha256_hex(b"")));
        assert!(!is_checksum("XYZ"));
    }
}
