//! The [`Storage`] operations of [`PgStorage`].

use super::*;
use crate::storage::accounts::Sql;

#[async_trait]
impl Storage for PgStorage {
    async fn register(&self, r: Registration) -> StorageResult<()> {
        let req = &r.request;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let agent = tx
            .prepare_cached("INSERT INTO agents (agent_id, created_at, last_seen) VALUES ($1, $2, $2) ON CONFLICT (agent_id) DO UPDATE SET last_seen = GREATEST(agents.last_seen, $2)")
            .await
            .map_err(pg_error)?;
        tx.execute(&agent, &[&r.agent_id, &r.registered_at])
            .await
            .map_err(pg_error)?;
        let reg = tx
            .prepare_cached(
                "INSERT INTO registrations (agent_id, message_type, key_id, registered_at, node_name, ip_address, lcm_version, thumbprint, configuration_names, request)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (agent_id, message_type) DO UPDATE SET key_id = $3, registered_at = $4, node_name = $5, ip_address = $6, lcm_version = $7, thumbprint = $8, configuration_names = $9, request = $10",
            )
            .await
            .map_err(pg_error)?;
        tx.execute(
            &reg,
            &[
                &r.agent_id,
                &r.message_type.as_str(),
                &r.key_id,
                &r.registered_at,
                &req.agent_information.node_name,
                &req.agent_information.ip_address,
                &req.agent_information.lcm_version,
                &r.thumbprint(),
                &r.names_json(),
                &r.request_json(),
            ],
        )
        .await
        .map_err(pg_error)?;
        if let Some(pin) = &r.pin {
            tx.execute(
                "UPDATE agents SET pin_thumbprint = $2, pin_not_after = $3 WHERE agent_id = $1",
                &[&r.agent_id, &pin.thumbprint, &pin.not_after],
            )
            .await
            .map_err(pg_error)?;
        }
        Self::notify_in(&tx, Change::Agent(r.agent_id)).await?;
        tx.commit().await.map_err(pg_error)?;
        self.shared.cache.apply_registration(&r);
        Ok(())
    }

    async fn release_pin(&self, agent_id: Uuid) -> StorageResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let n = tx
            .execute(
                "UPDATE agents SET pin_thumbprint = NULL, pin_not_after = NULL WHERE agent_id = $1",
                &[&agent_id],
            )
            .await
            .map_err(pg_error)?;
        Self::notify_in(&tx, Change::Agent(agent_id)).await?;
        tx.commit().await.map_err(pg_error)?;
        self.shared
            .cache
            .update_agent(agent_id, false, |v| v.pin = None);
        Ok(n > 0)
    }

    async fn agent(&self, agent_id: Uuid) -> StorageResult<Option<Arc<AgentView>>> {
        if let Some(view) = self.shared.cache.agent(&agent_id) {
            return Ok(Some(view));
        }
        let epoch = self.shared.cache.epoch();
        let Some((view, seen)) = self.shared.load_agent(agent_id).await? else {
            return Ok(None);
        };
        let shared_view = Arc::new(view.clone());
        self.shared
            .cache
            .insert_if_current(agent_id, view, seen, epoch);
        Ok(Some(shared_view))
    }

    fn touch(&self, agent_id: Uuid, now: i64) {
        self.shared.cache.touch(&agent_id, now);
    }

    async fn unregister(&self, agent_id: Uuid) -> StorageResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let n = tx
            .execute("DELETE FROM agents WHERE agent_id = $1", &[&agent_id])
            .await
            .map_err(pg_error)?;
        tx.execute(
            "DELETE FROM node_resources WHERE agent_id = $1",
            &[&agent_id],
        )
        .await
        .map_err(pg_error)?;
        Self::notify_in(&tx, Change::Agent(agent_id)).await?;
        tx.commit().await.map_err(pg_error)?;
        self.shared.cache.set_agent(agent_id, None);
        Ok(n > 0)
    }

    async fn assign(&self, agent_id: Uuid, names: Option<Vec<String>>) -> StorageResult<bool> {
        let json = names
            .as_ref()
            .map(|n| serde_json::to_string(n).unwrap_or_default());
        let n = self
            .set_agent_column(agent_id, "assigned_names", json)
            .await?;
        if n > 0 {
            self.shared
                .cache
                .update_agent(agent_id, false, |v| v.assigned_names = names);
        }
        Ok(n > 0)
    }

    async fn find_nodes(&self, query: &NodeQuery) -> StorageResult<Vec<NodeSummary>> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let filter = query
            .status_condition()
            .map(|cond| format!(" AND {}", cond.replace("{p}", "$3::bigint")))
            .unwrap_or_else(|| " AND $3::bigint IS NOT NULL".to_string());
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT a.agent_id, a.last_seen, a.assigned_names, a.last_report_status, a.last_report_time,
                        r.message_type, r.node_name, r.ip_address, r.lcm_version, r.configuration_names,
                        a.run_status, a.run_time, a.tags
                 FROM (SELECT * FROM agents WHERE ($1::uuid IS NULL OR agent_id > $1){filter} ORDER BY agent_id LIMIT $2) a
                 LEFT JOIN registrations r ON r.agent_id = a.agent_id
                 ORDER BY a.agent_id, r.message_type"
            ))
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&stmt, &[&query.after, &limit, &query.stale_cutoff()])
            .await
            .map_err(pg_error)?;
        Ok(self.fold_nodes(&rows, query.now, query.stale_after))
    }

    async fn node_resources(&self, agent_id: Uuid) -> StorageResult<Vec<ResourceResult>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT resource_id, module, in_desired_state, error FROM node_resources WHERE agent_id = $1 ORDER BY resource_id",
                &[&agent_id],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| ResourceResult {
                resource_id: r.get(0),
                module: r.get(1),
                in_desired_state: r.get(2),
                error: r.get(3),
            })
            .collect())
    }

    async fn summary(&self, now: i64, stale_after: i64) -> StorageResult<Summary> {
        let today = day_of(now);
        let client = self.client().await?;
        let statuses: Vec<(Option<String>, bool, i64)> = client
            .query(
                "SELECT run_status, COALESCE(run_time < $1, false), count(*) FROM agents GROUP BY 1, 2",
                &[&(now - stale_after)],
            )
            .await
            .map_err(pg_error)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let daily: Vec<(i64, String, i64)> = client
            .query(
                "SELECT day, status, count FROM daily_counts WHERE day > $1",
                &[&(today - DAILY_DAYS)],
            )
            .await
            .map_err(pg_error)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let failing_resources = client
            .query(
                "SELECT resource_id, count(*) FROM node_resources WHERE NOT in_desired_state GROUP BY resource_id ORDER BY 2 DESC, 1 LIMIT 10",
                &[],
            )
            .await
            .map_err(pg_error)?
            .iter()
            .map(|r| NameCount {
                name: r.get(0),
                nodes: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
            })
            .collect();
        Ok(Summary {
            statuses: status_counts(&statuses),
            configurations: self.shared.cache.configuration_counts(),
            daily: daily_counts(&daily, today),
            failing_resources,
        })
    }

    async fn node(&self, agent_id: Uuid) -> StorageResult<Option<NodeSummary>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT a.agent_id, a.last_seen, a.assigned_names, a.last_report_status, a.last_report_time,
                        r.message_type, r.node_name, r.ip_address, r.lcm_version, r.configuration_names,
                        a.run_status, a.run_time, a.tags
                 FROM agents a LEFT JOIN registrations r ON r.agent_id = a.agent_id
                 WHERE a.agent_id = $1 ORDER BY r.message_type",
            )
            .await
            .map_err(pg_error)?;
        let rows = client.query(&stmt, &[&agent_id]).await.map_err(pg_error)?;
        Ok(self.fold_nodes(&rows, 0, 0).pop())
    }

    async fn agent_count(&self) -> StorageResult<u64> {
        self.count("agents").await
    }

    async fn store_report(
        &self,
        agent_id: Uuid,
        summary: ReportSummary,
        body: Bytes,
    ) -> StorageResult<i64> {
        let (ack, rx) = oneshot::channel();
        let job = ingest::ReportJob {
            agent_id,
            summary,
            body,
            received_at: now_unix(),
            ack,
        };
        let sender = lock(&self.reports)
            .clone()
            .ok_or_else(|| StorageError::failed("storage is shut down"))?;
        sender
            .send(job)
            .await
            .map_err(|_| StorageError::failed("the report committers have stopped"))?;
        rx.await
            .map_err(|_| StorageError::failed("the report committer dropped the report"))?
    }

    async fn reports(&self, f: ReportFilter) -> StorageResult<Vec<StoredReport>> {
        let limit = i64::try_from(if f.limit == 0 { 1000 } else { f.limit }).unwrap_or(1000);
        let order = if f.newest_first { "DESC" } else { "ASC" };
        let after = if f.newest_first {
            0
        } else {
            f.after_id.unwrap_or(0)
        };
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {REPORT_COLUMNS} FROM reports WHERE id > $1
                 AND ($2::uuid IS NULL OR agent_id = $2) AND ($3::uuid IS NULL OR job_id = $3)
                 AND ($4::text IS NULL OR status = $4) AND ($5::bigint IS NULL OR received_at >= $5)
                 AND ($6::bigint IS NULL OR received_at < $6) ORDER BY id {order} LIMIT $7"
            ))
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(
                &stmt,
                &[
                    &after,
                    &f.agent_id,
                    &f.job_id,
                    &f.status,
                    &f.since,
                    &f.until,
                    &limit,
                ],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(report_from_row).collect())
    }

    async fn report_count(&self) -> StorageResult<u64> {
        self.count("reports").await
    }

    async fn put_signed_content(
        &self,
        key: ContentKey,
        bytes: Bytes,
        signers: Vec<String>,
    ) -> StorageResult<ContentMeta> {
        let (kind, name_key, version, _) = content_columns(&key);
        let meta = ContentMeta {
            signers,
            ..ContentMeta::of(&key, &bytes)
        };
        let signers_json = (!meta.signers.is_empty())
            .then(|| serde_json::to_string(&meta.signers).unwrap_or_default());
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&BLOB_LOCK, &meta.checksum],
        )
        .await
        .map_err(pg_error)?;
        self.blobs.put(&meta.checksum, bytes).await?;
        let old: Option<String> = tx
            .query_opt(
                "SELECT checksum FROM content WHERE kind = $1 AND name_key = $2 AND version = $3 FOR UPDATE",
                &[&kind, &name_key, &version],
            )
            .await
            .map_err(pg_error)?
            .map(|r| r.get(0));
        tx.execute(
            "INSERT INTO content (kind, name_key, version, name, checksum, size, updated_at, signers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (kind, name_key, version) DO UPDATE SET name = $4, checksum = $5, size = $6, updated_at = $7, signers = $8",
            &[&kind, &name_key, &version, &meta.name, &meta.checksum, &(meta.size as i64), &meta.updated_at, &signers_json],
        )
        .await
        .map_err(pg_error)?;
        if kind != "module" {
            Self::notify_in(&tx, Change::Configuration(name_key.clone())).await?;
        }
        tx.commit().await.map_err(pg_error)?;
        self.shared
            .cache
            .set_checksum(kind, name_key, Some(meta.checksum.clone()));
        if let Some(old) = old.filter(|o| *o != meta.checksum) {
            self.collect_blob(&old).await?;
        }
        Ok(meta)
    }

    async fn content_meta(&self, key: &ContentKey) -> StorageResult<Option<ContentMeta>> {
        let (kind, name_key, version, _) = content_columns(key);
        let modules = kind == "module";
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT name, version, checksum, size, updated_at, signers FROM content
                 WHERE kind = $1 AND name_key = $2 AND ($3 = '' OR version = $3)",
            )
            .await
            .map_err(pg_error)?;
        let version = if modules { version } else { String::new() };
        let rows = client
            .query(&stmt, &[&kind, &name_key, &version])
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| content_from_row(r, modules))
            .max_by(|a, b| {
                version_cmp(
                    a.version.as_deref().unwrap_or(""),
                    b.version.as_deref().unwrap_or(""),
                )
            }))
    }

    fn blob_store(&self) -> &dyn blobs::BlobStore {
        self.blobs.as_ref()
    }

    fn configuration_checksum(&self, name: &str) -> Option<String> {
        self.shared.cache.configuration_checksum(name)
    }

    fn package_checksum(&self, name: &str) -> Option<String> {
        self.shared.cache.package_checksum(name)
    }

    fn rollout(&self, kind: &str, name: &str) -> Option<Arc<dsc_core::pull::rollout::Rollout>> {
        self.shared.cache.rollout(kind, name)
    }

    async fn rollouts_changed(&self) -> StorageResult<()> {
        self.shared.reload_rollouts().await?;
        let client = self.client().await?;
        client
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&notify::CHANNEL, &Change::Rollouts.payload()],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    fn members(&self, name: &str, traek_agents: bool) -> Vec<crate::storage::rollouts::Member> {
        self.shared.cache.members(name, traek_agents)
    }

    async fn delete_content(&self, key: &ContentKey) -> StorageResult<bool> {
        let (kind, name_key, version, _) = content_columns(key);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let old: Option<String> = tx
            .query_opt(
                "DELETE FROM content WHERE kind = $1 AND name_key = $2 AND version = $3 RETURNING checksum",
                &[&kind, &name_key, &version],
            )
            .await
            .map_err(pg_error)?
            .map(|r| r.get(0));
        if kind != "module" {
            Self::notify_in(&tx, Change::Configuration(name_key.clone())).await?;
        }
        tx.commit().await.map_err(pg_error)?;
        self.shared.cache.set_checksum(kind, name_key, None);
        match old {
            Some(old) => {
                self.collect_blob(&old).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn list_content(&self, kind: ContentKind) -> StorageResult<Vec<ContentMeta>> {
        let modules = kind == ContentKind::Module;
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, version, checksum, size, updated_at, signers FROM content WHERE kind = $1 ORDER BY name_key, version",
                &[&kind.as_str()],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| content_from_row(r, modules)).collect())
    }

    async fn registration_keys(&self) -> StorageResult<Vec<KeyRecord>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT id, key, source, added_at FROM registration_keys WHERE revoked_at IS NULL ORDER BY added_at, key")
            .await
            .map_err(pg_error)?;
        let rows = client.query(&stmt, &[]).await.map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| KeyRecord {
                id: r.get(0),
                key: r.get(1),
                source: r.get(2),
                added_at: r.get(3),
            })
            .collect())
    }

    async fn add_registration_keys(&self, keys: Vec<String>, source: &str) -> StorageResult<usize> {
        let now = now_unix();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let mut n = 0;
        for k in &keys {
            n += tx
                .execute(
                    "INSERT INTO registration_keys (key, id, source, added_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO UPDATE SET revoked_at = NULL, added_at = $4, source = $3
                     WHERE registration_keys.revoked_at IS NOT NULL",
                    &[k, &dsc_core::pull::auth::key_id(k), &source, &now],
                )
                .await
                .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn revoke_registration_key(&self, id_or_key: &str) -> StorageResult<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE registration_keys SET revoked_at = $2 WHERE key = (SELECT key FROM registration_keys
                 WHERE revoked_at IS NULL AND (key = $1 OR id = upper($1)) ORDER BY added_at LIMIT 1)
                 AND revoked_at IS NULL RETURNING key",
                &[&id_or_key, &now_unix()],
            )
            .await
            .map_err(pg_error)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn prune(&self, policy: &PrunePolicy) -> StorageResult<u64> {
        let client = self.client().await?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, 0)", &[&PRUNE_LOCK])
            .await
            .map_err(pg_error)?
            .get(0);
        if !locked {
            return Ok(0);
        }
        let result = Self::prune_reports(&client, policy).await;
        let unlock = client
            .execute("SELECT pg_advisory_unlock($1, 0)", &[&PRUNE_LOCK])
            .await
            .map_err(pg_error);
        drop(client);
        let deleted = result?;
        unlock?;
        for checksum in self.blobs.list().await? {
            self.collect_blob(&checksum).await?;
        }
        Ok(deleted)
    }

    fn sql(&self) -> &dyn Sql {
        self
    }

    async fn set_tags(&self, agent_id: Uuid, tags: Vec<String>) -> StorageResult<bool> {
        let json = serde_json::to_string(&tags).unwrap_or_default();
        let n = self.set_agent_column(agent_id, "tags", Some(json)).await?;
        self.shared
            .cache
            .update_agent(agent_id, false, |v| v.tags = tags);
        Ok(n > 0)
    }

    async fn set_tag_configurations(
        &self,
        tag: &str,
        names: Option<Vec<String>>,
    ) -> StorageResult<()> {
        let names = names.unwrap_or_default();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let key = tag.to_lowercase();
        if names.is_empty() {
            tx.execute("DELETE FROM tag_configurations WHERE tag_key = $1", &[&key])
                .await
                .map_err(pg_error)?;
        } else {
            let json = serde_json::to_string(&names).unwrap_or_default();
            tx.execute(
                "INSERT INTO tag_configurations (tag_key, tag, names) VALUES ($1, $2, $3) ON CONFLICT (tag_key) DO UPDATE SET tag = $2, names = $3",
                &[&key, &tag, &json],
            )
            .await
            .map_err(pg_error)?;
        }
        Self::notify_in(&tx, Change::Tag(key)).await?;
        tx.commit().await.map_err(pg_error)?;
        self.shared.cache.set_tag_names(tag, names);
        Ok(())
    }

    async fn tag_configurations(&self) -> StorageResult<Vec<(String, Vec<String>)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT tag, names FROM tag_configurations ORDER BY tag_key",
                &[],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), names_of(r.get::<_, Option<&str>>(1))))
            .collect())
    }

    fn effective_names(&self, view: &AgentView) -> Vec<String> {
        self.shared.cache.effective_names(view)
    }

    async fn ping(&self) -> StorageResult<()> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(pg_error)
    }

    async fn flush(&self) -> StorageResult<()> {
        let mut dirty = self.shared.cache.unflushed();
        if dirty.is_empty() {
            return Ok(());
        }
        dirty.sort_unstable();
        let ids: Vec<Uuid> = dirty.iter().map(|d| d.0).collect();
        let times: Vec<i64> = dirty.iter().map(|d| d.1).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        // Rows are locked in agent-id order, as report batches lock them: no deadlock.
        tx.execute(
            "SELECT 1 FROM agents WHERE agent_id = ANY($1) ORDER BY agent_id FOR UPDATE",
            &[&ids],
        )
        .await
        .map_err(pg_error)?;
        tx.execute(
            "UPDATE agents a SET last_seen = GREATEST(COALESCE(a.last_seen, 0), v.t)
             FROM unnest($1::uuid[], $2::bigint[]) AS v(id, t) WHERE a.agent_id = v.id",
            &[&ids, &times],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        self.shared.cache.mark_flushed(&dirty);
        Ok(())
    }
}
