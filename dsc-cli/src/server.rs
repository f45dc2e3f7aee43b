//! `traek server ...`: administer a traek pull server through its admin API.

use crate::output::{self, OutputFormat, render_table};
use crate::{Failure, exit};
use clap::{Args, Subcommand};
use dsc_core::pull::admin_client::{AdminClient, AdminError};
use dsc_core::pull::api::{ContentMeta, NewKey, NodeList, ReportList, ReportQuery};
use serde::Serialize;

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

fn list(items: &[String]) -> String {
    items.join(",")
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

/// How `traek server` prints an answer: the typed value in the chosen format, else a table.
struct Show(Option<OutputFormat>);

impl Show {
    fn print<T: Serialize>(
        &self,
        value: &T,
        header: &[&str],
        rows: Vec<Vec<String>>,
    ) -> Result<(), Failure> {
        match self.0 {
            Some(f) => output::print_serialize(value, Some(f)),
            None => output::print_text(&render_table(header, &rows)),
        }
    }

    fn content(&self, c: &ContentMeta, kind: &str) -> Result<(), Failure> {
        let mut header = vec![kind];
        let mut row = vec![c.name.clone()];
        if let Some(v) = &c.version {
            header.push("Version");
            row.push(v.clone());
        }
        header.extend(["Checksum", "Size"]);
        row.extend([c.checksum.clone(), c.size.to_string()]);
        if kind == "Package" {
            header.push("Signed by");
            row.push(c.signers.join(", "));
        }
        self.print(c, &header, vec![row])
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
    let show = Show(args.output);
    match args.command {
        ServerCommand::PublishConfig { name, file } => {
            let c = client.publish_configuration(&name, read_file(&file)?);
            show.content(&c.map_err(failure)?, "Configuration")
        }
        ServerCommand::PublishPackage { name, file } => {
            let c = client.publish_package(&name, read_file(&file)?);
            show.content(&c.map_err(failure)?, "Package")
        }
        ServerCommand::PublishModule {
            name,
            version,
            file,
        } => {
            let c = client.publish_module(&name, &version, read_file(&file)?);
            show.content(&c.map_err(failure)?, "Module")
        }
        ServerCommand::Nodes { limit, after } => {
            let page = client.nodes(limit, after.as_deref()).map_err(failure)?;
            nodes(&show, &page)
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
            let a = client
                .assign(&agent_id, (!clear).then_some(names.as_slice()))
                .map_err(failure)?;
            let shown = match &a.assigned_names {
                Some(n) => list(n),
                None => "(registered names)".to_string(),
            };
            let row = vec![a.agent_id.to_string(), shown];
            show.print(&a, &["AgentId", "Configurations"], vec![row])
        }
        ServerCommand::Reports {
            agent,
            status,
            since,
            until,
            limit,
        } => {
            let query = ReportQuery {
                agent,
                status,
                since,
                until,
                limit,
            };
            let page = client.reports(&query).map_err(failure)?;
            reports(&show, &page)
        }
        ServerCommand::Keys(k) => keys(&client, &show, k),
    }
}

fn nodes(show: &Show, page: &NodeList) -> Result<(), Failure> {
    let rows = page
        .nodes
        .iter()
        .map(|n| {
            let names = match &n.assigned_names {
                Some(a) => format!("{} (assigned)", list(a)),
                None => list(&n.registered_names),
            };
            vec![
                n.agent_id.to_string(),
                opt(&n.node_name),
                list(&n.ip_addresses),
                names,
                opt(&n.last_seen),
                opt(&n.last_report_status),
            ]
        })
        .collect();
    let header = [
        "AgentId",
        "Node",
        "Addresses",
        "Configurations",
        "LastSeen",
        "LastStatus",
    ];
    show.print(page, &header, rows)
}

fn reports(show: &Show, page: &ReportList) -> Result<(), Failure> {
    let rows = page
        .reports
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.agent_id.to_string(),
                r.job_id.to_string(),
                opt(&r.operation_type),
                opt(&r.status),
                r.received_at.to_string(),
                opt(&r.first_error),
            ]
        })
        .collect();
    let header = [
        "Id",
        "AgentId",
        "JobId",
        "Operation",
        "Status",
        "Received",
        "Error",
    ];
    show.print(page, &header, rows)
}

fn keys(client: &AdminClient, show: &Show, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::List => {
            let list = client.keys().map_err(failure)?;
            let rows = list
                .keys
                .iter()
                .map(|k| vec![k.id.clone(), k.key.clone()])
                .collect();
            show.print(&list, &["Id", "Key"], rows)
        }
        KeysCommand::Add { key } => {
            let added = client.add_key(&NewKey { key }).map_err(failure)?;
            let row = vec![added.id.clone(), added.key.clone()];
            show.print(&added, &["Id", "Key"], vec![row])
        }
        KeysCommand::Revoke { id } => {
            client.revoke_key(&id).map_err(failure)?;
            let row = vec![id.clone(), "(revoked)".to_string()];
            show.print(
                &serde_json::json!({"revoked": id}),
                &["Id", "Key"],
                vec![row],
            )
        }
    }
}
