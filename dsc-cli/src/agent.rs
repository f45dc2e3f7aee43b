//! `traek agent`: the pull agent for DSC v3 nodes. A thin frontend over `dsc_core::agent`: it
//! parses arguments, schedules cycles (interval ± 10 % jitter), handles signals (SIGTERM and
//! SIGINT finish the running cycle and exit; SIGHUP re-reads the settings) and prints.

use crate::output::{self, OutputFormat};
use crate::{Failure, exit};
use clap::{Args, Subcommand};
use dsc_core::EngineOptions;
use dsc_core::agent::cycle::{CycleOptions, CycleReport, State, run_cycle};
use dsc_core::agent::queue::Queue;
use dsc_core::agent::store::{StateDir, default_state_dir};
use dsc_core::agent::{AgentError, Mode, RegisterOptions, Settings, register};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Args, Debug, Clone)]
struct DirArg {
    /// The agent's state directory [default: /var/lib/traek-agent as root, else
    /// $XDG_STATE_HOME/traek-agent].
    #[arg(long, value_name = "DIR", env = "TRAEK_AGENT_STATE_DIR")]
    state_dir: Option<PathBuf>,
}

impl DirArg {
    fn dir(&self) -> StateDir {
        StateDir::new(&self.state_dir.clone().unwrap_or_else(default_state_dir))
    }
}

#[derive(Subcommand, Debug)]
enum AgentCommand {
    /// Register with a pull server and save the agent's settings.
    Register {
        /// The pull server's URL (its LCM ServerURL, e.g. https://pull:8080/PSDSCPullServer.svc).
        #[arg(long)]
        server: String,
        /// A registration key of the server.
        #[arg(long, env = "TRAEK_REGISTRATION_KEY", hide_env_values = true)]
        registration_key: String,
        /// A configuration name to pull (repeatable: several make partial configurations).
        #[arg(long = "configuration-name", value_name = "NAME", required = true)]
        configuration_name: Vec<String>,
        /// A trusted public key (PEM) whose signature makes a package trusted; repeatable.
        #[arg(long = "trusted-key", value_name = "FILE")]
        trusted_key: Vec<PathBuf>,
        /// A directory of trusted public keys.
        #[arg(long = "trusted-keys", value_name = "DIR")]
        trusted_keys: Option<PathBuf>,
        /// monitor: test and report only; apply: apply each new package once; autocorrect:
        /// apply whenever the node drifted.
        #[arg(long, default_value = "apply", value_parser = ["monitor", "apply", "autocorrect"])]
        mode: String,
        /// Time between cycles (e.g. 30m, 1h).
        #[arg(long, default_value = "30m")]
        interval: String,
        /// A private CA's PEM certificate for an HTTPS server [default: the system's roots].
        #[arg(long, value_name = "FILE")]
        server_ca: Option<PathBuf>,
        /// Accept a plain http:// server (the registration key, reports and the agent's
        /// identity then cross the network unencrypted; packages are still verified).
        #[arg(long)]
        allow_http: bool,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Run cycles: pull, verify, test, apply as the mode says, report.
    Run {
        /// Run one cycle and exit: 0 compliant, 2 failure, 5 not in desired state.
        #[arg(long)]
        once: bool,
        /// Print the full cycle result in this format instead of a one-line summary.
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
        /// Time allowed to each resource operation, in seconds.
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Show the agent's settings, its last cycle and the reports waiting to be sent.
    Status {
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
        #[command(flatten)]
        dir: DirArg,
    },
}

fn agent_failure(e: AgentError) -> Failure {
    let code = match e {
        AgentError::Settings(_) | AgentError::NotRegistered(_) => exit::INVALID_ARGS,
        _ => exit::RESOURCE_ERROR,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

pub fn run(args: AgentArgs, engine: EngineOptions) -> Result<(), Failure> {
    match args.command {
        AgentCommand::Register {
            server,
            registration_key,
            configuration_name,
            trusted_key,
            trusted_keys,
            mode,
            interval,
            server_ca,
            allow_http,
            dir,
        } => {
            let interval = humantime_secs(&interval)?;
            let options = RegisterOptions {
                server,
                registration_key,
                configuration_names: configuration_name,
                trusted_keys: trusted_key,
                trusted_keys_dir: trusted_keys,
                mode: Mode::parse(&mode).map_err(agent_failure)?,
                interval_secs: interval,
                server_ca,
                allow_http,
            };
            let dir = dir.dir();
            let s = register(&dir, options).map_err(agent_failure)?;
            output::print_text(&format!(
                "registered agent {} with {} (state in {})\n",
                s.agent_id,
                s.server,
                dir.root.display()
            ))
        }
        AgentCommand::Run {
            once,
            output,
            timeout,
            dir,
        } => {
            let mut engine = engine;
            engine.timeout = timeout.map(Duration::from_secs);
            let options = CycleOptions {
                engine,
                core_dirs: crate::core_dirs(),
            };
            let dir = dir.dir();
            if once {
                let report = run_cycle(&dir, &options).map_err(agent_failure)?;
                show(&report, output)?;
                return match report.outcome.exit_code() {
                    0 => Ok(()),
                    code => Err(Failure {
                        code,
                        message: String::new(),
                    }),
                };
            }
            run_loop(&dir, &options, output)
        }
        AgentCommand::Status { output, dir } => status(&dir.dir(), output),
    }
}

fn humantime_secs(text: &str) -> Result<u64, Failure> {
    dsc_core::agent::parse_interval(text).map_err(agent_failure)
}

fn show(report: &CycleReport, format: Option<OutputFormat>) -> Result<(), Failure> {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    match format {
        Some(f) => output::print_serialize(report, Some(f)),
        None => output::print_text(&format!("{}\n", report.summary())),
    }
}

/// Cycles until SIGTERM/SIGINT; SIGHUP re-reads the settings (the interval among them).
fn run_loop(
    dir: &StateDir,
    options: &CycleOptions,
    format: Option<OutputFormat>,
) -> Result<(), Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| Failure {
            code: exit::RESOURCE_ERROR,
            message: format!("installing signal handlers: {e}"),
        })?;
    }
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload));
    let mut settings = Settings::load(dir).map_err(agent_failure)?;
    while !stop.load(Ordering::Relaxed) {
        match run_cycle(dir, options) {
            Ok(report) => show(&report, format)?,
            Err(e) => eprintln!("error: {e}"),
        }
        let wait = jittered(Duration::from_secs(settings.interval_secs));
        let until = Instant::now() + wait;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            if reload.swap(false, Ordering::Relaxed) {
                match Settings::load(dir) {
                    Ok(s) => {
                        settings = s;
                        eprintln!("settings reloaded");
                    }
                    Err(e) => eprintln!("error: reloading settings: {e}"),
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(100).min(until - Instant::now().min(until)));
        }
    }
    Ok(())
}

/// `base` ± 10 %, so a fleet started together spreads its requests.
fn jittered(base: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom_fill(&mut b);
    let r = u16::from_le_bytes(b) as f64 / u16::MAX as f64; // 0..1
    base.mul_f64(0.9 + 0.2 * r)
}

fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

fn status(dir: &StateDir, format: Option<OutputFormat>) -> Result<(), Failure> {
    let settings = Settings::load(dir).map_err(agent_failure)?;
    let state = State::load(dir).map_err(agent_failure)?;
    let queued = Queue::new(&dir.queue()).len();
    let value = serde_json::json!({
        "agentId": settings.agent_id,
        "server": settings.server,
        "configurationNames": settings.configuration_names,
        "mode": settings.mode,
        "intervalSeconds": settings.interval_secs,
        "stateDir": dir.root,
        "packages": state.packages,
        "lastCycle": state.last_cycle,
        "queuedReports": queued,
    });
    if format.is_some() {
        return output::print_value(&value, format);
    }
    let mut text = format!(
        "agent:     {}\nserver:    {}\nmode:      {} every {}s\nqueued:    {queued} report(s)\n",
        settings.agent_id,
        settings.server,
        settings.mode.as_str(),
        settings.interval_secs
    );
    for (name, p) in &state.packages {
        text.push_str(&format!(
            "package:   {name} {} {} (signed by {})\n",
            p.version.as_deref().unwrap_or("(no version)"),
            p.checksum,
            p.key_ids.join(", ")
        ));
    }
    match &state.last_cycle {
        None => text.push_str("last cycle: none yet\n"),
        Some(c) => {
            text.push_str(&format!("last cycle: {} ({})\n", c.finished, c.summary()));
            for r in &c.resources {
                let mark = if r.in_desired_state { "ok " } else { "NOT" };
                let err = r
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                text.push_str(&format!("  {mark} {} [{}]{err}\n", r.name, r.type_name));
            }
        }
    }
    output::print_text(&text)
}
