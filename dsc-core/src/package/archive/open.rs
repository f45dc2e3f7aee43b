//! Opening a package: one streaming pass that checks each entry before reading it, enforces
//! the limits as bytes are decompressed, hashes (and optionally extracts), then checks the
//! catalog and the signatures.

use super::*;

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

/// What one pass over the entries collected.
#[derive(Default)]
struct Entries {
    /// Content entries: path → (size, SHA-256 hex).
    actual: BTreeMap<String, (u64, String)>,
    catalog_bytes: Option<Vec<u8>>,
    signatures: Vec<(String, Vec<u8>)>,
    manifests: Vec<(String, Vec<u8>)>,
    /// Uncompressed bytes so far.
    total: u64,
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
    let mut entries = Entries::default();
    let mut done_compressed: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..zip.len() {
        let (name, is_dir, compressed) = entry_info(&mut zip, i)?;
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
        let out = match &extract {
            Some(x) if !normal.starts_with("_catalog/") => {
                Some(create_extracted(x, &normal, executable)?)
            }
            _ => None,
        };
        let read = EntryRead {
            name: &name,
            normal: &normal,
            compressed,
            limits: &limits,
        };
        read.read(&mut entry, out, &mut buf, &mut entries)?;
        done_compressed += compressed;
        progress(done_compressed, file_len);
    }
    finish(entries, trusted)
}

/// An entry's name, whether it is a directory and its compressed size, read from its
/// metadata without decompressing; entries traek never accepts are refused here.
fn entry_info<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    i: usize,
) -> Result<(String, bool, u64), PackageError> {
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
    Ok((name, raw.is_dir(), raw.compressed_size()))
}

/// Creates the file an entry is extracted to (never over an existing one).
fn create_extracted(
    x: &Extract<'_>,
    normal: &str,
    executable: bool,
) -> Result<std::fs::File, PackageError> {
    let target = x.root.join(normal);
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
    #[cfg(not(unix))]
    let _ = executable;
    opts.open(&target)
        .map_err(|e| io(format!("writing {normal}"), e))
}

/// Reading one file entry.
struct EntryRead<'a> {
    name: &'a str,
    normal: &'a str,
    compressed: u64,
    limits: &'a Limits,
}

impl EntryRead<'_> {
    /// Decompresses the entry under the limits, hashing it, keeping it when it is a manifest,
    /// the catalog or a signature, and writing it to `out` when extracting.
    fn read(
        &self,
        entry: &mut impl Read,
        mut out: Option<std::fs::File>,
        buf: &mut [u8],
        entries: &mut Entries,
    ) -> Result<(), PackageError> {
        let (name, normal, limits) = (self.name, self.normal, self.limits);
        let keep =
            normal.starts_with("_catalog/") || (!normal.contains('/') && is_manifest_name(normal));
        let mut kept = Vec::new();
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        loop {
            let n = entry
                .read(buf)
                .map_err(|e| hostile(name, format!("cannot be decompressed: {e}")))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            entries.total += n as u64;
            if entries.total > limits.max_total_bytes {
                return Err(PackageError::Limit(format!(
                    "more than {} bytes uncompressed",
                    limits.max_total_bytes
                )));
            }
            if size > limits.ratio_floor && size / self.compressed.max(1) > limits.max_ratio {
                return Err(PackageError::Limit(format!(
                    "entry '{name}' expands more than {}:1 (a zip bomb?)",
                    limits.max_ratio
                )));
            }
            hasher.update(&buf[..n]);
            if keep {
                if kept.len() > 16 << 20 {
                    return Err(hostile(
                        name,
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
        if normal == CATALOG_PATH {
            entries.catalog_bytes = Some(kept);
        } else if let Some(sig) = normal.strip_prefix("_catalog/") {
            entries.signatures.push((sig.to_string(), kept));
        } else {
            if keep {
                entries.manifests.push((normal.to_string(), kept));
            }
            entries
                .actual
                .insert(normal.to_string(), (size, hex(&hasher.finalize())));
        }
        Ok(())
    }
}

/// After the pass: the manifest, the catalog against the entries, the signatures.
fn finish(mut entries: Entries, trusted: &[VerifyingKey]) -> Result<OpenedPackage, PackageError> {
    let (manifest_path, manifest) = the_manifest(&mut entries.manifests)?;
    let catalog_bytes = entries.catalog_bytes.ok_or(PackageError::NoCatalog)?;
    let catalog = check_catalog(&catalog_bytes, &entries.actual)?;
    let signers = check_signatures(entries.signatures, trusted, &catalog_bytes)?;
    Ok(OpenedPackage {
        manifest_path,
        manifest,
        catalog: catalog.entries,
        signers,
        total_bytes: entries.total,
    })
}

/// The one package manifest at the root.
fn the_manifest(
    manifests: &mut Vec<(String, Vec<u8>)>,
) -> Result<(String, PackageManifest), PackageError> {
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
    Ok((manifest_path, manifest))
}

/// The catalog, which must list exactly the entries read, with their sizes and hashes.
fn check_catalog(
    catalog_bytes: &[u8],
    actual: &BTreeMap<String, (u64, String)>,
) -> Result<Catalog, PackageError> {
    let catalog: Catalog = serde_json::from_slice(catalog_bytes)
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
    for (path, (size, hash)) in actual {
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
    Ok(catalog)
}

/// Each signature file: well-formed, and valid when its key is trusted (an invalid signature
/// by a trusted key refuses the package; one by another key is listed as untrusted).
fn check_signatures(
    signatures: Vec<(String, Vec<u8>)>,
    trusted: &[VerifyingKey],
    catalog_bytes: &[u8],
) -> Result<Vec<Signer>, PackageError> {
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
            Some(key) if signing::verify(key, catalog_bytes, &raw) => signers.push(Signer {
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
    Ok(signers)
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
