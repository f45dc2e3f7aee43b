//! The DSC pull protocol (MS-DSCPM v2) as WMF 5.x LCMs speak it: request paths, registration-key
//! signatures, checksums, typed bodies, and the GetDscAction decision. Shared by the pull server
//! and by clients (the agent, tests). See `shared/pull-protocol.md`.

pub mod action;
pub mod admin_client;
pub mod api;
pub mod assignment;
pub mod auth;
pub mod checksum;
pub mod client;
pub mod compliance;
pub mod identity;
pub mod messages;
pub mod notify;
pub mod path;
pub mod policy;
pub mod rollout;
pub mod signin;
pub mod source;

/// The protocol version header value sent and expected on every request and response.
pub const PROTOCOL_VERSION: &str = "2.0";
