//! Building a package reproducibly (sorted entries, fixed times and modes) and signing it.

use super::*;

pub(super) fn options(executable: bool) -> zip::write::SimpleFileOptions {
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

/// What `build` may change besides the files: a signature, and the package's identity
/// (`metadata.name` and `metadata.version` in the built package's manifest; the source
/// directory is not touched).
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    pub key: Option<&'a SigningKey>,
    pub name: Option<&'a str>,
    pub version: Option<&'a semver::Version>,
}

/// A file going into the package: read from disk, or (the manifest, when its identity is set)
/// from memory.
enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Builds a package from a directory (its root must hold exactly one package manifest; a
/// `_catalog` folder must not exist). The same inputs give a byte-identical package: entries
/// sorted, fixed timestamps, permissions 0644 (0755 for executables). Signs with `o.key` when
/// given; sets the manifest's `metadata.name` / `metadata.version` when given.
pub fn build(
    dir: &Path,
    out: &Path,
    o: BuildOptions<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Catalog, PackageError> {
    let files = collect(dir, o)?;
    let total: u64 = files
        .iter()
        .map(|(_, src)| match src {
            Source::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Source::Bytes(b) => b.len() as u64,
        })
        .sum();
    crate::atomic::replace(out, crate::atomic::PUBLIC, |file| {
        write_zip(file, out, &files, o.key, total, progress)
    })
}

/// The package's files, sorted, after checking the manifest; the manifest rewritten in memory
/// when its identity is set.
fn collect(dir: &Path, o: BuildOptions<'_>) -> Result<Vec<(String, Source)>, PackageError> {
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
    let manifest_name = match manifests.as_slice() {
        [] => return Err(PackageError::NoManifest),
        [one] => (*one).clone(),
        _ => {
            return Err(PackageError::SeveralManifests(
                manifests
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
    };
    let bad = |reason: String| PackageError::BadManifest {
        path: manifest_name.clone(),
        reason,
    };
    let manifest_text =
        std::fs::read_to_string(dir.join(&manifest_name)).map_err(|e| io(&manifest_name, e))?;
    let mut manifest = PackageManifest::parse(&manifest_text).map_err(bad)?;
    let names: HashSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let config = check_inside(&manifest.configuration_file).map_err(PackageError::Build)?;
    if !names.contains(config.as_str()) {
        return Err(bad(format!(
            "configurationFile '{config}' is not in the package"
        )));
    }
    let rewritten = if o.name.is_some() || o.version.is_some() {
        let metadata = manifest.metadata.get_or_insert_with(Default::default);
        if let Some(name) = o.name {
            metadata.insert("name".into(), name.into());
        }
        if let Some(version) = o.version {
            metadata.insert("version".into(), version.to_string().into());
        }
        // JSON is valid YAML, so the manifest keeps its file name whatever its format.
        let mut bytes =
            serde_json::to_vec_pretty(&manifest).map_err(|e| PackageError::Build(e.to_string()))?;
        bytes.push(b'\n');
        Some(bytes)
    } else {
        None
    };
    let mut rewritten = rewritten;
    Ok(files
        .into_iter()
        .map(|(name, path)| {
            let source = match rewritten.take_if(|_| name == manifest_name) {
                Some(bytes) => Source::Bytes(bytes),
                None => Source::File(path),
            };
            (name, source)
        })
        .collect())
}

/// Writes the zip to `tmp`: each file with its catalog hash, then the catalog and the
/// signature; synced before it is renamed into place.
fn write_zip(
    file: &mut std::fs::File,
    out: &Path,
    files: &[(String, Source)],
    key: Option<&SigningKey>,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Catalog, PackageError> {
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let mut entries = Vec::with_capacity(files.len());
    let mut done = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for (name, source) in files {
        let executable = matches!(source, Source::File(p) if is_executable(p));
        zip.start_file(name.as_str(), options(executable))
            .map_err(|e| PackageError::Build(e.to_string()))?;
        let mut reader: Box<dyn Read> = match source {
            Source::File(path) => Box::new(std::fs::File::open(path).map_err(|e| io(name, e))?),
            Source::Bytes(bytes) => Box::new(bytes.as_slice()),
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(|e| io(name, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            zip.write_all(&buf[..n])
                .map_err(|e| io(format!("writing {}", out.display()), e))?;
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
    finish(zip)?;
    Ok(catalog)
}

/// Writes the zip's central directory and flushes it to the file.
fn finish(zip: zip::ZipWriter<std::io::BufWriter<&mut std::fs::File>>) -> Result<(), PackageError> {
    let mut w = zip
        .finish()
        .map_err(|e| PackageError::Build(e.to_string()))?;
    w.flush().map_err(|e| io("writing the package", e))
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
    let mode = current_mode(path);
    crate::atomic::replace(path, mode, |out| {
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
        finish(zip)
    })?;
    Ok(signing::key_id(&key.verifying_key()))
}

/// The permission bits of an existing file (a signed package keeps its mode).
fn current_mode(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            return m.permissions().mode() & 0o777;
        }
    }
    crate::atomic::PUBLIC
}
