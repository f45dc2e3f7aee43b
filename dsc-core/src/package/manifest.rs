//! The package manifest (`*.dscpkg.json|yaml|yml` at the root of a `.dscpkg`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A package manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "DSC package manifest")]
pub struct PackageManifest {
    #[serde(rename = "$schema")]
    pub schema_uri: String,
    /// Free-form; recommended: name, version, description, author, license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Directories inside the package searched for resource manifests.
    pub resource_path: Vec<String>,
    /// Also search traek's own directory and DSC_RESOURCE_PATH (after the package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_core_resources: Option<bool>,
    /// The configuration document inside the package; its directory is DSC_CONFIG_ROOT.
    pub configuration_file: String,
    /// Whether to delete the `.dscpkg` after running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_package: Option<RemovePackage>,
}

/// When a package deletes itself after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RemovePackage {
    OnSuccess,
    Always,
    Never,
}

/// The JSON Schema of a package manifest.
pub fn package_manifest_schema() -> Value {
    schemars::schema_for!(PackageManifest).to_value()
}

/// Whether a file name at the package root is a package manifest.
pub fn is_manifest_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".dscpkg.json", ".dscpkg.yaml", ".dscpkg.yml"]
        .iter()
        .any(|s| lower.len() > s.len() && lower.ends_with(s))
}

/// Checks a path named by a manifest (or an archive entry): relative, `/`-separated, no `..`,
/// no absolute path, no drive letter, no backslash, no empty or `.` segments after
/// normalisation. Returns the normalised path (without `./` segments or a trailing `/`).
pub fn check_inside(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("an empty path".into());
    }
    if path.contains('\\') {
        return Err(format!(
            "'{path}' uses a backslash; paths inside a package use '/'"
        ));
    }
    if path.starts_with('/') {
        return Err(format!("'{path}' is absolute"));
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(format!("'{path}' starts with a drive letter"));
    }
    if path.contains('\0') {
        return Err(format!("'{}' contains a NUL byte", path.escape_debug()));
    }
    let mut parts = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => continue,
            ".." => return Err(format!("'{path}' contains '..'")),
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return Ok(String::new());
    }
    Ok(parts.join("/"))
}

impl PackageManifest {
    /// Parses and checks a manifest (JSON or YAML): every path must stay inside the package.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (value, _) = crate::text::parse_json_or_yaml(text).map_err(|e| e.message)?;
        let m = PackageManifest::deserialize(&value)
            .map_err(|e| format!("invalid package manifest: {e}"))?;
        check_inside(&m.configuration_file).map_err(|e| format!("configurationFile: {e}"))?;
        if m.configuration_file.trim_matches('/').is_empty() {
            return Err("configurationFile must name a file".into());
        }
        if m.resource_path.is_empty() {
            return Err("resourcePath must list at least one directory inside the package".into());
        }
        for p in &m.resource_path {
            check_inside(p).map_err(|e| format!("resourcePath: {e}"))?;
        }
        Ok(m)
    }

    pub fn remove_package(&self) -> RemovePackage {
        self.remove_package.unwrap_or(RemovePackage::Never)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_and_paths_must_stay_inside() {
        let ok = "$schema: x\nresourcePath: [resources, ./more/]\nconfigurationFile: config/main.dsc.yaml\nremovePackage: onSuccess\n";
        let m = PackageManifest::parse(ok).unwrap();
        assert_eq!(m.remove_package(), RemovePackage::OnSuccess);
        for (bad, fragment) in [
            (
                "$schema: x\nresourcePath: [../out]\nconfigurationFile: c.yaml\n",
                "'..'",
            ),
            (
                "$schema: x\nresourcePath: [r]\nconfigurationFile: /etc/c.yaml\n",
                "absolute",
            ),
            (
                "$schema: x\nresourcePath: [r]\nconfigurationFile: 'C:/c.yaml'\n",
                "drive letter",
            ),
            (
                "$schema: x\nresourcePath: ['a\\b']\nconfigurationFile: c.yaml\n",
                "backslash",
            ),
            (
                "$schema: x\nresourcePath: []\nconfigurationFile: c.yaml\n",
                "at least one",
            ),
            ("$schema: x\nresourcePath: [r]\n", "configurationFile"),
            (
                "$schema: x\nresourcePath: [r]\nconfigurationFile: c.yaml\nextra: 1\n",
                "extra",
            ),
            (
                "$schema: x\nresourcePath: [r]\nconfigurationFile: c.yaml\nremovePackage: sometimes\n",
                "sometimes",
            ),
        ] {
            let e = PackageManifest::parse(bad).unwrap_err();
            assert!(e.contains(fragment), "{bad}: {e}");
        }
    }

    #[test]
    fn path_checks_normalise_and_refuse_escapes() {
        assert_eq!(check_inside("./a//b/").unwrap(), "a/b");
        assert!(check_inside("a/../../b").is_err());
        assert!(check_inside("\\\\server\\share").is_err());
        assert!(is_manifest_name("pkg.DSCPKG.yaml"));
        assert!(!is_manifest_name(".dscpkg.json"));
    }
}
