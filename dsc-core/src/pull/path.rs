//! Parsing the OData-style request paths of the pull protocol.
//!
//! The LCM appends the protocol's suffix to the path of its `ServerURL`, so routing is on the
//! suffix under any prefix (`/PSDSCPullServer.svc/Nodes(...)`, `/Nodes(...)`, `//Nodes(...)`).
//! The path is percent-decoded first; key values are quoted with `'`, and `''` inside a value is
//! a literal `'`. Segment separators inside quotes are part of the value (and then refused by the
//! name checks).

use percent_encoding::percent_decode_str;
use uuid::Uuid;

/// An HTTP method the protocol uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Post,
    Other,
}

impl Method {
    pub fn parse(m: &str) -> Self {
        match m {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            _ => Method::Other,
        }
    }
}

/// A recognised protocol request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `PUT Nodes(AgentId='…')`
    RegisterDscAgent { agent_id: Uuid },
    /// `POST Nodes(AgentId='…')/GetDscAction`
    GetDscAction { agent_id: Uuid },
    /// `GET Nodes(AgentId='…')/Configurations(ConfigurationName='…')/ConfigurationContent`
    GetConfiguration { agent_id: Uuid, name: String },
    /// `GET Modules(ModuleName='…',ModuleVersion='…')/ModuleContent` (agent in the `AgentId` header)
    GetModule { name: String, version: String },
    /// `POST Nodes(AgentId='…')/SendReport`
    SendReport { agent_id: Uuid },
    /// `GET Nodes(AgentId='…')/Reports`, `…/Reports()`, `…/Reports(JobId='…')`
    GetReports {
        agent_id: Uuid,
        job_id: Option<Uuid>,
    },
    /// A version 1 (ConfigurationID mode) request, which traek does not serve.
    V1,
}

/// Why a path was not routed; each maps to an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// 404: not a protocol path.
    #[error("not a pull-protocol path")]
    NotFound,
    /// 405: a protocol path, but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// 400: a protocol path with a malformed key.
    #[error("{0}")]
    BadRequest(String),
}

/// One `Name(Key='value',…)` segment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    name: String,
    /// `None` for a bare `Name`; `Some([])` for `Name()`.
    keys: Option<Vec<(String, String)>>,
}

impl Segment {
    fn key(&self, k: &str) -> Option<&str> {
        self.keys
            .as_ref()?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

/// Routes a request by method and path (the path may carry a query string, which is ignored).
pub fn route(method: Method, raw_path: &str) -> Result<Route, RouteError> {
    let path = raw_path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode_str(path).decode_utf8().map_err(|_| {
        RouteError::BadRequest("the path is not valid UTF-8 after percent-decoding".into())
    })?;
    let segments = split_segments(&decoded)?;
    let start = segments
        .iter()
        .position(|s| {
            s.keys.is_some()
                && ["Nodes", "Modules", "Node", "Action", "Module"]
                    .iter()
                    .any(|n| s.name.eq_ignore_ascii_case(n))
        })
        .ok_or(RouteError::NotFound)?;
    let segs = &segments[start..];
    let is = |s: &Segment, n: &str| s.name.eq_ignore_ascii_case(n);
    let want = |m: Method, r: Route| {
        if method == m {
            Ok(r)
        } else {
            Err(RouteError::MethodNotAllowed)
        }
    };

    if ["Node", "Action", "Module"].iter().any(|n| is(&segs[0], n)) {
        return Ok(Route::V1);
    }
    if is(&segs[0], "Modules") {
        let [m, content] = segs else {
            return Err(RouteError::NotFound);
        };
        if !is(content, "ModuleContent") || content.keys.is_some() {
            return Err(RouteError::NotFound);
        }
        let name = m
            .key("ModuleName")
            .ok_or_else(|| RouteError::BadRequest("Modules() needs ModuleName".into()))?;
        let version = m.key("ModuleVersion").unwrap_or("");
        check_name("module name", name)?;
        check_module_version(version)?;
        return want(
            Method::Get,
            Route::GetModule {
                name: name.to_string(),
                version: version.to_string(),
            },
        );
    }
    // Nodes(AgentId='…')
    let agent_id = parse_guid(
        "AgentId",
        segs[0]
            .key("AgentId")
            .ok_or_else(|| RouteError::BadRequest("Nodes() needs AgentId".into()))?,
    )?;
    match segs {
        [_] => want(Method::Put, Route::RegisterDscAgent { agent_id }),
        [_, op] if is(op, "GetDscAction") && op.keys.is_none() => {
            want(Method::Post, Route::GetDscAction { agent_id })
        }
        [_, op] if is(op, "SendReport") && op.keys.is_none() => {
            want(Method::Post, Route::SendReport { agent_id })
        }
        [_, op] if is(op, "Reports") => {
            let job_id = match op.key("JobId") {
                Some(j) => Some(parse_guid("JobId", j)?),
                None => None,
            };
            want(Method::Get, Route::GetReports { agent_id, job_id })
        }
        [_, c, content]
            if is(c, "Configurations")
                && is(content, "ConfigurationContent")
                && content.keys.is_none() =>
        {
            let name = c.key("ConfigurationName").ok_or_else(|| {
                RouteError::BadRequest("Configurations() needs ConfigurationName".into())
            })?;
            check_name("configuration name", name)?;
            want(
                Method::Get,
                Route::GetConfiguration {
                    agent_id,
                    name: name.to_string(),
                },
            )
        }
        _ => Err(RouteError::NotFound),
    }
}

/// Parses a GUID case-insensitively (with or without braces).
pub fn parse_guid(what: &str, text: &str) -> Result<Uuid, RouteError> {
    let t = text.trim_start_matches('{').trim_end_matches('}');
    Uuid::try_parse(t).map_err(|_| RouteError::BadRequest(format!("{what} '{text}' is not a GUID")))
}

/// A tag: 1–64 characters, no control characters, no quotes, no commas.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&tag.chars().count())
        && !tag
            .chars()
            .any(|c| c.is_control() || matches!(c, '"' | ',' | '/' | '\\'));
    ok.then_some(()).ok_or_else(|| {
        format!("tag '{tag}' must be 1 to 64 characters without quotes, commas or slashes")
    })
}

/// The most tags a node, or configuration names a node or tag, can be given at once.
pub const MAX_NAMES: usize = 256;

/// Configuration and module names: 1 to 255 characters, no path separators, no control
/// characters, not `.`/`..`.
pub fn check_name(what: &str, name: &str) -> Result<(), RouteError> {
    let bad = name.is_empty()
        || name.chars().count() > 255
        || name == "."
        || name == ".."
        || name.contains("..")
        || name.chars().any(|c| {
            c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
        });
    if bad {
        return Err(RouteError::BadRequest(format!(
            "invalid {what} '{}'",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Module versions: empty, or 2 to 4 dot-separated numbers.
pub fn check_module_version(v: &str) -> Result<(), RouteError> {
    if v.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = v.split('.').collect();
    let ok = (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(RouteError::BadRequest(format!(
            "invalid module version '{}'",
            v.escape_debug()
        )))
    }
}

/// Splits a decoded path into segments, honouring quotes.
fn split_segments(path: &str) -> Result<Vec<Segment>, RouteError> {
    let mut out = Vec::new();
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '/' {
            i += 1;
            continue;
        }
        let mut name = String::new();
        while i < chars.len() && chars[i] != '/' && chars[i] != '(' {
            name.push(chars[i]);
            i += 1;
        }
        let mut keys = None;
        if i < chars.len() && chars[i] == '(' {
            i += 1;
            let mut list = Vec::new();
            loop {
                while i < chars.len() && chars[i] == ' ' {
                    i += 1;
                }
                if i < chars.len() && chars[i] == ')' {
                    i += 1;
                    break;
                }
                let mut key = String::new();
                while i < chars.len()
                    && chars[i] != '='
                    && chars[i] != ')'
                    && chars[i] != ','
                    && chars[i] != '\''
                {
                    key.push(chars[i]);
                    i += 1;
                }
                if i < chars.len() && chars[i] == '=' {
                    i += 1;
                }
                if i >= chars.len() || chars[i] != '\'' {
                    return Err(RouteError::BadRequest(format!(
                        "malformed key in segment '{name}'"
                    )));
                }
                i += 1;
                let mut value = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(RouteError::BadRequest(format!(
                                "unterminated quote in segment '{name}'"
                            )));
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            value.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            value.push(*c);
                            i += 1;
                        }
                    }
                }
                list.push((key.trim().to_string(), value));
                match chars.get(i) {
                    Some(',') => i += 1,
                    Some(')') => {
                        i += 1;
                        break;
                    }
                    _ => {
                        return Err(RouteError::BadRequest(format!(
                            "malformed key list in segment '{name}'"
                        )));
                    }
                }
            }
            keys = Some(list);
        }
        if i < chars.len() && chars[i] != '/' {
            return Err(RouteError::BadRequest(format!(
                "unexpected text after segment '{name}'"
            )));
        }
        out.push(Segment { name, keys });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = "504A3371-632E-11E6-9C21-80E6500EB60D";

    fn agent() -> Uuid {
        Uuid::parse_str(AGENT).unwrap()
    }

    #[test]
    fn routes_work_under_any_prefix() {
        for prefix in ["", "/PSDSCPullServer.svc", "/a/b", "/PSDSCPullServer.svc/"] {
            let p = format!("{prefix}/Nodes(AgentId='{AGENT}')");
            assert_eq!(
                route(Method::Put, &p),
                Ok(Route::RegisterDscAgent { agent_id: agent() }),
                "{p}"
            );
        }
        assert_eq!(
            route(
                Method::Post,
                &format!("/Nodes(AgentId='{}')/GetDscAction", AGENT.to_lowercase())
            ),
            Ok(Route::GetDscAction { agent_id: agent() })
        );
    }

    #[test]
    fn percent_encoded_paths_and_doubled_quotes_decode() {
        let p = format!(
            "/x/Nodes(AgentId=%27{AGENT}%27)/Configurations(ConfigurationName='It''s%20mine')/ConfigurationContent"
        );
        assert_eq!(
            route(Method::Get, &p),
            Ok(Route::GetConfiguration {
                agent_id: agent(),
                name: "It's mine".into()
            })
        );
    }

    #[test]
    fn modules_reports_and_v1() {
        assert_eq!(
            route(
                Method::Get,
                "/PSDSCPullServer.svc/Modules(ModuleName='xSmbShare',ModuleVersion='1.1.0.0')/ModuleContent"
            ),
            Ok(Route::GetModule {
                name: "xSmbShare".into(),
                version: "1.1.0.0".into()
            })
        );
        for suffix in ["Reports", "Reports()"] {
            assert_eq!(
                route(Method::Get, &format!("/Nodes(AgentId='{AGENT}')/{suffix}")),
                Ok(Route::GetReports {
                    agent_id: agent(),
                    job_id: None
                })
            );
        }
        let job = "d6a09c93-632e-11e6-9c21-80e6500eb60d";
        assert_eq!(
            route(
                Method::Get,
                &format!("/Nodes(AgentId='{AGENT}')/Reports(JobId='{job}')")
            ),
            Ok(Route::GetReports {
                agent_id: agent(),
                job_id: Some(Uuid::parse_str(job).unwrap())
            })
        );
        assert_eq!(
            route(
                Method::Post,
                "/PSDSCPullServer.svc/Node(ConfigurationId='b50c300c-df7c-4951-96b9-0dee833a1c74')/SendStatusReport"
            ),
            Ok(Route::V1)
        );
    }

    #[test]
    fn hostile_and_malformed_paths_are_refused() {
        let bad = [
            format!(
                "/Nodes(AgentId='{AGENT}')/Configurations(ConfigurationName='..')/ConfigurationContent"
            ),
            format!(
                "/Nodes(AgentId='{AGENT}')/Configurations(ConfigurationName='a%2Fb')/ConfigurationContent"
            ),
            format!(
                "/Nodes(AgentId='{AGENT}')/Configurations(ConfigurationName='..%5C..%5Cx')/ConfigurationContent"
            ),
            "/Modules(ModuleName='../etc',ModuleVersion='1.0')/ModuleContent".to_string(),
            "/Modules(ModuleName='x',ModuleVersion='1.0; rm')/ModuleContent".to_string(),
            "/Nodes(AgentId='not-a-guid')".to_string(),
            "/Nodes(AgentId='unterminated".to_string(),
            "/Nodes(AgentId=x)".to_string(),
            "/Nodes(AgentId='%FF')".to_string(),
        ];
        for p in &bad {
            let method = if p.contains("Content") {
                Method::Get
            } else {
                Method::Put
            };
            assert!(
                matches!(route(method, p), Err(RouteError::BadRequest(_))),
                "{p}: {:?}",
                route(method, p)
            );
        }
        assert_eq!(
            route(Method::Get, "/favicon.ico"),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            route(Method::Get, &format!("/Nodes(AgentId='{AGENT}')/Bogus")),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            route(Method::Get, &format!("/Nodes(AgentId='{AGENT}')")),
            Err(RouteError::MethodNotAllowed)
        );
    }

    #[test]
    fn module_versions_may_be_empty_or_two_to_four_parts() {
        assert!(check_module_version("").is_ok());
        assert!(check_module_version("1.0").is_ok());
        assert!(check_module_version("1.2.3.4").is_ok());
        assert!(check_module_version("1").is_err());
        assert!(check_module_version("1.2.3.4.5").is_err());
        assert!(check_module_version("1.x").is_err());
    }
}
