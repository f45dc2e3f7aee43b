//! `.dscpkg` packages (issue 4, in progress): the manifest and path rules (`manifest`) and
//! Ed25519 signing keys (`signing`).

pub mod manifest;
pub mod signing;
