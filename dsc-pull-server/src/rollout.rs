//! Staged rollouts on the server: publishing a candidate, setting a plan, an operator's moves,
//! a rollout's status with each ring's nodes, and the driver that advances or halts rollouts.
//! The rules (rings, criteria, moves) are `dsc_core::pull::rollout`'s; this reads the nodes,
//! keeps the rows and audits each step.
//!
//! One replica drives at a time (the `rollout-driver` lease); any replica answers nodes from
//! the rollouts in its cache, which every change reloads on every replica.

use crate::proxy::Peer;
use crate::service::{ServiceError, ServiceResult};
use crate::state::App;
use crate::storage::now_unix;
use crate::storage::rollouts::Record;
use crate::storage::versions::Publisher;
use dsc_core::pull::api::ContentKey;
use dsc_core::pull::rollout::{Plan, Rollout, State, Step, Tally, Verdict};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How often the driver looks at active rollouts.
pub const DRIVE_EVERY: Duration = Duration::from_secs(2);
/// The lease that lets one replica drive.
pub const DRIVER_LEASE: &str = "rollout-driver";
/// The actor of the steps the server takes by itself.
pub const SERVER_ACTOR: &str = "traek-server";

/// An operator's move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Promote,
    Resume,
    Abort,
}

impl Move {
    /// `promote`, `resume` or `abort`, as in the API path.
    pub fn parse(text: &str) -> Option<Move> {
        match text {
            "promote" => Some(Move::Promote),
            "resume" => Some(Move::Resume),
            "abort" => Some(Move::Abort),
            _ => None,
        }
    }
}

fn kind_of(key: &ContentKey) -> (&'static str, &str, bool) {
    match key {
        ContentKey::Package { name } => ("package", name, true),
        ContentKey::Configuration { name } | ContentKey::Module { name, .. } => {
            ("configuration", name, false)
        }
    }
}

fn no_plan(key: &ContentKey) -> ServiceError {
    let (kind, name, _) = kind_of(key);
    ServiceError::Conflict(format!(
        "{kind} '{name}' has no rollout plan: PUT /api/v1/{kind}s/{name}/rollout first"
    ))
}

async fn record(app: &App, key: &ContentKey) -> ServiceResult<Record> {
    let (kind, name, _) = kind_of(key);
    app.storage.rollouts().get(key).await?.ok_or_else(|| {
        ServiceError::NotFound(format!(
            "{kind} '{name}' has no rollout plan and no rollout"
        ))
    })
}

/// Records a step in the audit trail.
async fn audit_step(app: &App, actor: &str, key: &ContentKey, step: &Step) {
    let (kind, name, _) = kind_of(key);
    let target = format!("{kind} {name}");
    crate::auth::audit(
        app,
        actor,
        &Peer::default(),
        step.audit_name(),
        &target,
        &step.describe(),
    )
    .await;
}

/// Sets the plan of a configuration or package. Refused (409) while a rollout is under way.
pub async fn put_plan(app: &App, key: &ContentKey, body: &[u8]) -> ServiceResult<Value> {
    let plan = Plan::parse(body).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let existing = app.storage.rollouts().get(key).await?;
    if let Some(r) = existing
        .as_ref()
        .and_then(|r| r.rollout.as_ref())
        .filter(|r| r.state.is_live())
    {
        return Err(ServiceError::Conflict(format!(
            "a rollout of version {} is {}: promote or abort it before changing the plan",
            r.candidate_version,
            r.state.as_str()
        )));
    }
    let written = app
        .storage
        .rollouts()
        .put_plan(key, &plan, existing.map(|r| r.revision), now_unix())
        .await?;
    if !written {
        return Err(ServiceError::Conflict(
            "the rollout changed meanwhile; read it again and retry".into(),
        ));
    }
    status(app, key).await
}

/// Publishes a candidate under the configuration's plan: its version is recorded and the
/// rollout (re)starts at the first ring. The content is checked as any publish is.
pub async fn put_candidate(
    app: &App,
    key: ContentKey,
    body: bytes::Bytes,
    by: &Publisher,
) -> ServiceResult<Value> {
    let Some(rec) = app.storage.rollouts().get(&key).await? else {
        return Err(no_plan(&key));
    };
    crate::service::check_content(&key, &body).await?;
    let meta = dsc_core::pull::api::ContentMeta::of(&key, &body);
    let current = app.storage.content_meta(&key).await?.map(|m| m.checksum);
    if current.as_deref() == Some(meta.checksum.as_str()) {
        return Err(ServiceError::Conflict(
            "the candidate is the same as the current version".into(),
        ));
    }
    let live = rec.rollout.as_ref().filter(|r| r.state.is_live());
    if live.is_some_and(|r| r.candidate == meta.checksum) {
        return status(app, &key).await;
    }
    let now = now_unix();
    let versions = app.storage.versions();
    // The version names the blob before the blob exists, so a collection of unreferenced
    // blobs in between cannot take it.
    let version = match versions
        .record(&key, &meta.checksum, meta.size, now, by)
        .await?
    {
        Some(v) => v,
        None => versions
            .list(&key, None, 1)
            .await?
            .first()
            .map_or(0, |v| v.version),
    };
    app.storage.blob_store().put(&meta.checksum, body).await?;
    let rollout = Rollout {
        plan: rec.plan.clone(),
        candidate_version: version,
        candidate: meta.checksum.clone(),
        candidate_size: i64::try_from(meta.size).unwrap_or(i64::MAX),
        state: State::Active,
        ring: 0,
        ring_started_at: now,
        started_at: now,
        reason: None,
    };
    save(app, &key, &rollout, rec.revision).await?;
    let (kind, name, _) = kind_of(&key);
    crate::auth::audit(
        app,
        &by.actor,
        &Peer::default(),
        "rollout.start",
        &format!("{kind} {name}"),
        &format!("version {version} is the candidate; ring 1 gets it"),
    )
    .await;
    status(app, &key).await
}

async fn save(app: &App, key: &ContentKey, r: &Rollout, revision: i64) -> ServiceResult<()> {
    if !app
        .storage
        .rollouts()
        .save(key, r, revision, now_unix())
        .await?
    {
        return Err(ServiceError::Conflict(
            "the rollout changed meanwhile; read it again and retry".into(),
        ));
    }
    app.storage.rollouts_changed().await?;
    Ok(())
}

/// An operator's move, audited by the caller; the status after it.
pub async fn act(app: &App, key: &ContentKey, mv: Move, actor: &str) -> ServiceResult<Value> {
    let rec = record(app, key).await?;
    let Some(mut r) = rec.rollout.clone() else {
        return Err(ServiceError::Conflict(
            "no candidate has been published under this plan yet".into(),
        ));
    };
    let now = now_unix();
    let step = match mv {
        Move::Promote => r.promote(actor, now),
        Move::Resume => r.resume(now),
        Move::Abort => r.abort(actor),
    }
    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
    finish(app, key, &r, rec.revision, &step).await?;
    status(app, key).await
}

/// Writes a step; a step that ends the rollout with its candidate current publishes it first.
async fn finish(
    app: &App,
    key: &ContentKey,
    r: &Rollout,
    revision: i64,
    step: &Step,
) -> ServiceResult<()> {
    if let Step::Done { .. } = step {
        make_current(app, key, r).await?;
    }
    save(app, key, r, revision).await
}

/// Publishes the candidate as the current content (its version already exists).
async fn make_current(app: &App, key: &ContentKey, r: &Rollout) -> ServiceResult<()> {
    let meta = crate::storage::blobs::meta_of(&r.candidate, r.candidate_size, r.started_at);
    let (_, bytes) = crate::storage::blobs::fetch(app.storage.blob_store(), meta).await?;
    let signers = crate::service::check_content(key, &bytes).await?;
    let by = Publisher {
        actor: SERVER_ACTOR.into(),
        origin: format!("rollout of version {}", r.candidate_version),
        message: None,
    };
    crate::service::publish(app, key.clone(), bytes, signers, &by).await?;
    Ok(())
}

/// Each ring's nodes and what they reported of the candidate.
pub async fn tallies(app: &App, key: &ContentKey, r: &Rollout) -> ServiceResult<Vec<Tally>> {
    let (_, name, traek) = kind_of(key);
    let members = app.storage.members(name, traek);
    let rollouts = app.storage.rollouts();
    let given = rollouts.given_checksum(key, &r.candidate).await?;
    let runs = rollouts.runs_of(&r.candidate).await?;
    let mut out = vec![Tally::default(); r.plan.rings.len()];
    for (id, tags) in &members {
        let Some(ring) = r.plan.ring_of(id, tags) else {
            continue;
        };
        let since = if ring == r.ring {
            r.ring_started_at
        } else {
            r.started_at
        };
        let run = runs
            .get(id)
            .map(|(s, at, applied)| (s.as_str(), *at, applied.as_str()));
        if let Some(t) = out.get_mut(ring) {
            t.add(given.contains(id), run, &r.candidate, since);
        }
    }
    Ok(out)
}

/// The plan and the latest rollout with each ring's nodes: what `GET .../rollout` answers.
pub async fn status(app: &App, key: &ContentKey) -> ServiceResult<Value> {
    let rec = record(app, key).await?;
    let current = app.storage.content_meta(key).await?.map(|m| m.checksum);
    let mut body = json!({
        "plan": rec.plan.to_json(),
        "state": "planned",
        "current": current,
        "updatedAt": rec.updated_at,
    });
    let Some(r) = &rec.rollout else {
        return Ok(body);
    };
    let counts = tallies(app, key, r).await?;
    let rings: Vec<Value> = r
        .plan
        .rings
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(i, (ring, t))| {
            json!({
                "ring": i + 1,
                "selects": ring.describe(),
                "reached": r.state != State::Aborted && (i <= r.ring || r.state == State::Done),
                "nodes": t.nodes,
                "onCandidate": t.on_candidate,
                "reported": t.reported,
                "failed": t.failed,
            })
        })
        .collect();
    body["state"] = json!(r.state.as_str());
    body["ring"] = json!(r.ring + 1);
    let reason = match r.state {
        State::Active => {
            match r.judge(&counts.get(r.ring).copied().unwrap_or_default(), now_unix()) {
                Verdict::Pass(why) => format!("passed, advancing: {why}"),
                Verdict::Fail(why) => format!("failing, halting: {why}"),
                Verdict::Wait(why) => why,
            }
        }
        _ => r.reason.clone().unwrap_or_default(),
    };
    body["reason"] = json!(reason);
    body["candidate"] = json!({ "version": r.candidate_version, "checksum": r.candidate });
    body["startedAt"] = json!(r.started_at);
    body["ringStartedAt"] = json!(r.ring_started_at);
    body["rings"] = json!(rings);
    Ok(body)
}

/// Looks at every active rollout once: a ring that passed advances (after the last, the
/// candidate becomes current), a ring that failed halts. Returns the steps taken.
pub async fn drive(app: &App) -> ServiceResult<Vec<Step>> {
    let mut steps = Vec::new();
    for (kind, name_key, _) in app.storage.rollouts().live().await? {
        let key = if kind == "package" {
            ContentKey::Package { name: name_key }
        } else {
            ContentKey::Configuration { name: name_key }
        };
        let Some(rec) = app.storage.rollouts().get(&key).await? else {
            continue;
        };
        let Some(mut r) = rec.rollout.clone().filter(|r| r.state == State::Active) else {
            continue;
        };
        let key = match key {
            ContentKey::Package { .. } => ContentKey::Package { name: rec.name },
            _ => ContentKey::Configuration { name: rec.name },
        };
        let tally = tallies(app, &key, &r).await?;
        let now = now_unix();
        let verdict = r.judge(&tally.get(r.ring).copied().unwrap_or_default(), now);
        // What a ring waits for is shown by `status`; only steps are written.
        if let Some(step) = r.apply(verdict, now) {
            finish(app, &key, &r, rec.revision, &step).await?;
            audit_step(app, SERVER_ACTOR, &key, &step).await;
            let storage = app.storage.as_ref();
            match crate::notify::rollout_step(storage, &app.public_url, &key, &r, &step).await {
                Ok(true) => crate::notify::wake(app),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "enqueueing a rollout event failed"),
            }
            steps.push(step);
        }
    }
    Ok(steps)
}

/// Drives rollouts every [`DRIVE_EVERY`] on the replica that holds the lease, until aborted.
pub async fn driver_loop(app: Arc<App>) {
    let mut tick = tokio::time::interval(DRIVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !app.lead(DRIVER_LEASE, DRIVE_EVERY).await {
            continue;
        }
        if let Err(e) = drive(&app).await {
            tracing::warn!(error = %e.message(), "rollouts: driving failed");
        }
    }
}
