//! API tokens (created, looked up, revoked with what they created), registration signatures
//! remembered against replay, and pruning what has expired.

use super::*;

impl Accounts<'_> {
    pub async fn add_token(&self, t: &ApiToken) -> StorageResult<()> {
        self.0
            .exec(
                "INSERT INTO api_tokens (id, hash, user_key, name, created_at, expires_at, parent_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![t.id.clone().into(), t.hash.clone().into(), key(&t.user).into(), t.name.clone().into(), t.created_at.into(), t.expires_at.into(), t.parent.clone().into()],
            )
            .await?;
        Ok(())
    }

    /// A usable token (not revoked, not expired) and its user.
    pub async fn token(&self, hash: &str, now: i64) -> StorageResult<Option<(ApiToken, User)>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {TOKEN_COLUMNS}, u.role, u.created_at FROM api_tokens t JOIN users u ON u.name_key = t.user_key WHERE t.hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)"),
                vec![hash.into(), now.into()],
            )
            .await?;
        Ok(rows.first().map(|r| {
            let token = token_of(r);
            let user = User {
                name: token.user.clone(),
                role: col(r, 8),
                created_at: int(r, 9).unwrap_or(0),
                password_hash: String::new(),
            };
            (token, user)
        }))
    }

    /// Tokens of one user, or of everyone.
    pub async fn tokens(&self, user: Option<&str>) -> StorageResult<Vec<ApiToken>> {
        let rows = self
            .0
            .rows(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.name_key = t.user_key WHERE ($1 = '' OR t.user_key = $1) ORDER BY t.created_at, t.id"),
                vec![user.map(key).unwrap_or_default().into()],
            )
            .await?;
        Ok(rows.iter().map(|r| token_of(r)).collect())
    }

    /// Revokes a token (of `user` only, when given); false when no such live token.
    pub async fn revoke_token(
        &self,
        id: &str,
        user: Option<&str>,
        now: i64,
    ) -> StorageResult<bool> {
        let n = self
            .0
            .exec(
                "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND ($2 = '' OR user_key = $2) AND revoked_at IS NULL",
                vec![id.into(), user.map(key).unwrap_or_default().into(), now.into()],
            )
            .await?;
        if n > 0 {
            self.revoke_descendants(id, now).await?;
        }
        Ok(n > 0)
    }

    /// Revokes every token created, directly or not, by token `id`.
    async fn revoke_descendants(&self, id: &str, now: i64) -> StorageResult<()> {
        self.0
            .exec(
                "UPDATE api_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND id IN (
                    WITH RECURSIVE d(id) AS (
                        SELECT id FROM api_tokens WHERE parent_id = $1
                        UNION SELECT t.id FROM api_tokens t JOIN d ON t.parent_id = d.id
                    ) SELECT id FROM d)",
                vec![id.into(), now.into()],
            )
            .await?;
        Ok(())
    }

    /// Revokes every token of a user (their password changed: what it vouched for ends).
    pub async fn revoke_user_tokens(&self, user: &str, now: i64) -> StorageResult<u64> {
        self.0
            .exec(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_key = $1 AND revoked_at IS NULL",
                vec![key(user).into(), now.into()],
            )
            .await
    }

    /// Remembers a registration signature; false when it was already used (a replay).
    pub async fn remember_signature(&self, signature: &[u8], now: i64) -> StorageResult<bool> {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.encode(signature);
        let n = self
            .0
            .exec(
                "INSERT INTO registration_signatures (signature, seen_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING",
                vec![text.into(), now.into()],
            )
            .await?;
        Ok(n > 0)
    }

    /// Forgets what retention no longer needs: registration signatures seen before
    /// `signatures_before`, sign-in failures older than `failures_before`, and audit entries
    /// older than `audit_before`. Returns the number of audit entries removed.
    pub async fn prune_security(
        &self,
        signatures_before: i64,
        failures_before: i64,
        audit_before: i64,
    ) -> StorageResult<u64> {
        self.0
            .exec(
                "DELETE FROM registration_signatures WHERE seen_at < $1",
                vec![signatures_before.into()],
            )
            .await?;
        self.0
            .exec(
                "DELETE FROM login_failures WHERE last_at < $1",
                vec![failures_before.into()],
            )
            .await?;
        self.0
            .exec("DELETE FROM audit WHERE at < $1", vec![audit_before.into()])
            .await
    }
}
