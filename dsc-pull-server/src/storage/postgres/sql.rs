//! The small [`Sql`] interface that accounts, notifications and versions are written over:
//! statements prepared once per connection, `SqlValue`s converted to and from the column types.

use super::*;
use crate::storage::accounts::{Sql, SqlValue};

/// A parameter of the type the statement expects.
fn pg_param(
    v: &SqlValue,
    ty: &tokio_postgres::types::Type,
) -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
    use tokio_postgres::types::Type;
    match *ty {
        Type::INT8 => Box::new(v.int()),
        Type::INT4 => Box::new(v.int().and_then(|i| i32::try_from(i).ok())),
        Type::BOOL => Box::new(v.int().map(|i| i != 0)),
        Type::UUID => Box::new(v.text().and_then(|t| Uuid::parse_str(&t).ok())),
        _ => Box::new(v.text()),
    }
}

/// Column `i` of `row` as an `SqlValue`.
pub(super) fn pg_value(row: &Row, i: usize) -> SqlValue {
    use tokio_postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    match ty {
        Type::INT8 => row.get::<_, Option<i64>>(i).into(),
        Type::INT4 => row.get::<_, Option<i32>>(i).map(i64::from).into(),
        Type::BOOL => row.get::<_, Option<bool>>(i).map(i64::from).into(),
        _ => row.try_get::<_, Option<String>>(i).ok().flatten().into(),
    }
}

impl PgStorage {
    /// `sql` prepared (cached per connection) and `params` converted to the types it expects.
    async fn prepared_params(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
        params: &[SqlValue],
    ) -> StorageResult<(
        tokio_postgres::Statement,
        Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>,
    )> {
        let stmt = client.prepare_cached(sql).await.map_err(pg_error)?;
        let values = params
            .iter()
            .zip(stmt.params())
            .map(|(v, ty)| pg_param(v, ty))
            .collect();
        Ok((stmt, values))
    }
}

/// Converted parameters as the slice of references `tokio_postgres` takes.
fn as_refs(
    values: &[Box<dyn tokio_postgres::types::ToSql + Sync + Send>],
) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|b| b.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

#[async_trait]
impl Sql for PgStorage {
    async fn exec(&self, sql: &str, params: Vec<SqlValue>) -> StorageResult<u64> {
        let client = self.client().await?;
        let (stmt, values) = self.prepared_params(&client, sql, &params).await?;
        let refs = as_refs(&values);
        client.execute(&stmt, &refs).await.map_err(pg_error)
    }

    async fn rows(&self, sql: &str, params: Vec<SqlValue>) -> StorageResult<Vec<Vec<SqlValue>>> {
        let client = self.client().await?;
        let (stmt, values) = self.prepared_params(&client, sql, &params).await?;
        let refs = as_refs(&values);
        let rows = client.query(&stmt, &refs).await.map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect())
            .collect())
    }
}
