//! Staged rollout of a candidate version of a configuration or package: the plan, which ring a
//! node is in, who is served the candidate, when a ring passes or fails, and the moves an
//! operator or the server makes.
//!
//! - A **plan** is rings in order, each a node tag or a cumulative percentage of the
//!   configuration's nodes, a minimum soak time and two criteria.
//! - A node is in the first ring that takes it: a tag ring takes nodes with that tag, a
//!   percentage ring `p` takes nodes whose [`bucket`] (from the agent id alone, so a node keeps
//!   its place whatever else changes) is below `p`% of [`BUCKETS`]. Nodes no ring takes get the
//!   candidate when it becomes current.
//! - While a rollout is `active` or `halted` at ring `r`, nodes of rings `0..=r` are served the
//!   candidate and every other node the current version.
//! - Ring `r` passes when its soak time has run since it started, at least
//!   `minReportedPercent` of its nodes reported a run of the candidate since then, and at most
//!   `maxFailedPercent` of them reported it failed or non-compliant. It fails (the rollout
//!   halts) as soon as more than `maxFailedPercent` did. A ring with no nodes passes after its
//!   soak time. After the last ring the candidate becomes current (`done`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Percentages are resolved to one bucket in this many (0.01 %).
pub const BUCKETS: u32 = 10_000;
/// The most rings a plan may have.
pub const MAX_RINGS: usize = 10;
/// The longest soak time: 30 days.
pub const MAX_SOAK_SECS: u64 = 30 * 24 * 3600;
/// The soak time of a plan that names none.
pub const DEFAULT_SOAK: &str = "15m";

/// A plan or a move that cannot be made; the message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    /// The plan is malformed or breaks a rule.
    #[error("invalid rollout plan: {0}")]
    Plan(String),
    /// The move does not apply in the rollout's state.
    #[error("{0}")]
    State(String),
}

/// One ring of a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Ring {
    /// Nodes with this tag (compared case-insensitively).
    Tag(String),
    /// Nodes whose bucket falls below this percentage (cumulative over percentage rings).
    Percent(f64),
}

impl Ring {
    /// `tag canary` or `10%`, for messages and pages.
    pub fn describe(&self) -> String {
        match self {
            Ring::Tag(t) => format!("tag {t}"),
            Ring::Percent(p) => format!("{p}%"),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Ring::Tag(t) => json!({ "tag": t }),
            Ring::Percent(p) => json!({ "percent": p }),
        }
    }
}

/// A checked rollout plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub rings: Vec<Ring>,
    pub soak_secs: u64,
    pub max_failed_percent: f64,
    pub min_reported_percent: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PlanBody {
    rings: Vec<RingBody>,
    soak: Option<String>,
    max_failed_percent: Option<f64>,
    min_reported_percent: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RingBody {
    tag: Option<String>,
    percent: Option<f64>,
}

fn plan_error(message: impl Into<String>) -> RolloutError {
    RolloutError::Plan(message.into())
}

fn percent(what: &str, value: Option<f64>, default: f64) -> Result<f64, RolloutError> {
    let v = value.unwrap_or(default);
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(plan_error(format!("{what} must be 0 to 100, not {v}")))
    }
}

/// Parses a soak time such as `15m`, `1h 30m` or `0s` (at most 30 days).
pub fn parse_soak(text: &str) -> Result<u64, RolloutError> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        plan_error(format!(
            "soak '{text}' is not a duration such as '15m' or '1h 30m': {e}"
        ))
    })?;
    if d.as_secs() > MAX_SOAK_SECS {
        return Err(plan_error(format!("soak '{text}' is longer than 30 days")));
    }
    Ok(d.as_secs())
}

/// A soak time as the plan shows it (`15m`, `1h 30m`).
pub fn format_soak(secs: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

impl Plan {
    /// Parses and checks a plan: 1 to [`MAX_RINGS`] rings, each exactly one of a valid tag
    /// (no tag twice) or a percentage above 0 and at most 100 that is not below an earlier one;
    /// soak at most 30 days (default [`DEFAULT_SOAK`]); `maxFailedPercent` (default 0) and
    /// `minReportedPercent` (default 100) from 0 to 100.
    pub fn parse(body: &[u8]) -> Result<Plan, RolloutError> {
        let body: PlanBody =
            serde_json::from_slice(body).map_err(|e| plan_error(format!("{e}")))?;
        if body.rings.is_empty() || body.rings.len() > MAX_RINGS {
            return Err(plan_error(format!(
                "a plan needs 1 to {MAX_RINGS} rings, not {}",
                body.rings.len()
            )));
        }
        let mut rings = Vec::with_capacity(body.rings.len());
        let mut highest = 0.0_f64;
        for (i, r) in body.rings.into_iter().enumerate() {
            let n = i + 1;
            rings.push(match (r.tag, r.percent) {
                (Some(tag), None) => {
                    super::path::check_tag(&tag)
                        .map_err(|e| plan_error(format!("ring {n}: {e}")))?;
                    if rings
                        .iter()
                        .any(|x| matches!(x, Ring::Tag(t) if t.eq_ignore_ascii_case(&tag)))
                    {
                        return Err(plan_error(format!(
                            "ring {n}: tag '{tag}' is already a ring"
                        )));
                    }
                    Ring::Tag(tag)
                }
                (None, Some(p)) => {
                    if !p.is_finite() || p <= 0.0 || p > 100.0 {
                        return Err(plan_error(format!(
                            "ring {n}: percent must be above 0 and at most 100, not {p}"
                        )));
                    }
                    if p < highest {
                        return Err(plan_error(format!(
                            "ring {n}: percentages are cumulative, so {p} cannot follow {highest}"
                        )));
                    }
                    highest = p;
                    Ring::Percent(p)
                }
                _ => {
                    return Err(plan_error(format!(
                        "ring {n} needs exactly one of \"tag\" or \"percent\""
                    )));
                }
            });
        }
        Ok(Plan {
            rings,
            soak_secs: parse_soak(body.soak.as_deref().unwrap_or(DEFAULT_SOAK))?,
            max_failed_percent: percent("maxFailedPercent", body.max_failed_percent, 0.0)?,
            min_reported_percent: percent("minReportedPercent", body.min_reported_percent, 100.0)?,
        })
    }

    /// The plan as the API shows it (and as it is stored): what [`Plan::parse`] reads back.
    pub fn to_json(&self) -> Value {
        json!({
            "rings": self.rings.iter().map(Ring::to_json).collect::<Vec<_>>(),
            "soak": format_soak(self.soak_secs),
            "maxFailedPercent": self.max_failed_percent,
            "minReportedPercent": self.min_reported_percent,
        })
    }

    /// The index of the first ring that takes a node with this agent id and these tags.
    pub fn ring_of(&self, agent_id: &Uuid, tags: &[String]) -> Option<usize> {
        let mut bucket_of = None;
        self.rings.iter().position(|ring| match ring {
            Ring::Tag(t) => tags.iter().any(|x| x.eq_ignore_ascii_case(t)),
            Ring::Percent(p) => {
                let b = *bucket_of.get_or_insert_with(|| bucket(agent_id));
                f64::from(b) < p * f64::from(BUCKETS) / 100.0
            }
        })
    }
}

/// A node's place among [`BUCKETS`]: the first four bytes of the SHA-256 of its agent id's 16
/// bytes, modulo [`BUCKETS`]. The same on every replica and in every release.
pub fn bucket(agent_id: &Uuid) -> u32 {
    let digest = Sha256::digest(agent_id.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % BUCKETS
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Rings are served the candidate; the server advances when a ring passes.
    Active,
    /// A ring failed (or an operator held it): rings reached keep the candidate, nothing
    /// advances until an operator resumes, promotes or aborts.
    Halted,
    /// The candidate became current.
    Done,
    /// An operator aborted: every node is served the current version again.
    Aborted,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Halted => "halted",
            State::Done => "done",
            State::Aborted => "aborted",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        [State::Active, State::Halted, State::Done, State::Aborted]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// The candidate is being served to some nodes.
    pub fn is_live(self) -> bool {
        matches!(self, State::Active | State::Halted)
    }
}

/// One rollout of a candidate version.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub plan: Plan,
    /// The candidate's version number and checksum.
    pub candidate_version: i64,
    pub candidate: String,
    pub candidate_size: i64,
    pub state: State,
    /// The ring reached (index into the plan's rings).
    pub ring: usize,
    /// When the ring was reached or resumed (Unix seconds): its soak starts then, and only
    /// runs reported since count for it.
    pub ring_started_at: i64,
    pub started_at: i64,
    /// Why it halted, or what it waits for.
    pub reason: Option<String>,
}

/// What happened to a rollout, for the audit trail and the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ring N (1-based) now gets the candidate.
    Advanced {
        ring: usize,
        why: String,
    },
    Halted {
        ring: usize,
        why: String,
    },
    Resumed {
        ring: usize,
    },
    /// The candidate is current now.
    Done {
        why: String,
    },
    Aborted,
}

impl Step {
    /// The audit name of the step.
    pub fn audit_name(&self) -> &'static str {
        match self {
            Step::Advanced { .. } => "rollout.advance",
            Step::Halted { .. } => "rollout.halt",
            Step::Resumed { .. } => "rollout.resume",
            Step::Done { .. } => "rollout.done",
            Step::Aborted => "rollout.abort",
        }
    }

    /// What happened, in a sentence.
    pub fn describe(&self) -> String {
        match self {
            Step::Advanced { ring, why } => format!("ring {ring} gets the candidate: {why}"),
            Step::Halted { ring, why } => format!("halted at ring {ring}: {why}"),
            Step::Resumed { ring } => format!("resumed at ring {ring}"),
            Step::Done { why } => format!("the candidate is current: {why}"),
            Step::Aborted => "aborted: every node gets the current version".to_string(),
        }
    }
}

/// A ring's nodes and what they reported since the ring started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub nodes: u64,
    /// Nodes that downloaded the candidate.
    pub on_candidate: u64,
    /// Nodes that reported a run of the candidate since the ring started.
    pub reported: u64,
    /// Of those, nodes whose run failed or was not compliant.
    pub failed: u64,
}

impl Tally {
    /// Counts one node of the ring: whether it was given the candidate, and the status and
    /// time of its latest run with the checksums it had been given then.
    pub fn add(
        &mut self,
        given_candidate: bool,
        run: Option<(&str, i64, &str)>,
        candidate: &str,
        since: i64,
    ) {
        self.nodes += 1;
        self.on_candidate += u64::from(given_candidate);
        let Some((status, at, applied)) = run else {
            return;
        };
        let on_candidate = applied
            .split(',')
            .any(|c| super::checksum::same_checksum(c.trim(), candidate));
        if on_candidate && at >= since {
            self.reported += 1;
            self.failed += u64::from(matches!(status, "failed" | "non-compliant"));
        }
    }

    fn percent(part: u64, of: u64) -> f64 {
        if of == 0 {
            0.0
        } else {
            part as f64 * 100.0 / of as f64
        }
    }
}

/// What the ring's tally means now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass(String),
    Fail(String),
    Wait(String),
}

impl Rollout {
    /// Whether a node is served the candidate now.
    pub fn serves_candidate(&self, agent_id: &Uuid, tags: &[String]) -> bool {
        self.state.is_live()
            && self
                .plan
                .ring_of(agent_id, tags)
                .is_some_and(|r| r <= self.ring)
    }

    /// Judges the ring reached from its tally at `now`.
    pub fn judge(&self, tally: &Tally, now: i64) -> Verdict {
        let p = &self.plan;
        let n = self.ring + 1;
        let failed = Tally::percent(tally.failed, tally.nodes);
        if tally.nodes > 0 && failed > p.max_failed_percent {
            return Verdict::Fail(format!(
                "{} of {} nodes of ring {n} failed or are not compliant ({failed:.1}%, at most {}% allowed)",
                tally.failed, tally.nodes, p.max_failed_percent
            ));
        }
        let soaked = now.saturating_sub(self.ring_started_at);
        let soak = i64::try_from(p.soak_secs).unwrap_or(i64::MAX);
        let reported = Tally::percent(tally.reported, tally.nodes);
        if soaked < soak {
            return Verdict::Wait(format!(
                "soaking: {} of {}; {} of {} nodes reported the candidate",
                format_soak(u64::try_from(soaked).unwrap_or(0)),
                format_soak(p.soak_secs),
                tally.reported,
                tally.nodes
            ));
        }
        if tally.nodes == 0 {
            return Verdict::Pass(format!("ring {n} has no nodes"));
        }
        if reported < p.min_reported_percent {
            return Verdict::Wait(format!(
                "{} of {} nodes of ring {n} reported the candidate ({reported:.1}%, {}% needed)",
                tally.reported, tally.nodes, p.min_reported_percent
            ));
        }
        Verdict::Pass(format!(
            "{} of {} nodes of ring {n} reported the candidate, {} failed or not compliant",
            tally.reported, tally.nodes, tally.failed
        ))
    }

    /// Applies a verdict (the server's move); `None` when nothing changes.
    pub fn apply(&mut self, verdict: Verdict, now: i64) -> Option<Step> {
        if self.state != State::Active {
            return None;
        }
        match verdict {
            Verdict::Pass(why) => Some(self.advance(why, now)),
            Verdict::Fail(why) => {
                self.state = State::Halted;
                self.reason = Some(why.clone());
                Some(Step::Halted {
                    ring: self.ring + 1,
                    why,
                })
            }
            Verdict::Wait(why) => {
                self.reason = Some(why);
                None
            }
        }
    }

    fn advance(&mut self, why: String, now: i64) -> Step {
        if self.ring + 1 >= self.plan.rings.len() {
            self.state = State::Done;
            self.reason = Some(why.clone());
            return Step::Done { why };
        }
        self.ring += 1;
        self.ring_started_at = now;
        self.state = State::Active;
        self.reason = None;
        Step::Advanced {
            ring: self.ring + 1,
            why,
        }
    }

    fn live(&self, what: &str) -> Result<(), RolloutError> {
        if self.state.is_live() {
            Ok(())
        } else {
            Err(RolloutError::State(format!(
                "the rollout is {}: there is nothing to {what}",
                self.state.as_str()
            )))
        }
    }

    /// An operator moves the rollout to the next ring now (or makes the candidate current
    /// after the last), whatever the criteria say.
    pub fn promote(&mut self, actor: &str, now: i64) -> Result<Step, RolloutError> {
        self.live("promote")?;
        Ok(self.advance(format!("promoted by {actor}"), now))
    }

    /// An operator lets a halted rollout go on at its ring: the soak starts again and only
    /// runs reported from now on count.
    pub fn resume(&mut self, now: i64) -> Result<Step, RolloutError> {
        if self.state != State::Halted {
            return Err(RolloutError::State(format!(
                "only a halted rollout can be resumed; this one is {}",
                self.state.as_str()
            )));
        }
        self.state = State::Active;
        self.ring_started_at = now;
        self.reason = None;
        Ok(Step::Resumed {
            ring: self.ring + 1,
        })
    }

    /// An operator ends the rollout: every node is served the current version again.
    pub fn abort(&mut self, actor: &str) -> Result<Step, RolloutError> {
        self.live("abort")?;
        self.state = State::Aborted;
        self.reason = Some(format!("aborted by {actor}"));
        Ok(Step::Aborted)
    }
}

#[cfg(test)]
mod tests;
