//! `traek resource list|get|set|test|delete|export|schema`: arguments, input reading, and the
//! calls into the engine (built-in group types go through a configuration run).

use crate::output::{self, OutputFormat};
use crate::{Failure, config, exit, print_message, usage};
use clap::{Args, Subcommand};
use dsc_core::frontend::{FrontendError, ResourceOp, invoke_resource};
use dsc_core::{Engine, EngineOptions, Error};
use serde_json::Value;
use std::io::Read;

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

#[derive(Args, Debug, Clone)]
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
    let (selector, op, input) = match cmd {
        ResourceCommand::List {
            type_filter,
            adapter,
            description,
            tags,
            output,
        } => {
            let filter = dsc_core::discovery::ResourceFilter {
                type_pattern: type_filter,
                description,
                tags,
            };
            // The process ends after printing: the engine and the list are left to the OS,
            // which frees them at once, where dropping every manifest one by one would cost
            // a tenth of the listing.
            let engine = std::mem::ManuallyDrop::new(Engine::new(options));
            let resources = engine.list_resources(adapter.as_deref(), &filter, sink);
            let printed = output::print_resource_list(&resources, output);
            std::mem::forget(resources);
            return printed;
        }
        ResourceCommand::Get(g) if g.all => (g.op.selector, ResourceOp::GetAll, None),
        ResourceCommand::Get(g) => (g.op.selector.clone(), ResourceOp::Get, read_input(&g.op)?),
        ResourceCommand::Test(o) => (o.selector.clone(), ResourceOp::Test, read_input(&o)?),
        ResourceCommand::Export(o) => (o.selector.clone(), ResourceOp::Export, read_input(&o)?),
        ResourceCommand::Set(w) => {
            let op = ResourceOp::Set { what_if: w.what_if };
            (w.op.selector.clone(), op, read_input(&w.op)?)
        }
        ResourceCommand::Delete(w) => {
            let op = ResourceOp::Delete { what_if: w.what_if };
            (w.op.selector.clone(), op, read_input(&w.op)?)
        }
        ResourceCommand::Schema(s) => (s, ResourceOp::Schema, None),
    };
    if let Some(secs) = selector.timeout {
        options.timeout = Some(dsc_core::frontend::timeout(secs)?);
    }
    // Left to the OS when the process ends, as in `resource list`.
    let engine = std::mem::ManuallyDrop::new(Engine::new(options));
    let outcome = invoke_resource(
        &engine,
        &selector.resource,
        selector.version.as_deref(),
        op,
        input,
        sink,
    )
    .map_err(|e| match e {
        FrontendError::MissingInput { operation } => usage(format!(
            "'resource {operation}' needs the instance: pass it with -i JSON, -f FILE, or -f - for stdin"
        )),
        other => Failure::from(other),
    })?;
    config::print_outcome(&outcome, selector.output)
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
