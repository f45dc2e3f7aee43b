//! Change notifications between replicas.
//!
//! Every write that changes what the hot path caches sends `pg_notify('traek_changes', ...)`
//! inside its transaction, so the notification is delivered at commit, in commit order, to
//! every replica (this one included). A listener task per replica keeps one dedicated
//! connection in `LISTEN` and applies each change to the [`Cache`](crate::storage::cache::Cache):
//!
//! - `agent <uuid>`: the agent's view is read again (or dropped when it is gone);
//! - `config <lowercased name>`: the configuration's checksum is read again;
//! - `tag <tag>`: the tag's configuration names are read again;
//! - `rollouts -`: the rollouts serving candidates are read again.
//!
//! Notifications sent while the connection was down are lost, so after every (re)connection
//! the listener reloads the whole cache before it trusts it again.

use super::Shared;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub const CHANNEL: &str = "traek_changes";

/// One change, as sent in a notification's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Agent(Uuid),
    Configuration(String),
    /// A tag's configuration names changed.
    Tag(String),
    /// A rollout changed: every replica reads the live rollouts again.
    Rollouts,
}

impl Change {
    pub fn payload(&self) -> String {
        match self {
            Change::Agent(id) => format!("agent {id}"),
            Change::Configuration(name_key) => format!("config {name_key}"),
            Change::Tag(tag) => format!("tag {tag}"),
            Change::Rollouts => "rollouts -".to_string(),
        }
    }

    pub fn parse(payload: &str) -> Option<Change> {
        match payload.split_once(' ')? {
            ("agent", id) => Uuid::parse_str(id).ok().map(Change::Agent),
            ("config", name) => Some(Change::Configuration(name.to_string())),
            ("tag", tag) => Some(Change::Tag(tag.to_string())),
            ("rollouts", _) => Some(Change::Rollouts),
            _ => None,
        }
    }
}

/// Waits between reconnection attempts: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_LAST: Duration = Duration::from_secs(2);

/// Runs for the life of the storage: listens, applies, reconnects.
pub async fn listen(shared: Arc<Shared>, target: super::Target) {
    let mut wait = RETRY_FIRST;
    loop {
        let started = std::time::Instant::now();
        let result = listen_once(&shared, &target).await;
        if started.elapsed() > RETRY_LAST {
            wait = RETRY_FIRST;
        }
        match result {
            Ok(()) => tracing::warn!("the change-notification connection closed; reconnecting"),
            Err(e) if wait == RETRY_FIRST => {
                tracing::warn!(error = %e, "change notifications unavailable; retrying")
            }
            Err(e) => tracing::debug!(error = %e, "change notifications still unavailable"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_LAST);
    }
}

async fn listen_once(shared: &Arc<Shared>, target: &super::Target) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (client, driver) = target.connect(Some(tx)).await.map_err(|e| e.to_string())?;
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| e.to_string())?;
    // Changes committed while nobody listened must not stay unseen.
    shared.cache.bump_epoch();
    if let Err(e) = shared.reload_cache().await {
        driver.abort();
        return Err(format!("reloading the cache: {e}"));
    }
    while let Some(payload) = rx.recv().await {
        if let Some(change) = Change::parse(&payload) {
            shared.apply(change).await;
        }
    }
    driver.abort();
    drop(client);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let id = Uuid::new_v4();
        for c in [
            Change::Agent(id),
            Change::Configuration("web server".into()),
        ] {
            assert_eq!(Change::parse(&c.payload()), Some(c));
        }
        assert_eq!(Change::parse("nonsense"), None);
        assert_eq!(Change::parse("agent not-a-uuid"), None);
    }
}
