//! The small [`Sql`] interface that accounts, notifications and versions are written over.

use super::*;
use crate::storage::accounts::{Sql, SqlValue};
use crate::storage::*;
use async_trait::async_trait;
use writer::{WriteOp, WriteOutcome};

/// `$N` placeholders as SQLite's `?N`.
fn sqlite_placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}

#[async_trait]
impl Sql for SqliteStorage {
    async fn exec(&self, sql: &str, params: Vec<SqlValue>) -> StorageResult<u64> {
        match self
            .write(WriteOp::Exec(sqlite_placeholders(sql), params))
            .await?
        {
            WriteOutcome::Count(n) => Ok(n as u64),
            _ => Ok(0),
        }
    }

    async fn rows(&self, sql: &str, params: Vec<SqlValue>) -> StorageResult<Vec<Vec<SqlValue>>> {
        let sql = sqlite_placeholders(sql);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql).map_err(err)?;
            let n = stmt.column_count();
            let values: Vec<_> = params.iter().map(writer::to_sqlite).collect();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(values), |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => SqlValue::Null,
                                rusqlite::types::ValueRef::Integer(i) => SqlValue::Int(i),
                                rusqlite::types::ValueRef::Real(f) => SqlValue::Text(f.to_string()),
                                rusqlite::types::ValueRef::Text(t)
                                | rusqlite::types::ValueRef::Blob(t) => {
                                    SqlValue::Text(String::from_utf8_lossy(t).into_owned())
                                }
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
        .await
    }
}
