//! # dsc-pull-server
//!
//! traek's DSC pull server: the MS-DSCPM v2 protocol that WMF 5.x LCMs speak (protocol logic in
//! `dsc_core::pull`), an admin API, health and metrics endpoints, over hyper 1 + tokio, with a
//! storage trait and its embedded SQLite + blob-directory backend.

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod http;
pub mod import;
pub mod keys;
pub mod listing;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod protocol;
pub mod proxy;
pub mod retention;
pub mod rollout;
pub mod service;
pub mod sources;
pub mod state;
pub mod storage;
pub mod tls;
pub mod ui;
