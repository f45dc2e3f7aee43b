//! The `.dscpkg` archive: a zip whose root holds one package manifest, a catalog
//! (`_catalog/catalog.json`: every other entry with its size and SHA-256) and zero or more
//! detached Ed25519 signatures over the catalog's exact bytes (`_catalog/<key id>.sig`).
//!
//! Opening a package is one streaming pass over its entries (memory does not grow with package
//! size): every name is checked before anything is read (no `..`, absolute paths, drive letters,
//! backslashes, symlinks, duplicates — also case-insensitive ones —, encrypted entries or
//! compression other than stored/deflate), every entry is hashed while it is decompressed, and
//! sizes are checked against the limits as the bytes arrive, not trusted from headers. Entries can
//! be written to a directory in the same pass.

use super::manifest::{PackageManifest, check_inside, is_manifest_name};
use super::signing;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

mod build;
mod open;

pub use build::{BuildOptions, build, sign};
pub use open::{open, open_bytes, require_trusted};

/// The folder reserved for the catalog and signatures.
pub const CATALOG_DIR: &str = "_catalog";
/// The catalog's path inside the package.
pub const CATALOG_PATH: &str = "_catalog/catalog.json";

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub path: String,
    pub size: u64,
    /// Uppercase hex SHA-256.
    pub sha256: String,
}

/// The catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub version: u32,
    pub entries: Vec<CatalogEntry>,
}

/// A detached signature file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignatureFile {
    pub key_id: String,
    pub algorithm: String,
    /// Base64 of the 64-byte Ed25519 signature over the catalog's bytes.
    pub signature: String,
}

/// Limits that stop hostile archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_total_bytes: u64,
    /// Largest allowed uncompressed/compressed ratio of an entry (checked once an entry has
    /// produced more than `ratio_floor` bytes).
    pub max_ratio: u64,
    pub ratio_floor: u64,
}

impl Default for Limits {
    /// 100,000 entries, 1 GiB in all, ratio 200:1 past the first 1 MiB of an entry: a 300 MB
    /// entry of zeros compressed as a zip bomb is (ratio ~1000:1, refused after ~60 MB of
    /// output), ordinary packages of hundreds of MB pass.
    fn default() -> Self {
        Limits {
            max_entries: 100_000,
            max_total_bytes: 1 << 30,
            max_ratio: 200,
            ratio_floor: 1 << 20,
        }
    }
}

/// Why a package was refused. Each tampering or hostility has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("{0}")]
    Io(String),
    #[error("not a readable zip archive: {0}")]
    NotZip(String),
    #[error("entry '{entry}': {reason}")]
    HostileEntry { entry: String, reason: String },
    #[error("the package exceeds a limit: {0}")]
    Limit(String),
    #[error("the package root holds no package manifest (*.dscpkg.json|yaml|yml)")]
    NoManifest,
    #[error("the package root holds more than one package manifest: {0}")]
    SeveralManifests(String),
    #[error("package manifest '{path}': {reason}")]
    BadManifest { path: String, reason: String },
    #[error("the package has no catalog ({CATALOG_PATH})")]
    NoCatalog,
    #[error("the catalog is not valid: {0}")]
    BadCatalog(String),
    #[error("entry '{0}' is not listed in the catalog (added after signing?)")]
    ExtraEntry(String),
    #[error("the catalog lists '{0}' but the package does not contain it")]
    MissingEntry(String),
    #[error("entry '{path}' has {actual} bytes but the catalog says {expected}")]
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error("entry '{path}' does not match its catalog hash (tampered with?)")]
    HashMismatch { path: String },
    #[error("signature file '{0}' is not valid")]
    BadSignatureFile(String),
    #[error("the signature by key {0} does not verify: the catalog or the signature was changed")]
    SignatureInvalid(String),
    #[error("the package is not signed by a trusted key (signed by: {0})")]
    Untrusted(String),
    #[error("the package is not signed")]
    Unsigned,
    #[error("{0}")]
    Build(String),
}

impl PackageError {
    /// Reading or writing failed: an engine failure. Anything about the package itself
    /// (tampering, hostile entries, missing trust): invalid input.
    pub fn class(&self) -> crate::ErrorClass {
        match self {
            PackageError::Io(_) | PackageError::Build(_) => crate::ErrorClass::Resource,
            _ => crate::ErrorClass::InvalidInput,
        }
    }
}

impl From<std::io::Error> for PackageError {
    fn from(e: std::io::Error) -> Self {
        PackageError::Io(e.to_string())
    }
}

fn io(context: impl std::fmt::Display, e: impl std::fmt::Display) -> PackageError {
    PackageError::Io(format!("{context}: {e}"))
}

fn hostile(entry: &str, reason: impl Into<String>) -> PackageError {
    PackageError::HostileEntry {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

/// A signer of a package, and whether its signature verified with a trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signer {
    pub key_id: String,
    /// `verified` (trusted key, valid signature) or `untrusted` (no trusted key with that id).
    pub status: String,
}

/// What opening a package found (everything verified against the catalog).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenedPackage {
    pub manifest_path: String,
    pub manifest: PackageManifest,
    pub catalog: Vec<CatalogEntry>,
    pub signers: Vec<Signer>,
    pub total_bytes: u64,
}

impl OpenedPackage {
    /// Whether a trusted key's signature verified.
    pub fn trusted(&self) -> bool {
        self.signers.iter().any(|s| s.status == "verified")
    }
}

/// Where `open` may write entries.
pub struct Extract<'a> {
    pub root: &'a Path,
}

fn hex(bytes: &[u8]) -> String {
    crate::text::upper_hex(bytes)
}

#[cfg(test)]
mod tests;
