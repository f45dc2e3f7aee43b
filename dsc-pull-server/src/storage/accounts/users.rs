//! Users, sign-in attempts and their throttle, sessions, and single sign-on logins.

use super::*;

impl Accounts<'_> {
    /// Adds a user; false when the name is taken.
    pub async fn add_user(&self, u: &User) -> StorageResult<bool> {
        let n = self
            .0
            .exec(
                "INSERT INTO users (name_key, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name_key) DO NOTHING",
                vec![key(&u.name).into(), u.name.clone().into(), u.role.clone().into(), u.password_hash.clone().into(), u.created_at.into()],
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn user(&self, name: &str) -> StorageResult<Option<User>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE name_key = $1"),
                vec![key(name).into()],
            )
            .await?;
        Ok(rows.first().map(|r| user_of(r)))
    }

    /// Whether any account exists (one row read, for the sign-in page and the first start).
    pub async fn has_users(&self) -> StorageResult<bool> {
        let rows = self
            .0
            .rows("SELECT name_key FROM users LIMIT 1", vec![])
            .await?;
        Ok(!rows.is_empty())
    }

    pub async fn users(&self) -> StorageResult<Vec<User>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name_key"),
                vec![],
            )
            .await?;
        Ok(rows.iter().map(|r| user_of(r)).collect())
    }

    /// Removes a user with their sessions and tokens; false when unknown.
    pub async fn remove_user(&self, name: &str) -> StorageResult<bool> {
        let k = key(name);
        self.0
            .exec(
                "DELETE FROM sessions WHERE user_key = $1",
                vec![k.clone().into()],
            )
            .await?;
        self.0
            .exec(
                "DELETE FROM api_tokens WHERE user_key = $1",
                vec![k.clone().into()],
            )
            .await?;
        Ok(self
            .0
            .exec("DELETE FROM users WHERE name_key = $1", vec![k.into()])
            .await?
            > 0)
    }

    /// Changes a password and ends everything the old one vouched for: the user's sessions and
    /// API tokens. False when the user is unknown.
    pub async fn set_password(&self, name: &str, hash: &str) -> StorageResult<bool> {
        let k = key(name);
        let n = self
            .0
            .exec(
                "UPDATE users SET password_hash = $2 WHERE name_key = $1",
                vec![k.clone().into(), hash.into()],
            )
            .await?;
        self.0
            .exec("DELETE FROM sessions WHERE user_key = $1", vec![k.into()])
            .await?;
        if n > 0 {
            self.revoke_user_tokens(name, crate::storage::now_unix())
                .await?;
        }
        Ok(n > 0)
    }

    /// Claims one sign-in attempt under a throttle key (`name:...` or `addr:...`) in one
    /// conditional update, so parallel attempts cannot all pass: the attempt counts as a failure
    /// until [`Accounts::attempt_succeeded`] takes it back. `None` when the attempt may go
    /// ahead, else the seconds still to wait.
    pub async fn claim_attempt(
        &self,
        key: &str,
        throttle: Throttle,
        now: i64,
    ) -> StorageResult<Option<i64>> {
        self.0
            .exec(
                "INSERT INTO login_failures (name_key, failures, last_at) VALUES ($1, 0, 0) ON CONFLICT (name_key) DO NOTHING",
                vec![key.into()],
            )
            .await?;
        let delay = throttle.delay_sql();
        let claimed = self
            .0
            .exec(
                &format!(
                    "UPDATE login_failures SET failures = failures + 1, last_at = $2 \
                     WHERE name_key = $1 AND (failures < {} OR last_at + {delay} < $2)",
                    throttle.free
                ),
                vec![key.into(), now.into()],
            )
            .await?;
        if claimed > 0 {
            return Ok(None);
        }
        let rows = self
            .0
            .rows(
                "SELECT failures, last_at FROM login_failures WHERE name_key = $1",
                vec![key.into()],
            )
            .await?;
        let (failures, last) = rows
            .first()
            .map(|r| {
                (
                    u32::try_from(int(r, 0).unwrap_or(0)).unwrap_or(u32::MAX),
                    int(r, 1).unwrap_or(0),
                )
            })
            .unwrap_or((0, 0));
        // Refused by the update, so there is a wait; at least 1 s even if the row just changed.
        Ok(Some(throttle.wait(failures, last, now).unwrap_or(1)))
    }

    /// A claimed attempt failed: the delays of its keys count from `now`, the attempt's end.
    pub async fn attempt_failed(&self, keys: &[&str], now: i64) -> StorageResult<()> {
        for key in keys {
            self.0
                .exec(
                    "UPDATE login_failures SET last_at = $2 WHERE name_key = $1",
                    vec![(*key).into(), now.into()],
                )
                .await?;
        }
        Ok(())
    }

    /// A claimed attempt succeeded: the name's failures are forgotten, and the address's claim
    /// is taken back.
    pub async fn attempt_succeeded(&self, name_key: &str, addr_key: &str) -> StorageResult<()> {
        self.0
            .exec(
                "DELETE FROM login_failures WHERE name_key = $1",
                vec![name_key.into()],
            )
            .await?;
        self.0
            .exec(
                "UPDATE login_failures SET failures = failures - 1 WHERE name_key = $1 AND failures > 0",
                vec![addr_key.into()],
            )
            .await?;
        Ok(())
    }

    pub async fn add_session(&self, s: &Session, now: i64) -> StorageResult<()> {
        self.0
            .exec(
                "INSERT INTO sessions (id_hash, user_key, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                vec![s.id_hash.clone().into(), key(&s.user).into(), s.csrf.clone().into(), now.into(), s.expires_at.into()],
            )
            .await?;
        self.0
            .exec(
                "DELETE FROM sessions WHERE expires_at < $1",
                vec![now.into()],
            )
            .await?;
        Ok(())
    }

    /// A live session and its user.
    pub async fn session(&self, id_hash: &str, now: i64) -> StorageResult<Option<(Session, User)>> {
        let rows = self
            .0
            .rows(
                "SELECT s.id_hash, u.name, s.csrf, s.expires_at, u.role, u.created_at, u.password_hash FROM sessions s JOIN users u ON u.name_key = s.user_key WHERE s.id_hash = $1 AND s.expires_at > $2",
                vec![id_hash.into(), now.into()],
            )
            .await?;
        Ok(rows.first().map(|r| {
            let session = Session {
                id_hash: col(r, 0),
                user: col(r, 1),
                csrf: col(r, 2),
                expires_at: int(r, 3).unwrap_or(0),
            };
            let user = User {
                name: col(r, 1),
                role: col(r, 4),
                created_at: int(r, 5).unwrap_or(0),
                password_hash: col(r, 6),
            };
            (session, user)
        }))
    }

    /// Records a sign-in started with the provider (and forgets expired ones).
    pub async fn add_oidc_login(
        &self,
        state_hash: &str,
        nonce: &str,
        pkce_verifier: &str,
        now: i64,
    ) -> StorageResult<()> {
        self.0
            .exec(
                "DELETE FROM oidc_logins WHERE created_at < $1",
                vec![(now - OIDC_LOGIN_TTL).into()],
            )
            .await?;
        self.0
            .exec(
                "INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, created_at) VALUES ($1, $2, $3, $4)",
                vec![state_hash.into(), nonce.into(), pkce_verifier.into(), now.into()],
            )
            .await?;
        Ok(())
    }

    /// Takes a started sign-in (once: a second callback with the same state finds
    /// nothing): its nonce and PKCE verifier.
    pub async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StorageResult<Option<(String, String)>> {
        let rows = self
            .0
            .rows(
                "SELECT nonce, pkce_verifier FROM oidc_logins WHERE state_hash = $1 AND created_at >= $2",
                vec![state_hash.into(), (now - OIDC_LOGIN_TTL).into()],
            )
            .await?;
        let taken = self
            .0
            .exec(
                "DELETE FROM oidc_logins WHERE state_hash = $1",
                vec![state_hash.into()],
            )
            .await?;
        Ok(rows
            .first()
            .filter(|_| taken == 1)
            .map(|r| (col(r, 0), col(r, 1))))
    }

    /// Creates or updates a single sign-on account with the role its claims give now; its
    /// role before, or `None` when it is new. It has no password: it cannot sign in locally.
    pub async fn upsert_sso_user(
        &self,
        name: &str,
        role: &str,
        now: i64,
    ) -> StorageResult<Option<String>> {
        let before = self.user(name).await?.map(|u| u.role);
        self.0
            .exec(
                "INSERT INTO users (name_key, name, role, password_hash, created_at) VALUES ($1, $2, $3, '', $4) \
                 ON CONFLICT (name_key) DO UPDATE SET role = excluded.role",
                vec![key(name).into(), name.into(), role.into(), now.into()],
            )
            .await?;
        Ok(before)
    }

    pub async fn remove_session(&self, id_hash: &str) -> StorageResult<()> {
        self.0
            .exec(
                "DELETE FROM sessions WHERE id_hash = $1",
                vec![id_hash.into()],
            )
            .await?;
        Ok(())
    }
}
