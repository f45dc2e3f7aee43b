//! The `git` binary at work for a source: a shallow fetch of its branch into a bare repository
//! under `DATA_DIR/git`, and the content files of the fetched commit.

use super::claim::Claim;
use crate::state::App;
use crate::storage::sources::Stored;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest a git command may run.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(120);
/// The most content files a commit may hold.
const MAX_FILES: usize = 1000;

/// Runs git with a clean environment: no prompts, no system or user Git configuration, the
/// token (if any) as an HTTP header given through the environment (never on the command line,
/// which other local users can read). `HOME` stays the server user's, so SSH finds its keys and
/// known hosts in `~/.ssh`.
async fn git(
    claim: &Claim<'_>,
    repo: &Path,
    source: &Stored,
    args: &[&str],
) -> Result<Vec<u8>, String> {
    claim.renew().await?;
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args([
            "-c",
            "protocol.ext.allow=never",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "HOME",
            std::env::var_os("HOME").unwrap_or_else(|| repo.into()),
        )
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ASKPASS", "/bin/false")
        .env(
            "GIT_SSH_COMMAND",
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        )
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(token) = &source.source.token {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{token}", source.source.username));
        cmd.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: Basic {basic}"),
            );
    }
    let out = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("git {} took longer than {GIT_TIMEOUT:?}", args[0]))?
        .map_err(|e| format!("could not run git (is it installed?): {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(format!(
            "git {} failed: {}",
            args[0],
            said.unwrap_or("no message").trim()
        ));
    }
    Ok(out.stdout)
}

pub fn repo_dir(app: &App, name: &str) -> PathBuf {
    let id = dsc_core::pull::checksum::sha256_hex(name.to_lowercase().as_bytes());
    app.config.data_dir.join("git").join(&id[..16])
}

const REF: &str = "refs/traek/source";

/// Fetches the branch's newest commit: `(commit, author, subject)`.
pub async fn fetch(
    app: &App,
    claim: &Claim<'_>,
    s: &Stored,
) -> Result<(String, String, String), String> {
    let repo = repo_dir(app, &s.name);
    if !repo.join("HEAD").exists() {
        std::fs::create_dir_all(&repo).map_err(|e| format!("creating {}: {e}", repo.display()))?;
        git(claim, &repo, s, &["init", "--bare", "--quiet"]).await?;
    }
    let refspec = format!("+refs/heads/{}:{REF}", s.source.branch);
    git(
        claim,
        &repo,
        s,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--depth=1",
            "--",
            &s.source.url,
            &refspec,
        ],
    )
    .await?;
    let log = git(
        claim,
        &repo,
        s,
        &["log", "-1", "--format=%H%x00%an <%ae>%x00%s", REF],
    )
    .await?;
    let log = String::from_utf8_lossy(&log);
    let mut parts = log.trim_end().splitn(3, '\0');
    let commit = parts.next().unwrap_or_default().to_string();
    let author = parts.next().unwrap_or_default().to_string();
    let subject = parts.next().unwrap_or_default().to_string();
    Ok((commit, author, subject))
}

/// The files of the fetched commit under the source's folder that are content (or checksums),
/// with their bytes.
pub async fn read_files(
    app: &App,
    claim: &Claim<'_>,
    s: &Stored,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let repo = repo_dir(app, &s.name);
    let mut args = vec!["ls-tree", "-r", "-z", "--long", REF];
    if !s.source.path.is_empty() {
        args.extend(["--", &s.source.path]);
    }
    let listing = git(claim, &repo, s, &args).await?;
    let mut files = Vec::new();
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let fields: Vec<&str> = meta.split_whitespace().collect();
        let [_, "blob", object, size] = fields.as_slice() else {
            continue;
        };
        if dsc_core::pull::source::classify(&s.source.path, path).is_none() {
            continue;
        }
        if files.len() >= MAX_FILES {
            return Err(format!(
                "the commit holds more than {MAX_FILES} content files"
            ));
        }
        let size: usize = size.parse().unwrap_or(usize::MAX);
        if size > app.config.max_upload_bytes {
            return Err(format!(
                "{path} is {size} bytes, more than --max-upload-bytes ({})",
                app.config.max_upload_bytes
            ));
        }
        let bytes = git(claim, &repo, s, &["cat-file", "blob", object]).await?;
        files.push((path.to_string(), bytes));
    }
    Ok(files)
}
