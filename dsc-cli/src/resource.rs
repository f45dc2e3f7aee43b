//! `traek resource list|get|set|test|delete|export|schema`: arguments, input reading, and the
//! calls into the engine (built-in group types go through a configuration run).

use crate::output::{self, OutputFormat};
use crate::{Failure, config, exit, print_message, usage};
use clap::{Args, Subcommand};
use dsc_core::manifest::VersionReq;
use dsc_core::{Engine, EngineOptions, Error};
use serde_json::Value;
use std::io::Read;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum ResourceCommand {
    /// List the resources found on DSC_RESOURCE_PATH (or PATH): a table on a terminal, JSON
    /// Lines otherwise.
    List {
        /// Only types matching this pattern (case-insensitive; `*` and `?` are wildcards).
        type_filter: Option<String>,
        /// List the resources of the adapters matching this pattern (running their `list`
        /// operation; the answer is cached until the adapter's manifest changes).
        #[arg(short = 'a', long = "adapter")]
        adapter: Option<String>,
        /// Only resources whose description contains this text (case-insensitive).
        #[arg(short = 'd', long = "description")]
        description: Option<String>,
        /// Only resources with one of these tags (case-insensitive; repeat or comma-separate).
        #[arg(short = 't', long = "tags", value_delimiter = ',')]
        tags: Vec<String>,
        #[arg(short, long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Get the actual state of an instance (or, with --all, of every instance).
    Get(GetOperation),
    /// Set an instance to the desired state.
    Set(WhatIfOperation),
    /// Test whether an instance is in the desired state.
    Test(Operation),
    /// Delete an instance.
    Delete(WhatIfOperation),
    /// Export every instance, as a configuration document.
    Export(Operation),
    /// Print the instance JSON Schema of a resource.
    Schema(Selector),
}

#[derive(Args, Debug)]
pub struct Selector {
    /// The resource type, like Microsoft/OSInfo (case-insensitive).
    #[arg(short = 'r', long = "resource")]
    resource: String,
    /// A version requirement: `=1.1.2`, `>=1.1,<2`, `^2` (default: the newest version).
    #[arg(short = 'v', long = "version")]
    version: Option<String>,
    /// Output format [default: yaml on a terminal, json otherwise].
    #[arg(short, long, value_enum)]
    output: Option<OutputFormat>,
    /// Kill the resource (and its child processes) after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
}

#[derive(Args, Debug)]
pub struct Operation {
    #[command(flatten)]
    selector: Selector,
    /// The instance as JSON or YAML text.
    #[arg(short = 'i', long = "input", conflicts_with = "file")]
    input: Option<String>,
    /// Read the instance (JSON or YAML) from a file, or from stdin with `-`.
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
}

#[derive(Args, Debug)]
pub struct GetOperation {
    #[command(flatten)]
    op: Operation,
    /// Get every instance (through the resource's export), one result per instance.
    #[arg(long, conflicts_with_all = ["input", "file"])]
    all: bool,
}

#[derive(Args, Debug)]
pub struct WhatIfOperation {
    #[command(flatten)]
    op: Operation,
    /// Show what would change without changing anything.
    #[arg(short = 'w', long = "what-if", visible_aliases = ["dry-run", "noop"])]
    what_if: bool,
}

pub fn run(cmd: ResourceCommand, mut options: EngineOptions) -> Result<(), Failure> {
    let sink = &mut print_message;
    if let ResourceCommand::List {
        type_filter,
        adapter,
        description,
        tags,
        output,
    } = cmd
    {
        let engine = Engine::new(options);
        let mut resources = match &adapter {
            Some(a) => engine.adapted_resources(Some(a), sink),
            None => engine.registry(sink).list(None),
        };
        let filter = dsc_core::discovery::ResourceFilter {
            type_pattern: type_filter,
            description,
            tags,
        };
        resources.retain(|r| filter.matches(r));
        return output::print_resource_list(&resources, output);
    }
    let selector = match &cmd {
        ResourceCommand::Get(g) => &g.op.selector,
        ResourceCommand::Test(o) | ResourceCommand::Export(o) => &o.selector,
        ResourceCommand::Set(w) | ResourceCommand::Delete(w) => &w.op.selector,
        ResourceCommand::Schema(s) => s,
        ResourceCommand::List { .. } => unreachable!("handled above"),
    };
    if let Some(secs) = selector.timeout {
        if !(secs.is_finite() && secs > 0.0) {
            return Err(usage(format!(
                "--timeout must be a positive number of seconds, not {secs}"
            )));
        }
        options.timeout = Some(Duration::from_secs_f64(secs));
    }
    let version = selector
        .version
        .as_deref()
        .map(VersionReq::parse)
        .transpose()
        .map_err(usage)?;
    let format = selector.output;
    let engine = Engine::new(options);
    let r = engine.find(&selector.resource, version.as_ref(), sink)?;
    if r.builtin {
        return run_builtin(&engine, &r.type_name, cmd);
    }
    match cmd {
        ResourceCommand::Get(g) if g.all => {
            let all = engine.export(&r, None, sink)?;
            let results: Vec<Value> = all
                .actual_state
                .into_iter()
                .map(|s| serde_json::json!({"actualState": s}))
                .collect();
            output::print_values(&results, format)
        }
        ResourceCommand::Get(g) => {
            let input = read_input(&g.op)?;
            let result = engine.get(&r, input.as_ref(), sink)?;
            output::print_serialize(&result, format)
        }
        ResourceCommand::Test(o) => {
            let input = required_input(&o, "test")?;
            let result = engine.test(&r, &input, sink)?;
            output::print_serialize(&result, format)
        }
        ResourceCommand::Set(w) => {
            let input = required_input(&w.op, "set")?;
            let result = engine.set(&r, &input, w.what_if, sink)?;
            output::print_serialize(&result, format)
        }
        ResourceCommand::Delete(w) => {
            let input = required_input(&w.op, "delete")?;
            match engine.delete(&r, &input, w.what_if, sink)? {
                Some(what_if) => output::print_serialize(&what_if, format),
                None => Ok(()),
            }
        }
        ResourceCommand::Export(o) => {
            let input = read_input(&o)?;
            let doc = engine.export_configuration(&r, input.as_ref(), sink)?;
            output::print_value(&doc, format)
        }
        ResourceCommand::Schema(_) => output::print_value(&engine.schema(&r, sink)?, format),
        ResourceCommand::List { .. } => unreachable!("handled above"),
    }
}

/// `resource get|set|test|export -r Microsoft.DSC/Group` (or Assertion, Include): run through a
/// configuration run; prints the nested results.
fn run_builtin(engine: &Engine, type_name: &str, cmd: ResourceCommand) -> Result<(), Failure> {
    use dsc_core::config::run::{Operation as Op, RunError, run_builtin_resource};
    let (op, operation) = match &cmd {
        ResourceCommand::Get(g) => (&g.op, Op::Get),
        ResourceCommand::Test(o) => (o, Op::Test),
        ResourceCommand::Set(w) => (&w.op, Op::Set { what_if: w.what_if }),
        ResourceCommand::Export(o) => (o, Op::Export),
        _ => {
            return Err(usage(format!(
                "'{type_name}' supports get, set, test and export"
            )));
        }
    };
    let input = read_input(op)?.unwrap_or_else(|| serde_json::json!({}));
    let result = run_builtin_resource(engine, type_name, &input, operation)
        .unwrap_or_else(|| {
            Err(RunError::Expression(format!(
                "'{type_name}' is not built in"
            )))
        })
        .map_err(config::run_failure)?;
    config::print_run(&result, &result.single_result(), op.selector.output)?;
    config::run_status(&result)
}

fn required_input(o: &Operation, operation: &str) -> Result<Value, Failure> {
    read_input(o)?.ok_or_else(|| usage(format!("'resource {operation}' needs the instance: pass it with -i JSON, -f FILE, or -f - for stdin")))
}

/// Reads the instance from `-i` or `-f` and parses it as JSON or YAML.
fn read_input(o: &Operation) -> Result<Option<Value>, Failure> {
    let (text, origin) = match (&o.input, &o.file) {
        (Some(t), _) => (t.clone(), "input (-i)".to_string()),
        (None, Some(f)) if f == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::from(Error::io("reading the input from stdin", e)))?;
            (s, "input from stdin".to_string())
        }
        (None, Some(f)) => {
            let bytes = std::fs::read(f)
                .map_err(|e| Failure::from(Error::io(format!("reading input file '{f}'"), e)))?;
            let s = String::from_utf8(bytes).map_err(|_| Failure {
                code: exit::PARSE_ERROR,
                message: format!("input file '{f}' is not valid UTF-8"),
            })?;
            (s, format!("input file '{f}'"))
        }
        (None, None) => return Ok(None),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let (value, _) = dsc_core::text::parse_json_or_yaml(&text).map_err(|e| {
        Failure::from(Error::Parse {
            what: origin,
            reason: e.message,
        })
    })?;
    Ok(Some(value))
}
