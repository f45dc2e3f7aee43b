//! The storage layer: a trait the HTTP handlers use, and the types it speaks.
//!
//! Handlers never see SQL or files. A backend stores agents, their registrations (one per
//! registration message type, so a ReportServer registration never erases the
//! ConfigurationRepository one's names), administrator assignments, reports (every body byte for
//! byte plus indexed fields), content metadata and blobs (MOFs, module zips) and registration
//! keys. [`crate::sqlite::SqliteStorage`] is the embedded default; a PostgreSQL + object-storage
//! backend implements the same trait. `tests/storage_suite.rs` is the behaviour suite every
//! backend must pass.

use async_trait::async_trait;
use bytes::Bytes;
use dsc_core::pull::messages::{RegisterRequest, RegistrationMessageType, ReportSummary};
use serde::Serialize;
use uuid::Uuid;

/// A storage failure (I/O, database). Handlers answer 500 and log it.
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

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

/// What the protocol handlers need to know about an agent, quickly.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentView {
    /// Names from the ConfigurationRepository registration.
    pub registered_names: Vec<String>,
    /// Names assigned by an administrator; when set, they take precedence.
    pub assigned_names: Option<Vec<String>>,
    /// Thumbprints of the registered client certificates.
    pub thumbprints: Vec<String>,
}

impl AgentView {
    /// The configuration names the agent may get: the administrator's when assigned, else the
    /// ones it registered.
    pub fn effective_names(&self) -> &[String] {
        self.assigned_names
            .as_deref()
            .unwrap_or(&self.registered_names)
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
}

/// Which content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContentKey {
    Configuration { name: String },
    Module { name: String, version: String },
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
    async fn nodes(&self, after: Option<Uuid>, limit: usize) -> StorageResult<Vec<NodeSummary>>;
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
    async fn put_content(&self, key: ContentKey, bytes: Bytes) -> StorageResult<ContentMeta>;
    /// Content metadata (names compared case-insensitively; an empty module version means the
    /// highest version).
    async fn content_meta(&self, key: &ContentKey) -> StorageResult<Option<ContentMeta>>;
    /// The bytes of content, exactly as stored.
    async fn content(&self, key: &ContentKey) -> StorageResult<Option<(ContentMeta, Bytes)>>;
    /// Checksum of a configuration by name (hot path: must be cheap).
    fn configuration_checksum(&self, name: &str) -> Option<String>;
    /// Deletes content. False when absent.
    async fn delete_content(&self, key: &ContentKey) -> StorageResult<bool>;
    /// All configurations or all modules.
    async fn list_content(&self, modules: bool) -> StorageResult<Vec<ContentMeta>>;

    /// The active registration keys.
    async fn registration_keys(&self) -> StorageResult<Vec<KeyRecord>>;
    /// Adds keys (re-activating revoked ones); returns how many became active.
    async fn add_registration_keys(&self, keys: Vec<String>, source: &str) -> StorageResult<usize>;
    /// Revokes the active key with this id (or this exact key); returns the key, or `None`.
    async fn revoke_registration_key(&self, id_or_key: &str) -> StorageResult<Option<String>>;

    /// Flushes anything buffered (called on shutdown).
    async fn flush(&self) -> StorageResult<()>;
}
