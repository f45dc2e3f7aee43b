//! One agent cycle:
//!
//! 1. deliver reports queued while the server was unreachable, oldest first;
//! 2. GetDscAction with the checksum of the package in force; when told, download the package
//!    (checksum verified), store it under its checksum and verify it against the trusted keys
//!    and its identity (named for the configuration, not older than the version last taken):
//!    an unsigned, untrusted, misnamed or older package is refused, deleted, nothing runs, and
//!    the refusal is reported as a failure;
//! 3. for each package in force: verify and unpack it again, `test`, and `set` when the mode
//!    says so (`apply`: once per new package, `autocorrect`: whenever drifted, `monitor`:
//!    never);
//! 4. send the report (or queue it when the server is unreachable) and save the state.
//!
//! When the server is unreachable the agent keeps enforcing the last verified package. A new
//! package replaces the old one only by an atomic rewrite of `state.json` after the package
//! file is complete and verified, so `kill -9` at any point leaves a state the next cycle runs
//! from.

use super::queue::Queue;
use super::report::{self, ResourceStatus};
use super::store::{StateDir, read_json, write_json};
use super::{AgentError, Mode, Settings};
use crate::config::run::Operation;
use crate::engine::EngineOptions;
use crate::package::archive::{self, Limits};
use crate::package::identity;
use crate::package::run::{Trust, prepare, run_prepared};
use crate::pull::client::{ClientError, PullClient};
use crate::pull::messages::{ClientStatus, GetDscActionRequest, NodeStatus};
use ed25519_dalek::VerifyingKey;
use semver::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A package in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageState {
    pub checksum: String,
    /// Trusted keys whose signatures verified.
    pub key_ids: Vec<String>,
    /// The package's `metadata.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `apply` mode: the package has been applied.
    #[serde(default)]
    pub applied: bool,
}

/// What the agent remembers between cycles (`state.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Packages in force, by configuration name.
    #[serde(default)]
    pub packages: BTreeMap<String, PackageState>,
    #[serde(default)]
    pub last_cycle: Option<CycleReport>,
    /// The newest version taken into force, by configuration name; kept when a configuration
    /// is left, so an older signed package cannot be replayed later.
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
}

impl State {
    pub fn load(dir: &StateDir) -> Result<State, AgentError> {
        Ok(read_json(&dir.state())?.unwrap_or_default())
    }

    /// The newest version of `name` taken into force (names compare without regard to case).
    fn newest(&self, name: &str) -> Option<Version> {
        self.versions
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| Version::parse(v).ok())
            .max()
    }

    /// Takes a verified, admitted package into force.
    fn take(&mut self, name: &str, package: PackageState, single: bool) {
        if let Some(v) = &package.version {
            self.versions.retain(|k, _| !k.eq_ignore_ascii_case(name));
            self.versions.insert(name.to_string(), v.clone());
        }
        if single {
            self.packages.clear();
        }
        self.packages.insert(name.to_string(), package);
    }
}

/// How a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every resource is in the desired state.
    Compliant,
    /// Some resource is not, and the mode left it so.
    NonCompliant,
    /// A resource, the package or the configuration failed.
    Failed,
}

impl Outcome {
    /// The exit code of `traek agent run --once`: 0, 5, 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Compliant => 0,
            Outcome::NonCompliant => 5,
            Outcome::Failed => 2,
        }
    }
}

/// What one cycle did (also kept as the state's `lastCycle`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleReport {
    pub job_id: uuid::Uuid,
    pub started: String,
    pub finished: String,
    pub outcome: Outcome,
    pub mode: Mode,
    /// Whether the server answered this cycle.
    pub server_reached: bool,
    /// A new package was taken into force.
    pub new_package: bool,
    /// `set` ran.
    pub applied: bool,
    pub packages: BTreeMap<String, PackageState>,
    pub resources: Vec<ResourceStatus>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// `sent` or `queued`.
    pub report: String,
    pub queued_reports: usize,
}

impl CycleReport {
    /// One line for people.
    pub fn summary(&self) -> String {
        let ok = self.resources.iter().filter(|r| r.in_desired_state).count();
        let what = match self.outcome {
            Outcome::Compliant => "compliant",
            Outcome::NonCompliant => "not in desired state",
            Outcome::Failed => "failed",
        };
        let mut line = format!(
            "{what}: {ok} of {} resources in desired state",
            self.resources.len()
        );
        if self.applied {
            line.push_str(", changes applied");
        }
        for (name, p) in &self.packages {
            let short = &p.checksum[..p.checksum.len().min(12)];
            let version = p
                .version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            line.push_str(&format!(
                "; {name}{version} {short} signed by {}",
                p.key_ids.join(",")
            ));
        }
        if let Some(e) = self.errors.first() {
            line.push_str(&format!("; {e}"));
        }
        if !self.server_reached {
            line.push_str(&format!(
                "; server unreachable, {} report(s) queued",
                self.queued_reports
            ));
        }
        line
    }
}

/// What a cycle runs with.
#[derive(Debug, Clone)]
pub struct CycleOptions {
    /// Engine settings (trace level, timeout); the search path is the package's.
    pub engine: EngineOptions,
    /// traek's own directory and DSC_RESOURCE_PATH, searched when a package allows core
    /// resources.
    pub core_dirs: Vec<PathBuf>,
}

/// Why pulling failed.
enum PullFailure {
    /// The server could not be reached (or answered 5xx): enforce what is kept.
    Unreachable(String),
    /// The server answered, but what it gave cannot be used.
    Refused(String),
}

fn classify(e: ClientError) -> PullFailure {
    match e {
        ClientError::Http(m) => PullFailure::Unreachable(m),
        ClientError::Status { status, body } if status >= 500 => {
            PullFailure::Unreachable(format!("the server answered {status}: {body}"))
        }
        other => PullFailure::Refused(other.to_string()),
    }
}

/// Delivers queued reports, then pulls a new package if there is one: whether the server
/// was reached, and whether a new package was taken. Problems go to `errors` and `warnings`.
fn contact_server(
    client: &crate::pull::client::PullClient,
    queue: &Queue,
    settings: &Settings,
    dir: &StateDir,
    state: &mut State,
    keys: &[crate::package::signing::VerifyingKey],
    (errors, warnings): (&mut Vec<String>, &mut Vec<String>),
) -> (bool, bool) {
    let delivered = queue.deliver(&mut |b| {
        client
            .send_report(b)
            .map(|r| r.status)
            .map_err(|e| e.to_string())
    });
    warnings.extend(
        delivered
            .refused
            .iter()
            .map(|r| format!("the server refused a queued report: {r}")),
    );
    let unreachable =
        |e: &str| format!("the server is unreachable ({e}): enforcing the last verified package");
    if let Some(e) = &delivered.stopped {
        warnings.push(unreachable(e));
        return (false, false);
    }
    match pull(client, settings, dir, state, keys) {
        Ok(changed) => (true, changed),
        Err(PullFailure::Unreachable(e)) => {
            warnings.push(unreachable(&e));
            (false, false)
        }
        Err(PullFailure::Refused(e)) => {
            errors.push(e);
            (true, false)
        }
    }
}

/// Enforces every package in force: each resource's status, and whether anything was set.
fn enforce_all(
    dir: &StateDir,
    o: &CycleOptions,
    settings: &Settings,
    keys: &[crate::package::signing::VerifyingKey],
    state: &mut State,
    errors: &mut Vec<String>,
) -> (Vec<ResourceStatus>, bool) {
    let mut resources = Vec::new();
    let mut applied = false;
    if state.packages.is_empty() {
        errors.push("no verified package is in force yet".to_string());
    }
    for (name, package) in state.packages.iter_mut() {
        match enforce(dir, o, settings, keys, name, package) {
            Ok((statuses, did_set)) => {
                resources.extend(statuses);
                applied |= did_set;
            }
            Err(e) => errors.push(e),
        }
    }
    (resources, applied)
}

/// A cycle failed when anything failed, else is non-compliant when a resource is not in the
/// desired state.
fn outcome_of(errors: &[String], resources: &[ResourceStatus]) -> Outcome {
    if !errors.is_empty() || resources.iter().any(|r| r.error.is_some()) {
        Outcome::Failed
    } else if resources.iter().any(|r| !r.in_desired_state) {
        Outcome::NonCompliant
    } else {
        Outcome::Compliant
    }
}

/// Runs one cycle in `dir`.
pub fn run_cycle(dir: &StateDir, o: &CycleOptions) -> Result<CycleReport, AgentError> {
    let settings = Settings::load(dir)?;
    let mut state = State::load(dir)?;
    let start = time::OffsetDateTime::now_utc();
    let job_id = uuid::Uuid::new_v4();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let client = settings.client(dir)?;
    let queue = Queue::new(&dir.queue());
    let keys = settings.trusted_keys()?;
    let (reached, new_package) = contact_server(
        &client,
        &queue,
        &settings,
        dir,
        &mut state,
        &keys,
        (&mut errors, &mut warnings),
    );
    let (resources, applied) = if errors.is_empty() {
        enforce_all(dir, o, &settings, &keys, &mut state, &mut errors)
    } else {
        (Vec::new(), false)
    };
    let end = time::OffsetDateTime::now_utc();
    let node_name = super::host_name();
    let ip = super::local_address(&settings.server);
    let checksum = state.packages.values().next().map(|p| p.checksum.clone());
    let body = report::body(&report::ReportInput {
        job_id,
        initial: new_package,
        start,
        end,
        node_name: &node_name,
        ip_address: &ip,
        agent_id: settings.agent_id,
        mode: settings.mode,
        interval_secs: settings.interval_secs,
        checksum: checksum.as_deref(),
        resources: &resources,
        errors: &errors,
    });
    let sent =
        reached && matches!(client.send_report(&body), Ok(r) if (200..300).contains(&r.status));
    if !sent {
        warnings.extend(queue.push(&job_id.to_string(), &body)?);
    }
    let outcome = outcome_of(&errors, &resources);
    let report = CycleReport {
        job_id,
        started: report::lcm_time(start),
        finished: report::lcm_time(end),
        outcome,
        mode: settings.mode,
        server_reached: reached,
        new_package,
        applied,
        packages: state.packages.clone(),
        resources,
        errors,
        warnings,
        report: if sent { "sent" } else { "queued" }.to_string(),
        queued_reports: queue.len(),
    };
    state.last_cycle = Some(report.clone());
    write_json(&dir.state(), &state)?;
    let keep: Vec<&str> = state
        .packages
        .values()
        .map(|p| p.checksum.as_str())
        .collect();
    dir.remove_other_packages(&keep);
    Ok(report)
}

/// Asks the server what to do and takes new packages into force. True when a package changed.
fn pull(
    client: &PullClient,
    settings: &Settings,
    dir: &StateDir,
    state: &mut State,
    keys: &[VerifyingKey],
) -> Result<bool, PullFailure> {
    let single = settings.configuration_names.len() == 1;
    let status = |checksum: Option<&PackageState>, name: Option<&String>| ClientStatus {
        checksum: Some(checksum.map(|p| p.checksum.clone()).unwrap_or_default()),
        configuration_name: name.cloned(),
        checksum_algorithm: Some(crate::pull::checksum::ALGORITHM.to_string()),
    };
    let client_status = if single {
        vec![status(state.packages.values().next(), None)]
    } else {
        settings
            .configuration_names
            .iter()
            .map(|n| status(state.packages.get(n), Some(n)))
            .collect()
    };
    let answer = client
        .get_dsc_action(&GetDscActionRequest { client_status })
        .map_err(classify)?;
    let mut changed = false;
    for detail in &answer.details {
        let name = &detail.configuration_name;
        match detail.status {
            NodeStatus::GetConfiguration => {
                let package = download(client, dir, keys, name, state.newest(name).as_ref())?;
                state.take(name, package, single);
                changed = true;
            }
            NodeStatus::Retry => {
                return Err(PullFailure::Refused(format!(
                    "the server holds no package for configuration '{name}' yet (publish one with `traek server publish-package`)"
                )));
            }
            _ => {}
        }
    }
    Ok(changed)
}

/// Downloads a package, stores it under its checksum, verifies it against the trusted keys and
/// checks that it is named for `name` and not older than `last`.
fn download(
    client: &PullClient,
    dir: &StateDir,
    keys: &[VerifyingKey],
    name: &str,
    last: Option<&Version>,
) -> Result<PackageState, PullFailure> {
    let content = client.get_configuration(name).map_err(classify)?;
    let checksum = content.checksum.to_ascii_uppercase();
    let path = dir.package(&checksum);
    super::store::write_atomic(&path, &content.bytes)
        .map_err(|e| PullFailure::Refused(e.to_string()))?;
    let verified = archive::open(&path, keys, Limits::default(), None, &mut |_, _| {})
        .and_then(|opened| archive::require_trusted(&opened).map(|_| opened))
        .map_err(|e| e.to_string())
        .and_then(|opened| {
            identity::admit(&opened.manifest, name, last)
                .map(|id| (opened, id))
                .map_err(|e| e.to_string())
        });
    match verified {
        Ok((opened, id)) => Ok(PackageState {
            checksum,
            version: Some(id.version.to_string()),
            key_ids: opened
                .signers
                .iter()
                .filter(|s| s.status == "verified")
                .map(|s| s.key_id.clone())
                .collect(),
            applied: false,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(PullFailure::Refused(format!(
                "package '{name}' ({checksum}) refused, nothing was run: {e}"
            )))
        }
    }
}

/// Tests a package in force and sets it when the mode says so; the per-resource states and
/// whether `set` ran.
fn enforce(
    dir: &StateDir,
    o: &CycleOptions,
    settings: &Settings,
    keys: &[VerifyingKey],
    name: &str,
    package: &mut PackageState,
) -> Result<(Vec<ResourceStatus>, bool), String> {
    let trust = Trust {
        keys: keys.to_vec(),
        allow_unsigned: false,
    };
    let path = dir.package(&package.checksum);
    let prepared = prepare(&path, &trust, &o.core_dirs, &mut |_, _| {})
        .map_err(|e| format!("the kept package for '{name}' cannot be used: {e}"))?;
    let parameters = serde_json::Map::new();
    let run = |op| run_prepared(&o.engine, &prepared, &parameters, op).map_err(|e| e.to_string());
    let test = run(Operation::Test)?;
    let statuses = report::statuses(name, &test, false);
    let drifted = statuses.iter().any(|s| !s.in_desired_state);
    let set = drifted
        && match settings.mode {
            Mode::Monitor => false,
            Mode::Apply => !package.applied,
            Mode::Autocorrect => true,
        };
    if !set {
        package.applied |= !drifted;
        return Ok((statuses, false));
    }
    let result = run(Operation::Set { what_if: false })?;
    let statuses = report::statuses(name, &result, true);
    package.applied = !result.had_errors;
    Ok((statuses, true))
}
