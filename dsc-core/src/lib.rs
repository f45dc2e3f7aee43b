//! # dsc-core
//!
//! All of traek's domain logic: DSC v3 resource manifests, discovery, and invocation of
//! command resources. Frontends (the `traek` CLI, the pull server, the C ABI) are thin layers
//! over this crate. See `docs/architecture.md` for the map.
//!
//! ```no_run
//! use dsc_core::{Engine, EngineOptions};
//! let engine = Engine::new(EngineOptions::from_process_env());
//! let mut messages = Vec::new();
//! let r = engine.find("Microsoft/OSInfo", None, &mut messages)?;
//! let got = engine.get(&r, None, &mut messages)?;
//! println!("{}", serde_json::to_string(&got).unwrap());
//! # Ok::<(), dsc_core::Error>(())
//! ```
pub mod adapter;
#[cfg(feature = "agent")]
pub mod agent;
pub mod atomic;
pub mod compare;
pub mod config;
pub mod discovery;
pub mod engine;
pub mod error;
pub mod expr;
pub mod extension;
pub mod frontend;
pub mod manifest;
#[cfg(feature = "package")]
pub mod package;
pub mod process;
#[cfg(feature = "pull")]
pub mod pull;
pub mod resource;
pub mod results;
pub mod settings;
pub mod text;
pub mod trace;

pub use discovery::{Registry, Resource, SearchPath};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, ErrorClass, Result};
pub use trace::{Level, Message, MessageSink};
