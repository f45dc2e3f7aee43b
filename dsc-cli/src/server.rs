//! `traek server ...`: administer a traek pull server through its admin API.

use crate::output::{self, OutputFormat, render_table};
use crate::{Failure, exit};
use clap::{Args, Subcommand};
use dsc_core::pull::admin_client::{AdminClient, AdminError, segment};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Base URL of the pull server (e.g. http://127.0.0.1:8080).
    #[arg(long, env = "TRAEK_SERVER", global = true)]
    server: Option<String>,
    /// Admin API token.
    #[arg(long, env = "TRAEK_ADMIN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// PEM certificate of a private CA that signed an HTTPS server's certificate.
    #[arg(long, env = "TRAEK_SERVER_CA", global = true, value_name = "FILE")]
    server_ca: Option<std::path::PathBuf>,
    /// Output format [default: a table].
    #[arg(short, long, value_enum, global = true)]
    output: Option<OutputFormat>,
    #[command(subcommand)]
    command: ServerCommand,
}

#[derive(Subcommand, Debug)]
enum ServerCommand {
    /// Publish a configuration (a compiled MOF) under a name.
    PublishConfig {
        name: String,
        file: std::path::PathBuf,
    },
    /// Publish a signed .dscpkg package under a configuration name; traek agents get it, WMF
    /// LCMs keep getting the MOF of the same name.
    PublishPackage {
        name: String,
        file: std::path::PathBuf,
    },
    /// Publish a module zip.
    PublishModule {
        name: String,
        version: String,
        file: std::path::PathBuf,
    },
    /// List registered nodes.
    Nodes {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this agent id (the previous page's last).
        #[arg(long)]
        after: Option<String>,
    },
    /// Assign configuration names to a node (they take precedence over the names it registered).
    Assign {
        agent_id: String,
        names: Vec<String>,
        /// Remove the assignment instead (back to the registered names).
        #[arg(long, conflicts_with = "names")]
        clear: bool,
    },
    /// Query reports.
    Reports {
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        status: Option<String>,
        /// Received at or after (Unix seconds).
        #[arg(long)]
        since: Option<i64>,
        #[arg(long)]
        until: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Manage registration keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    List,
    /// Add a key (a new random one when none is given).
    Add {
        key: Option<String>,
    },
    /// Revoke a key by id (or by the key itself).
    Revoke {
        id: String,
    },
}

fn failure(e: AdminError) -> Failure {
    let code = match e {
        AdminError::Status {
            status: 400..=499, ..
        } => exit::INVALID_INPUT,
        _ => exit::RESOURCE_ERROR,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure {
        code: exit::INVALID_ARGS,
        message: format!("reading '{}': {e}", path.display()),
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(s).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

pub fn run(args: ServerArgs) -> Result<(), Failure> {
    let server = args
        .server
        .ok_or_else(|| crate::usage("pass the server URL with --server URL (or TRAEK_SERVER)"))?;
    let token = args.token.ok_or_else(|| {
        crate::usage("pass the admin token with --token T (or TRAEK_ADMIN_TOKEN)")
    })?;
    let client = match &args.server_ca {
        None => AdminClient::new(&server, &token),
        Some(ca) => AdminClient::with_ca(&server, &token, read_file(ca)?).map_err(failure)?,
    };
    let format = args.output;
    let show = |value: &Value, header: &[&str], rows: Vec<Vec<String>>| -> Result<(), Failure> {
        match format {
            Some(f) => output::print_value(value, Some(f)),
            None => output::print_text(&render_table(header, &rows)),
        }
    };
    match args.command {
        ServerCommand::PublishConfig { name, file } => {
            let v = client
                .publish_configuration(&name, read_file(&file)?)
                .map_err(failure)?;
            show(
                &v,
                &["Configuration", "Checksum", "Size"],
                vec![vec![s(&v["name"]), s(&v["checksum"]), s(&v["size"])]],
            )
        }
        ServerCommand::PublishPackage { name, file } => {
            let v = client
                .publish_package(&name, read_file(&file)?)
                .map_err(failure)?;
            let signers = v["signers"]
                .as_array()
                .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            show(
                &v,
                &["Package", "Checksum", "Size", "Signed by"],
                vec![vec![
                    s(&v["name"]),
                    s(&v["checksum"]),
                    s(&v["size"]),
                    signers,
                ]],
            )
        }
        ServerCommand::PublishModule {
            name,
            version,
            file,
        } => {
            let v = client
                .publish_module(&name, &version, read_file(&file)?)
                .map_err(failure)?;
            show(
                &v,
                &["Module", "Version", "Checksum", "Size"],
                vec![vec![
                    s(&v["name"]),
                    s(&v["version"]),
                    s(&v["checksum"]),
                    s(&v["size"]),
                ]],
            )
        }
        ServerCommand::Nodes { limit, after } => {
            let v = client.nodes(limit, after.as_deref()).map_err(failure)?;
            let rows = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    let names = if n["assignedNames"].is_null() {
                        s(&n["registeredNames"])
                    } else {
                        format!("{} (assigned)", s(&n["assignedNames"]))
                    };
                    vec![
                        s(&n["agentId"]),
                        s(&n["nodeName"]),
                        s(&n["ipAddresses"]),
                        names,
                        s(&n["lastSeen"]),
                        s(&n["lastReportStatus"]),
                    ]
                })
                .collect();
            show(
                &v,
                &[
                    "AgentId",
                    "Node",
                    "Addresses",
                    "Configurations",
                    "LastSeen",
                    "LastStatus",
                ],
                rows,
            )
        }
        ServerCommand::Assign {
            agent_id,
            names,
            clear,
        } => {
            if !clear && names.is_empty() {
                return Err(crate::usage(
                    "name at least one configuration, or pass --clear",
                ));
            }
            let v = client
                .assign(&agent_id, if clear { None } else { Some(&names) })
                .map_err(failure)?;
            let shown = if clear {
                "(registered names)".to_string()
            } else {
                names.join(",")
            };
            show(
                &v,
                &["AgentId", "Configurations"],
                vec![vec![agent_id, shown]],
            )
        }
        ServerCommand::Reports {
            agent,
            status,
            since,
            until,
            limit,
        } => {
            let mut q = format!("limit={limit}");
            if let Some(a) = agent {
                q.push_str(&format!("&agent={}", segment(&a)));
            }
            if let Some(st) = status {
                q.push_str(&format!("&status={}", segment(&st)));
            }
            if let Some(x) = since {
                q.push_str(&format!("&since={x}"));
            }
            if let Some(x) = until {
                q.push_str(&format!("&until={x}"));
            }
            let v = client.reports(&q).map_err(failure)?;
            let rows = v["reports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    vec![
                        s(&r["id"]),
                        s(&r["agentId"]),
                        s(&r["jobId"]),
                        s(&r["operationType"]),
                        s(&r["status"]),
                        s(&r["receivedAt"]),
                        s(&r["firstError"]),
                    ]
                })
                .collect();
            show(
                &v,
                &[
                    "Id",
                    "AgentId",
                    "JobId",
                    "Operation",
                    "Status",
                    "Received",
                    "Error",
                ],
                rows,
            )
        }
        ServerCommand::Keys(k) => {
            let v = match k {
                KeysCommand::List => client.keys(),
                KeysCommand::Add { key } => client.add_key(key.as_deref()),
                KeysCommand::Revoke { id } => client
                    .revoke_key(&id)
                    .map(|_| serde_json::json!({"revoked": id})),
            }
            .map_err(failure)?;
            let rows = match (&v["keys"], &v["revoked"]) {
                (Value::Array(keys), _) => keys
                    .iter()
                    .map(|k| vec![s(&k["id"]), s(&k["key"])])
                    .collect(),
                (_, Value::String(id)) => vec![vec![id.clone(), "(revoked)".to_string()]],
                _ => vec![vec![s(&v["id"]), s(&v["key"])]],
            };
            show(&v, &["Id", "Key"], rows)
        }
    }
}
