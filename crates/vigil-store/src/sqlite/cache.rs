//! Read caches for the lookups every request makes: the manifest a pull asks for, a repository's tag list (and
//! whether it exists), and the account behind a registry token.
//!
//! Each lookup through sqlx is a round trip to a SQLite worker thread and back; on a small machine those thread
//! hand-offs were most of a manifest GET's cost. The caches are exact for writes made through this process: the
//! writer bumps [`DataVersion`] after committing any registry or identity change and before answering, and an
//! entry is served only while the version it was read at is still current. A version is taken *before* the
//! query, so a row read just before a commit is stored under the old version and never served. Writes made by
//! another process (the CLI on the same database) are seen after at most [`TTL`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry is served without being read again, for writes this process does not see.
pub(crate) const TTL: Duration = Duration::from_secs(2);

/// Counts committed registry and identity changes in this process.
#[derive(Clone, Default)]
pub(crate) struct DataVersion(Arc<AtomicU64>);

impl DataVersion {
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called by the writer once a batch that changed registry or identity data is durable.
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

struct Entry<V> {
    version: u64,
    at: Instant,
    value: V,
}

/// A bounded map of lookups, each valid for one [`DataVersion`] and at most [`TTL`].
pub(crate) struct ReadCache<K, V> {
    version: DataVersion,
    entries: Mutex<HashMap<K, Entry<V>>>,
    max_entries: usize,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    pub(crate) fn new(version: DataVersion, max_entries: usize) -> Self {
        ReadCache { version, entries: Mutex::new(HashMap::new()), max_entries }
    }

    /// The cached value, or `load`'s (cached when `keep` says so).
    pub(crate) async fn get_or_load<E, F>(&self, key: K, keep: impl Fn(&V) -> bool, load: F) -> Result<V, E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        let version = self.version.current();
        if let Some(e) = self.entries.lock().expect("read cache lock").get(&key) {
            if e.version == version && e.at.elapsed() < TTL {
                return Ok(e.value.clone());
            }
        }
        let value = load.await?;
        if keep(&value) {
            let mut entries = self.entries.lock().expect("read cache lock");
            if entries.len() >= self.max_entries {
                // Simple and bounded: under a working set larger than the cache, it refills from the database.
                entries.retain(|_, e| e.version == version && e.at.elapsed() < TTL);
                if entries.len() >= self.max_entries {
                    entries.clear();
                }
            }
            entries.insert(key, Entry { version, at: Instant::now(), value: value.clone() });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn load(n: &AtomicU64, v: u32) -> Result<u32, ()> {
        n.fetch_add(1, Ordering::Relaxed);
        Ok(v)
    }

    #[tokio::test]
    async fn serves_until_the_version_moves() {
        let version = DataVersion::default();
        let cache = ReadCache::new(version.clone(), 10);
        let loads = AtomicU64::new(0);
        assert_eq!(cache.get_or_load("a", |_| true, load(&loads, 1)).await, Ok(1));
        assert_eq!(cache.get_or_load("a", |_| true, load(&loads, 2)).await, Ok(1));
        assert_eq!(loads.load(Ordering::Relaxed), 1);
        version.bump();
        assert_eq!(cache.get_or_load("a", |_| true, load(&loads, 3)).await, Ok(3));
        assert_eq!(loads.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_value_read_before_a_commit_is_never_served_after_it() {
        let version = DataVersion::default();
        let cache = ReadCache::new(version.clone(), 10);
        // The writer commits while the load is in flight: what the load read may predate the commit.
        let stale = async {
            version.bump();
            Ok::<_, ()>(1)
        };
        assert_eq!(cache.get_or_load("a", |_| true, stale).await, Ok(1));
        let loads = AtomicU64::new(0);
        assert_eq!(cache.get_or_load("a", |_| true, load(&loads, 2)).await, Ok(2));
        assert_eq!(loads.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn keeps_only_what_it_is_told_and_stays_bounded() {
        let cache = ReadCache::new(DataVersion::default(), 3);
        let loads = AtomicU64::new(0);
        cache.get_or_load(0, |v| *v < 100, load(&loads, 100)).await.unwrap();
        cache.get_or_load(0, |v| *v < 100, load(&loads, 100)).await.unwrap();
        assert_eq!(loads.load(Ordering::Relaxed), 2, "a value `keep` refuses is not cached");
        for k in 1..10 {
            cache.get_or_load(k, |_| true, load(&loads, k)).await.unwrap();
        }
        assert!(cache.entries.lock().unwrap().len() <= 3);
        assert_eq!(cache.get_or_load(9, |_| true, load(&loads, 0)).await, Ok(9));
    }
}
