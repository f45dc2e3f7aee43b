//! Lists the admin API and the dashboard read and write the same way: the node list as CSV,
//! and the audit trail's query.

use crate::http::{Resp, filter_text, query_params, respond};
use crate::storage::NodeSummary;
use crate::storage::accounts::AuditFilter;
use hyper::StatusCode;

/// One CSV cell. A value a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) is prefixed with `'`, so it is shown as text.
pub fn csv_field(text: &str) -> String {
    let safe;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        safe = format!("'{text}");
        safe.as_str()
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The node list as CSV, one node per line after a header.
pub fn nodes_csv(nodes: &[NodeSummary]) -> Resp {
    let mut out = String::from(
        "agentId,nodeName,status,lcmVersion,ipAddresses,configurations,lastSeen,lastRunTime\n",
    );
    for n in nodes {
        let names = n
            .assigned_names
            .as_ref()
            .unwrap_or(&n.registered_names)
            .join(";");
        let fields = [
            n.agent_id.to_string(),
            n.node_name.clone().unwrap_or_default(),
            n.status.as_str().to_string(),
            n.lcm_version.clone().unwrap_or_default(),
            n.ip_addresses.join(";"),
            names,
            n.last_seen.map(|t| t.to_string()).unwrap_or_default(),
            n.run_time.map(|t| t.to_string()).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    respond(StatusCode::OK, "text/csv; charset=utf-8", out)
}

/// Reads the audit query: `user`, `action`, `since`, `until` (Unix seconds), `before` (an entry
/// id), `limit` (1–1000).
pub fn audit_filter(query: Option<&str>) -> Result<AuditFilter, String> {
    let params = query_params(query);
    let q = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let num = |k: &str| {
        q(k).map(|v| {
            v.parse::<i64>()
                .map_err(|_| format!("invalid '{k}' parameter"))
        })
        .transpose()
    };
    let limit = match q("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=1000).contains(&l) => l,
        Some(_) => return Err("limit must be 1 to 1000".into()),
    };
    Ok(AuditFilter {
        actor: filter_text("user", q("user"))?,
        action: filter_text("action", q("action"))?,
        since: num("since")?,
        until: num("until")?,
        before: filter_text("before", q("before"))?,
        limit,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_never_start_a_spreadsheet_formula() {
        assert_eq!(
            super::csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(super::csv_field("+1"), "'+1");
        assert_eq!(super::csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::csv_field("web-01"), "web-01");
    }
}
