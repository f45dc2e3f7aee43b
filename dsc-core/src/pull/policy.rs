//! Who may do what on a traek pull server: the roles, every action of the admin API and the
//! dashboard, the role each needs and the name each change has in the audit trail. The API
//! and the dashboard both map their requests to an [`Action`] and ask it; neither has a table
//! of its own.

/// What an account may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads everything but secrets.
    Viewer,
    /// Also publishes content, assigns configurations, edits tags, prunes.
    Operator,
    /// Also manages registration keys, users and everyone's tokens.
    Admin,
}

impl Role {
    /// `viewer`, `operator` or `admin` (any case).
    pub fn parse(text: &str) -> Option<Role> {
        match text.to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// Everything a caller can ask of the admin API or the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Reading anything that is not a secret.
    Read,
    /// Reading a configuration's bytes (a MOF can hold credentials).
    ReadConfiguration,
    /// Reading registration keys or accounts.
    ReadSecrets,
    ContentPut,
    ContentDelete,
    /// Making an earlier version of a configuration or package current again.
    ContentRestore,
    /// Setting the rollout plan of a configuration or package.
    RolloutPlan,
    /// Moving a rollout to its next ring now.
    RolloutPromote,
    /// Letting a halted rollout go on.
    RolloutResume,
    /// Ending a rollout: every node gets the current version again.
    RolloutAbort,
    NodeAssign,
    NodeUnassign,
    NodeTags,
    NodeUnpin,
    NodeUnregister,
    TagConfigurations,
    ReportsPrune,
    KeyAdd,
    KeysReload,
    KeyRevoke,
    UserAdd,
    UserRemove,
    UserPassword,
    /// A user makes a token for themselves (any role).
    TokenCreate,
    /// A user revokes one of their own tokens (an admin: anyone's).
    TokenRevoke,
    /// Adding a notification rule (its URL and secret reach outside; only an admin).
    NotificationAdd,
    NotificationRemove,
    /// Adding or changing a Git source (its URL and token reach outside; only an admin).
    SourcePut,
    SourceRemove,
    /// Looking at a Git source now.
    SourceSync,
    /// A request that matches nothing: only an admin gets as far as being told so.
    Unknown,
}

impl Action {
    /// The role the action needs.
    pub fn role(self) -> Role {
        use Action::*;
        match self {
            Read | TokenCreate | TokenRevoke => Role::Viewer,
            ReadConfiguration | ContentPut | ContentDelete | ContentRestore | RolloutPlan
            | RolloutPromote | RolloutResume | RolloutAbort | NodeAssign | NodeUnassign
            | NodeTags | NodeUnregister | TagConfigurations | ReportsPrune | SourceSync => {
                Role::Operator
            }
            ReadSecrets | NodeUnpin | KeyAdd | KeysReload | KeyRevoke | UserAdd | UserRemove
            | UserPassword | NotificationAdd | NotificationRemove | SourcePut | SourceRemove
            | Unknown => Role::Admin,
        }
    }

    /// The action's name in the audit trail; `None` for reads, which are not audited.
    pub fn audit_name(self) -> Option<&'static str> {
        use Action::*;
        Some(match self {
            Read | ReadConfiguration | ReadSecrets => return None,
            ContentPut => "content.put",
            ContentDelete => "content.delete",
            ContentRestore => "content.restore",
            RolloutPlan => "rollout.plan",
            RolloutPromote => "rollout.promote",
            RolloutResume => "rollout.resume",
            RolloutAbort => "rollout.abort",
            NodeAssign => "node.assign",
            NodeUnassign => "node.unassign",
            NodeTags => "node.tags",
            NodeUnpin => "node.unpin",
            NodeUnregister => "node.unregister",
            TagConfigurations => "tag.configurations",
            ReportsPrune => "reports.prune",
            KeyAdd => "key.add",
            KeysReload => "keys.reload",
            KeyRevoke => "key.revoke",
            UserAdd => "user.add",
            UserRemove => "user.remove",
            UserPassword => "user.password",
            TokenCreate => "token.create",
            TokenRevoke => "token.revoke",
            NotificationAdd => "notification.add",
            NotificationRemove => "notification.remove",
            SourcePut => "source.put",
            SourceRemove => "source.remove",
            SourceSync => "source.sync",
            Unknown => "unknown",
        })
    }

    /// Whether `role` may do it.
    pub fn allowed(self, role: Role) -> bool {
        role >= self.role()
    }
}

/// A user name: 1–64 letters, digits, `.`, `_`, `-`, `@`.
pub fn check_user_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    ok.then_some(()).ok_or_else(|| {
        format!("user name '{name}' must be 1 to 64 letters, digits, '.', '_', '-' or '@'")
    })
}

/// Passwords: 8 to 1,024 characters.
pub fn check_password(password: &str) -> Result<(), String> {
    (8..=1024)
        .contains(&password.chars().count())
        .then_some(())
        .ok_or_else(|| "a password needs 8 to 1,024 characters".to_string())
}

/// Whose API tokens a caller lists and revokes: an admin everyone's (`None`), anyone else
/// only their own.
pub fn token_owner(role: Role, name: &str) -> Option<&str> {
    (role < Role::Admin).then_some(name)
}

/// The role a single sign-on user gets: the highest role that `mapping` (claim value →
/// role) gives any value of their role claim (a string, or an array of strings, as `groups`
/// and `roles` claims are). Values compare exactly (directory group names and ids are case
/// sensitive in some providers). `None`: no mapped value, no access.
pub fn role_from_claim(
    claim: Option<&serde_json::Value>,
    mapping: &[(String, Role)],
) -> Option<Role> {
    let values: Vec<&str> = match claim {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    };
    mapping
        .iter()
        .filter(|(value, _)| values.contains(&value.as_str()))
        .map(|(_, role)| *role)
        .max()
}

/// Parses one `--oidc-role VALUE=ROLE` mapping.
pub fn parse_role_mapping(text: &str) -> Result<(String, Role), String> {
    let bad = || {
        format!(
            "--oidc-role '{text}' must be VALUE=ROLE, ROLE one of admin, operator, viewer (e.g. traek-admins=admin)"
        )
    };
    let (value, role) = text.rsplit_once('=').ok_or_else(bad)?;
    let role = Role::parse(role.trim()).ok_or_else(bad)?;
    if value.is_empty() || value.len() > 256 {
        return Err(bad());
    }
    Ok((value.to_string(), role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_sign_on_user_gets_the_highest_role_of_their_mapped_groups() {
        let mapping = vec![
            ("ops".to_string(), Role::Operator),
            ("admins".to_string(), Role::Admin),
            ("all".to_string(), Role::Viewer),
        ];
        let groups = serde_json::json!(["all", "admins"]);
        assert_eq!(role_from_claim(Some(&groups), &mapping), Some(Role::Admin));
        let one = serde_json::json!("ops");
        assert_eq!(role_from_claim(Some(&one), &mapping), Some(Role::Operator));
        let none = serde_json::json!(["sales", "Admins"]);
        assert_eq!(role_from_claim(Some(&none), &mapping), None);
        assert_eq!(role_from_claim(None, &mapping), None);
        assert_eq!(
            parse_role_mapping("CN=DSC Admins,OU=Groups=admin"),
            Ok(("CN=DSC Admins,OU=Groups".to_string(), Role::Admin))
        );
        assert!(
            parse_role_mapping("admins=root")
                .unwrap_err()
                .contains("VALUE=ROLE")
        );
    }

    #[test]
    fn roles_include_the_ones_below_them() {
        assert!(Action::Read.allowed(Role::Viewer));
        assert!(!Action::ContentPut.allowed(Role::Viewer));
        assert!(Action::ContentPut.allowed(Role::Operator));
        for a in [
            Action::RolloutPlan,
            Action::RolloutPromote,
            Action::RolloutResume,
            Action::RolloutAbort,
        ] {
            assert!(
                !a.allowed(Role::Viewer) && a.allowed(Role::Operator),
                "{a:?}"
            );
        }
        assert!(!Action::KeyAdd.allowed(Role::Operator));
        assert!(Action::KeyAdd.allowed(Role::Admin));
        // Configuration bytes may hold credentials.
        assert!(!Action::ReadConfiguration.allowed(Role::Viewer));
        assert_eq!(Role::parse("Operator"), Some(Role::Operator));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn every_change_is_audited_and_no_read_is() {
        assert_eq!(Action::Read.audit_name(), None);
        assert_eq!(Action::ReadSecrets.audit_name(), None);
        assert_eq!(Action::NodeUnpin.audit_name(), Some("node.unpin"));
        assert_eq!(Action::TokenCreate.audit_name(), Some("token.create"));
    }

    #[test]
    fn only_an_admin_manages_other_peoples_tokens() {
        assert_eq!(token_owner(Role::Admin, "ann"), None);
        assert_eq!(token_owner(Role::Operator, "bob"), Some("bob"));
        assert_eq!(token_owner(Role::Viewer, "cy"), Some("cy"));
    }
}
