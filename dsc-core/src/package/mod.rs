//! `.dscpkg` packages (issue 4, in progress): the manifest and path rules (`manifest`), Ed25519
//! signing keys (`signing`), and the archive: build, sign, open and verify (`archive`).

pub mod archive;
pub mod manifest;
pub mod signing;
