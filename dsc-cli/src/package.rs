//! `traek package build|sign|verify|inspect|keygen`, and the trust options shared with
//! `traek config ... PKG.dscpkg`.

use crate::output::{self, OutputFormat, render_table};
use crate::{Failure, exit};
use clap::{Args, Subcommand};
use dsc_core::package::archive::{self, Limits, PackageError};
use dsc_core::package::signing;
use ed25519_dalek::VerifyingKey;
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Which keys are trusted.
#[derive(Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// A trusted public key (PEM); repeatable.
    #[arg(long = "trusted-key", value_name = "FILE", global = true)]
    pub trusted_key: Vec<PathBuf>,
    /// A directory of trusted public keys (*.pem, *.pub) [default: the `trusted-keys` folder in
    /// traek's configuration directory, ~/.config/traek/trusted-keys].
    #[arg(long = "trusted-keys", value_name = "DIR", global = true)]
    pub trusted_keys: Option<PathBuf>,
}

impl TrustArgs {
    pub fn keys(&self) -> Result<Vec<VerifyingKey>, Failure> {
        let mut keys = Vec::new();
        for f in &self.trusted_key {
            keys.push(signing::read_public(f).map_err(|e| Failure {
                code: exit::INVALID_ARGS,
                message: e.to_string(),
            })?);
        }
        let dir = self.trusted_keys.clone().or_else(default_trusted_dir);
        if let Some(d) = dir {
            keys.extend(signing::read_public_dir(&d).map_err(|e| Failure {
                code: exit::INVALID_ARGS,
                message: e.to_string(),
            })?);
        }
        Ok(keys)
    }
}

fn default_trusted_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("traek").join("trusted-keys"))
}

#[derive(Subcommand, Debug)]
pub enum PackageCommand {
    /// Build a package from a directory (its root holds the *.dscpkg.json|yaml|yml manifest).
    Build {
        dir: PathBuf,
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Sign with this private key (PKCS#8 PEM).
        #[arg(long = "sign-key")]
        sign_key: Option<PathBuf>,
        /// Set the package's metadata.name: the configuration name agents pull it under (they
        /// refuse a package named for another configuration).
        #[arg(long, value_name = "CONFIGURATION")]
        name: Option<String>,
        /// Set the package's metadata.version (semver, x.y.z): agents refuse a version older
        /// than the one they last took into force.
        #[arg(long, value_name = "X.Y.Z", value_parser = parse_version)]
        version: Option<semver::Version>,
    },
    /// Add a signature to a package (existing signatures are kept).
    Sign {
        package: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a package against its catalog (and its signatures).
    Verify {
        package: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Fail unless a trusted key signed the package.
        #[arg(long)]
        require_signature: bool,
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Show a package's manifest, catalog, signers and sizes (verifying it).
    Inspect {
        package: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Write a new Ed25519 key pair: PREFIX.key (private, PKCS#8 PEM) and PREFIX.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

/// The exit code of a package error: tampering and hostility are invalid input (4), I/O is 2.
pub fn failure(e: PackageError) -> Failure {
    crate::classified(e.class(), e)
}

/// A progress bar on stderr for large packages when stderr is a terminal.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// `--progress-format json`: the activity named in each JSON update.
    json: Option<String>,
}

impl Progress {
    pub fn new(path: &Path, what: &str) -> Self {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Self::sized(size, what)
    }

    pub fn sized(size: u64, what: &str) -> Self {
        let format = crate::progress_format();
        let json = (format == crate::ProgressFormat::Json).then(|| what.to_string());
        let show_bar = format == crate::ProgressFormat::Default
            && std::io::stderr().is_terminal()
            && size > 16 << 20;
        let bar = show_bar.then(|| {
            let b = indicatif::ProgressBar::new(size);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_message(what.to_string());
            b
        });
        Progress { bar, json }
    }

    /// Removes the bar (the work it showed is done).
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    pub fn update(&self, done: u64, total: u64) {
        if let Some(activity) = &self.json {
            eprintln!(
                "{}",
                serde_json::json!({"activity": activity, "completed": done, "total": total.max(done)})
            );
        }
        if let Some(b) = &self.bar {
            b.set_length(total.max(done));
            b.set_position(done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn parse_version(s: &str) -> Result<semver::Version, String> {
    semver::Version::parse(s).map_err(|e| format!("not a semantic version (x.y.z): {e}"))
}

pub fn run(cmd: PackageCommand) -> Result<(), Failure> {
    match cmd {
        PackageCommand::Build {
            dir,
            out,
            sign_key,
            name,
            version,
        } => build(&dir, &out, sign_key, name, version),
        PackageCommand::Sign { package, key } => {
            let key = signing::read_private(&key).map_err(|e| Failure {
                code: exit::INVALID_ARGS,
                message: e.to_string(),
            })?;
            let id = archive::sign(&package, &key).map_err(failure)?;
            output::print_text(&format!("signed {} with key {id}", package.display()))
        }
        PackageCommand::Verify {
            package,
            trust,
            require_signature,
            output,
        } => verify(&package, &trust, require_signature, output),
        PackageCommand::Inspect {
            package,
            trust,
            output,
        } => inspect(&package, &trust, output),
        PackageCommand::Keygen { out } => {
            let id = signing::keygen(&out).map_err(|e| Failure {
                code: exit::INVALID_ARGS,
                message: e.to_string(),
            })?;
            output::print_text(&format!(
                "wrote {} (private, keep it secret) and {} (public); key id {id}",
                out.with_extension("key").display(),
                out.with_extension("pub").display()
            ))
        }
    }
}

/// The signers of a package as one line (`none_word` when there are none).
fn signers_text(opened: &archive::OpenedPackage, none_word: &str) -> String {
    if opened.signers.is_empty() {
        return none_word.to_string();
    }
    opened
        .signers
        .iter()
        .map(|s| format!("{} ({})", s.key_id, s.status))
        .collect::<Vec<_>>()
        .join(", ")
}

fn build(
    dir: &std::path::Path,
    out: &std::path::Path,
    sign_key: Option<std::path::PathBuf>,
    name: Option<String>,
    version: Option<semver::Version>,
) -> Result<(), Failure> {
    let key = sign_key
        .map(|k| signing::read_private(&k))
        .transpose()
        .map_err(|e| Failure {
            code: exit::INVALID_ARGS,
            message: e.to_string(),
        })?;
    let progress = Progress::sized(dir_size(dir), "building");
    let options = archive::BuildOptions {
        key: key.as_ref(),
        name: name.as_deref(),
        version: version.as_ref(),
    };
    let catalog =
        archive::build(dir, out, options, &mut |d, t| progress.update(d, t)).map_err(failure)?;
    drop(progress);
    let signed = key
        .map(|k| format!(", signed by {}", signing::key_id(&k.verifying_key())))
        .unwrap_or_default();
    output::print_text(&format!(
        "built {} ({} files{signed})",
        out.display(),
        catalog.entries.len()
    ))
}

fn verify(
    package: &std::path::Path,
    trust: &TrustArgs,
    require_signature: bool,
    output: Option<OutputFormat>,
) -> Result<(), Failure> {
    let keys = trust.keys()?;
    let progress = Progress::new(package, "verifying");
    let opened = archive::open(package, &keys, Limits::default(), None, &mut |d, t| {
        progress.update(d, t)
    })
    .map_err(failure)?;
    drop(progress);
    if require_signature {
        archive::require_trusted(&opened).map_err(failure)?;
    }
    let v = json!({"package": package, "valid": true, "entries": opened.catalog.len(), "bytes": opened.total_bytes, "signers": opened.signers, "trusted": opened.trusted()});
    match output {
        Some(f) => output::print_value(&v, Some(f)),
        None => {
            let signers = signers_text(&opened, "unsigned");
            output::print_text(&format!(
                "{}: OK, {} files, {} bytes; signatures: {signers}",
                package.display(),
                opened.catalog.len(),
                opened.total_bytes
            ))
        }
    }
}

fn inspect(
    package: &std::path::Path,
    trust: &TrustArgs,
    output: Option<OutputFormat>,
) -> Result<(), Failure> {
    let keys = trust.keys()?;
    let opened =
        archive::open(package, &keys, Limits::default(), None, &mut |_, _| {}).map_err(failure)?;
    let v = serde_json::to_value(&opened).map_err(|e| Failure {
        code: exit::RESOURCE_ERROR,
        message: e.to_string(),
    })?;
    match output {
        Some(f) => output::print_value(&v, Some(f)),
        None => {
            let m = &opened.manifest;
            let mut text = format!(
                "manifest:       {}\nconfiguration:  {}\nresourcePath:   {}\ncore resources: {}\nremovePackage:  {:?}\nsigners:        {}\n\n",
                opened.manifest_path,
                m.configuration_file,
                m.resource_path.join(", "),
                m.allow_core_resources.unwrap_or(false),
                m.remove_package(),
                signers_text(&opened, "none")
            );
            let rows: Vec<Vec<String>> = opened
                .catalog
                .iter()
                .map(|e| vec![e.size.to_string(), e.sha256.clone(), e.path.clone()])
                .collect();
            text.push_str(&render_table(&["Size", "SHA-256", "Path"], &rows));
            output::print_text(&text)
        }
    }
}
