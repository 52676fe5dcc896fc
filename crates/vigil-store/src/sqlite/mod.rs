//! Metadata/journal store on SQLite (the embedded default).
//!
//! Durability: WAL with `synchronous = FULL`, so a commit is fsynced before `apply` returns. Writers are
//! serialized: in this process through the single group-committing writer ([`writer`]), across processes (the
//! CLI while the server runs) through `BEGIN IMMEDIATE` and SQLite's lock. That serialization is what makes journal sequence numbers
//! gapless and in commit order: each transaction reads `MAX(seq)` while holding the write lock.

mod cache;
mod changefeed;
mod content;
mod content_write;
mod identity;
mod index;
mod migrate;
mod rollup;
mod rows;
mod write;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row};
use std::sync::Arc;
use tokio::sync::watch;
use vigil_core::{Digest, RepoName, Tag};

use crate::journal::*;
use crate::meta::*;
use writer::{Change, Done};

pub struct SqliteStore {
    read: SqlitePool,
    writer: writer::Writer,
    /// Manifests by repository and `t:<tag>` or `d:<digest>`: what every pull asks for.
    manifests: cache::ReadCache<(String, String), Option<ManifestRecord>>,
    /// Pages of tag names by repository, `last` and page size.
    tag_pages: cache::ReadCache<(String, String, usize), Vec<String>>,
    /// Whether a repository exists, by name (tag lists ask first).
    repositories: cache::ReadCache<String, bool>,
    /// Accounts by id: every request with a registry token looks its account up.
    accounts: cache::ReadCache<String, Option<crate::identity::Account>>,
}

/// Cached entries at most, per cache.
const CACHE_ENTRIES: usize = 4096;
/// Longer tag pages are read from the database every time; with at most `TAG_PAGE_ENTRIES` pages cached this bounds
/// the tag cache at about 15 MiB.
const CACHED_TAG_PAGE_MAX: usize = 1_001;
const TAG_PAGE_ENTRIES: usize = 256;
/// Manifests larger than this are read from the database every time (bounds the cache at 64 MiB).
const CACHED_MANIFEST_MAX: usize = 16 * 1024;

fn parse_digest(s: &str) -> StoreResult<Digest> {
    Digest::from_str(s).map_err(|e| StoreError::Backend(format!("corrupt digest in metadata: {e}")))
}

fn parse_repo(s: &str) -> StoreResult<RepoName> {
    RepoName::from_str(s).map_err(|e| StoreError::Backend(format!("corrupt repository name in metadata: {e}")))
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with_clock(path, Arc::new(crate::now_ms)).await
    }

    /// As [`SqliteStore::open`], with journal entries stamped by `clock` instead of the system clock (still never
    /// earlier than the entry before). For the benchmark loader, which spreads events over past weeks.
    pub async fn open_with_clock(path: &Path, clock: crate::Clock) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-16000");
        let mut conn = SqliteConnection::connect_with(&opts).await?;
        migrate::run(&mut conn).await?;
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal").fetch_one(&mut conn).await?;
        let read =
            SqlitePoolOptions::new().max_connections(4).min_connections(1).connect_with(opts.read_only(true)).await?;
        let version = cache::DataVersion::default();
        Ok(SqliteStore {
            read,
            writer: {
                let bump = version.clone();
                let backend = writer::SqliteBackend { conn };
                writer::Writer::spawn(backend, head as u64, clock, Box::new(move || bump.bump()))
            },
            manifests: cache::ReadCache::new(version.clone(), CACHE_ENTRIES),
            tag_pages: cache::ReadCache::new(version.clone(), TAG_PAGE_ENTRIES),
            repositories: cache::ReadCache::new(version.clone(), CACHE_ENTRIES),
            accounts: cache::ReadCache::new(version, CACHE_ENTRIES),
        })
    }

    /// The manifest `sql` finds for `repo` and `key`, through the manifest cache (`kind` tells tags from digests).
    async fn manifest_where(
        &self,
        repo: &RepoName,
        kind: &str,
        sql: &str,
        key: &str,
    ) -> StoreResult<Option<ManifestRecord>> {
        let small = |m: &Option<ManifestRecord>| m.as_ref().is_none_or(|m| m.content.len() <= CACHED_MANIFEST_MAX);
        let cache_key = (repo.as_str().to_owned(), format!("{kind}{key}"));
        self.manifests.get_or_load(cache_key, small, self.manifest_uncached(repo, sql, key)).await
    }

    async fn manifest_uncached(&self, repo: &RepoName, sql: &str, key: &str) -> StoreResult<Option<ManifestRecord>> {
        let row = sqlx::query(sql).bind(repo.as_str()).bind(key).fetch_optional(&self.read).await?;
        row.map(|r| {
            Ok(ManifestRecord {
                digest: parse_digest(r.get("digest"))?,
                media_type: r.get("media_type"),
                content: Bytes::from(r.get::<Vec<u8>, _>("content")),
                subject: r.get::<Option<&str>, _>("subject").map(parse_digest).transpose()?,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl JournalStore for SqliteStore {
    async fn append_events(&self, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<Vec<u64>> {
        self.writer.submit(Change::None, events).await.map(|(_, seqs)| seqs)
    }

    async fn journal(&self, from: u64, limit: usize) -> StoreResult<Vec<JournalRecord>> {
        // Row by row as SQLite yields them: each row is dropped once copied, rather than a page of tens of
        // thousands of rows held and freed at once (verify reads 10 M entries this way; the allocator's work on
        // those large frees showed in its profile).
        let mut rows = sqlx::query("SELECT seq, ts, event FROM journal WHERE seq >= ? ORDER BY seq LIMIT ?")
            .bind(from as i64)
            .bind(limit as i64)
            .fetch(&self.read);
        let mut records = Vec::with_capacity(limit.min(1 << 16));
        while let Some(r) = rows.try_next().await? {
            records.push(JournalRecord { seq: r.get::<i64, _>(0) as u64, ts_ms: r.get(1), bytes: r.get(2) });
        }
        Ok(records)
    }

    async fn index_events(&self, rows: Vec<crate::index::IndexRow>, after: u64, through: u64) -> StoreResult<()> {
        self.writer.submit(Change::Index { rows, after, through }, Vec::new()).await.map(|_| ())
    }

    async fn reset_index(&self, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<()> {
        self.writer.submit(Change::ResetIndex, events).await.map(|_| ())
    }

    async fn restore_journal(&self, records: Vec<JournalRecord>) -> StoreResult<u64> {
        let n = records.len() as u64;
        self.writer.submit(Change::RestoreJournal { records }, Vec::new()).await.map(|_| n)
    }

    async fn prune_journal(&self, through: u64, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<()> {
        self.writer.submit(Change::PruneJournal { through }, events).await.map(|_| ())
    }

    async fn indexed_through(&self) -> StoreResult<u64> {
        Ok(self.setting(index::INDEXED_THROUGH).await?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    async fn query_events(
        &self,
        filter: &crate::index::EventFilter,
        order: crate::index::Order,
        limit: u32,
    ) -> StoreResult<Vec<u64>> {
        index::query(&self.read, filter, order, limit).await
    }

    async fn query_entries(
        &self,
        filter: &crate::index::EventFilter,
        order: crate::index::Order,
        limit: u32,
    ) -> StoreResult<Vec<JournalRecord>> {
        index::query_entries(&self.read, filter, order, limit).await
    }

    async fn aggregate_events(
        &self,
        filter: &crate::index::EventFilter,
        bucket: Option<crate::index::Bucket>,
        group: Option<crate::index::GroupBy>,
    ) -> StoreResult<Vec<crate::index::Aggregate>> {
        index::aggregate(&self.read, filter, bucket, group).await
    }

    async fn journal_head(&self) -> StoreResult<u64> {
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal").fetch_one(&self.read).await?;
        Ok(head as u64)
    }

    fn set_commit_participant(&self, participant: Arc<dyn CommitParticipant>) {
        self.writer.set_participant(participant);
    }

    async fn sink_marks(&self) -> StoreResult<Vec<SinkMark>> {
        let rows = sqlx::query("SELECT name, path, file_id, offset, through FROM audit_sinks ORDER BY name")
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .iter()
            .map(|r| SinkMark {
                name: r.get(0),
                path: r.get(1),
                file_id: r.get::<i64, _>(2) as u64,
                offset: r.get::<i64, _>(3) as u64,
                through: r.get::<i64, _>(4) as u64,
            })
            .collect())
    }

    async fn set_sink_mark(&self, mark: SinkMark) -> StoreResult<()> {
        self.writer.submit(Change::SinkMark(mark), Vec::new()).await.map(|_| ())
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.writer.watch_head()
    }

    async fn journal_ready(&self) -> StoreResult<()> {
        self.writer.ready(Change::Probe).await
    }
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn apply(&self, mutation: Mutation, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<(Applied, Vec<u64>)> {
        match self.writer.submit(Change::Registry(mutation), events).await? {
            (Done::Registry(applied), seqs) => Ok((applied, seqs)),
            (Done::Other, _) => Err(StoreError::Backend("writer answered a mutation with no outcome".into())),
        }
    }

    async fn repository_exists(&self, repo: &RepoName) -> StoreResult<bool> {
        let load = async {
            let row = sqlx::query("SELECT 1 FROM repositories WHERE name = ? AND format = 'oci'")
                .bind(repo.as_str())
                .fetch_optional(&self.read)
                .await?;
            Ok(row.is_some())
        };
        self.repositories.get_or_load(repo.as_str().to_owned(), |_| true, load).await
    }

    async fn catalog(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<String>> {
        let rows =
            sqlx::query_scalar("SELECT name FROM repositories WHERE name > ? AND format = 'oci' ORDER BY name LIMIT ?")
                .bind(after.unwrap_or(""))
                .bind(limit as i64)
                .fetch_all(&self.read)
                .await?;
        Ok(rows)
    }

    async fn tags(&self, repo: &RepoName, after: Option<&str>, limit: usize) -> StoreResult<Vec<String>> {
        let load = async {
            let rows = sqlx::query_scalar(
                "SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repo_id
                 WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT ?",
            )
            .bind(repo.as_str())
            .bind(after.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.read)
            .await?;
            Ok(rows)
        };
        let key = (repo.as_str().to_owned(), after.unwrap_or_default().to_owned(), limit);
        self.tag_pages.get_or_load(key, |page| page.len() <= CACHED_TAG_PAGE_MAX, load).await
    }

    async fn blob(&self, repo: &RepoName, digest: &Digest) -> StoreResult<Option<BlobInfo>> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM repo_blobs rb JOIN repositories r ON r.id = rb.repo_id JOIN blobs b ON b.digest = rb.digest
             WHERE r.name = ? AND rb.digest = ?",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.read)
        .await?;
        Ok(size.map(|s| BlobInfo { digest: digest.clone(), size: s as u64 }))
    }

    async fn manifest_by_digest(&self, repo: &RepoName, digest: &Digest) -> StoreResult<Option<ManifestRecord>> {
        self.manifest_where(
            repo,
            "d:",
            "SELECT m.digest, m.media_type, m.content, m.subject FROM manifests m JOIN repositories r ON r.id = m.repo_id
             WHERE r.name = ? AND m.digest = ?",
            &digest.to_string(),
        )
        .await
    }

    async fn manifest_by_tag(&self, repo: &RepoName, tag: &Tag) -> StoreResult<Option<ManifestRecord>> {
        self.manifest_where(
            repo,
            "t:",
            "SELECT m.digest, m.media_type, m.content, m.subject FROM tags t JOIN repositories r ON r.id = t.repo_id
             JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest WHERE r.name = ? AND t.name = ?",
            tag.as_str(),
        )
        .await
    }

    async fn referrers(&self, repo: &RepoName, subject: &Digest) -> StoreResult<Vec<Referrer>> {
        let rows = sqlx::query(
            "SELECT m.digest, m.media_type, length(m.content) AS size, m.artifact_type, m.annotations
             FROM manifests m JOIN repositories r ON r.id = m.repo_id
             WHERE r.name = ? AND m.subject = ? ORDER BY m.created_at, m.digest",
        )
        .bind(repo.as_str())
        .bind(subject.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Referrer {
                    digest: parse_digest(r.get("digest"))?,
                    media_type: r.get("media_type"),
                    size: r.get::<i64, _>("size") as u64,
                    artifact_type: r.get("artifact_type"),
                    annotations: r.get("annotations"),
                })
            })
            .collect()
    }

    async fn upload(&self, id: &str) -> StoreResult<Option<UploadSession>> {
        let row = sqlx::query("SELECT id, repo, created_at, updated_at FROM uploads WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    async fn stale_uploads(&self, before_ms: i64) -> StoreResult<Vec<UploadSession>> {
        let rows = sqlx::query("SELECT id, repo, created_at, updated_at FROM uploads WHERE updated_at < ?")
            .bind(before_ms)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(session_from_row).collect()
    }

    async fn touch_upload(&self, id: &str) -> StoreResult<()> {
        self.writer
            .submit(Change::TouchUpload { id: id.to_owned(), now_ms: crate::now_ms() }, Vec::new())
            .await
            .map(|_| ())
    }

    async fn collectable_blobs(&self, linked_before_ms: i64) -> StoreResult<Vec<BlobInfo>> {
        let rows = sqlx::query(&format!("SELECT b.digest, b.size FROM blobs b WHERE {}", write::COLLECTABLE))
            .bind(linked_before_ms)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok(BlobInfo { digest: parse_digest(r.get("digest"))?, size: r.get::<i64, _>("size") as u64 }))
            .collect()
    }

    async fn blob_wanted(&self, digest: &Digest) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM blobs WHERE digest = ?1)
                OR EXISTS (SELECT 1 FROM uploads WHERE finishing_digest = ?1)",
        )
        .bind(digest.to_string())
        .fetch_optional(&self.read)
        .await?;
        Ok(row.is_some())
    }

    async fn changefeed(
        &self,
        gun: Option<&str>,
        page: crate::changefeed::ChangePage,
    ) -> StoreResult<Vec<crate::changefeed::ChangeRecord>> {
        changefeed::page(&self.read, gun, page).await
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.read).await?)
    }
}

fn session_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<UploadSession> {
    Ok(UploadSession {
        id: r.get("id"),
        repo: parse_repo(r.get("repo"))?,
        created_at_ms: r.get("created_at"),
        updated_at_ms: r.get("updated_at"),
    })
}
