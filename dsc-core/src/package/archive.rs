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
    crate::pull::checksum::upper_hex(bytes)
}

/// Opens and verifies a package. With `extract`, entries are written below its root as they
/// are read (the caller removes the directory when this returns an error). `progress` receives
/// (bytes read so far, total compressed size).
pub fn open(
    path: &Path,
    trusted: &[VerifyingKey],
    limits: Limits,
    extract: Option<Extract<'_>>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<OpenedPackage, PackageError> {
    let file =
        std::fs::File::open(path).map_err(|e| io(format!("opening {}", path.display()), e))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = std::io::BufReader::new(file);
    open_reader(reader, file_len, trusted, limits, extract, progress)
}

/// Opens and verifies a package held in memory (no extraction, no trusted keys: signers are
/// listed as `untrusted`), as a server does before storing an upload.
pub fn open_bytes(bytes: &[u8], limits: Limits) -> Result<OpenedPackage, PackageError> {
    let reader = std::io::Cursor::new(bytes);
    open_reader(
        reader,
        bytes.len() as u64,
        &[],
        limits,
        None,
        &mut |_, _| {},
    )
}

fn open_reader<R: Read + std::io::Seek>(
    reader: R,
    file_len: u64,
    trusted: &[VerifyingKey],
    limits: Limits,
    extract: Option<Extract<'_>>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<OpenedPackage, PackageError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| PackageError::NotZip(e.to_string()))?;
    if zip.has_duplicate_names() {
        let cd_start = zip.central_directory_start();
        let name =
            duplicated_name(zip.into_inner(), cd_start).unwrap_or_else(|| "(unknown)".to_string());
        return Err(hostile(&name, "the archive lists this name more than once"));
    }
    if zip.len() > limits.max_entries {
        return Err(PackageError::Limit(format!(
            "{} entries (at most {})",
            zip.len(),
            limits.max_entries
        )));
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut actual: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut catalog_bytes: Option<Vec<u8>> = None;
    let mut signatures: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifests: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total: u64 = 0;
    let mut done_compressed: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..zip.len() {
        // Metadata first, without decompressing.
        let (name, is_dir, compressed) = {
            let raw = zip
                .by_index_raw(i)
                .map_err(|e| PackageError::NotZip(e.to_string()))?;
            let name = std::str::from_utf8(raw.name_raw())
                .map_err(|_| {
                    hostile(
                        &String::from_utf8_lossy(raw.name_raw()),
                        "the name is not UTF-8",
                    )
                })?
                .to_string();
            if raw.encrypted() {
                return Err(hostile(&name, "it is encrypted"));
            }
            if !matches!(
                raw.compression(),
                zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
            ) {
                return Err(hostile(
                    &name,
                    format!(
                        "compression method {:?} is not supported (only stored and deflate)",
                        raw.compression()
                    ),
                ));
            }
            if raw.is_symlink() {
                return Err(hostile(&name, "it is a symbolic link"));
            }
            (name, raw.is_dir(), raw.compressed_size())
        };
        let normal = check_inside(&name).map_err(|reason| hostile(&name, reason))?;
        if normal.is_empty() {
            return Err(hostile(&name, "it names the package root"));
        }
        if !seen.insert(normal.to_lowercase()) {
            return Err(hostile(
                &name,
                "another entry has the same name (compared case-insensitively)",
            ));
        }
        if is_dir {
            if let Some(x) = &extract {
                std::fs::create_dir_all(x.root.join(&normal))
                    .map_err(|e| io(format!("creating {normal}"), e))?;
            }
            continue;
        }
        let mut entry = zip.by_index(i).map_err(|e| hostile(&name, e.to_string()))?;
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let keep =
            normal.starts_with("_catalog/") || (!normal.contains('/') && is_manifest_name(&normal));
        let mut kept = Vec::new();
        let mut out = match &extract {
            Some(x) if !normal.starts_with("_catalog/") => {
                let target = x.root.join(&normal);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| io(format!("creating the directory of {normal}"), e))?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(if executable { 0o700 } else { 0o600 });
                }
                Some(
                    opts.open(&target)
                        .map_err(|e| io(format!("writing {normal}"), e))?,
                )
            }
            _ => None,
        };
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| hostile(&name, format!("cannot be decompressed: {e}")))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            total += n as u64;
            if total > limits.max_total_bytes {
                return Err(PackageError::Limit(format!(
                    "more than {} bytes uncompressed",
                    limits.max_total_bytes
                )));
            }
            if size > limits.ratio_floor && size / compressed.max(1) > limits.max_ratio {
                return Err(PackageError::Limit(format!(
                    "entry '{name}' expands more than {}:1 (a zip bomb?)",
                    limits.max_ratio
                )));
            }
            hasher.update(&buf[..n]);
            if keep {
                if kept.len() > 16 << 20 {
                    return Err(hostile(
                        &name,
                        "a manifest, catalog or signature larger than 16 MiB",
                    ));
                }
                kept.extend_from_slice(&buf[..n]);
            }
            if let Some(f) = out.as_mut() {
                f.write_all(&buf[..n])
                    .map_err(|e| io(format!("writing {normal}"), e))?;
            }
        }
        done_compressed += compressed;
        progress(done_compressed, file_len);
        if normal == CATALOG_PATH {
            catalog_bytes = Some(kept);
        } else if let Some(sig) = normal.strip_prefix("_catalog/") {
            signatures.push((sig.to_string(), kept));
        } else {
            if keep {
                manifests.push((normal.clone(), kept));
            }
            actual.insert(normal, (size, hex(&hasher.finalize())));
        }
    }
    // The manifest.
    let (manifest_path, manifest_bytes) = match manifests.len() {
        0 => return Err(PackageError::NoManifest),
        1 => manifests.remove(0),
        _ => {
            return Err(PackageError::SeveralManifests(
                manifests
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
    };
    let text =
        crate::text::decode_utf8(&manifest_bytes).map_err(|e| PackageError::BadManifest {
            path: manifest_path.clone(),
            reason: e.message,
        })?;
    let manifest = PackageManifest::parse(text).map_err(|reason| PackageError::BadManifest {
        path: manifest_path.clone(),
        reason,
    })?;
    // The catalog against the entries.
    let catalog_bytes = catalog_bytes.ok_or(PackageError::NoCatalog)?;
    let catalog: Catalog = serde_json::from_slice(&catalog_bytes)
        .map_err(|e| PackageError::BadCatalog(e.to_string()))?;
    let mut listed: BTreeMap<String, &CatalogEntry> = BTreeMap::new();
    for e in &catalog.entries {
        if listed.insert(e.path.clone(), e).is_some() {
            return Err(PackageError::BadCatalog(format!(
                "'{}' is listed twice",
                e.path
            )));
        }
    }
    for (path, (size, hash)) in &actual {
        let Some(want) = listed.get(path) else {
            return Err(PackageError::ExtraEntry(path.clone()));
        };
        if want.size != *size {
            return Err(PackageError::SizeMismatch {
                path: path.clone(),
                expected: want.size,
                actual: *size,
            });
        }
        if !want.sha256.eq_ignore_ascii_case(hash) {
            return Err(PackageError::HashMismatch { path: path.clone() });
        }
    }
    if let Some(missing) = listed.keys().find(|p| !actual.contains_key(*p)) {
        return Err(PackageError::MissingEntry(missing.clone()));
    }
    // Signatures.
    let mut signers = Vec::new();
    for (file, bytes) in signatures {
        let sig: SignatureFile = serde_json::from_slice(&bytes)
            .map_err(|_| PackageError::BadSignatureFile(file.clone()))?;
        if sig.algorithm != "ed25519" || file != format!("{}.sig", sig.key_id) {
            return Err(PackageError::BadSignatureFile(file));
        }
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sig.signature)
            .map_err(|_| PackageError::BadSignatureFile(file.clone()))?;
        match trusted.iter().find(|k| signing::key_id(k) == sig.key_id) {
            Some(key) if signing::verify(key, &catalog_bytes, &raw) => signers.push(Signer {
                key_id: sig.key_id,
                status: "verified".into(),
            }),
            Some(_) => return Err(PackageError::SignatureInvalid(sig.key_id)),
            None => signers.push(Signer {
                key_id: sig.key_id,
                status: "untrusted".into(),
            }),
        }
    }
    Ok(OpenedPackage {
        manifest_path,
        manifest,
        catalog: catalog.entries,
        signers,
        total_bytes: total,
    })
}

/// Finds a name the central directory lists twice (the zip reader keeps only one of them).
fn duplicated_name<R: Read + std::io::Seek>(mut f: R, cd_start: u64) -> Option<String> {
    use std::io::SeekFrom;
    f.seek(SeekFrom::Start(cd_start)).ok()?;
    let mut cd = Vec::new();
    f.take(64 << 20).read_to_end(&mut cd).ok()?;
    let mut seen = HashSet::new();
    let mut i = 0;
    while i + 46 <= cd.len() && cd[i..i + 4] == *b"PK\x01\x02" {
        let u16_at = |o: usize| u16::from_le_bytes([cd[i + o], cd[i + o + 1]]) as usize;
        let (n, e, c) = (u16_at(28), u16_at(30), u16_at(32));
        let name = String::from_utf8_lossy(cd.get(i + 46..i + 46 + n)?).into_owned();
        if !seen.insert(name.clone()) {
            return Some(name);
        }
        i += 46 + n + e + c;
    }
    None
}

/// Requires a signature by a trusted key.
pub fn require_trusted(p: &OpenedPackage) -> Result<(), PackageError> {
    if p.trusted() {
        return Ok(());
    }
    if p.signers.is_empty() {
        return Err(PackageError::Unsigned);
    }
    Err(PackageError::Untrusted(
        p.signers
            .iter()
            .map(|s| s.key_id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

fn options(executable: bool) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(if executable { 0o755 } else { 0o644 })
        .large_file(true)
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), PackageError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| io(format!("reading {}", dir.display()), e))?;
    for e in entries {
        let e = e.map_err(|e| io(format!("reading {}", dir.display()), e))?;
        let path = e.path();
        let ft = e
            .file_type()
            .map_err(|e| io(format!("reading {}", path.display()), e))?;
        let rel = path
            .strip_prefix(root)
            .map_err(|e| PackageError::Build(e.to_string()))?;
        let name = rel
            .to_str()
            .ok_or_else(|| PackageError::Build(format!("{} is not a UTF-8 path", path.display())))?
            .replace(std::path::MAIN_SEPARATOR, "/");
        if ft.is_symlink() {
            return Err(PackageError::Build(format!(
                "{name} is a symbolic link; packages hold regular files only"
            )));
        }
        if ft.is_dir() {
            walk(root, &path, out)?;
        } else if ft.is_file() {
            out.push((name, path));
        }
    }
    Ok(())
}

/// Builds a package from a directory (its root must hold exactly one package manifest; a
/// `_catalog` folder must not exist). The same inputs give a byte-identical package: entries
/// sorted, fixed timestamps, permissions 0644 (0755 for executables). Signs with `key` when given.
pub fn build(
    dir: &Path,
    out: &Path,
    key: Option<&SigningKey>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Catalog, PackageError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    if files
        .iter()
        .any(|(n, _)| n == CATALOG_DIR || n.starts_with("_catalog/"))
    {
        return Err(PackageError::Build(format!(
            "'{CATALOG_DIR}' is reserved for the catalog; rename that folder"
        )));
    }
    let manifests: Vec<&String> = files
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !n.contains('/') && is_manifest_name(n))
        .collect();
    match manifests.len() {
        0 => return Err(PackageError::NoManifest),
        1 => {}
        _ => {
            return Err(PackageError::SeveralManifests(
                manifests
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
    }
    let manifest_text =
        std::fs::read_to_string(dir.join(manifests[0])).map_err(|e| io(manifests[0], e))?;
    let manifest =
        PackageManifest::parse(&manifest_text).map_err(|reason| PackageError::BadManifest {
            path: manifests[0].clone(),
            reason,
        })?;
    let names: HashSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let config = check_inside(&manifest.configuration_file).map_err(PackageError::Build)?;
    if !names.contains(config.as_str()) {
        return Err(PackageError::BadManifest {
            path: manifests[0].clone(),
            reason: format!("configurationFile '{config}' is not in the package"),
        });
    }
    let total: u64 = files
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let tmp = out.with_extension("dscpkg.partial");
    let result = (|| {
        let file = std::fs::File::create(&tmp)
            .map_err(|e| io(format!("creating {}", tmp.display()), e))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let mut entries = Vec::with_capacity(files.len());
        let mut done = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        for (name, path) in &files {
            zip.start_file(name.as_str(), options(is_executable(path)))
                .map_err(|e| PackageError::Build(e.to_string()))?;
            let mut f = std::fs::File::open(path).map_err(|e| io(name, e))?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            loop {
                let n = f.read(&mut buf).map_err(|e| io(name, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                zip.write_all(&buf[..n])
                    .map_err(|e| io(format!("writing {}", tmp.display()), e))?;
                size += n as u64;
                done += n as u64;
                progress(done, total);
            }
            entries.push(CatalogEntry {
                path: name.clone(),
                size,
                sha256: hex(&hasher.finalize()),
            });
        }
        let catalog = Catalog {
            version: 1,
            entries,
        };
        let catalog_bytes =
            serde_json::to_vec(&catalog).map_err(|e| PackageError::Build(e.to_string()))?;
        zip.start_file(CATALOG_PATH, options(false))
            .map_err(|e| PackageError::Build(e.to_string()))?;
        zip.write_all(&catalog_bytes)
            .map_err(|e| io("writing the catalog", e))?;
        if let Some(key) = key {
            let (name, bytes) = signature_entry(key, &catalog_bytes)?;
            zip.start_file(name, options(false))
                .map_err(|e| PackageError::Build(e.to_string()))?;
            zip.write_all(&bytes)
                .map_err(|e| io("writing the signature", e))?;
        }
        let mut w = zip
            .finish()
            .map_err(|e| PackageError::Build(e.to_string()))?;
        w.flush().map_err(|e| io("writing the package", e))?;
        w.get_ref()
            .sync_all()
            .map_err(|e| io("syncing the package", e))?;
        Ok(catalog)
    })();
    match result {
        Ok(c) => {
            std::fs::rename(&tmp, out)
                .map_err(|e| io(format!("renaming to {}", out.display()), e))?;
            Ok(c)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn signature_entry(key: &SigningKey, catalog: &[u8]) -> Result<(String, Vec<u8>), PackageError> {
    use base64::Engine as _;
    let key_id = signing::key_id(&key.verifying_key());
    let sig = SignatureFile {
        key_id: key_id.clone(),
        algorithm: "ed25519".into(),
        signature: base64::engine::general_purpose::STANDARD.encode(signing::sign(key, catalog)),
    };
    Ok((
        format!("{CATALOG_DIR}/{key_id}.sig"),
        serde_json::to_vec(&sig).map_err(|e| PackageError::Build(e.to_string()))?,
    ))
}

/// Adds a signature to an existing package (keeping existing ones; replacing this key's). The
/// package is verified first (against its catalog; signatures need not be trusted).
pub fn sign(path: &Path, key: &SigningKey) -> Result<String, PackageError> {
    open(path, &[], Limits::default(), None, &mut |_, _| {})?;
    let file =
        std::fs::File::open(path).map_err(|e| io(format!("opening {}", path.display()), e))?;
    let mut src = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| PackageError::NotZip(e.to_string()))?;
    let mut catalog = Vec::new();
    src.by_name(CATALOG_PATH)
        .map_err(|e| PackageError::NotZip(e.to_string()))?
        .read_to_end(&mut catalog)
        .map_err(|e| io("reading the catalog", e))?;
    let (sig_name, sig_bytes) = signature_entry(key, &catalog)?;
    let tmp = path.with_extension("dscpkg.partial");
    let result = (|| {
        let out = std::fs::File::create(&tmp)
            .map_err(|e| io(format!("creating {}", tmp.display()), e))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(out));
        let mut names: Vec<String> = src
            .file_names()
            .map(|n| n.map(|n| n.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PackageError::NotZip(e.to_string()))?
            .into_iter()
            .filter(|n| *n != sig_name)
            .collect();
        names.push(sig_name.clone());
        names.sort();
        for name in names {
            if name == sig_name {
                zip.start_file(name.as_str(), options(false))
                    .map_err(|e| PackageError::Build(e.to_string()))?;
                zip.write_all(&sig_bytes)
                    .map_err(|e| io("writing the signature", e))?;
            } else {
                let entry = src
                    .by_name(&name)
                    .map_err(|e| PackageError::NotZip(e.to_string()))?;
                zip.raw_copy_file(entry)
                    .map_err(|e| PackageError::Build(e.to_string()))?;
            }
        }
        let mut w = zip
            .finish()
            .map_err(|e| PackageError::Build(e.to_string()))?;
        w.flush().map_err(|e| io("writing the package", e))?;
        w.get_ref()
            .sync_all()
            .map_err(|e| io("syncing the package", e))?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            std::fs::rename(&tmp, path)
                .map_err(|e| io(format!("replacing {}", path.display()), e))?;
            Ok(signing::key_id(&key.verifying_key()))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
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
        build(&src, &out, key, &mut |_, _| {}).unwrap();
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
        build(src.path(), &a, Some(&key), &mut |_, _| {}).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        build(src.path(), &b, Some(&key), &mut |_, _| {}).unwrap();
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
