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
mod tests {
    use super::build::options;
    use super::*;

    fn package_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("pkg.dscpkg.yaml"),
            "$schema: x\nresourcePath: [resources]\nconfigurationFile: config/main.dsc.yaml\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("config")).unwrap();
        std::fs::create_dir_all(d.path().join("resources")).unwrap();
        std::fs::write(
            d.path().join("config/main.dsc.yaml"),
            "$schema: x\nresources: []\n",
        )
        .unwrap();
        std::fs::write(d.path().join("resources/r.dsc.resource.json"), "{}").unwrap();
        d
    }

    fn built(key: Option<&SigningKey>) -> (tempfile::TempDir, PathBuf) {
        let d = package_dir();
        let out = d.path().join("out.dscpkg");
        let src = d.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for name in ["pkg.dscpkg.yaml", "config", "resources"] {
            std::fs::rename(d.path().join(name), src.join(name)).unwrap();
        }
        build(
            &src,
            &out,
            BuildOptions {
                key,
                ..Default::default()
            },
            &mut |_, _| {},
        )
        .unwrap();
        (d, out)
    }

    /// Rewrites a package, applying `f` to (name, bytes) of each entry; `None` drops it.
    fn rewrite(path: &Path, extra: &[(&str, &[u8])], f: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) {
        let mut src = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut entries = Vec::new();
        for i in 0..src.len() {
            let mut e = src.by_index(i).unwrap();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            entries.push((e.name().unwrap().to_string(), b));
        }
        let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, bytes) in entries {
            if let Some(b) = f(&name, bytes) {
                w.start_file(name, options(false)).unwrap();
                w.write_all(&b).unwrap();
            }
        }
        for (name, bytes) in extra {
            w.start_file(*name, options(false)).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }

    fn open_plain(path: &Path, trusted: &[VerifyingKey]) -> Result<OpenedPackage, PackageError> {
        open(path, trusted, Limits::default(), None, &mut |_, _| {})
    }

    #[test]
    fn a_built_and_signed_package_round_trips() {
        let key = signing::generate();
        let (_d, out) = built(Some(&key));
        let p = open_plain(&out, &[key.verifying_key()]).unwrap();
        assert_eq!(p.manifest_path, "pkg.dscpkg.yaml");
        assert_eq!(p.catalog.len(), 3);
        assert!(p.trusted());
        require_trusted(&p).unwrap();
        // Without the key the signature is there but untrusted.
        let p = open_plain(&out, &[]).unwrap();
        assert_eq!(p.signers[0].status, "untrusted");
        assert!(matches!(
            require_trusted(&p),
            Err(PackageError::Untrusted(_))
        ));
        // Extraction writes the files (and not the catalog).
        let x = tempfile::tempdir().unwrap();
        open(
            &out,
            &[],
            Limits::default(),
            Some(Extract { root: x.path() }),
            &mut |_, _| {},
        )
        .unwrap();
        assert!(x.path().join("config/main.dsc.yaml").is_file());
        assert!(!x.path().join("_catalog").exists());
    }

    #[test]
    fn unsigned_packages_are_reported_as_such_and_can_be_signed_later() {
        let (_d, out) = built(None);
        let p = open_plain(&out, &[]).unwrap();
        assert_eq!(require_trusted(&p), Err(PackageError::Unsigned));
        let (k1, k2) = (signing::generate(), signing::generate());
        sign(&out, &k1).unwrap();
        sign(&out, &k2).unwrap();
        let p = open_plain(&out, &[k1.verifying_key(), k2.verifying_key()]).unwrap();
        assert_eq!(p.signers.len(), 2, "existing signatures are kept");
        assert!(p.signers.iter().all(|s| s.status == "verified"));
    }

    #[test]
    fn builds_are_reproducible() {
        let key = signing::generate();
        let d = package_dir();
        let (a, b) = (d.path().join("a.dscpkg"), d.path().join("b.dscpkg"));
        // Build from the same directory twice (the outputs live outside the package tree).
        let src = tempfile::tempdir().unwrap();
        for name in ["pkg.dscpkg.yaml", "config", "resources"] {
            std::fs::rename(d.path().join(name), src.path().join(name)).unwrap();
        }
        let version = semver::Version::new(1, 2, 3);
        let signed = BuildOptions {
            key: Some(&key),
            name: Some("Web"),
            version: Some(&version),
        };
        build(src.path(), &a, signed, &mut |_, _| {}).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        build(src.path(), &b, signed, &mut |_, _| {}).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }

    #[test]
    fn each_kind_of_tampering_has_its_own_error() {
        let key = signing::generate();
        let trusted = [key.verifying_key()];
        let case = |f: &dyn Fn(&Path)| {
            let (d, out) = built(Some(&key));
            f(&out);
            let r = open_plain(&out, &trusted);
            drop(d);
            r
        };
        let r = case(&|p| {
            rewrite(p, &[], |n, b| {
                Some(if n == "config/main.dsc.yaml" {
                    b"$schema: y\nresources: []\n".to_vec()
                } else {
                    b
                })
            })
        });
        assert_eq!(
            r.unwrap_err(),
            PackageError::HashMismatch {
                path: "config/main.dsc.yaml".into()
            }
        );
        let r = case(&|p| {
            rewrite(p, &[], |n, b| {
                Some(if n == "config/main.dsc.yaml" {
                    [b, b"#".to_vec()].concat()
                } else {
                    b
                })
            })
        });
        assert!(matches!(r.unwrap_err(), PackageError::SizeMismatch { .. }));
        let r = case(&|p| rewrite(p, &[("resources/evil.sh", b"rm -rf /")], |_, b| Some(b)));
        assert_eq!(
            r.unwrap_err(),
            PackageError::ExtraEntry("resources/evil.sh".into())
        );
        let r = case(&|p| {
            rewrite(p, &[], |n, b| {
                (n != "resources/r.dsc.resource.json").then_some(b)
            })
        });
        assert_eq!(
            r.unwrap_err(),
            PackageError::MissingEntry("resources/r.dsc.resource.json".into())
        );
        // A catalog rewritten to match a changed file breaks the signature.
        let r = case(&|p| {
            rewrite(p, &[], |n, b| {
                if n == CATALOG_PATH {
                    let mut c: Catalog = serde_json::from_slice(&b).unwrap();
                    c.entries[0].sha256 = "0".repeat(64);
                    Some(serde_json::to_vec(&c).unwrap())
                } else {
                    Some(b)
                }
            })
        });
        assert!(matches!(
            r.unwrap_err(),
            PackageError::HashMismatch { .. } | PackageError::SignatureInvalid(_)
        ));
        let r = case(&|p| {
            rewrite(p, &[], |n, b| {
                if n == CATALOG_PATH {
                    Some(
                        String::from_utf8(b)
                            .unwrap()
                            .replace("\"version\":1", "\"version\":1 ")
                            .into_bytes(),
                    )
                } else {
                    Some(b)
                }
            })
        });
        assert!(
            matches!(r.unwrap_err(), PackageError::SignatureInvalid(_)),
            "catalog bytes changed"
        );
        let r = case(&|p| {
            rewrite(p, &[], |n, b| {
                if n.ends_with(".sig") {
                    let mut s: SignatureFile = serde_json::from_slice(&b).unwrap();
                    s.signature = {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD.encode([7u8; 64])
                    };
                    Some(serde_json::to_vec(&s).unwrap())
                } else {
                    Some(b)
                }
            })
        });
        assert!(matches!(r.unwrap_err(), PackageError::SignatureInvalid(_)));
        let r = case(&|p| rewrite(p, &[], |n, b| (n != CATALOG_PATH).then_some(b)));
        assert_eq!(r.unwrap_err(), PackageError::NoCatalog);
        let r = case(&|p| rewrite(p, &[("second.dscpkg.json", b"{}")], |_, b| Some(b)));
        assert!(matches!(r.unwrap_err(), PackageError::SeveralManifests(_)));
    }

    fn zip_with(entries: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("h.dscpkg");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        for (n, b) in entries {
            w.start_file(*n, options(false)).unwrap();
            w.write_all(b).unwrap();
        }
        w.finish().unwrap();
        (d, p)
    }

    fn patch(path: &Path, f: impl Fn(&mut Vec<u8>)) {
        let mut b = std::fs::read(path).unwrap();
        f(&mut b);
        std::fs::write(path, b).unwrap();
    }

    fn header_offsets(b: &[u8], sig: &[u8; 4]) -> Vec<usize> {
        (0..b.len().saturating_sub(4))
            .filter(|&i| &b[i..i + 4] == sig)
            .collect()
    }

    #[test]
    fn hostile_archives_are_refused_naming_the_entry_and_nothing_escapes() {
        let out = tempfile::tempdir().unwrap();
        let x = out.path().join("x");
        std::fs::create_dir_all(&x).unwrap();
        for (name, fragment) in [
            ("../escape.txt", "'..'"),
            ("a/../../escape.txt", "'..'"),
            ("/etc/escape.txt", "absolute"),
            ("C:/escape.txt", "drive letter"),
            ("dir\\escape.txt", "backslash"),
        ] {
            let (_d, p) = zip_with(&[(name, b"x")]);
            let e = open(
                &p,
                &[],
                Limits::default(),
                Some(Extract { root: &x }),
                &mut |_, _| {},
            )
            .unwrap_err();
            assert!(
                matches!(&e, PackageError::HostileEntry { entry, reason } if entry == name && reason.contains(fragment)),
                "{name}: {e}"
            );
        }
        assert_eq!(
            std::fs::read_dir(out.path()).unwrap().count(),
            1,
            "nothing written outside"
        );
        // symlink
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.dscpkg");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        w.add_symlink("link", "/etc/passwd", options(false))
            .unwrap();
        w.finish().unwrap();
        assert!(
            matches!(open_plain(&p, &[]).unwrap_err(), PackageError::HostileEntry { reason, .. } if reason.contains("symbolic link"))
        );
        // case-insensitive duplicate
        let (_d, p) = zip_with(&[("Readme.txt", b"a"), ("README.TXT", b"b")]);
        assert!(
            matches!(open_plain(&p, &[]).unwrap_err(), PackageError::HostileEntry { entry, reason } if entry == "README.TXT" && reason.contains("same name"))
        );
        // exact duplicate (patched names)
        let (_d, p) = zip_with(&[("aa.txt", b"a"), ("ab.txt", b"b")]);
        patch(&p, |b| {
            for i in 0..b.len() - 6 {
                if &b[i..i + 6] == b"ab.txt" {
                    b[i + 1] = b'a';
                }
            }
        });
        let e = open_plain(&p, &[]).unwrap_err();
        assert!(
            matches!(&e, PackageError::HostileEntry { entry, reason } if entry == "aa.txt" && reason.contains("more than once")),
            "{e}"
        );
        // encrypted (flag bit 0 in local and central headers)
        let (_d, p) = zip_with(&[("secret.txt", b"s")]);
        patch(&p, |b| {
            for o in header_offsets(b, b"PK\x03\x04") {
                b[o + 6] |= 1;
            }
            for o in header_offsets(b, b"PK\x01\x02") {
                b[o + 8] |= 1;
            }
        });
        assert!(
            matches!(open_plain(&p, &[]).unwrap_err(), PackageError::HostileEntry { entry, reason } if entry == "secret.txt" && reason.contains("encrypted"))
        );
        // unsupported compression (method 12 = bzip2)
        let (_d, p) = zip_with(&[("b.txt", b"b")]);
        patch(&p, |b| {
            for o in header_offsets(b, b"PK\x03\x04") {
                b[o + 8] = 12;
            }
            for o in header_offsets(b, b"PK\x01\x02") {
                b[o + 10] = 12;
            }
        });
        assert!(
            matches!(open_plain(&p, &[]).unwrap_err(), PackageError::HostileEntry { entry, reason } if entry == "b.txt" && reason.contains("compression"))
        );
        // not a zip at all
        let bad = d.path().join("garbage.dscpkg");
        std::fs::write(&bad, b"not a zip").unwrap();
        assert!(matches!(
            open_plain(&bad, &[]).unwrap_err(),
            PackageError::NotZip(_)
        ));
    }

    #[test]
    fn limits_stop_zip_bombs_while_decompressing() {
        let zeros = vec![0u8; 8 << 20];
        let (_d, p) = zip_with(&[("zeros.bin", &zeros)]);
        let strict = Limits {
            max_ratio: 50,
            ratio_floor: 1 << 20,
            ..Limits::default()
        };
        assert!(
            matches!(open(&p, &[], strict, None, &mut |_, _| {}).unwrap_err(), PackageError::Limit(m) if m.contains("zeros.bin"))
        );
        let small = Limits {
            max_total_bytes: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(
            open(&p, &[], small, None, &mut |_, _| {}).unwrap_err(),
            PackageError::Limit(_)
        ));
        let entries: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("f{i}"), vec![])).collect();
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let (_d, p) = zip_with(&refs);
        let few = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        assert!(
            matches!(open(&p, &[], few, None, &mut |_, _| {}).unwrap_err(), PackageError::Limit(m) if m.contains("20 entries"))
        );
    }

    #[test]
    fn the_default_limits_stop_a_300_mb_entry_of_zeros() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bomb.dscpkg");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        // A classic zip bomb: maximal compression (about 1000:1 for zeros).
        w.start_file("bomb.bin", options(false).compression_level(Some(9)))
            .unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..300 {
            w.write_all(&chunk).unwrap();
        }
        w.finish().unwrap();
        let e = open(&p, &[], Limits::default(), None, &mut |_, _| {}).unwrap_err();
        assert!(
            matches!(&e, PackageError::Limit(m) if m.contains("zip bomb")),
            "{e}"
        );
    }
}
