//! Content from Git: what a source is (repository, branch, folder, interval), which files of a
//! commit are content, and what a commit publishes. The server fetches and publishes; the rules
//! are here.
//!
//! Under the source's folder (and its subfolders):
//! - `NAME.mof` is configuration NAME; `NAME.mof.checksum`, when present, must hold its SHA-256
//!   (as the Windows pull server's `New-DscChecksum` writes it) or the commit is refused;
//! - `NAME.dscpkg` is package NAME;
//! - `NAME_VERSION.zip` is module NAME at VERSION (the Windows pull server's naming).
//!
//! Other files are ignored. Two files naming the same content refuse the commit.

use super::api::ContentKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Shortest and longest poll interval.
pub const MIN_INTERVAL_SECS: u64 = 10;
pub const MAX_INTERVAL_SECS: u64 = 86_400;
/// The interval of a source that names none.
pub const DEFAULT_INTERVAL: &str = "1m";

/// A source as given to `PUT /api/v1/sources/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceBody {
    pub url: String,
    pub branch: Option<String>,
    pub path: Option<String>,
    pub interval: Option<String>,
    /// A token for HTTPS (sent as the password of HTTP basic authentication); never shown again.
    pub token: Option<String>,
    /// The user name sent with the token (default `git`).
    pub username: Option<String>,
    /// Publish new versions of configurations and packages that have a current version as
    /// candidates, under each one's rollout plan.
    #[serde(default)]
    pub candidates: bool,
    /// The rollout plan given to a configuration or package that has none when the source
    /// publishes a candidate of it.
    pub plan: Option<serde_json::Value>,
    /// Delete content whose file was removed from the repository (default: keep it).
    #[serde(default)]
    pub delete_removed: bool,
}

/// A checked source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub url: String,
    pub branch: String,
    /// The folder, without leading or trailing `/` (empty: the whole repository).
    pub path: String,
    pub interval_secs: u64,
    #[serde(skip)]
    pub token: Option<String>,
    pub username: String,
    pub candidates: bool,
    /// A checked rollout plan (see [`SourceBody::plan`]).
    pub plan: Option<serde_json::Value>,
    pub delete_removed: bool,
}

/// Why a source or a commit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

fn refuse(message: impl Into<String>) -> SourceError {
    SourceError(message.into())
}

/// Checks a repository URL: `https://`, `http://`, `ssh://`, `file://` or `user@host:path`;
/// no credentials in it (give a token instead), no spaces or control characters, no leading
/// `-` (it would be read as an option).
pub fn check_url(url: &str) -> Result<(), SourceError> {
    if url.is_empty() || url.len() > 2048 {
        return Err(refuse("the url must be 1 to 2048 characters"));
    }
    if url.starts_with('-') || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse(
            "the url must not start with '-' or hold spaces or control characters",
        ));
    }
    let scp_like = !url.contains("://")
        && url
            .split_once(':')
            .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'));
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("https" | "http" | "ssh" | "file") => {}
        None if scp_like => {}
        _ => {
            return Err(refuse(format!(
                "'{url}' is not a https://, http://, ssh://, file:// or user@host:path repository URL"
            )));
        }
    }
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if matches!(scheme.as_deref(), Some("https" | "http")) && authority.contains('@') {
            return Err(refuse(
                "put no credentials in the url: give \"token\" (and \"username\") instead",
            ));
        }
    }
    Ok(())
}

/// Checks a branch name as Git's `check-ref-format` would, in short.
pub fn check_branch(branch: &str) -> Result<(), SourceError> {
    let bad = branch.is_empty()
        || branch.len() > 255
        || branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'));
    if bad {
        return Err(refuse(format!("'{branch}' is not a valid branch name")));
    }
    Ok(())
}

/// Normalizes a folder: no `..`, no empty or `.` parts; `/` separated, no leading or trailing `/`.
pub fn check_path(path: &str) -> Result<String, SourceError> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") || path.chars().any(char::is_control) || path.len() > 1024 {
        return Err(refuse(format!(
            "path '{path}' must be a folder inside the repository"
        )));
    }
    Ok(parts.join("/"))
}

impl SourceBody {
    /// Checks everything; the interval is a duration such as `30s` or `5m` (10 s to 1 day).
    pub fn check(self) -> Result<Source, SourceError> {
        check_url(&self.url)?;
        let branch = self.branch.unwrap_or_else(|| "main".into());
        check_branch(&branch)?;
        let path = check_path(self.path.as_deref().unwrap_or(""))?;
        let text = self.interval.as_deref().unwrap_or(DEFAULT_INTERVAL);
        let interval = humantime::parse_duration(text.trim())
            .map_err(|e| {
                refuse(format!(
                    "interval '{text}' is not a duration such as '1m': {e}"
                ))
            })?
            .as_secs();
        if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&interval) {
            return Err(refuse(format!(
                "interval '{text}' must be between 10s and 1 day"
            )));
        }
        let token = self.token.filter(|t| !t.is_empty());
        if token
            .as_deref()
            .is_some_and(|t| t.len() > 4096 || t.chars().any(char::is_control))
        {
            return Err(refuse(
                "the token must be at most 4096 printable characters",
            ));
        }
        let username = self.username.unwrap_or_else(|| "git".into());
        if username.is_empty()
            || username.len() > 256
            || username.chars().any(|c| c.is_control() || c == ':')
        {
            return Err(refuse(
                "the username must be 1 to 256 characters without ':'",
            ));
        }
        let plan = match self.plan {
            None | Some(serde_json::Value::Null) => None,
            Some(p) => {
                let checked = super::rollout::Plan::parse(p.to_string().as_bytes())
                    .map_err(|e| refuse(e.to_string()))?;
                Some(checked.to_json())
            }
        };
        if plan.is_some() && !self.candidates {
            return Err(refuse("a plan is used only with \"candidates\": true"));
        }
        Ok(Source {
            plan,
            url: self.url,
            branch,
            path,
            interval_secs: interval,
            token,
            username,
            candidates: self.candidates,
            delete_removed: self.delete_removed,
        })
    }
}

/// What a file of a commit is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Content(ContentKey),
    /// `NAME.mof.checksum`: the checksum of configuration NAME.
    Checksum(String),
}

fn strip_suffix_ci<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = name.len().checked_sub(suffix.len())?;
    (name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(suffix)).then(|| &name[..cut])
}

/// What a file (its path in the repository) is, if it is under `folder` and is content.
pub fn classify(folder: &str, path: &str) -> Option<FileKind> {
    let inside = if folder.is_empty() {
        path
    } else {
        path.strip_prefix(folder)?.strip_prefix('/')?
    };
    let file = inside.rsplit('/').next()?;
    let named = |n: &str| {
        super::path::check_name("name", n)
            .is_ok()
            .then(|| n.to_string())
    };
    if let Some(stem) = strip_suffix_ci(file, ".mof.checksum") {
        return named(stem).map(FileKind::Checksum);
    }
    if let Some(stem) = strip_suffix_ci(file, ".mof") {
        return named(stem).map(|name| FileKind::Content(ContentKey::Configuration { name }));
    }
    if let Some(stem) = strip_suffix_ci(file, ".dscpkg") {
        return named(stem).map(|name| FileKind::Content(ContentKey::Package { name }));
    }
    let stem = strip_suffix_ci(file, ".zip")?;
    let (name, version) = stem.rsplit_once('_')?;
    super::path::check_module_version(version).ok()?;
    (!version.is_empty()).then_some(())?;
    named(name).map(|name| {
        FileKind::Content(ContentKey::Module {
            name,
            version: version.to_string(),
        })
    })
}

/// One file of a commit that is content: its key, its path, its bytes' checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: ContentKey,
    pub path: String,
    pub checksum: String,
}

/// A stable text key of content (`configuration/web`), for remembering a commit's files.
pub fn key_text(key: &ContentKey) -> String {
    match key {
        ContentKey::Configuration { name } => format!("configuration/{}", name.to_lowercase()),
        ContentKey::Package { name } => format!("package/{}", name.to_lowercase()),
        ContentKey::Module { name, version } => {
            format!("module/{}/{}", name.to_lowercase(), version.to_lowercase())
        }
    }
}

/// Checks a commit's files as a whole: `files` are (path, bytes) of every file under the
/// folder. Refused, with the file and the reason, when a checksum file disagrees with its MOF
/// or names none, or two files name the same content. The content items, by key.
pub fn commit_items(
    folder: &str,
    files: &[(String, Vec<u8>)],
) -> Result<BTreeMap<String, Item>, SourceError> {
    let mut items = BTreeMap::new();
    let mut checksums = BTreeMap::new();
    for (path, bytes) in files {
        match classify(folder, path) {
            None => {}
            Some(FileKind::Checksum(name)) => {
                let text = String::from_utf8_lossy(bytes).trim().to_string();
                checksums.insert(name.to_lowercase(), (path.clone(), text));
            }
            Some(FileKind::Content(key)) => {
                let item = Item {
                    key: key.clone(),
                    path: path.clone(),
                    checksum: super::checksum::sha256_hex(bytes),
                };
                if let Some(other) = items.insert(key_text(&key), item) {
                    return Err(refuse(format!(
                        "{path} and {} name the same content",
                        other.path
                    )));
                }
            }
        }
    }
    for (name, (path, text)) in checksums {
        let Some(item) = items.get(&format!("configuration/{name}")) else {
            return Err(refuse(format!(
                "{path} is the checksum of no MOF in the commit"
            )));
        };
        if !super::checksum::same_checksum(&text, &item.checksum) {
            return Err(refuse(format!(
                "{path} does not match {}: it says {}, the file's SHA-256 is {}",
                item.path,
                text.chars().take(64).collect::<String>(),
                item.checksum
            )));
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(url: &str) -> SourceBody {
        SourceBody {
            url: url.into(),
            branch: None,
            path: None,
            interval: None,
            token: None,
            username: None,
            candidates: false,
            plan: None,
            delete_removed: false,
        }
    }

    #[test]
    fn a_source_has_defaults_and_its_checks_say_what_is_wrong() {
        let s = body("https://git.example.com/ops/dsc.git").check().unwrap();
        assert_eq!(
            (s.branch.as_str(), s.path.as_str(), s.interval_secs),
            ("main", "", 60)
        );
        for (url, says) in [
            ("ftp://x/y", "not a https://"),
            ("https://user:pw@git.example.com/x", "no credentials"),
            ("--upload-pack=evil", "must not start with '-'"),
            ("https://x/a b", "spaces"),
            ("", "1 to 2048"),
        ] {
            let e = body(url).check().unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
        assert!(body("git@github.com:ops/dsc.git").check().is_ok());
        assert!(body("file:///srv/git/dsc.git").check().is_ok());
        let mut b = body("https://x/y");
        b.branch = Some("feature/..x".into());
        assert!(b.check().is_err());
        let mut b = body("https://x/y");
        b.path = Some("../etc".into());
        assert!(b.check().is_err());
        let mut b = body("https://x/y");
        b.path = Some("/dsc/./nodes/".into());
        assert_eq!(b.check().unwrap().path, "dsc/nodes");
        let mut b = body("https://x/y");
        b.interval = Some("1s".into());
        assert!(b.check().unwrap_err().to_string().contains("between 10s"));
        let e = serde_json::from_str::<SourceBody>(r#"{"url": "https://x/y", "extra": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn files_under_the_folder_are_configurations_packages_and_modules() {
        let cfg = |n: &str| {
            Some(FileKind::Content(ContentKey::Configuration {
                name: n.into(),
            }))
        };
        assert_eq!(classify("dsc", "dsc/Web.mof"), cfg("Web"));
        assert_eq!(classify("dsc", "dsc/prod/Web.MOF"), cfg("Web"));
        assert_eq!(classify("dsc", "other/Web.mof"), None);
        assert_eq!(classify("dsc", "dscx/Web.mof"), None);
        assert_eq!(
            classify("", "Web.mof.checksum"),
            Some(FileKind::Checksum("Web".into()))
        );
        assert_eq!(
            classify("", "App.dscpkg"),
            Some(FileKind::Content(ContentKey::Package {
                name: "App".into()
            }))
        );
        assert_eq!(
            classify("", "modules/xWeb_1.2.0.zip"),
            Some(FileKind::Content(ContentKey::Module {
                name: "xWeb".into(),
                version: "1.2.0".into()
            }))
        );
        assert_eq!(classify("", "README.md"), None);
        assert_eq!(classify("", "notes.zip"), None);
    }

    #[test]
    fn a_commit_with_a_wrong_checksum_or_two_files_for_one_name_is_refused() {
        let mof = b"instance of X {};".to_vec();
        let sum = crate::pull::checksum::sha256_hex(&mof);
        let ok = commit_items(
            "",
            &[
                ("Web.mof".into(), mof.clone()),
                (
                    "Web.mof.checksum".into(),
                    format!("{}\n", sum.to_lowercase()).into_bytes(),
                ),
                ("README.md".into(), b"hi".to_vec()),
            ],
        )
        .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok["configuration/web"].checksum, sum);
        let e = commit_items(
            "",
            &[
                ("Web.mof".into(), mof.clone()),
                ("Web.mof.checksum".into(), b"00".to_vec()),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Web.mof.checksum does not match Web.mof"), "{e}");
        let e = commit_items(
            "",
            &[
                ("a/Web.mof".into(), mof.clone()),
                ("b/web.mof".into(), mof.clone()),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("name the same content"), "{e}");
        let e = commit_items("", &[("Db.mof.checksum".into(), sum.into_bytes())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum of no MOF"), "{e}");
    }
}
