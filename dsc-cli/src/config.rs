//! `traek config [-p PARAMS | --parameters-file F] get|test|set|export [-i DOC | -f FILE|-]`.

use crate::output::{self, OutputFormat};
use crate::{Failure, exit, print_message};
use clap::{Args, Subcommand};
use dsc_core::config::document::{DocumentError, parse_parameters_input};
use dsc_core::config::run::Operation;
use dsc_core::frontend::{Outcome, Output};
use dsc_core::{Engine, EngineOptions, Error};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Parameter values as JSON or YAML: {"parameters": {"name": value}}.
    #[arg(
        short = 'p',
        long = "parameters",
        conflicts_with = "parameters_file",
        global = true
    )]
    parameters: Option<String>,
    /// Read the parameter values from a file.
    #[arg(long = "parameters-file", global = true)]
    parameters_file: Option<PathBuf>,
    #[command(flatten)]
    trust: crate::package::TrustArgs,
    /// Run a package that is unsigned or not signed by a trusted key.
    #[arg(long = "allow-unsigned", global = true)]
    allow_unsigned: bool,
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Args, Debug)]
struct DocArgs {
    /// A configuration document or a .dscpkg package (same as -f).
    #[arg(conflicts_with_all = ["input", "file"])]
    path: Option<String>,
    /// The configuration document as JSON or YAML text.
    #[arg(short = 'i', long = "input", conflicts_with = "file")]
    input: Option<String>,
    /// Read the document from a file, or from stdin with `-`.
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
    /// Output format [default: yaml on a terminal, json otherwise].
    #[arg(short, long, value_enum)]
    output: Option<OutputFormat>,
    /// Kill a resource (and its child processes) after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Get the actual state of every resource.
    Get(DocArgs),
    /// Test every resource against its desired state.
    Test(DocArgs),
    /// Set every resource to its desired state.
    Set {
        #[command(flatten)]
        doc: DocArgs,
        /// Show what would change without changing anything.
        #[arg(short = 'w', long = "what-if", visible_aliases = ["dry-run", "noop"])]
        what_if: bool,
    },
    /// Export every instance of every resource, as a configuration document.
    Export(DocArgs),
}

fn invalid(code: u8, e: impl std::fmt::Display) -> Failure {
    Failure {
        code,
        message: e.to_string(),
    }
}

fn document_failure(e: DocumentError) -> Failure {
    crate::classified(e.class(), e)
}

pub fn run_config(args: ConfigArgs, mut options: EngineOptions) -> Result<(), Failure> {
    let (doc_args, operation) = match &args.command {
        ConfigCommand::Get(d) => (d, Operation::Get),
        ConfigCommand::Test(d) => (d, Operation::Test),
        ConfigCommand::Set { doc, what_if } => (doc, Operation::Set { what_if: *what_if }),
        ConfigCommand::Export(d) => (d, Operation::Export),
    };
    let supplied = match (&args.parameters, &args.parameters_file) {
        (Some(p), _) => parse_parameters_input(p).map_err(document_failure)?,
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f).map_err(|e| {
                invalid(
                    exit::INVALID_ARGS,
                    format!("reading parameters file '{}': {e}", f.display()),
                )
            })?;
            parse_parameters_input(&text).map_err(document_failure)?
        }
        (None, None) => Map::new(),
    };
    if let Some(secs) = doc_args.timeout {
        options.timeout = Some(dsc_core::frontend::timeout(secs)?);
    }
    let file = doc_args.path.clone().or_else(|| doc_args.file.clone());
    let package_path = file
        .as_deref()
        .filter(|f| *f != "-")
        .map(PathBuf::from)
        .filter(|p| dsc_core::package::run::is_package(p));
    let outcome = match &package_path {
        Some(pkg) => run_package(
            pkg,
            &args.trust,
            args.allow_unsigned,
            &options,
            &supplied,
            operation,
        )?,
        None => {
            let (text, root) = read_document(doc_args, file.as_deref())?;
            options.set_config_root(root);
            let engine = Engine::new(options);
            dsc_core::frontend::run_document(&engine, &text, &supplied, operation)?
        }
    };
    print_outcome(&outcome, doc_args.output)
}

/// Prints an outcome: its messages to stderr, its output to stdout; its status is the exit code.
pub fn print_outcome(outcome: &Outcome, format: Option<OutputFormat>) -> Result<(), Failure> {
    for m in &outcome.messages {
        print_message(m.clone());
    }
    match &outcome.output {
        Output::Value(v) => output::print_value(v, format)?,
        Output::Values(vs) => output::print_values(vs, format)?,
        Output::Nothing => {}
    }
    match outcome.status.message() {
        Some(message) => Err(Failure {
            code: outcome.status.code(),
            message,
        }),
        None => Ok(()),
    }
}

/// Runs a package (see `dsc_core::package::run::run_package`) with a progress bar while it is
/// verified, and makes Ctrl-C remove the unpacked files.
fn run_package(
    pkg: &std::path::Path,
    trust: &crate::package::TrustArgs,
    allow_unsigned: bool,
    options: &EngineOptions,
    parameters: &Map<String, Value>,
    operation: Operation,
) -> Result<Outcome, Failure> {
    let trust = dsc_core::package::run::Trust {
        keys: trust.keys()?,
        allow_unsigned,
    };
    let core = crate::core_dirs();
    let progress = crate::package::Progress::new(pkg, "verifying");
    let mut on_unpacked = |dir: &std::path::Path| {
        progress.finish(); // verified and unpacked: the run starts
        let dir = dir.to_path_buf();
        // Ctrl-C (and SIGTERM): remove the unpacked files, then exit as interrupted.
        let _ = ctrlc::set_handler(move || {
            let _ = std::fs::remove_dir_all(&dir);
            std::process::exit(130);
        });
    };
    let hooks = dsc_core::frontend::PackageHooks {
        progress: &mut |d, t| progress.update(d, t),
        unpacked: &mut on_unpacked,
    };
    Ok(dsc_core::frontend::run_package(
        options, pkg, &trust, &core, parameters, operation, hooks,
    )?)
}

/// The document text and the directory resources see as DSC_CONFIG_ROOT.
fn read_document(d: &DocArgs, file: Option<&str>) -> Result<(String, PathBuf), Failure> {
    let cwd = std::env::current_dir().unwrap_or_default();
    match (&d.input, file) {
        (Some(t), _) => Ok((t.clone(), cwd)),
        (None, Some("-")) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::from(Error::io("reading the document from stdin", e)))?;
            Ok((s, cwd))
        }
        (None, Some(f)) => {
            let path = std::path::absolute(f).unwrap_or_else(|_| PathBuf::from(f));
            let bytes = std::fs::read(&path)
                .map_err(|e| Failure::from(Error::io(format!("reading configuration '{f}'"), e)))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                invalid(
                    exit::PARSE_ERROR,
                    format!("configuration '{f}' is not valid UTF-8"),
                )
            })?;
            let root = path.parent().map(PathBuf::from).unwrap_or(cwd);
            Ok((text, root))
        }
        (None, None) => Err(crate::usage(
            "pass the configuration document with -f FILE, -f - for stdin, or -i TEXT",
        )),
    }
}
