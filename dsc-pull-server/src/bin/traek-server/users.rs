//! `traek-server user ...`: accounts managed from the server's own machine.

use dsc_pull_server::config::ServerConfig;
use dsc_pull_server::storage;

use crate::cli::UserCommand;
use crate::open_storage;

/// The password: stdin's first line with `--password-stdin`, else a generated one (printed).
fn password(from_stdin: bool) -> Result<(String, bool), String> {
    if !from_stdin {
        return Ok((dsc_pull_server::auth::secret()[..24].to_string(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    dsc_core::pull::policy::check_password(&p)?;
    Ok((p, false))
}

pub async fn users(config: &ServerConfig, cmd: UserCommand) -> Result<(), String> {
    let (storage, _) = open_storage(config).await?;
    let accounts = storage.accounts();
    let fail = |e: dsc_pull_server::storage::StorageError| e.to_string();
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            dsc_core::pull::policy::check_user_name(&name)?;
            let (pw, generated) = password(password_stdin)?;
            let user = dsc_pull_server::storage::accounts::User {
                name: name.clone(),
                role,
                created_at: storage::now_unix(),
                password_hash: dsc_pull_server::auth::hash_password(&pw)?,
            };
            if !accounts.add_user(&user).await.map_err(fail)? {
                return Err(format!("user '{name}' exists"));
            }
            println!("added user {name} ({})", user.role);
            if generated {
                println!("password: {pw}");
            }
        }
        UserCommand::List => {
            for u in accounts.users().await.map_err(fail)? {
                println!("{}\t{}", u.name, u.role);
            }
        }
        UserCommand::Remove { name } => {
            if !accounts.remove_user(&name).await.map_err(fail)? {
                return Err(format!("no user '{name}'"));
            }
            println!("removed user {name}");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (pw, generated) = password(password_stdin)?;
            let hash = dsc_pull_server::auth::hash_password(&pw)?;
            if !accounts.set_password(&name, &hash).await.map_err(fail)? {
                return Err(format!("no user '{name}'"));
            }
            println!("changed the password of {name}");
            if generated {
                println!("password: {pw}");
            }
        }
    }
    Ok(())
}
