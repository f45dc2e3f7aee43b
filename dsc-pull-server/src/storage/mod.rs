//! The storage layer: a trait the HTTP handlers use, and the types it speaks.
//!
//! Handlers never see SQL or files. A backend stores agents, their registrations (one per
//! registration message type, so a ReportServer registration never erases the
//! ConfigurationRepository one's names), administrator assignments, reports (every body byte for
//! byte plus indexed fields), content metadata and blobs (MOFs, module zips) and registration
//! keys.
//!
//! - [`sqlite::SqliteStorage`]: the embedded default, one process, SQLite in the data directory.
//! - [`postgres::PgStorage`]: PostgreSQL, shared by any number of replicas.
//! - Content bytes live in a [`blobs::BlobStore`] (a local directory or S3-compatible object
//!   storage), chosen independently of the database.
//! - [`cache`] holds what the GetDscAction hot path reads from memory, for both backends.
//!
//! `tests/storage_suite.rs` is the behaviour suite every backend must pass.

pub mod accounts;
pub mod blobs;
pub mod cache;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use bytes::Bytes;
use dsc_core::pull::compliance::{ComplianceStatus, ResourceResult, node_status};
use dsc_core::pull::messages::{RegisterRequest, RegistrationMessageType, ReportSummary};
use serde::Serialize;
use uuid::Uuid;

/// A storage failure. Handlers log it and answer 503 when the store is unreachable (the request
/// may be retried) and 500 otherwise.
#[derive(Debug, thiserror::Error)]
#[error("storage: {message}")]
pub struct StorageError {
    pub message: String,
    /// The database or object store could not be reached (or no connection was free in time).
    pub unavailable: bool,
}

impl StorageError {
    /// A failure of the store itself (a bug, corrupt data, a full disk).
    pub fn failed(message: impl std::fmt::Display) -> Self {
        StorageError {
            message: message.to_string(),
            unavailable: false,
        }
    }

    /// The store could not be reached; the same request may work later.
    pub fn unavailable(message: impl std::fmt::Display) -> Self {
        StorageError {
            message: message.to_string(),
            unavailable: true,
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// One registration (one per agent and message type).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub agent_id: Uuid,
    pub message_type: RegistrationMessageType,
    /// Identifies the registration key that matched (a fingerprint, never the key).
    pub key_id: String,
    pub registered_at: i64,
    #[serde(skip)]
    pub request: RegisterRequest,
}

impl Registration {
    /// Thumbprint of the client certificate the agent described, if any.
    pub fn thumbprint(&self) -> Option<String> {
        self.request
            .registration_information
            .certificate_information
            .as_ref()
            .map(|c| c.thumbprint.clone())
    }

    /// The registered configuration names as stored (a JSON array), if any.
    pub fn names_json(&self) -> Option<String> {
        self.request
            .configuration_names
            .as_ref()
            .map(|n| serde_json::to_string(n).unwrap_or_default())
    }

    /// The whole registration request as stored (JSON).
    pub fn request_json(&self) -> String {
        serde_json::to_string(&self.request).unwrap_or_default()
    }
}

/// What the protocol handlers need to know about an agent, quickly.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentView {
    /// Names from the ConfigurationRepository registration.
    pub registered_names: Vec<String>,
    /// Names assigned by an administrator; when set, they take precedence.
    pub assigned_names: Option<Vec<String>>,
    /// Thumbprints of the registered client certificates.
    pub thumbprints: Vec<String>,
    /// The agent is a traek agent (its LCMVersion starts with `traek-agent/`): it is served
    /// packages instead of MOFs.
    pub traek_agent: bool,
    /// Tags an administrator gave the node.
    pub tags: Vec<String>,
}

/// Configuration names given to tags (lowercased tag → names).
pub type TagNames = std::collections::HashMap<String, Vec<String>>;

/// The names a node gets: the administrator's assignment when set, else the names given to its
/// tags (in tag order, without repeats) when any of its tags has some, else the names it
/// registered.
pub fn effective_names(
    assigned: Option<&[String]>,
    tags: &[String],
    registered: &[String],
    tag_names: &TagNames,
) -> Vec<String> {
    effective_name_refs(assigned, tags, registered, tag_names)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// [`effective_names`] without copying the names.
pub fn effective_name_refs<'a>(
    assigned: Option<&'a [String]>,
    tags: &[String],
    registered: &'a [String],
    tag_names: &'a TagNames,
) -> Vec<&'a str> {
    if let Some(a) = assigned {
        return a.iter().map(String::as_str).collect();
    }
    let mut from_tags: Vec<&str> = Vec::new();
    for tag in tags {
        for name in tag_names.get(&tag.to_lowercase()).into_iter().flatten() {
            if !from_tags.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                from_tags.push(name);
            }
        }
    }
    if from_tags.is_empty() {
        registered.iter().map(String::as_str).collect()
    } else {
        from_tags
    }
}

/// Parses a stored JSON list of names (tags, configuration names); empty when absent or odd.
pub fn names_of(json: Option<&str>) -> Vec<String> {
    json.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// The LCMVersion prefix by which traek agents identify themselves.
pub const TRAEK_AGENT_PREFIX: &str = "traek-agent/";

impl AgentView {
    /// Adds one stored registration: its names (ConfigurationRepository), its certificate
    /// thumbprint and what kind of agent sent it.
    pub fn add_registration(
        &mut self,
        message_type: &str,
        names: Option<String>,
        thumbprint: Option<String>,
        lcm_version: &str,
    ) {
        if message_type == RegistrationMessageType::ConfigurationRepository.as_str() {
            self.registered_names = names
                .and_then(|n| serde_json::from_str(&n).ok())
                .unwrap_or_default();
            self.traek_agent = lcm_version.starts_with(TRAEK_AGENT_PREFIX);
        }
        if let Some(t) = thumbprint
            && !self.thumbprints.contains(&t)
        {
            self.thumbprints.push(t);
        }
    }
}

impl AgentView {
    /// The configuration names the agent may get ([`effective_names`]).
    pub fn effective_names(&self, tag_names: &TagNames) -> Vec<String> {
        effective_names(
            self.assigned_names.as_deref(),
            &self.tags,
            &self.registered_names,
            tag_names,
        )
    }
}

/// A row of the node list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    pub agent_id: Uuid,
    pub node_name: Option<String>,
    pub ip_addresses: Vec<String>,
    pub lcm_version: Option<String>,
    pub registration_types: Vec<String>,
    pub registered_names: Vec<String>,
    pub assigned_names: Option<Vec<String>>,
    pub last_seen: Option<i64>,
    pub last_report_status: Option<String>,
    pub last_report_time: Option<i64>,
    /// The status of the node's latest run (final report), and when it was received.
    pub run_status: Option<ComplianceStatus>,
    pub run_time: Option<i64>,
    /// The node's status now (`pending`, `stale` included): see [`NodeSummary::judge`].
    pub status: ComplianceStatus,
    pub tags: Vec<String>,
    /// The configuration names the node gets (assignment, else tags, else registered).
    pub configurations: Vec<String>,
}

impl NodeSummary {
    /// Sets the latest run's status and time as stored.
    pub fn set_run(&mut self, status: Option<String>, time: Option<i64>) {
        self.run_status = status.as_deref().and_then(ComplianceStatus::parse);
        self.run_time = time;
    }

    /// Computes `status` as of `now` with the stale threshold (seconds).
    pub fn judge(&mut self, now: i64, stale_after: i64) {
        self.status = node_status(self.run_status, self.run_time, now, stale_after);
    }

    /// A node with the fields of its agent row and no registration yet.
    pub fn new(
        agent_id: Uuid,
        last_seen: Option<i64>,
        assigned_names: Option<String>,
        last_report_status: Option<String>,
        last_report_time: Option<i64>,
    ) -> Self {
        NodeSummary {
            agent_id,
            node_name: None,
            ip_addresses: Vec::new(),
            lcm_version: None,
            registration_types: Vec::new(),
            registered_names: Vec::new(),
            assigned_names: assigned_names.and_then(|a| serde_json::from_str(&a).ok()),
            last_seen,
            last_report_status,
            last_report_time,
            run_status: None,
            run_time: None,
            status: ComplianceStatus::Pending,
            tags: Vec::new(),
            configurations: Vec::new(),
        }
    }

    /// Fills `configurations` from the assignment, the tags and the registered names.
    pub fn resolve_configurations(&mut self, tag_names: &TagNames) {
        self.configurations = effective_names(
            self.assigned_names.as_deref(),
            &self.tags,
            &self.registered_names,
            tag_names,
        );
    }

    /// Whether the node matches the tag, configuration and text filters of a query.
    pub fn matches(&self, q: &NodeQuery) -> bool {
        let has = |list: &[String], x: &str| list.iter().any(|v| v.eq_ignore_ascii_case(x));
        let text = q.text.as_deref().map(str::to_lowercase);
        q.tag.as_deref().is_none_or(|t| has(&self.tags, t))
            && q.configuration
                .as_deref()
                .is_none_or(|c| has(&self.configurations, c))
            && text.is_none_or(|t| {
                self.agent_id.to_string().contains(&t)
                    || self
                        .node_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(&t))
                    || self.ip_addresses.iter().any(|ip| ip.contains(&t))
            })
    }

    /// Adds one registration (rows in message-type order; the first names the node).
    pub fn add_registration(
        &mut self,
        message_type: String,
        node_name: String,
        ip_addresses: &str,
        lcm_version: String,
        names: Option<String>,
    ) {
        self.node_name.get_or_insert(node_name);
        if self.ip_addresses.is_empty() {
            self.ip_addresses = ip_addresses
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        self.lcm_version.get_or_insert(lcm_version);
        if let Some(n) = names.and_then(|n| serde_json::from_str::<Vec<String>>(&n).ok()) {
            self.registered_names = n;
        }
        self.registration_types.push(message_type);
    }

    /// Takes the later of the stored last-seen time and one known only in memory.
    pub fn seen_in_memory(&mut self, t: i64) {
        if t > 0 {
            self.last_seen = Some(self.last_seen.map_or(t, |s| s.max(t)));
        }
    }
}

/// A stored report: indexed fields and the body as received.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    pub id: i64,
    pub agent_id: Uuid,
    pub received_at: i64,
    pub summary: ReportSummary,
    pub body: Bytes,
}

/// Which nodes to list (keyset pagination by agent id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeQuery {
    pub after: Option<Uuid>,
    pub limit: usize,
    /// Only nodes with this status now.
    pub status: Option<ComplianceStatus>,
    /// Now and the stale threshold (seconds), for `status`.
    pub now: i64,
    pub stale_after: i64,
    /// Only nodes with this tag (any case).
    pub tag: Option<String>,
    /// Only nodes that get this configuration name.
    pub configuration: Option<String>,
    /// Only nodes whose name, agent id or an address contains this text.
    pub text: Option<String>,
}

impl NodeQuery {
    /// The SQL condition on `run_status` / `run_time` that selects `status`, with the stale
    /// cutoff as its one parameter (`{p}` is replaced by the placeholder).
    pub fn status_condition(&self) -> Option<String> {
        Some(match self.status? {
            ComplianceStatus::Pending => "run_status IS NULL AND {p} IS NOT NULL".to_string(),
            ComplianceStatus::Stale => "run_status IS NOT NULL AND run_time < {p}".to_string(),
            s => format!("run_status = '{}' AND run_time >= {{p}}", s.as_str()),
        })
    }

    /// Received before this, a node's latest run is stale.
    pub fn stale_cutoff(&self) -> i64 {
        self.now - self.stale_after
    }
}

/// The fleet at a glance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Nodes per status (every status present, zero or not).
    pub statuses: std::collections::BTreeMap<String, u64>,
    /// Nodes per configuration name they are given (assigned, else registered).
    pub configurations: Vec<NameCount>,
    /// Per day (UTC, oldest first, the last 30): nodes by the status of their last run that day.
    pub daily: Vec<DailyCounts>,
    /// Resources not in the desired state on most nodes (latest runs).
    pub failing_resources: Vec<NameCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameCount {
    pub name: String,
    pub nodes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyCounts {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// Days of daily status counts kept and shown.
pub const DAILY_DAYS: i64 = 30;

/// The UTC day number of a Unix time.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(86_400)
}

/// Builds the summary's daily list from `(day, status, count)` rows, the last [`DAILY_DAYS`]
/// days up to `today`, every day present.
pub fn daily_counts(rows: &[(i64, String, i64)], today: i64) -> Vec<DailyCounts> {
    (today - DAILY_DAYS + 1..=today)
        .map(|day| {
            let mut counts: std::collections::BTreeMap<String, u64> = [
                ComplianceStatus::Compliant,
                ComplianceStatus::NonCompliant,
                ComplianceStatus::Failed,
            ]
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
            for (d, status, n) in rows {
                if *d == day {
                    *counts.entry(status.clone()).or_default() += u64::try_from(*n).unwrap_or(0);
                }
            }
            let date = time::OffsetDateTime::from_unix_timestamp(day * 86_400)
                .map(|t| t.date().to_string())
                .unwrap_or_default();
            DailyCounts { day: date, counts }
        })
        .collect()
}

/// Nodes per status from `(run_status, stale, count)` rows.
pub fn status_counts(
    rows: &[(Option<String>, bool, i64)],
) -> std::collections::BTreeMap<String, u64> {
    let mut out: std::collections::BTreeMap<String, u64> = ComplianceStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for (run, stale, n) in rows {
        let status = match (run.as_deref().and_then(ComplianceStatus::parse), stale) {
            (None, _) => ComplianceStatus::Pending,
            (Some(_), true) => ComplianceStatus::Stale,
            (Some(s), false) => s,
        };
        *out.entry(status.as_str().to_string()).or_default() += u64::try_from(*n).unwrap_or(0);
    }
    out
}

/// Filters of the report query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportFilter {
    pub agent_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    pub status: Option<String>,
    /// Received at or after (Unix seconds).
    pub since: Option<i64>,
    /// Received before (Unix seconds).
    pub until: Option<i64>,
    /// Return reports with id greater than this (keyset pagination).
    pub after_id: Option<i64>,
    pub limit: usize,
    /// Newest first (then `after_id` is ignored).
    pub newest_first: bool,
}

/// Which content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContentKey {
    /// A MOF, served to WMF LCMs.
    Configuration {
        name: String,
    },
    Module {
        name: String,
        version: String,
    },
    /// A signed `.dscpkg` package of the same configuration name, served to traek agents.
    Package {
        name: String,
    },
}

/// The kinds of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentKind {
    Configuration,
    Module,
    Package,
}

impl ContentKind {
    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Configuration => "configuration",
            ContentKind::Module => "module",
            ContentKind::Package => "package",
        }
    }
}

impl ContentKey {
    pub fn kind(&self) -> ContentKind {
        match self {
            ContentKey::Configuration { .. } => ContentKind::Configuration,
            ContentKey::Module { .. } => ContentKind::Module,
            ContentKey::Package { .. } => ContentKind::Package,
        }
    }
}

/// Content metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentMeta {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Uppercase hex SHA-256 of the bytes.
    pub checksum: String,
    pub size: u64,
    pub updated_at: i64,
    /// Key ids of a package's signatures (packages only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
}

impl ContentMeta {
    /// The metadata of `bytes` stored under `key`, as of now.
    pub fn of(key: &ContentKey, bytes: &[u8]) -> Self {
        let (name, version) = match key {
            ContentKey::Configuration { name } | ContentKey::Package { name } => {
                (name.clone(), None)
            }
            ContentKey::Module { name, version } => (name.clone(), Some(version.clone())),
        };
        ContentMeta {
            name,
            version,
            checksum: dsc_core::pull::checksum::sha256_hex(bytes),
            size: bytes.len() as u64,
            updated_at: now_unix(),
            signers: Vec::new(),
        }
    }
}

/// An active registration key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// A short, non-secret fingerprint of the key.
    pub id: String,
    pub key: String,
    /// Where it came from: `file`, `api`, `import`, `generated`.
    pub source: String,
    pub added_at: i64,
}

/// What report retention removes. A node's newest report is never removed, whatever the
/// policy (its status is kept on the node itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunePolicy {
    /// Remove reports received before this time (Unix seconds).
    pub older_than: Option<i64>,
    /// Keep at most this many reports per node (the newest).
    pub max_per_node: Option<u64>,
}

impl PrunePolicy {
    /// True when the policy removes no report (content blobs are still collected).
    pub fn keeps_everything(&self) -> bool {
        self.older_than.is_none() && self.max_per_node.is_none()
    }
}

/// Reports deleted in one statement or transaction while pruning, so that ingest never waits
/// long behind a prune.
pub const PRUNE_BATCH: i64 = 2000;

/// The storage operations.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Stores a registration durably (replacing the agent's earlier one of the same type) and
    /// creates the agent if new.
    async fn register(&self, registration: Registration) -> StorageResult<()>;
    /// The agent, if registered (any message type).
    async fn agent(&self, agent_id: Uuid) -> StorageResult<Option<std::sync::Arc<AgentView>>>;
    /// Records that the agent was seen now (may be batched; need not be durable at once).
    fn touch(&self, agent_id: Uuid, now: i64);
    /// Removes the agent and its registrations (its reports are kept). False when unknown.
    async fn unregister(&self, agent_id: Uuid) -> StorageResult<bool>;
    /// Sets (`Some`) or clears (`None`) the administrator's assignment. False when unknown.
    async fn assign(&self, agent_id: Uuid, names: Option<Vec<String>>) -> StorageResult<bool>;
    /// Nodes ordered by agent id, after `after` (keyset pagination).
    async fn nodes(&self, after: Option<Uuid>, limit: usize) -> StorageResult<Vec<NodeSummary>> {
        self.find_nodes(&NodeQuery {
            after,
            limit,
            ..Default::default()
        })
        .await
    }
    /// Nodes matching a query's status, ordered by agent id, with `tags` and
    /// `configurations` filled (the other filters are [`Storage::search_nodes`]'s).
    async fn find_nodes(&self, query: &NodeQuery) -> StorageResult<Vec<NodeSummary>>;
    /// Nodes matching every filter of a query, ordered by agent id: pages of
    /// [`Storage::find_nodes`] filtered until `limit` nodes match or none are left.
    async fn search_nodes(&self, query: &NodeQuery) -> StorageResult<Vec<NodeSummary>> {
        if query.tag.is_none() && query.configuration.is_none() && query.text.is_none() {
            return self.find_nodes(query).await;
        }
        let mut page = NodeQuery {
            limit: 1000,
            ..query.clone()
        };
        let mut out = Vec::new();
        loop {
            let batch = self.find_nodes(&page).await?;
            let done = batch.len() < page.limit;
            page.after = batch.last().map(|n| n.agent_id);
            out.extend(batch.into_iter().filter(|n| n.matches(query)));
            if out.len() >= query.limit || done {
                out.truncate(query.limit);
                return Ok(out);
            }
        }
    }
    /// Sets a node's tags; false when the node is unknown.
    async fn set_tags(&self, agent_id: Uuid, tags: Vec<String>) -> StorageResult<bool>;
    /// Gives configuration names to a tag (`None` or empty: none).
    async fn set_tag_configurations(
        &self,
        tag: &str,
        names: Option<Vec<String>>,
    ) -> StorageResult<()>;
    /// Every tag that has configuration names: (tag, names), by tag.
    async fn tag_configurations(&self) -> StorageResult<Vec<(String, Vec<String>)>>;
    /// The configuration names an agent gets now (hot path: memory only).
    fn effective_names(&self, view: &AgentView) -> Vec<String>;
    /// The per-resource results of the node's latest run.
    async fn node_resources(&self, agent_id: Uuid) -> StorageResult<Vec<ResourceResult>>;
    /// The fleet at a glance, as of `now` with the stale threshold (seconds).
    async fn summary(&self, now: i64, stale_after: i64) -> StorageResult<Summary>;
    /// One node's summary.
    async fn node(&self, agent_id: Uuid) -> StorageResult<Option<NodeSummary>>;
    /// Number of registered agents.
    async fn agent_count(&self) -> StorageResult<u64>;

    /// Stores a report durably; returns its id.
    async fn store_report(
        &self,
        agent_id: Uuid,
        summary: ReportSummary,
        body: Bytes,
    ) -> StorageResult<i64>;
    /// Reports matching the filter, oldest first.
    async fn reports(&self, filter: ReportFilter) -> StorageResult<Vec<StoredReport>>;
    /// Number of stored reports.
    async fn report_count(&self) -> StorageResult<u64>;

    /// Stores content (durably) and returns its metadata.
    async fn put_content(&self, key: ContentKey, bytes: Bytes) -> StorageResult<ContentMeta> {
        self.put_signed_content(key, bytes, Vec::new()).await
    }
    /// Stores content with the key ids of its signatures (packages).
    async fn put_signed_content(
        &self,
        key: ContentKey,
        bytes: Bytes,
        signers: Vec<String>,
    ) -> StorageResult<ContentMeta>;
    /// Content metadata (names compared case-insensitively; an empty module version means the
    /// highest version).
    async fn content_meta(&self, key: &ContentKey) -> StorageResult<Option<ContentMeta>>;
    /// The bytes of content, exactly as stored.
    async fn content(&self, key: &ContentKey) -> StorageResult<Option<(ContentMeta, Bytes)>>;
    /// Checksum of a configuration (MOF) by name (hot path: must be cheap).
    fn configuration_checksum(&self, name: &str) -> Option<String>;
    /// Checksum of a package by configuration name (hot path: must be cheap).
    fn package_checksum(&self, name: &str) -> Option<String>;
    /// Deletes content. False when absent.
    async fn delete_content(&self, key: &ContentKey) -> StorageResult<bool>;
    /// All content of one kind.
    async fn list_content(&self, kind: ContentKind) -> StorageResult<Vec<ContentMeta>>;

    /// The active registration keys.
    async fn registration_keys(&self) -> StorageResult<Vec<KeyRecord>>;
    /// Adds keys (re-activating revoked ones); returns how many became active.
    async fn add_registration_keys(&self, keys: Vec<String>, source: &str) -> StorageResult<usize>;
    /// Revokes the active key with this id (or this exact key); returns the key, or `None`.
    async fn revoke_registration_key(&self, id_or_key: &str) -> StorageResult<Option<String>>;

    /// Deletes reports as the policy says, then content blobs nothing references; returns the
    /// number of reports deleted. Safe to call from several replicas at once (one prunes, the
    /// others return 0).
    async fn prune(&self, policy: &PrunePolicy) -> StorageResult<u64>;

    /// Answers when the store can be reached (readiness).
    async fn ping(&self) -> StorageResult<()>;

    /// Plain SQL on the store (accounts, sessions, tokens, audit).
    fn sql(&self) -> &dyn accounts::Sql;

    /// Users, sessions, API tokens and the audit trail.
    fn accounts(&self) -> accounts::Accounts<'_> {
        accounts::Accounts(self.sql())
    }

    /// Flushes anything buffered (called on shutdown).
    async fn flush(&self) -> StorageResult<()>;
}

/// Compares dotted numeric versions ("1.10.0.0" > "1.9").
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    parse(a).cmp(&parse(b))
}

/// `(kind, lowercased name, lowercased version or "", name as given)` of a content key: the
/// columns content is stored under in both backends.
pub fn content_columns(key: &ContentKey) -> (&'static str, String, String, String) {
    match key {
        ContentKey::Configuration { name } => (
            "configuration",
            name.to_lowercase(),
            String::new(),
            name.clone(),
        ),
        ContentKey::Module { name, version } => (
            "module",
            name.to_lowercase(),
            version.to_lowercase(),
            name.clone(),
        ),
        ContentKey::Package { name } => {
            ("package", name.to_lowercase(), String::new(), name.clone())
        }
    }
}

/// The current time, Unix seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Where a server keeps its data, from `--database` and `--content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageLocation {
    /// `postgres://...`; `None` keeps SQLite in the data directory.
    pub database: Option<String>,
    /// `s3://BUCKET/PREFIX` or `file:///DIR`; `None` keeps blobs in DATA_DIR/blobs.
    pub content: Option<String>,
    pub data_dir: std::path::PathBuf,
}

/// Opens the storage a location names. PostgreSQL is migrated first (under an advisory lock).
pub async fn open(location: &StorageLocation) -> StorageResult<std::sync::Arc<dyn Storage>> {
    let blobs = blobs::open(location.content.as_deref(), &location.data_dir)?;
    match &location.database {
        Some(url) => {
            postgres::check_url(url)?;
            let pg = postgres::PgStorage::connect(url, blobs).await?;
            Ok(std::sync::Arc::new(pg))
        }
        None => {
            let data_dir = location.data_dir.clone();
            let sqlite = tokio::task::spawn_blocking(move || {
                sqlite::SqliteStorage::open_with(&data_dir, blobs)
            })
            .await
            .map_err(StorageError::failed)??;
            Ok(std::sync::Arc::new(sqlite))
        }
    }
}
