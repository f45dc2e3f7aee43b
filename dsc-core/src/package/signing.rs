//! Package signing keys: Ed25519, private keys as PKCS#8 PEM, public keys as SPKI PEM, and a key
//! id derived from the public key (first 16 hex digits of the SHA-256 of its 32 bytes).

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::Path;

/// A key problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The id of a public key.
pub fn key_id(key: &VerifyingKey) -> String {
    crate::text::upper_hex(&Sha256::digest(key.to_bytes())[..8]).to_lowercase()
}

/// A new random key pair.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut getrandom::rand_core::UnwrapErr(getrandom::SysRng))
}

/// The private key as PKCS#8 PEM.
pub fn private_pem(key: &SigningKey) -> Result<String, KeyError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|z| z.to_string())
        .map_err(|e| KeyError(format!("encoding the private key: {e}")))
}

/// The public key as SPKI PEM.
pub fn public_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError(format!("encoding the public key: {e}")))
}

/// Reads a private key (PKCS#8 PEM).
pub fn read_private(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| KeyError(format!("reading {}: {e}", path.display())))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        KeyError(format!(
            "{} is not an Ed25519 private key in PKCS#8 PEM: {e}",
            path.display()
        ))
    })
}

/// Reads a public key (SPKI PEM).
pub fn read_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| KeyError(format!("reading {}: {e}", path.display())))?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| {
        KeyError(format!(
            "{} is not an Ed25519 public key in PEM: {e}",
            path.display()
        ))
    })
}

/// Every `*.pem` / `*.pub` public key in a directory (a missing directory holds none).
pub fn read_public_dir(dir: &Path) -> Result<Vec<VerifyingKey>, KeyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(KeyError(format!("reading {}: {e}", dir.display()))),
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "pub"))
        .collect();
    paths.sort();
    paths.iter().map(|p| read_public(p)).collect()
}

/// Writes `PREFIX.key` (private, mode 0600) and `PREFIX.pub` (public); returns the key id.
pub fn keygen(prefix: &Path) -> Result<String, KeyError> {
    let key = generate();
    let private = prefix.with_extension("key");
    let public = prefix.with_extension("pub");
    for p in [&private, &public] {
        if p.exists() {
            return Err(KeyError(format!(
                "{} already exists; not overwriting a key",
                p.display()
            )));
        }
    }
    write_private(&private, &private_pem(&key)?)?;
    std::fs::write(&public, public_pem(&key.verifying_key())?)
        .map_err(|e| KeyError(format!("writing {}: {e}", public.display())))?;
    Ok(key_id(&key.verifying_key()))
}

fn write_private(path: &Path, pem: &str) -> Result<(), KeyError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| KeyError(format!("creating {}: {e}", path.display())))?;
    f.write_all(pem.as_bytes())
        .map_err(|e| KeyError(format!("writing {}: {e}", path.display())))
}

/// Signs bytes.
pub fn sign(key: &SigningKey, bytes: &[u8]) -> [u8; 64] {
    key.sign(bytes).to_bytes()
}

/// Verifies a signature strictly (no malleable encodings).
pub fn verify(key: &VerifyingKey, bytes: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    key.verify_strict(bytes, &Signature::from_bytes(&sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem_and_sign() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("release");
        let id = keygen(&prefix).unwrap();
        assert_eq!(id.len(), 16);
        let sk = read_private(&prefix.with_extension("key")).unwrap();
        let pk = read_public(&prefix.with_extension("pub")).unwrap();
        assert_eq!(key_id(&pk), id);
        let sig = sign(&sk, b"catalog");
        assert!(verify(&pk, b"catalog", &sig));
        assert!(!verify(&pk, b"catalog!", &sig));
        assert!(!verify(&pk, b"catalog", &sig[..10]));
        assert!(keygen(&prefix).is_err(), "never overwrites");
        assert_eq!(read_public_dir(dir.path()).unwrap().len(), 1);
        assert!(read_public(&prefix.with_extension("key")).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(prefix.with_extension("key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
