//! A discovered resource: its manifest, where it came from, and, for an adapted resource, how
//! its adapter runs it. The model `discovery` fills and `adapter` extends;
//! it imports neither.

use crate::manifest::{AdapterInputKind, Kind, ResourceManifest, ResourceVersion};
use serde_json::Value;
use std::path::PathBuf;

/// A resource that was discovered: its manifest and where it came from.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The type name as written in the manifest.
    pub type_name: String,
    pub version: ResourceVersion,
    pub kind: Kind,
    /// The manifest file.
    pub path: PathBuf,
    /// The directory of the manifest file (the working directory of its commands).
    pub directory: PathBuf,
    pub manifest: ResourceManifest,
    /// Set for a resource an adapter runs (from a `.dsc.adaptedResource.json` file or the
    /// adapter's `list`): the manifest's methods are then the adapter's.
    pub adapted: Option<Adapted>,
    /// One of `discovery::BUILTIN_GROUP_TYPES`: run by configuration documents
    /// themselves, not by a command (it has no manifest file and no methods).
    pub builtin: bool,
}

/// How an adapted resource reaches its adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapted {
    /// The adapter's type name.
    pub adapter: String,
    pub input_kind: AdapterInputKind,
    /// The adapted resource's inline `content` (passed with `adaptedContentArg`).
    pub content: Option<Value>,
}
