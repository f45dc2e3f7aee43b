//! What serving needs before it starts: the admin token, registration keys, single sign-on,
//! the first administrator and the Git source given on the command line.

use dsc_pull_server::config::ServerConfig;
use dsc_pull_server::keys::restrict;
use dsc_pull_server::storage::{self, Storage};
use std::path::PathBuf;
use std::sync::Arc;

fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The admin token: configured, else read from DATA_DIR/admin-token, else created there.
pub fn admin_token(config: &ServerConfig) -> Result<(String, Option<PathBuf>), String> {
    if let Some(t) = &config.admin_token {
        return Ok((t.clone(), None));
    }
    if config.database.is_some() {
        return Err(
            "with --database, give every replica the same --admin-token (or TRAEK_ADMIN_TOKEN)"
                .into(),
        );
    }
    let path = config.data_dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok((t.trim().to_string(), Some(path))),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    }
    let token = random_secret();
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    dsc_core::atomic::write(&path, format!("{token}\n").as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    restrict(&path);
    tracing::info!(file = %path.display(), "created an admin token");
    Ok((token, Some(path)))
}

/// Mirrors the keys file into storage, generates a key when a keys file has none, and
/// returns the number of active keys.
pub async fn registration_keys(
    config: &ServerConfig,
    storage: &dyn Storage,
    keys: &dsc_pull_server::keys::KeyFile,
) -> Result<usize, String> {
    let active = keys.sync(storage).await.map_err(|e| e.to_string())?;
    if active == 0 && keys.path().is_some() {
        let key = uuid::Uuid::new_v4().to_string();
        keys.add(storage, &key, "generated")
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(file = %config.registration_keys.display(), "created a registration key");
    }
    Ok(storage
        .registration_keys()
        .await
        .map_err(|e| e.to_string())?
        .len())
}

/// The OpenID provider of `--oidc-issuer`, announced with its redirect URI.
pub fn single_sign_on(
    config: &ServerConfig,
    public_url: &str,
) -> Result<Option<Arc<dsc_pull_server::oidc::Oidc>>, String> {
    let Some(settings) = &config.oidc else {
        return Ok(None);
    };
    eprintln!(
        "  single sign-on:     {} (redirect URI {public_url}/ui/oidc/callback)",
        settings.issuer
    );
    let oidc = dsc_pull_server::oidc::Oidc::new(settings.clone(), public_url)?;
    Ok(Some(Arc::new(oidc)))
}

/// The account made on a first start.
pub const FIRST_ADMIN: &str = "admin";

/// Keeps the `--content-git` source as the source `default`.
pub async fn keep_git_source(config: &ServerConfig, storage: &dyn Storage) -> Result<(), String> {
    let Some(source) = &config.content_git else {
        return Ok(());
    };
    storage
        .sources()
        .put("default", source, storage::now_unix())
        .await
        .map_err(|e| format!("keeping the --content-git source: {e}"))?;
    eprintln!(
        "  content from git:   {} (branch {}, folder '{}', every {} s; source 'default')",
        source.url, source.branch, source.path, source.interval_secs
    );
    Ok(())
}

/// On a first start (no account at all, no single sign-on), makes an admin account named
/// [`FIRST_ADMIN`] with a generated password, written to a 0600 file in the data directory, and
/// audits it. `None` when accounts exist (or another replica made the account first).
pub async fn first_admin(
    config: &ServerConfig,
    storage: &dyn Storage,
) -> Result<Option<PathBuf>, String> {
    // With single sign-on, administrators come from the provider.
    if config.oidc.is_some() {
        return Ok(None);
    }
    let accounts = storage.accounts();
    if accounts.has_users().await.map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let password = dsc_pull_server::auth::secret()[..24].to_string();
    let user = dsc_pull_server::storage::accounts::User {
        name: FIRST_ADMIN.to_string(),
        role: "admin".to_string(),
        created_at: storage::now_unix(),
        password_hash: dsc_pull_server::auth::hash_password(&password)?,
    };
    if !accounts.add_user(&user).await.map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let path = config.data_dir.join("admin-password");
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    dsc_core::atomic::write(&path, format!("{password}\n").as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    let now = time::OffsetDateTime::now_utc();
    let entry = dsc_pull_server::storage::accounts::AuditEntry {
        id: dsc_pull_server::storage::accounts::audit_id(now),
        at: now.unix_timestamp(),
        actor: "traek-server".to_string(),
        address: String::new(),
        action: dsc_core::pull::policy::Action::UserAdd
            .audit_name()
            .unwrap_or("user.add")
            .to_string(),
        target: FIRST_ADMIN.to_string(),
        outcome: format!("ok: first start, password in {}", path.display()),
    };
    accounts
        .append_audit(&entry)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(file = %path.display(), "created the first admin account");
    Ok(Some(path))
}
