//! Report retention: applies the configured [`PrunePolicy`](crate::storage::PrunePolicy) every
//! `--prune-interval`. With PostgreSQL, replicas take turns through an advisory lock inside
//! the storage, so running this loop on every replica is safe.

use crate::state::App;
use std::sync::Arc;

/// Prunes now; returns the number of reports deleted.
pub async fn prune_now(app: &App) -> Result<u64, crate::storage::StorageError> {
    let policy = app.prune_policy();
    let started = std::time::Instant::now();
    let deleted = app.storage.prune(&policy).await?;
    tracing::info!(
        deleted,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "pruned reports"
    );
    Ok(deleted)
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
