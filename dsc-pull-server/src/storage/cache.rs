//! What the protocol hot path reads from memory: each agent's view (configuration names,
//! assignment, certificate thumbprints) with its last-seen time, and every configuration's
//! checksum.
//!
//! Both backends keep one. SQLite's is the whole truth (one process writes); PostgreSQL's is
//! kept true by change notifications from every replica. To keep a slow loader from putting back
//! a view older than a notification that arrived meanwhile, every invalidation bumps an epoch
//! and a loader stores its result only if the epoch has not moved since it started
//! ([`Cache::epoch`], [`Cache::insert_if_current`]). To keep a notification's load from
//! undoing a write of this replica's own that reached the cache while the row was read, each
//! view carries the count of view changes it was stored at, and a load stores over it only if
//! it began after that ([`Cache::views`], [`Cache::set_agent_since`]); otherwise it reads again.

use super::AgentView;
use dsc_core::pull::rollout::Rollout;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use uuid::Uuid;

/// One cached agent: its view (shared with readers without copying) and when it was last seen.
pub struct CachedAgent {
    pub view: Arc<AgentView>,
    /// Last seen (Unix seconds), updated lock-free on every request.
    pub last_seen: AtomicI64,
    /// The last-seen value already written to the database.
    pub flushed: AtomicI64,
    /// The cache's `views` count when this view was stored: a load begun before it is older.
    stamp: u64,
}

impl CachedAgent {
    fn new(view: AgentView, last_seen: i64, stamp: u64) -> Arc<Self> {
        Arc::new(CachedAgent {
            view: Arc::new(view),
            last_seen: AtomicI64::new(last_seen),
            flushed: AtomicI64::new(last_seen),
            stamp,
        })
    }

    /// A copy with another view and the same times.
    fn with_view(&self, view: AgentView, stamp: u64) -> Arc<Self> {
        Arc::new(CachedAgent {
            view: Arc::new(view),
            last_seen: AtomicI64::new(self.last_seen.load(Relaxed)),
            flushed: AtomicI64::new(self.flushed.load(Relaxed)),
            stamp,
        })
    }
}

pub fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

pub fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
pub struct Cache {
    agents: RwLock<HashMap<Uuid, Arc<CachedAgent>>>,
    /// Lowercased configuration name → checksum of its MOF.
    configs: RwLock<HashMap<String, String>>,
    /// Lowercased configuration name → checksum of its package.
    packages: RwLock<HashMap<String, String>>,
    /// Configuration names given to tags.
    tag_names: RwLock<super::TagNames>,
    /// `(kind, lowercased name)` → the rollout serving a candidate of it.
    rollouts: RwLock<HashMap<(String, String), Arc<Rollout>>>,
    epoch: AtomicU64,
    /// Bumped by every change of an agent's view or of the tags' names.
    views: AtomicU64,
    /// The last [`Cache::configuration_counts`] and the `views` it was counted at.
    counted: std::sync::Mutex<Option<(u64, Vec<super::NameCount>)>>,
}

impl Cache {
    /// The rollout serving a candidate of this configuration or package (`kind` is
    /// `configuration` or `package`), if any.
    pub fn rollout(&self, kind: &str, name: &str) -> Option<Arc<Rollout>> {
        let rollouts = read_lock(&self.rollouts);
        if rollouts.is_empty() {
            return None;
        }
        rollouts
            .get(&(kind.to_string(), name.to_lowercase()))
            .cloned()
    }

    /// Replaces every rollout (they are few: one per configuration at most).
    pub fn replace_rollouts(&self, live: Vec<(String, String, Rollout)>) {
        *write_lock(&self.rollouts) = live
            .into_iter()
            .map(|(kind, name_key, r)| ((kind, name_key), Arc::new(r)))
            .collect();
    }

    /// The agents whose effective names include `name` (case-insensitively), with their
    /// tags: traek agents for a package, LCMs for a configuration.
    pub fn members(&self, name: &str, traek_agents: bool) -> Vec<super::rollouts::Member> {
        let tag_names = read_lock(&self.tag_names);
        read_lock(&self.agents)
            .iter()
            .filter(|(_, a)| a.view.traek_agent == traek_agents)
            .filter(|(_, a)| {
                let v = &a.view;
                super::effective_name_refs(
                    v.assigned_names.as_deref(),
                    &v.tags,
                    &v.registered_names,
                    &tag_names,
                )
                .into_iter()
                .any(|n| n.eq_ignore_ascii_case(name))
            })
            .map(|(id, a)| (*id, a.view.tags.clone()))
            .collect()
    }

    /// The agent's view, if cached.
    pub fn agent(&self, id: &Uuid) -> Option<Arc<AgentView>> {
        read_lock(&self.agents).get(id).map(|a| Arc::clone(&a.view))
    }

    /// The agent's last-seen time known to this process (0 when none).
    pub fn last_seen(&self, id: &Uuid) -> i64 {
        read_lock(&self.agents)
            .get(id)
            .map(|a| a.last_seen.load(Relaxed))
            .unwrap_or(0)
    }

    pub fn agent_count(&self) -> usize {
        read_lock(&self.agents).len()
    }

    /// Nodes per effective configuration name (assignment, else tags, else registered), most
    /// nodes first.
    pub fn configuration_counts(&self) -> Vec<super::NameCount> {
        let version = self.views.load(Relaxed);
        let mut memo = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, counts)) = memo.as_ref().filter(|(at, _)| *at == version) {
            return counts.clone();
        }
        let counts = self.count_configurations();
        *memo = Some((version, counts.clone()));
        counts
    }

    /// Counts the nodes of each configuration name: one pass over every agent.
    fn count_configurations(&self) -> Vec<super::NameCount> {
        let tag_names = read_lock(&self.tag_names);
        let mut counts: HashMap<&str, u64> = HashMap::new();
        let agents = read_lock(&self.agents);
        for a in agents.values() {
            let v = &a.view;
            let names = super::effective_name_refs(
                v.assigned_names.as_deref(),
                &v.tags,
                &v.registered_names,
                &tag_names,
            );
            for n in names {
                *counts.entry(n).or_default() += 1;
            }
        }
        let mut out: Vec<super::NameCount> = counts
            .into_iter()
            .map(|(name, nodes)| super::NameCount {
                name: name.to_string(),
                nodes,
            })
            .collect();
        out.sort_by(|a, b| b.nodes.cmp(&a.nodes).then(a.name.cmp(&b.name)));
        out
    }

    /// The names an agent gets now.
    pub fn effective_names(&self, view: &AgentView) -> Vec<String> {
        view.effective_names(&read_lock(&self.tag_names))
    }

    /// A copy of the tag → names map.
    pub fn tag_names(&self) -> super::TagNames {
        read_lock(&self.tag_names).clone()
    }

    /// Sets (or, with an empty list, removes) a tag's names.
    pub fn set_tag_names(&self, tag: &str, names: Vec<String>) {
        let mut map = write_lock(&self.tag_names);
        self.views.fetch_add(1, Relaxed);
        if names.is_empty() {
            map.remove(&tag.to_lowercase());
        } else {
            map.insert(tag.to_lowercase(), names);
        }
    }

    pub fn replace_tag_names(&self, all: super::TagNames) {
        *write_lock(&self.tag_names) = all;
        self.views.fetch_add(1, Relaxed);
    }

    /// Records a request from the agent (no lock taken beyond the read lock).
    pub fn touch(&self, id: &Uuid, now: i64) {
        if let Some(a) = read_lock(&self.agents).get(id) {
            a.last_seen.fetch_max(now, Relaxed);
        }
    }

    /// Marks the agent seen at `t` and that time as already stored.
    pub fn seen_and_stored(&self, id: &Uuid, t: i64) {
        if let Some(a) = read_lock(&self.agents).get(id) {
            a.last_seen.fetch_max(t, Relaxed);
            a.flushed.fetch_max(t, Relaxed);
        }
    }

    /// Agents seen since their last-seen time was last stored: `(id, time)`.
    pub fn unflushed(&self) -> Vec<(Uuid, i64)> {
        read_lock(&self.agents)
            .iter()
            .filter_map(|(id, a)| {
                let seen = a.last_seen.load(Relaxed);
                (seen > a.flushed.load(Relaxed)).then_some((*id, seen))
            })
            .collect()
    }

    /// Records that these last-seen times are stored.
    pub fn mark_flushed(&self, seen: &[(Uuid, i64)]) {
        let agents = read_lock(&self.agents);
        for (id, t) in seen {
            if let Some(a) = agents.get(id) {
                a.flushed.fetch_max(*t, Relaxed);
            }
        }
    }

    /// Applies `f` to a copy of the agent's view (creating the agent if asked) and stores it.
    pub fn update_agent(&self, id: Uuid, create: bool, f: impl FnOnce(&mut AgentView)) {
        let mut agents = write_lock(&self.agents);
        let stamp = self.next_stamp();
        match agents.get(&id) {
            Some(entry) => {
                let mut view = (*entry.view).clone();
                f(&mut view);
                let replacement = entry.with_view(view, stamp);
                agents.insert(id, replacement);
            }
            None if create => {
                let mut view = AgentView::default();
                f(&mut view);
                agents.insert(id, CachedAgent::new(view, 0, stamp));
            }
            None => {}
        }
    }

    /// Counts a change of a view and gives the stamp of the view stored with it (called with
    /// the agents' lock held).
    fn next_stamp(&self) -> u64 {
        self.views.fetch_add(1, Relaxed) + 1
    }

    /// The count of view changes so far: read before loading views from storage, and given to
    /// [`Cache::set_agent_since`] or [`Cache::replace_agents_since`] after.
    pub fn views(&self) -> u64 {
        self.views.load(Relaxed)
    }

    /// Applies a committed registration: creates the agent if new, takes its names (from a
    /// ConfigurationRepository registration) and its certificate thumbprint.
    pub fn apply_registration(&self, r: &super::Registration) {
        self.update_agent(r.agent_id, true, |view| {
            view.add_registration(
                r.message_type.as_str(),
                r.names_json(),
                &r.request.agent_information.lcm_version,
            );
            if let Some(pin) = &r.pin {
                view.pin = Some(pin.clone());
            }
        });
        self.seen_and_stored(&r.agent_id, r.registered_at);
    }

    /// Replaces (or, with `None`, removes) an agent's view, keeping its times.
    pub fn set_agent(&self, id: Uuid, view: Option<(AgentView, i64)>) {
        self.set_agent_since(id, view, u64::MAX);
    }

    /// [`Cache::set_agent`] with a view loaded from storage after `since` ([`Cache::views`])
    /// was read; false, storing nothing, when this replica stored a view of the agent after
    /// that (a write of its own, whose committed change the load may have missed). Load again.
    pub fn set_agent_since(&self, id: Uuid, view: Option<(AgentView, i64)>, since: u64) -> bool {
        let mut agents = write_lock(&self.agents);
        if agents.get(&id).is_some_and(|e| e.stamp > since) {
            return false;
        }
        let stamp = self.next_stamp();
        match (view, agents.get(&id)) {
            (None, _) => {
                agents.remove(&id);
            }
            (Some((view, seen)), Some(entry)) => {
                let replacement = entry.with_view(view, stamp);
                replacement.last_seen.fetch_max(seen, Relaxed);
                replacement.flushed.fetch_max(seen, Relaxed);
                agents.insert(id, replacement);
            }
            (Some((view, seen)), None) => {
                agents.insert(id, CachedAgent::new(view, seen, stamp));
            }
        }
        true
    }

    /// Replaces every agent (a full load).
    pub fn replace_agents(&self, all: HashMap<Uuid, (AgentView, i64)>) {
        self.replace_agents_since(all, u64::MAX);
    }

    /// [`Cache::replace_agents`] with views loaded after `since` ([`Cache::views`]) was read:
    /// an agent whose view this replica stored after that keeps it, as in
    /// [`Cache::set_agent_since`]. Gives those agents, to be loaded again.
    pub fn replace_agents_since(
        &self,
        all: HashMap<Uuid, (AgentView, i64)>,
        since: u64,
    ) -> Vec<Uuid> {
        let mut agents = write_lock(&self.agents);
        let stamp = self.next_stamp();
        let mut fresh: HashMap<Uuid, Arc<CachedAgent>> = all
            .into_iter()
            .map(|(id, (view, seen))| (id, CachedAgent::new(view, seen, stamp)))
            .collect();
        let mut kept = Vec::new();
        for (id, entry) in agents.iter() {
            if entry.stamp > since {
                fresh.insert(*id, Arc::clone(entry));
                kept.push(*id);
            }
        }
        *agents = fresh;
        kept
    }

    /// The invalidation counter a loader reads before it queries.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    /// Announces that something changed elsewhere: loads begun before now must not be stored.
    pub fn bump_epoch(&self) {
        let _guard = write_lock(&self.agents);
        self.epoch.fetch_add(1, Relaxed);
    }

    /// Stores a loaded view unless an invalidation arrived since `epoch` was read.
    pub fn insert_if_current(&self, id: Uuid, view: AgentView, seen: i64, epoch: u64) -> bool {
        let mut agents = write_lock(&self.agents);
        if self.epoch.load(Relaxed) != epoch {
            return false;
        }
        let stamp = self.next_stamp();
        agents
            .entry(id)
            .or_insert_with(|| CachedAgent::new(view, seen, stamp));
        true
    }

    fn map(&self, kind: &str) -> Option<&RwLock<HashMap<String, String>>> {
        match kind {
            "configuration" => Some(&self.configs),
            "package" => Some(&self.packages),
            _ => None,
        }
    }

    pub fn configuration_checksum(&self, name: &str) -> Option<String> {
        read_lock(&self.configs).get(&name.to_lowercase()).cloned()
    }

    pub fn package_checksum(&self, name: &str) -> Option<String> {
        read_lock(&self.packages).get(&name.to_lowercase()).cloned()
    }

    /// Sets (or, with `None`, removes) the checksum of a configuration's MOF or package
    /// (`kind` as stored; modules are not cached); `name_key` is lowercased.
    pub fn set_checksum(&self, kind: &str, name_key: String, checksum: Option<String>) {
        let Some(map) = self.map(kind) else { return };
        let mut map = write_lock(map);
        match checksum {
            Some(c) => map.insert(name_key, c),
            None => map.remove(&name_key),
        };
    }

    /// Replaces every cached checksum with `(kind, name_key, checksum)` rows.
    pub fn replace_checksums(&self, rows: Vec<(String, String, String)>) {
        let (mut configs, mut packages) = (HashMap::new(), HashMap::new());
        for (kind, name_key, checksum) in rows {
            match kind.as_str() {
                "configuration" => configs.insert(name_key, checksum),
                "package" => packages.insert(name_key, checksum),
                _ => None,
            };
        }
        *write_lock(&self.configs) = configs;
        *write_lock(&self.packages) = packages;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(names: &[&str], tags: &[&str]) -> AgentView {
        AgentView {
            registered_names: names.iter().map(|n| n.to_string()).collect(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    fn counts(c: &Cache) -> Vec<(String, u64)> {
        c.configuration_counts()
            .into_iter()
            .map(|n| (n.name, n.nodes))
            .collect()
    }

    #[test]
    fn configuration_counts_follow_every_change_of_views_and_tags() {
        let c = Cache::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        c.set_agent(a, Some((view(&["Web"], &[]), 0)));
        c.set_agent(b, Some((view(&["Web"], &["db"]), 0)));
        assert_eq!(
            counts(&c),
            [("Web".to_string(), 2)],
            "b's tag has no names yet: it gets what it registered"
        );
        c.set_tag_names("db", vec!["Db".into()]);
        assert_eq!(counts(&c), [("Db".to_string(), 1), ("Web".to_string(), 1)]);
        c.update_agent(a, false, |v| v.assigned_names = Some(vec!["Db".into()]));
        assert_eq!(counts(&c), [("Db".to_string(), 2)]);
        c.set_agent(b, None);
        assert_eq!(counts(&c), [("Db".to_string(), 1)]);
        // Asked twice with nothing changed: the same answer, counted once.
        let version = c.views.load(Relaxed);
        assert_eq!(counts(&c), [("Db".to_string(), 1)]);
        assert_eq!(c.views.load(Relaxed), version);
    }

    fn names(c: &Cache, id: Uuid) -> Option<Vec<String>> {
        c.agent(&id).and_then(|v| v.assigned_names.clone())
    }

    #[test]
    fn a_view_read_before_this_replicas_own_write_does_not_undo_it() {
        let c = Cache::default();
        let a = Uuid::new_v4();
        c.set_agent(a, Some((view(&["Web"], &[]), 0)));
        // A change notification's load begins, and reads the row before the assignment commits.
        let since = c.views();
        c.update_agent(a, false, |v| v.assigned_names = Some(vec!["Db".into()]));
        assert!(!c.set_agent_since(a, Some((view(&["Web"], &[]), 0)), since));
        assert_eq!(names(&c, a), Some(vec!["Db".to_string()]));
        // Read again after the write: stored.
        let since = c.views();
        let mut fresh = view(&["Web"], &[]);
        fresh.assigned_names = Some(vec!["Db".into()]);
        assert!(c.set_agent_since(a, Some((fresh, 0)), since));
        let since = c.views();
        assert!(
            c.set_agent_since(a, None, since),
            "a removal read now is stored"
        );
        assert!(c.agent(&a).is_none());
    }

    #[test]
    fn a_full_reload_keeps_what_this_replica_wrote_while_it_read() {
        let c = Cache::default();
        let (a, b, gone) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        c.set_agent(a, Some((view(&["Web"], &[]), 0)));
        c.set_agent(gone, Some((view(&["Web"], &[]), 0)));
        let since = c.views();
        // While the rows are read: an assignment and a new registration on this replica.
        c.update_agent(a, false, |v| v.assigned_names = Some(vec!["Db".into()]));
        c.update_agent(b, true, |v| v.registered_names = vec!["Web".into()]);
        let read = HashMap::from([(a, (view(&["Web"], &[]), 0))]);
        let mut kept = c.replace_agents_since(read, since);
        kept.sort();
        let mut expected = vec![a, b];
        expected.sort();
        assert_eq!(kept, expected, "to be read again");
        assert_eq!(names(&c, a), Some(vec!["Db".to_string()]));
        assert!(c.agent(&b).is_some());
        assert!(
            c.agent(&gone).is_none(),
            "not in storage, not written since"
        );
    }
}
