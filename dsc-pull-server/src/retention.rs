//! Report retention: applies the configured [`PrunePolicy`](crate::storage::PrunePolicy) every
//! `--prune-interval`. With PostgreSQL, replicas take turns through an advisory lock inside
//! the storage, so running this loop on every replica is safe.

use crate::state::App;
use std::sync::Arc;

/// Prunes now; returns the number of reports deleted.
pub async fn prune_now(app: &App) -> Result<u64, crate::storage::StorageError> {
    let policy = app.prune_policy();
    let started = std::time::Instant::now();
    // Versions first: the blobs of those forgotten are collected by the prune below.
    let versions = app
        .storage
        .versions()
        .prune(app.config.keep_versions)
        .await?;
    if versions > 0 {
        tracing::info!(versions, "forgot old versions");
    }
    let deleted = app.storage.prune(&policy).await?;
    prune_security(app).await?;
    tracing::info!(
        deleted,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "pruned reports"
    );
    Ok(deleted)
}

/// Sign-in failures are forgotten after a day without another failure.
const FAILURE_MEMORY: i64 = 86_400;

/// Forgets used registration signatures once they are outside the clock window (a replay of
/// them is refused as stale by then), sign-in failures after [`FAILURE_MEMORY`], and audit
/// entries older than `--audit-retention`.
pub async fn prune_security(app: &App) -> Result<u64, crate::storage::StorageError> {
    let now = crate::storage::now_unix();
    let skew = i64::try_from(app.config.max_clock_skew.as_secs()).unwrap_or(i64::MAX / 4);
    let audit = i64::try_from(app.config.audit_retention.as_secs()).unwrap_or(i64::MAX / 4);
    let removed = app
        .storage
        .accounts()
        .prune_security(
            now.saturating_sub(skew.saturating_mul(2))
                .saturating_sub(60),
            now.saturating_sub(FAILURE_MEMORY),
            now.saturating_sub(audit),
        )
        .await?;
    if removed > 0 {
        tracing::info!(removed, "pruned audit entries");
    }
    Ok(removed)
}

/// Runs until the task is aborted: waits one interval, prunes, repeats.
pub async fn prune_loop(app: Arc<App>) {
    let mut tick = tokio::time::interval(app.config.prune_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = prune_now(&app).await {
            tracing::error!(error = %e, "pruning reports failed");
        }
    }
}
