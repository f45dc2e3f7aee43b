//! The audit trail: entries appended, and read back newest first under a filter.

use super::*;

impl Accounts<'_> {
    /// Appends one entry to the audit trail.
    pub async fn append_audit(&self, e: &AuditEntry) -> StorageResult<()> {
        self.0
            .exec(
                "INSERT INTO audit (id, at, actor, address, action, target, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![e.id.clone().into(), e.at.into(), e.actor.clone().into(), e.address.clone().into(), e.action.clone().into(), e.target.clone().into(), e.outcome.clone().into()],
            )
            .await?;
        Ok(())
    }

    /// Audit entries, newest first.
    pub async fn audit(&self, f: &AuditFilter) -> StorageResult<Vec<AuditEntry>> {
        let limit = i64::try_from(if f.limit == 0 { 100 } else { f.limit }).unwrap_or(100);
        let rows = self
            .0
            .rows(
                "SELECT id, at, actor, address, action, target, outcome FROM audit WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) AND at >= $3 AND at < $4 AND ($5 = '' OR id < $5) ORDER BY id DESC LIMIT $6",
                vec![
                    f.actor.clone().unwrap_or_default().into(),
                    f.action.clone().unwrap_or_default().into(),
                    f.since.unwrap_or(i64::MIN).into(),
                    f.until.unwrap_or(i64::MAX).into(),
                    f.before.clone().unwrap_or_default().into(),
                    limit.into(),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: col(r, 0),
                at: int(r, 1).unwrap_or(0),
                actor: col(r, 2),
                address: col(r, 3),
                action: col(r, 4),
                target: col(r, 5),
                outcome: col(r, 6),
            })
            .collect())
    }
}
