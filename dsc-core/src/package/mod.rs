//! `.dscpkg` packages: the manifest and path rules (`manifest`), Ed25519
//! signing keys (`signing`), the archive: build, sign, open and verify (`archive`), what binds
//! a package to a configuration (`identity`), and preparing a package to run (`run`).

pub mod archive;
pub mod identity;
pub mod manifest;
pub mod run;
pub mod signing;
