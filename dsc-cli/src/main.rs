//! `traek`: run DSC v3 command resources from the command line.
//!
//! This crate only parses arguments, reads input, prints results and maps errors to exit codes;
//! everything else lives in `dsc-core`.
#![cfg_attr(not(test), no_main)]

mod agent;
mod config;
mod lazy;
mod mcp;
mod output;
mod package;
mod resource;
mod server;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use dsc_core::{EngineOptions, Error, ErrorClass, Level, Message};
use lazy::{LazyArgs, LazySubcommands};
use output::OutputFormat;
use std::io::IsTerminal;

/// Exit codes, as in Microsoft's dsc.
pub(crate) mod exit {
    pub const SUCCESS: u8 = 0;
    pub const INVALID_ARGS: u8 = 1;
    pub const RESOURCE_ERROR: u8 = 2;
    pub const PARSE_ERROR: u8 = 3;
    pub const INVALID_INPUT: u8 = 4;
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  invalid arguments
  2  resource or engine error
  3  JSON or YAML error (input that does not parse)
  4  invalid input (wrong shape, or does not match the resource's schema)
  7  resource type (or version) not found
  8  a Microsoft.DSC/Assertion in the configuration did not hold

Environment:
  DSC_RESOURCE_PATH  directories searched for resource manifests (instead of PATH)
  TRAEK_SERVER       pull server URL for 'traek server'
  TRAEK_ADMIN_TOKEN  admin API token for 'traek server'

'traek agent run --once' exits 0 when compliant, 2 on failure, 5 when not in desired state.";

#[derive(Parser, Debug)]
#[command(name = "traek", version, about = "Run DSC v3 command resources and configurations.", after_help = EXIT_CODES_HELP)]
struct Cli {
    /// Messages at or above this level are printed to stderr (and passed to resources as
    /// DSC_TRACE_LEVEL).
    /// [default: warn, or the settings' tracing.level]
    #[arg(short = 'l', long, global = true, value_parser = parse_level)]
    trace_level: Option<Level>,

    /// How messages on stderr look: `default` and `plaintext` are `LEVEL [type] text` lines,
    /// `json` one JSON object per line [default: default, or the settings' tracing.format].
    #[arg(long, global = true, value_enum)]
    trace_format: Option<TraceFormat>,

    /// Read no settings or policy file (also DSC_IGNORE_SETTINGS_FILE=1).
    #[arg(long, global = true)]
    ignore_settings_file: bool,

    /// Progress of long package work on stderr: `default` (a bar on a terminal), `none`, or
    /// `json` (one JSON object per update).
    #[arg(long, global = true, value_enum, default_value = "default")]
    progress_format: ProgressFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Discover and invoke resources.
    #[command(subcommand)]
    Resource(LazySubcommands<resource::ResourceCommand>),
    /// Print JSON Schemas of traek's own formats.
    #[command(subcommand)]
    Schema(LazySubcommands<SchemaCommand>),
    /// Run a configuration document or a .dscpkg package.
    Config(LazyArgs<config::ConfigArgs>),
    /// Build, sign, verify and inspect .dscpkg packages.
    #[command(subcommand)]
    Package(LazySubcommands<package::PackageCommand>),
    /// Administer a traek pull server (admin API).
    Server(LazyArgs<server::ServerArgs>),
    /// The pull agent for DSC v3 nodes: register, run cycles, show status.
    Agent(LazyArgs<agent::AgentArgs>),
    /// List the functions configuration expressions can call.
    #[command(subcommand)]
    Function(LazySubcommands<FunctionCommand>),
    /// Serve the Model Context Protocol on stdin/stdout (tools: list_dsc_resources,
    /// show_dsc_resource, invoke_dsc_resource, invoke_dsc_config, list_dsc_functions,
    /// invoke_dsc_function, invoke_dsc_expression, show_dsc_schema).
    Mcp,
    /// Print a shell completion script (e.g. `traek completer bash > /etc/bash_completion.d/traek`).
    Completer {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum FunctionCommand {
    /// List the functions (a table on a terminal, JSON Lines otherwise).
    List {
        /// Only functions whose name matches this pattern (case-insensitive; `*` and `?`).
        function_name: Option<String>,
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
}

#[derive(Subcommand, Debug)]
enum SchemaCommand {
    /// The JSON Schema of a resource manifest.
    ResourceManifest {
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// The JSON Schema of a configuration document.
    Configuration {
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// The JSON Schema of a .dscpkg package manifest.
    PackageManifest {
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TraceFormat {
    Default,
    Plaintext,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ProgressFormat {
    Default,
    None,
    Json,
}

/// The formats chosen on the command line (set once in `main`, read when printing).
static TRACE_FORMAT: std::sync::OnceLock<dsc_core::frontend::TraceFormat> =
    std::sync::OnceLock::new();
static CORE_DIRS: std::sync::OnceLock<Vec<std::path::PathBuf>> = std::sync::OnceLock::new();
static PROGRESS_FORMAT: std::sync::OnceLock<ProgressFormat> = std::sync::OnceLock::new();

pub(crate) fn progress_format() -> ProgressFormat {
    PROGRESS_FORMAT
        .get()
        .copied()
        .unwrap_or(ProgressFormat::Default)
}

fn parse_level(s: &str) -> Result<Level, String> {
    s.parse::<Level>().map_err(|e| e.to_string())
}

/// A failure with the exit code it maps to.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        classified(e.class(), e)
    }
}

impl From<dsc_core::frontend::FrontendError> for Failure {
    fn from(e: dsc_core::frontend::FrontendError) -> Self {
        classified(e.class(), e)
    }
}

/// A core error as the exit code of its class.
pub(crate) fn classified(class: ErrorClass, e: impl std::fmt::Display) -> Failure {
    Failure {
        code: class.code(),
        message: e.to_string(),
    }
}

pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: exit::INVALID_ARGS,
        message: message.into(),
    }
}

/// Parses the command line. The parser's command tree is left to the OS, which frees it at
/// exit at once, where dropping it piece by piece costs more than parsing.
fn parse_cli() -> Result<Cli, clap::Error> {
    let mut command = std::mem::ManuallyDrop::new(Cli::command());
    let mut matches =
        std::mem::ManuallyDrop::new(command.try_get_matches_from_mut(std::env::args_os())?);
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut command))
}

/// The process entry point, called by the C runtime. The Rust runtime's own start-up is left
/// out: it reads `/proc/self/maps` and sets up a signal stack to report stack overflows, which
/// is a tenth of what a `traek resource get` costs. What of it traek relies on is done here.
#[cfg_attr(not(test), unsafe(no_mangle))]
#[cfg_attr(test, allow(dead_code))]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // Writing to a closed pipe is an error that output handles, not a signal that kills.
    // SAFETY: setting a signal's disposition to SIG_IGN involves no handler and no memory.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let code = run_main();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::ffi::c_int::from(code)
}

fn run_main() -> u8 {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::INVALID_ARGS
            } else {
                exit::SUCCESS
            };
        }
    };
    let _ = PROGRESS_FORMAT.set(cli.progress_format);
    match run(cli) {
        Ok(()) => exit::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
            }
            f.code
        }
    }
}

/// Directories of core resources for packages that allow them (set once in `main`).
pub(crate) fn core_dirs() -> Vec<std::path::PathBuf> {
    CORE_DIRS.get().cloned().unwrap_or_default()
}

/// Prints each message to stderr as it happens.
pub(crate) fn print_message(m: Message) {
    if TRACE_FORMAT.get() == Some(&dsc_core::frontend::TraceFormat::Json) {
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let line = serde_json::json!({
            "timestamp": timestamp,
            "level": m.level.as_str().to_uppercase(),
            "fields": {"message": m.message},
            "target": m.resource_type.as_deref().unwrap_or("traek"),
        });
        eprintln!("{line}");
        return;
    }
    let level = m.level.as_str().to_uppercase();
    match &m.resource_type {
        Some(t) => eprintln!("{level:<5} [{t}] {}", m.message),
        None => eprintln!("{level:<5} {}", m.message),
    }
}

/// Engine options from the settings and policy files, the environment and the command line
/// (see `dsc_core::frontend::setup`); settings problems are printed as warnings.
fn engine_options(cli: &Cli) -> Result<EngineOptions, Failure> {
    use dsc_core::frontend::{SetupRequest, setup};
    let request = SetupRequest {
        ignore_settings_file: cli.ignore_settings_file,
        trace_level: cli.trace_level,
        trace_format: cli.trace_format.map(|f| {
            match f {
                TraceFormat::Default => "default",
                TraceFormat::Plaintext => "plaintext",
                TraceFormat::Json => "json",
            }
            .to_string()
        }),
        ..SetupRequest::for_this_process()
    };
    let set_up =
        setup(&request, &dsc_core::settings::EnvValues::from_process()).map_err(Failure::from)?;
    let _ = TRACE_FORMAT.set(set_up.trace_format);
    let _ = CORE_DIRS.set(set_up.core_dirs);
    for w in set_up.warnings {
        if Level::Warn.enabled_at(set_up.options.trace_level) {
            print_message(Message::engine(Level::Warn, w));
        }
    }
    Ok(set_up.options)
}

fn run(cli: Cli) -> Result<(), Failure> {
    let options = engine_options(&cli)?;
    match cli.command {
        Command::Schema(LazySubcommands(which)) => {
            let (name, output) = match which {
                SchemaCommand::ResourceManifest { output } => ("resource-manifest", output),
                SchemaCommand::Configuration { output } => ("configuration", output),
                SchemaCommand::PackageManifest { output } => ("package-manifest", output),
            };
            let schema = dsc_core::frontend::schema(name)
                .ok_or_else(|| usage(format!("no schema named '{name}'")))?;
            output::print_value(&schema, output)
        }
        Command::Resource(LazySubcommands(cmd)) => resource::run(cmd, options),
        Command::Config(LazyArgs(args)) => config::run_config(args, options),
        Command::Package(LazySubcommands(cmd)) => package::run(cmd),
        Command::Server(LazyArgs(args)) => server::run(args),
        Command::Agent(LazyArgs(args)) => agent::run(args, options),
        Command::Function(LazySubcommands(FunctionCommand::List {
            function_name,
            output,
        })) => {
            let pattern = function_name.map(|p| p.to_lowercase());
            let functions: Vec<_> = dsc_core::expr::functions::FUNCTIONS
                .iter()
                .filter(|f| {
                    pattern.as_deref().is_none_or(|p| {
                        dsc_core::discovery::wildcard_match(p, &f.name.to_lowercase())
                    })
                })
                .collect();
            output::print_function_list(&functions, output)
        }
        Command::Mcp => mcp::serve(options),
        Command::Completer { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            lazy::build_eagerly();
            clap_complete::generate(shell, &mut Cli::command(), "traek", &mut script);
            output::print_text(String::from_utf8_lossy(&script).trim_end())
        }
    }
}

/// Whether stdout is a terminal (chooses the default output format).
fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

#[cfg(test)]
mod tests {
    /// traek links GCC's unwinder statically (`build.rs`); a panic must still unwind, as
    /// discovery relies on when a reading thread fails.
    #[test]
    fn a_panicking_thread_unwinds_and_its_caller_carries_on() {
        let worker = std::thread::spawn(|| {
            let empty: Vec<u8> = Vec::new();
            empty[std::hint::black_box(3)]
        });
        assert!(worker.join().is_err());
        let trace = std::backtrace::Backtrace::force_capture().to_string();
        assert!(trace.lines().count() > 2, "{trace}");
    }
}
