//! This replica's claim, in storage, on looking at one Git source, so that replicas take turns.

use crate::state::App;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a claim on a source lasts unless renewed. A look renews it every [`RENEW_EVERY`]
/// and before every git command, so a replica that dies during a look keeps others waiting at
/// most this long.
const CLAIM_FOR: Duration = Duration::from_secs(20);
/// How often a look under way renews its claim.
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How long a look that a user asks for waits for one under way on another replica.
pub const CLAIM_WAIT: Duration = Duration::from_secs(15);

/// Why a look at a source did not publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookError {
    /// Another replica was looking at the source, and went on longer than the look could wait.
    Busy,
    /// The look failed; the error is recorded on the source.
    Failed(String),
}

impl std::fmt::Display for LookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookError::Busy => f.write_str(
                "another replica is looking at this source now; ask again when it is done",
            ),
            LookError::Failed(e) => f.write_str(e),
        }
    }
}

/// This replica's claim, in storage, on looking at one source: replicas take turns, so two
/// looks never both find a commit new and publish it twice.
pub struct Claim<'a> {
    app: &'a App,
    lease: String,
    /// Set once another replica was seen holding the claim: the look must not go on.
    lost: AtomicBool,
}

impl<'a> Claim<'a> {
    /// Takes the claim on `name`, waiting up to `wait` for another replica's; `None` when that
    /// one still runs.
    pub async fn take(
        app: &'a App,
        name: &str,
        wait: Duration,
    ) -> Result<Option<Claim<'a>>, String> {
        let claim = Claim {
            app,
            lease: format!("git-source {}", name.to_lowercase()),
            lost: AtomicBool::new(false),
        };
        let deadline = Instant::now() + wait;
        loop {
            if claim.held().await? {
                return Ok(Some(claim));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Takes or renews the claim: whether this replica holds it now.
    async fn held(&self) -> Result<bool, String> {
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let ttl_ms = i64::try_from(CLAIM_FOR.as_millis()).unwrap_or(i64::MAX / 4);
        self.app
            .storage
            .notifications()
            .take_lease(&self.lease, &self.app.notifier.replica, now_ms, ttl_ms)
            .await
            .map_err(|e| e.to_string())
    }

    /// Renews the claim before more work; an error when it ran out and another replica took it,
    /// now or at any renewal before.
    pub async fn renew(&self) -> Result<(), String> {
        if !self.lost.load(Ordering::Relaxed) && self.held().await? {
            Ok(())
        } else {
            self.lost.store(true, Ordering::Relaxed);
            Err("this replica's claim on the source ran out and another replica took it".into())
        }
    }

    /// Runs `work` while renewing the claim every [`RENEW_EVERY`]. A renewal runs to its end
    /// with `work` paused, so none is still under way when the claim is released after. One that
    /// finds the claim taken marks it lost, so the work's next [`Claim::renew`] fails; one that
    /// cannot reach storage is tried again at the next tick.
    pub async fn guard<T>(&self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                () = tokio::time::sleep(RENEW_EVERY) => self.beat().await,
            }
        }
    }

    async fn beat(&self) {
        if self.lost.load(Ordering::Relaxed) {
            return;
        }
        match self.held().await {
            Ok(true) => {}
            Ok(false) => self.lost.store(true, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "renewing a git source's claim failed"),
        }
    }

    /// Gives the claim up, so the next look need not wait for it to run out.
    pub async fn release(self) {
        let n = self.app.storage.notifications();
        if let Err(e) = n
            .release_lease(&self.lease, &self.app.notifier.replica)
            .await
        {
            tracing::warn!(error = %e, "releasing a git source's claim failed");
        }
    }
}
