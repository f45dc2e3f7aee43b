//! What binds a package to a configuration: its manifest's `metadata.name` and
//! `metadata.version` (semver). A traek agent takes a package into force only when its name is
//! the configuration name it pulled and its version is not older than the one it last took
//! (rolling back means publishing the old content as a newer version); the pull server checks
//! the name when a package is published, so a mismatch is found before any node pulls it.

use super::manifest::PackageManifest;
use semver::Version;
use serde_json::Value;

/// A package's name and version, from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageIdentity {
    pub name: String,
    pub version: Version,
}

/// Why a package is not the one expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "the package manifest has no metadata.name; build it with `traek package build --name <configuration> --version <x.y.z>`"
    )]
    MissingName,
    #[error(
        "the package manifest has no metadata.version; build it with `traek package build --version <x.y.z>`"
    )]
    MissingVersion,
    #[error("metadata.version '{version}' is not a semantic version (x.y.z): {reason}")]
    BadVersion { version: String, reason: String },
    #[error(
        "the package is named '{found}' (metadata.name), not '{expected}': it was built for another configuration; rebuild it with `traek package build --name {expected}`"
    )]
    WrongName { found: String, expected: String },
    #[error(
        "the package's version {version} is older than {last}, the version last taken into force: to roll back, publish the old content as a newer version"
    )]
    Older { version: Version, last: Version },
}

impl PackageIdentity {
    /// Reads the name and version from a manifest's metadata.
    pub fn of(manifest: &PackageManifest) -> Result<Self, IdentityError> {
        let field = |k: &str| {
            manifest
                .metadata
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let name = field("name").ok_or(IdentityError::MissingName)?;
        let version = field("version").ok_or(IdentityError::MissingVersion)?;
        let version = Version::parse(version).map_err(|e| IdentityError::BadVersion {
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        Ok(PackageIdentity {
            name: name.to_string(),
            version,
        })
    }

    /// Checks that the package is named for `configuration` (names compare without regard to
    /// ASCII case, as configuration names do on the server).
    pub fn check_name(&self, configuration: &str) -> Result<(), IdentityError> {
        if self.name.eq_ignore_ascii_case(configuration) {
            Ok(())
        } else {
            Err(IdentityError::WrongName {
                found: self.name.clone(),
                expected: configuration.to_string(),
            })
        }
    }
}

/// Whether an agent may take `manifest` into force for `configuration`, after having taken
/// version `last` (if any): named for it, and not older.
pub fn admit(
    manifest: &PackageManifest,
    configuration: &str,
    last: Option<&Version>,
) -> Result<PackageIdentity, IdentityError> {
    let id = PackageIdentity::of(manifest)?;
    id.check_name(configuration)?;
    if let Some(last) = last.filter(|last| id.version < **last) {
        return Err(IdentityError::Older {
            version: id.version,
            last: last.clone(),
        });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(metadata: &str) -> PackageManifest {
        PackageManifest::parse(&format!(
            "$schema: x\nmetadata: {metadata}\nresourcePath: [r]\nconfigurationFile: c.dsc.yaml\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_package_named_for_its_configuration_and_not_older_is_admitted() {
        let m = manifest("{name: Web, version: 1.2.0}");
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(admit(&m, "web", None).unwrap().version, v("1.2.0"));
        assert!(admit(&m, "Web", Some(&v("1.2.0"))).is_ok());
        assert!(admit(&m, "Web", Some(&v("1.1.9"))).is_ok());
        assert_eq!(
            admit(&m, "Web", Some(&v("1.10.0"))),
            Err(IdentityError::Older {
                version: v("1.2.0"),
                last: v("1.10.0")
            })
        );
    }

    #[test]
    fn a_package_for_another_configuration_or_without_identity_is_refused() {
        assert!(matches!(
            admit(&manifest("{name: Db, version: 1.0.0}"), "Web", None),
            Err(IdentityError::WrongName { .. })
        ));
        assert_eq!(
            admit(&manifest("{version: 1.0.0}"), "Web", None),
            Err(IdentityError::MissingName)
        );
        assert_eq!(
            admit(&manifest("{name: Web}"), "Web", None),
            Err(IdentityError::MissingVersion)
        );
        assert!(matches!(
            admit(&manifest("{name: Web, version: '1.0'}"), "Web", None),
            Err(IdentityError::BadVersion { .. })
        ));
        let e = admit(&manifest("{name: app, version: 1.0.0}"), "Web", None).unwrap_err();
        assert!(e.to_string().contains("--name Web"), "{e}");
    }
}
