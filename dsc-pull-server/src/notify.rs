//! Notifications at work: turning stored reports, stale nodes and publishes into outbox rows
//! ([`check_node`], [`published`]), and delivering the outbox ([`delivery_loop`]).
//!
//! Which change is an event, which rule wants it, the payload, its signature and the retry
//! schedule are `dsc_core::pull::notify`'s. This module only moves rows: the replica that
//! stores a report looks at that node at once (so a delivery leaves within a second or two);
//! one replica at a time (a lease in storage) sweeps for stale nodes and for nodes whose report
//! was stored by a replica that stopped before looking; every replica delivers, each row
//! claimed by one at a time.

use crate::state::App;
pub use crate::state::Notifier;
use crate::storage::notifications::{Claimed, Finish};
use crate::storage::{ContentKey, Storage, StorageResult};
use dsc_core::pull::compliance::ComplianceStatus;
use dsc_core::pull::notify::{self as rules, Event, Outcome, Payload};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Deliveries claimed at once by one replica.
const BATCH: usize = 20;
/// How long a claim lasts: three times as long as a delivery may take.
const CLAIM_MS: i64 = 30_000;
/// Finished deliveries and attempts are kept this long.
const KEEP_MS: i64 = 14 * 86_400_000;
/// The sweep's lease name.
const SWEEP_LEASE: &str = "notify-sweep";

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Enqueues one event for every rule that wants it; true when a row was added.
async fn enqueue(
    storage: &dyn Storage,
    payload: &Payload,
    tags: &[String],
    configurations: &[String],
) -> StorageResult<bool> {
    let n = storage.notifications();
    let body = serde_json::to_string(payload).map_err(crate::storage::StorageError::failed)?;
    let mut added = false;
    for rule in n.rules().await? {
        if rule.matches(payload.event, tags, configurations) {
            added |= n
                .enqueue(&payload.id, &rule.name, payload.event, &body, now_ms())
                .await?;
        }
    }
    Ok(added)
}

/// Looks at one node: if its status changed into or out of a problem since notifications last
/// looked, enqueues the event; then remembers the status.
pub async fn check_node(app: &App, agent_id: Uuid) -> StorageResult<()> {
    let Some(mut node) = app.storage.node(agent_id).await? else {
        return Ok(());
    };
    let (Some(_), Some(run_time)) = (node.run_status, node.run_time) else {
        return Ok(());
    };
    let now = crate::storage::now_unix();
    node.judge(now, app.stale_after_secs());
    let n = app.storage.notifications();
    let id = agent_id.to_string();
    let before = n.notified(&id).await?;
    let before_status = before
        .as_ref()
        .and_then(|(s, _)| ComplianceStatus::parse(s));
    if before_status == Some(node.status) && before.as_ref().is_some_and(|b| b.1 == run_time) {
        return Ok(());
    }
    if let Some(event) = rules::node_event(before_status, node.status) {
        let stale = event == Event::NodeStale;
        let payload = Payload {
            id: rules::event_id(&[&id, &run_time.to_string(), event.as_str()]),
            event,
            agent_id: Some(id.clone()),
            node_name: node.node_name.clone(),
            configuration: None,
            before: before_status.map(|s| s.as_str().to_string()),
            after: node.status.as_str().to_string(),
            time: rfc3339(if stale { now } else { run_time }),
            url: format!("{}/ui/nodes/{id}", app.public_url),
        };
        if enqueue(
            app.storage.as_ref(),
            &payload,
            &node.tags,
            &node.configurations,
        )
        .await?
        {
            app.notifier.wake.notify_one();
        }
    }
    n.set_notified(&id, node.status.as_str(), run_time).await
}

/// Enqueues `configuration.published` for a configuration or package just stored with
/// `checksum` (`before`: the checksum it replaced). Modules are not configurations.
pub async fn published(
    storage: &dyn Storage,
    public_url: &str,
    key: &ContentKey,
    before: Option<&str>,
    checksum: &str,
) -> StorageResult<bool> {
    let (ContentKey::Configuration { name } | ContentKey::Package { name }) = key else {
        return Ok(false);
    };
    if before == Some(checksum) {
        return Ok(false);
    }
    let kind = if matches!(key, ContentKey::Package { .. }) {
        "package"
    } else {
        "configuration"
    };
    let payload = Payload {
        id: rules::event_id(&[kind, &name.to_lowercase(), checksum]),
        event: Event::ConfigurationPublished,
        agent_id: None,
        node_name: None,
        configuration: Some(name.clone()),
        before: before.map(str::to_string),
        after: checksum.to_string(),
        time: rfc3339(crate::storage::now_unix()),
        url: format!("{public_url}/ui/content"),
    };
    enqueue(storage, &payload, &[], std::slice::from_ref(name)).await
}

/// Enqueues `rollout.halted` or `rollout.done` for a step the server took.
pub async fn rollout_step(
    storage: &dyn Storage,
    public_url: &str,
    key: &ContentKey,
    rollout: &dsc_core::pull::rollout::Rollout,
    step: &dsc_core::pull::rollout::Step,
) -> StorageResult<bool> {
    use dsc_core::pull::rollout::Step;
    let (ContentKey::Configuration { name } | ContentKey::Package { name }) = key else {
        return Ok(false);
    };
    let (event, ring, why) = match step {
        Step::Halted { ring, why } => (Event::RolloutHalted, *ring, why),
        Step::Done { why } => (Event::RolloutDone, rollout.plan.rings.len(), why),
        _ => return Ok(false),
    };
    let kind = if matches!(key, ContentKey::Package { .. }) {
        "package"
    } else {
        "configuration"
    };
    let started = rollout.ring_started_at.to_string();
    let payload = Payload {
        id: rules::event_id(&[
            event.as_str(),
            kind,
            &name.to_lowercase(),
            &rollout.candidate,
            &started,
        ]),
        event,
        agent_id: None,
        node_name: None,
        configuration: Some(name.clone()),
        before: Some(format!(
            "version {} at ring {ring}",
            rollout.candidate_version
        )),
        after: format!("{}: {why}", rollout.state.as_str()),
        time: rfc3339(crate::storage::now_unix()),
        url: format!("{public_url}/ui/content/{kind}/{name}"),
    };
    enqueue(storage, &payload, &[], std::slice::from_ref(name)).await
}

/// Wakes the delivery loop (after [`published`] enqueued something on this replica).
pub fn wake(app: &App) {
    app.notifier.wake.notify_one();
}

/// Looks at each node whose report this replica stored, as they come.
pub async fn node_loop(app: Arc<App>) {
    let Some(mut rx) = app.notifier.queued.lock().await.take() else {
        return;
    };
    while let Some(agent) = rx.recv().await {
        if let Err(e) = check_node(&app, agent).await {
            tracing::warn!(error = %e, %agent, "notifications: looking at a node failed (the sweep retries)");
        }
    }
}

/// How often the sweep runs: a quarter of the stale threshold, between 1 s and 60 s.
pub fn sweep_interval(stale_after: Duration) -> Duration {
    (stale_after / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// One sweep, when this replica holds the lease: stale nodes, nodes nobody looked at, and old
/// deliveries. Returns the number of nodes looked at.
pub async fn sweep(app: &App, interval: Duration) -> StorageResult<usize> {
    let n = app.storage.notifications();
    let ttl = i64::try_from(interval.as_millis()).unwrap_or(60_000) * 3;
    if !n
        .take_lease(SWEEP_LEASE, &app.notifier.replica, now_ms(), ttl)
        .await?
    {
        return Ok(0);
    }
    let cutoff = crate::storage::now_unix() - app.stale_after_secs();
    let mut agents = n.stale_candidates(cutoff, 1000).await?;
    agents.extend(n.unnotified_nodes(1000).await?);
    let mut looked = 0;
    for agent in agents {
        if let Ok(id) = Uuid::parse_str(&agent) {
            check_node(app, id).await?;
            looked += 1;
        }
    }
    n.prune(now_ms() - KEEP_MS).await?;
    Ok(looked)
}

/// Runs the sweep every [`sweep_interval`] until aborted.
pub async fn sweep_loop(app: Arc<App>) {
    let interval = sweep_interval(app.config.stale_after);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&app, interval).await {
            tracing::warn!(error = %e, "notifications: the sweep failed");
        }
    }
}

/// What to record after one attempt.
fn finish_of(c: &Claimed, outcome: &Outcome, now: i64) -> Finish {
    let (status, error) = match outcome {
        Outcome::Delivered(s) => {
            return Finish::Delivered {
                status: i64::from(*s),
            };
        }
        Outcome::Refused(s) => (Some(i64::from(*s)), format!("the receiver answered {s}")),
        Outcome::Unreachable(e) => (None, e.clone()),
    };
    let attempts = u32::try_from(c.attempts + 1).unwrap_or(u32::MAX);
    Finish::Failed {
        status,
        error,
        next_ms: rules::next_attempt_ms(attempts, c.created_ms, now),
    }
}

/// Sends one claimed delivery and records the attempt.
async fn deliver_one(app: &App, claim: &str, c: Claimed) -> StorageResult<()> {
    let n = app.storage.notifications();
    let Some((url, secret)) = c.target.clone() else {
        let gone = Finish::Failed {
            status: None,
            error: "the rule was removed".into(),
            next_ms: None,
        };
        n.finish(claim, &c, &gone, now_ms()).await?;
        return Ok(());
    };
    let payload: Payload = match serde_json::from_str(&c.payload) {
        Ok(p) => p,
        Err(e) => {
            let bad = Finish::Failed {
                status: None,
                error: format!("unreadable payload: {e}"),
                next_ms: None,
            };
            n.finish(claim, &c, &bad, now_ms()).await?;
            return Ok(());
        }
    };
    let sender = Arc::clone(&app.notifier.sender);
    let outcome = tokio::task::spawn_blocking(move || sender.deliver(&url, &secret, &payload))
        .await
        .unwrap_or_else(|e| Outcome::Unreachable(e.to_string()));
    let finish = finish_of(&c, &outcome, now_ms());
    app.metrics.webhook_attempt(&finish);
    if let Finish::Failed { error, .. } = &finish {
        tracing::info!(rule = %c.rule_key, error = %error, "notification not delivered yet");
    }
    if !n.finish(claim, &c, &finish, now_ms()).await? {
        tracing::warn!(rule = %c.rule_key, "a delivery outlived its claim; another replica may send it again");
    }
    Ok(())
}

/// Claims due deliveries and sends them, concurrently; the number claimed.
pub async fn deliver_due(app: &Arc<App>) -> StorageResult<usize> {
    let claim = Uuid::new_v4().to_string();
    let claimed = app
        .storage
        .notifications()
        .claim(&claim, now_ms(), CLAIM_MS, BATCH)
        .await?;
    let count = claimed.len();
    let mut set = tokio::task::JoinSet::new();
    for c in claimed {
        let app = Arc::clone(app);
        let claim = claim.clone();
        set.spawn(async move { deliver_one(&app, &claim, c).await });
    }
    while let Some(done) = set.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "notifications: recording a delivery failed");
        }
    }
    Ok(count)
}

/// Delivers until aborted: whenever something is enqueued here, and at least every second.
pub async fn delivery_loop(app: Arc<App>) {
    loop {
        match deliver_due(&app).await {
            Ok(n) if n == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "notifications: claiming deliveries failed"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), app.notifier.wake.notified()).await;
    }
}
