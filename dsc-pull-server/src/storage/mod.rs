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
mod nodes;
pub mod notifications;
pub mod postgres;
pub mod rollouts;
pub mod sources;
pub mod sqlite;
pub mod versions;

pub use nodes::*;

use async_trait::async_trait;
use bytes::Bytes;
use dsc_core::pull::compliance::{ComplianceStatus, ResourceResult};
pub use dsc_core::pull::identity::Pin;
use dsc_core::pull::messages::{RegisterRequest, RegistrationMessageType, ReportSummary};
use dsc_core::pull::rollout::Rollout;
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
    /// The certificate the agent is pinned to from now on; `None` leaves its pin as it is.
    #[serde(skip)]
    pub pin: Option<Pin>,
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
    /// The one client certificate the agent is pinned to (the same in memory and in storage).
    pub pin: Option<Pin>,
    /// The agent is a traek agent (its LCMVersion starts with `traek-agent/`): it is served
    /// packages instead of MOFs.
    pub traek_agent: bool,
    /// Tags an administrator gave the node.
    pub tags: Vec<String>,
}

/// The LCMVersion prefix by which traek agents identify themselves.
pub const TRAEK_AGENT_PREFIX: &str = "traek-agent/";

impl AgentView {
    /// Adds one stored registration: its names (ConfigurationRepository) and what kind of
    /// agent sent it.
    pub fn add_registration(
        &mut self,
        message_type: &str,
        names: Option<String>,
        lcm_version: &str,
    ) {
        if message_type == RegistrationMessageType::ConfigurationRepository.as_str() {
            self.registered_names = names
                .and_then(|n| serde_json::from_str(&n).ok())
                .unwrap_or_default();
            self.traek_agent = lcm_version.starts_with(TRAEK_AGENT_PREFIX);
        }
    }

    /// Sets the pin from the agent's stored columns.
    pub fn set_pin(&mut self, thumbprint: Option<String>, not_after: Option<String>) {
        self.pin = thumbprint.filter(|t| !t.is_empty()).map(|thumbprint| Pin {
            thumbprint,
            not_after,
        });
    }
}

impl AgentView {
    /// The names the agent gets when its tags do not matter (it has an assignment, or no
    /// tags): the assignment, else what it registered. `None` when its tags decide.
    pub fn names_without_tags(&self) -> Option<&[String]> {
        match &self.assigned_names {
            Some(a) => Some(a),
            None if self.tags.is_empty() => Some(&self.registered_names),
            None => None,
        }
    }

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

/// A stored report: indexed fields and the body as received.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    pub id: i64,
    pub agent_id: Uuid,
    pub received_at: i64,
    pub summary: ReportSummary,
    pub body: Bytes,
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

pub use dsc_core::pull::api::{ContentKey, ContentKind, ContentMeta, KeyRecord};

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
    /// Releases the agent's certificate pin, so that its next registration pins anew. False
    /// when the agent is unknown.
    async fn release_pin(&self, agent_id: Uuid) -> StorageResult<bool>;
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
            out.extend(batch.into_iter().filter(|n| query.matches(n)));
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
    /// Where content bytes are kept.
    fn blob_store(&self) -> &dyn blobs::BlobStore;
    /// The bytes of content, exactly as stored, in memory.
    async fn content(&self, key: &ContentKey) -> StorageResult<Option<(ContentMeta, Bytes)>> {
        match self.content_meta(key).await? {
            Some(meta) => blobs::fetch(self.blob_store(), meta).await.map(Some),
            None => Ok(None),
        }
    }
    /// The bytes of content as a stream (downloads: memory does not grow with the blob).
    async fn content_stream(
        &self,
        key: &ContentKey,
    ) -> StorageResult<Option<(ContentMeta, blobs::BlobStream)>> {
        match self.content_meta(key).await? {
            Some(meta) => blobs::open_stream(self.blob_store(), meta).await.map(Some),
            None => Ok(None),
        }
    }
    /// Checksum of a configuration (MOF) by name (hot path: must be cheap).
    fn configuration_checksum(&self, name: &str) -> Option<String>;
    /// Checksum of a package by configuration name (hot path: must be cheap).
    fn package_checksum(&self, name: &str) -> Option<String>;
    /// The rollout serving a candidate of a configuration (`kind` `configuration`) or package
    /// (`package`) now (hot path: memory only).
    fn rollout(&self, kind: &str, name: &str) -> Option<std::sync::Arc<Rollout>>;
    /// Reads the rollouts serving candidates again after a change: here, and on PostgreSQL on
    /// every replica.
    async fn rollouts_changed(&self) -> StorageResult<()>;
    /// The agents a configuration name reaches, with their tags: traek agents (packages) or
    /// LCMs (MOFs). Memory only: one pass over the agents.
    fn members(&self, name: &str, traek_agents: bool) -> Vec<rollouts::Member>;
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

    /// Published versions of configurations and packages.
    fn versions(&self) -> versions::Versions<'_> {
        versions::Versions(self.sql())
    }

    /// Rollout plans and rollouts, and the content each node was given.
    fn rollouts(&self) -> rollouts::Rollouts<'_> {
        rollouts::Rollouts(self.sql())
    }

    /// Git sources of content and what each last published.
    fn sources(&self) -> sources::Sources<'_> {
        sources::Sources(self.sql())
    }

    /// Notification rules, the outbox of deliveries and leases.
    fn notifications(&self) -> notifications::Notifications<'_> {
        notifications::Notifications(self.sql())
    }

    /// Flushes anything buffered (called on shutdown).
    async fn flush(&self) -> StorageResult<()>;
}

pub use dsc_core::pull::assignment::version_cmp;

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
    /// PEM file of the CA of the database's certificate (with `sslmode=require`).
    pub database_ca: Option<std::path::PathBuf>,
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
            let target = postgres::Target::new(url, location.database_ca.as_deref())?;
            let pg = postgres::PgStorage::connect_to(&target, blobs).await?;
            pg.rollouts_changed().await?;
            Ok(std::sync::Arc::new(pg))
        }
        None => {
            let data_dir = location.data_dir.clone();
            let sqlite = tokio::task::spawn_blocking(move || {
                sqlite::SqliteStorage::open_with(&data_dir, blobs)
            })
            .await
            .map_err(StorageError::failed)??;
            sqlite.rollouts_changed().await?;
            Ok(std::sync::Arc::new(sqlite))
        }
    }
}
