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
