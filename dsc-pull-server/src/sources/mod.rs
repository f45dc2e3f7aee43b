//! Content from Git at work: fetching a source's branch with the `git` binary into a bare
//! repository under `DATA_DIR/git`, reading the commit's files under the source's folder, and
//! publishing what changed, one version per changed file, with the commit and its author as the
//! versions' origin. Which files are content and when a commit is refused is
//! `dsc_core::pull::source`'s; publishing goes through `service` and `rollout` like any other.
//!
//! A commit is checked whole before anything of it is published: a bad file refuses the whole
//! commit (the error is recorded and shown; the commit is not tried again, the next one is).
//! One replica polls at a time (the `git-sources` lease), and one look at a source runs at a
//! time across replicas (a claim in storage, `claim.rs`), so a commit is never published
//! twice. Nothing here stops the server: every failure is recorded on the source.

mod claim;
mod git;

use crate::service::ServiceError;
use crate::state::App;
use crate::storage::now_unix;
use crate::storage::sources::Stored;
use crate::storage::versions::Publisher;
use claim::Claim;
pub use claim::{CLAIM_WAIT, LookError};
use dsc_core::pull::api::ContentKey;
use dsc_core::pull::source::{Item, commit_items, key_text};
use git::{fetch, read_files, repo_dir};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the poller looks for sources that are due.
pub const POLL_EVERY: Duration = Duration::from_secs(5);
/// The lease that lets one replica poll.
pub const LEASE: &str = "git-sources";
/// The poller's lease lasts three times this: longer than any git command.
const LEASE_FOR: Duration = Duration::from_secs(60);

/// What one look at a source did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// The branch has not moved (or its commit was refused before).
    Unchanged,
    /// A commit was published: how many items were published and deleted.
    Published {
        commit: String,
        published: usize,
        deleted: usize,
    },
}
fn content_name(key: &ContentKey) -> String {
    match key {
        ContentKey::Configuration { name } | ContentKey::Package { name } => name.clone(),
        ContentKey::Module { name, version } => format!("{name} {version}"),
    }
}

/// Checks every item before anything is published: content checks, and what a rollout allows.
async fn check_items(
    app: &App,
    s: &Stored,
    items: &BTreeMap<String, Item>,
    bytes: &BTreeMap<String, bytes::Bytes>,
) -> Result<(), String> {
    for (k, item) in items {
        let body = bytes.get(k).cloned().unwrap_or_default();
        let fail = |e: ServiceError| format!("{}: {}", item.path, e.message());
        crate::service::check_content(&item.key, &body)
            .await
            .map_err(fail)?;
        if matches!(item.key, ContentKey::Module { .. }) {
            continue;
        }
        let rec = app
            .storage
            .rollouts()
            .get(&item.key)
            .await
            .map_err(|e| e.to_string())?;
        let live = rec
            .as_ref()
            .and_then(|r| r.rollout.as_ref())
            .filter(|r| r.state.is_live());
        let current = current_checksum(app, &item.key).await?;
        if current.as_deref() == Some(item.checksum.as_str()) {
            continue;
        }
        if s.source.candidates && current.is_some() && rec.is_none() && s.source.plan.is_none() {
            return Err(format!(
                "{}: {} has no rollout plan, and this source publishes candidates without one",
                item.path,
                content_name(&item.key)
            ));
        }
        if let Some(r) = live.filter(|_| !s.source.candidates) {
            return Err(format!(
                "{}: a rollout of version {} of {} is under way: promote or abort it first",
                item.path,
                r.candidate_version,
                content_name(&item.key)
            ));
        }
    }
    Ok(())
}

/// Publishes the items whose content differs from what is stored, then deletes what the last
/// commit had and this one has not (when the source says so). `(published, deleted)`.
async fn publish(
    app: &App,
    s: &Stored,
    items: &BTreeMap<String, Item>,
    mut bytes: BTreeMap<String, bytes::Bytes>,
    by: &Publisher,
) -> Result<(usize, usize), String> {
    let mut published = 0;
    for (k, item) in items {
        let current = current_checksum(app, &item.key).await?;
        let candidate = app
            .storage
            .rollout(kind_text(&item.key), &content_name(&item.key))
            .map(|r| r.candidate.clone());
        if current.as_deref() == Some(item.checksum.as_str())
            || candidate.as_deref() == Some(item.checksum.as_str())
        {
            continue;
        }
        let body = bytes.remove(k).unwrap_or_default();
        let key = item.key.clone();
        let staged =
            s.source.candidates && current.is_some() && !matches!(key, ContentKey::Module { .. });
        let done = if staged {
            give_plan(app, s, &key).await?;
            crate::rollout::put_candidate(app, key, body, by)
                .await
                .map(|_| ())
        } else {
            crate::service::put_content(app, key, body, by)
                .await
                .map(|_| ())
        };
        done.map_err(|e| format!("{}: {}", item.path, e.message()))?;
        published += 1;
    }
    let mut deleted = 0;
    if s.source.delete_removed {
        for gone in s.files.keys().filter(|k| !items.contains_key(*k)) {
            let Some(key) = key_of_text(gone) else {
                continue;
            };
            match crate::service::delete_content(app, key).await {
                Ok(()) => deleted += 1,
                Err(ServiceError::NotFound(_)) => {}
                Err(e) => return Err(format!("deleting {gone}: {}", e.message())),
            }
        }
    }
    Ok((published, deleted))
}

/// Gives content that has no rollout plan the source's.
async fn give_plan(app: &App, s: &Stored, key: &ContentKey) -> Result<(), String> {
    let rollouts = app.storage.rollouts();
    if rollouts
        .get(key)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(());
    }
    let Some(plan) = &s.source.plan else {
        return Ok(());
    };
    crate::rollout::put_plan(app, key, plan.to_string().as_bytes())
        .await
        .map(|_| ())
        .map_err(|e| e.message())
}

/// The checksum of the content served as current now.
async fn current_checksum(app: &App, key: &ContentKey) -> Result<Option<String>, String> {
    Ok(app
        .storage
        .content_meta(key)
        .await
        .map_err(|e| e.to_string())?
        .map(|m| m.checksum))
}

fn kind_text(key: &ContentKey) -> &'static str {
    match key {
        ContentKey::Package { .. } => "package",
        _ => "configuration",
    }
}

/// The content key a [`key_text`] names (names in lower case, as stored keys compare).
fn key_of_text(text: &str) -> Option<ContentKey> {
    let mut parts = text.splitn(3, '/');
    Some(match (parts.next()?, parts.next()?, parts.next()) {
        ("configuration", name, None) => ContentKey::Configuration { name: name.into() },
        ("package", name, None) => ContentKey::Package { name: name.into() },
        ("module", name, Some(version)) => ContentKey::Module {
            name: name.into(),
            version: version.into(),
        },
        _ => return None,
    })
}

/// Records an error on the source and returns it.
async fn failed(
    app: &App,
    name: &str,
    e: String,
    commit: Option<String>,
) -> Result<Synced, String> {
    let sources = app.storage.sources();
    if let Err(se) = sources
        .failed(name, &e, commit.as_deref(), now_unix())
        .await
    {
        tracing::warn!(error = %se, "recording a git source's error failed");
    }
    tracing::warn!(source = name, error = %e, "git source");
    Err(e)
}

/// Looks at a source once: fetches, and publishes a new commit if it passes its checks.
/// Waits up to `wait` for a look under way on another replica. Every failure of the look itself
/// is recorded on the source and returned.
pub async fn sync(app: &App, name: &str, wait: Duration) -> Result<Synced, LookError> {
    // The source is read after the lock and the claim are taken, so a look that waited sees
    // what the one before it recorded.
    let _one_at_a_time = app.git_sync.lock().await;
    let claim = match Claim::take(app, name, wait).await {
        Ok(Some(claim)) => claim,
        Ok(None) => return Err(LookError::Busy),
        Err(e) => return Err(LookError::Failed(e)),
    };
    let looked = claim
        .guard(look(app, name, &claim))
        .await
        .map_err(LookError::Failed);
    claim.release().await;
    looked
}

/// [`sync`] once the claim is held.
async fn look(app: &App, name: &str, claim: &Claim<'_>) -> Result<Synced, String> {
    let sources = app.storage.sources();
    let Some(s) = sources.get(name).await.map_err(|e| e.to_string())? else {
        return Err(format!("no source '{name}'"));
    };
    let now = now_unix();
    let record = |e: String, commit: Option<String>| failed(app, name, e, commit);
    let (commit, author, subject) = match fetch(app, claim, &s).await {
        Ok(c) => c,
        Err(e) => return record(e, None).await,
    };
    if s.last_commit.as_deref() == Some(commit.as_str())
        || s.error_commit.as_deref() == Some(commit.as_str())
    {
        sources
            .checked(name, now)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(Synced::Unchanged);
    }
    let short = commit.get(..12).unwrap_or(&commit).to_string();
    let files = match read_files(app, claim, &s).await {
        Ok(f) => f,
        Err(e) => return record(format!("commit {short}: {e}"), Some(commit)).await,
    };
    let items = match commit_items(&s.source.path, &files) {
        Ok(i) => i,
        Err(e) => return record(format!("commit {short}: {e}"), Some(commit)).await,
    };
    let mut bytes: BTreeMap<String, bytes::Bytes> = BTreeMap::new();
    for (path, body) in files {
        if let Some(dsc_core::pull::source::FileKind::Content(key)) =
            dsc_core::pull::source::classify(&s.source.path, &path)
        {
            bytes.insert(key_text(&key), bytes::Bytes::from(body));
        }
    }
    if let Err(e) = check_items(app, &s, &items, &bytes).await {
        return record(format!("commit {short}: {e}"), Some(commit)).await;
    }
    let by = Publisher {
        actor: format!("git {}", s.name),
        origin: format!("git {short} by {author}"),
        message: Some(subject.chars().take(500).collect()).filter(|m: &String| !m.is_empty()),
    };
    // The checks may have taken a while: publish only while the claim is still this replica's.
    if let Err(e) = claim.renew().await {
        return record(e, None).await;
    }
    let (published, deleted) = match publish(app, &s, &items, bytes, &by).await {
        Ok(n) => n,
        // Not about the commit: the next look tries it again.
        Err(e) => return record(format!("commit {short}: {e}"), None).await,
    };
    let files = items
        .iter()
        .map(|(k, i)| (k.clone(), i.checksum.clone()))
        .collect();
    sources
        .synced(name, &commit, &author, &files, now)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(source = name, commit = %short, published, deleted, "published a git commit");
    Ok(Synced::Published {
        commit,
        published,
        deleted,
    })
}

/// Looks at every source that is due, on the replica that holds the lease, until aborted.
pub async fn poll_loop(app: Arc<App>) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !app.lead(LEASE, LEASE_FOR).await {
            continue;
        }
        let Ok(list) = app.storage.sources().list().await else {
            continue;
        };
        let now = now_unix();
        for s in list {
            let every = i64::try_from(s.source.interval_secs).unwrap_or(60);
            // Renewed before each source: the lease outlives the longest git command.
            if s.last_checked_at.is_none_or(|at| now - at >= every)
                && app.lead(LEASE, LEASE_FOR).await
            {
                // The error is recorded on the source, and a source another replica is
                // looking at waits for the next round; the poller goes on with the next.
                let _ = sync(&app, &s.name, Duration::ZERO).await;
            }
        }
    }
}

/// The sources whose last look failed, as `/readyz` lists them (the server stays ready).
pub async fn failing(app: &App) -> Vec<String> {
    app.storage
        .sources()
        .list()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| {
            s.last_error
                .map(|e| format!("git source {}: {}", s.name, e))
        })
        .collect()
}

/// Adds or replaces a source from its JSON body (admin only: its token reaches outside);
/// the source as stored (never its token).
pub async fn put(app: &App, name: &str, body: &[u8]) -> crate::service::ServiceResult<Stored> {
    dsc_core::pull::path::check_name("source name", name)
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let parsed: dsc_core::pull::source::SourceBody = serde_json::from_slice(body).map_err(|e| {
        ServiceError::Invalid(format!(
            "expected {{\"url\", \"branch\", \"path\", \"interval\", \"token\", \"username\", \"candidates\", \"deleteRemoved\"}}: {e}"
        ))
    })?;
    let source = parsed
        .check()
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let sources = app.storage.sources();
    let existing = sources.list().await?;
    let known = existing.iter().any(|s| s.name.eq_ignore_ascii_case(name));
    if !known && existing.len() >= crate::storage::sources::MAX_SOURCES {
        return Err(ServiceError::Conflict(format!(
            "a server keeps at most {} sources",
            crate::storage::sources::MAX_SOURCES
        )));
    }
    sources.put(name, &source, now_unix()).await?;
    sources
        .get(name)
        .await?
        .ok_or_else(|| ServiceError::Internal("the source was not stored".into()))
}

/// Removes a source (what it published stays).
pub async fn remove(app: &App, name: &str) -> crate::service::ServiceResult<()> {
    if !app.storage.sources().remove(name).await? {
        return Err(ServiceError::NotFound(format!("no source named '{name}'")));
    }
    let _ = std::fs::remove_dir_all(repo_dir(app, name));
    Ok(())
}
