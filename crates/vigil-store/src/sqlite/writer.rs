//! The SQLite side of the group commit ([`crate::commit`]): one write connection, `BEGIN IMMEDIATE` (SQLite's
//! write lock, which also orders commits by the CLI in another process), a SAVEPOINT per job, and one fsync per
//! batch at COMMIT (WAL, `synchronous = FULL`).

use async_trait::async_trait;
use sqlx::{Row, SqliteConnection};

use crate::commit::{ChangeKind, CommitBackend};
use crate::identity::IdentityChange;
use crate::journal::{JournalRecord, SinkMark};
use crate::meta::{Applied, Mutation, StoreResult};

/// Journal rows per multi-row INSERT (3 parameters each, well under SQLite's 32,766).
const ROWS_PER_INSERT: usize = 1_000;

/// What a job changes besides appending its events.
pub(crate) enum Change {
    None,
    Registry(Mutation),
    Identity(IdentityChange),
    TouchUpload {
        id: String,
        now_ms: i64,
    },
    TouchToken {
        id: String,
        now_ms: i64,
    },
    SinkMark(SinkMark),
    /// Retention: entries through `through` leave the journal and the index.
    PruneJournal {
        through: u64,
    },
    /// Rows for the audit query index, the seq it held everything through before them, and after them.
    Index {
        rows: Vec<crate::index::IndexRow>,
        after: u64,
        through: u64,
    },
    /// Empties the audit query index.
    ResetIndex,
    /// Archived entries back into the pruned part of the journal.
    RestoreJournal {
        records: Vec<JournalRecord>,
    },
    /// Takes the write lock and asks the participant whether it could write, then changes nothing.
    Probe,
}

#[derive(Default)]
pub(crate) enum Done {
    Registry(Applied),
    #[default]
    Other,
}

/// The committer of the SQLite store.
pub(crate) type Writer = crate::commit::Committer<SqliteBackend>;

pub(crate) struct SqliteBackend {
    pub(crate) conn: SqliteConnection,
}

#[async_trait]
impl CommitBackend for SqliteBackend {
    type Change = Change;
    type Done = Done;

    fn kind(change: &Change) -> ChangeKind {
        match change {
            Change::None => ChangeKind::EventsOnly,
            Change::Probe => ChangeKind::Probe,
            Change::Registry(_) | Change::Identity(_) => ChangeKind::Data,
            _ => ChangeKind::Bookkeeping,
        }
    }

    async fn begin(&mut self) -> StoreResult<()> {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut self.conn).await?;
        Ok(())
    }

    async fn journal_tail(&mut self) -> StoreResult<(u64, i64)> {
        let row =
            sqlx::query("SELECT seq, ts FROM journal ORDER BY seq DESC LIMIT 1").fetch_optional(&mut self.conn).await?;
        Ok(row.map_or((0, 0), |r| (r.get::<i64, _>(0) as u64, r.get::<i64, _>(1))))
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        sqlx::query("SAVEPOINT job").execute(&mut self.conn).await?;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        sqlx::query("ROLLBACK TO job").execute(&mut self.conn).await?;
        Ok(())
    }

    async fn release_savepoint(&mut self) -> StoreResult<()> {
        sqlx::query("RELEASE job").execute(&mut self.conn).await?;
        Ok(())
    }

    async fn apply(&mut self, change: Change, records: &[JournalRecord]) -> StoreResult<Done> {
        let feed = super::changefeed::intent(&change);
        let done = apply(&mut self.conn, change).await?;
        for r in records {
            sqlx::query("INSERT INTO journal (seq, ts, event) VALUES (?, ?, ?)")
                .bind(r.seq as i64)
                .bind(r.ts_ms)
                .bind(&r.bytes)
                .execute(&mut self.conn)
                .await?;
        }
        // The feed's records carry the seq of the change's own event, in the same savepoint.
        if let (Some(feed), Some(first)) = (feed, records.first()) {
            super::changefeed::record(&mut self.conn, feed, &done, first.seq, first.ts_ms).await?;
        }
        Ok(done)
    }

    async fn append(&mut self, records: &[&JournalRecord]) -> StoreResult<()> {
        for chunk in records.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO journal (seq, ts, event) ");
            insert.push_values(chunk, |mut row, r| {
                row.push_bind(r.seq as i64).push_bind(r.ts_ms).push_bind(r.bytes.as_slice());
            });
            insert.build().execute(&mut self.conn).await?;
        }
        Ok(())
    }

    async fn records_between(&mut self, after: u64, through: u64) -> StoreResult<Vec<JournalRecord>> {
        let rows = sqlx::query("SELECT seq, ts, event FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq")
            .bind(after as i64)
            .bind(through as i64)
            .fetch_all(&mut self.conn)
            .await?;
        Ok(rows
            .iter()
            .map(|r| JournalRecord { seq: r.get::<i64, _>(0) as u64, ts_ms: r.get(1), bytes: r.get(2) })
            .collect())
    }

    async fn save_marks(&mut self, marks: &[SinkMark]) -> StoreResult<()> {
        for mark in marks {
            upsert_mark(&mut self.conn, mark).await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> StoreResult<()> {
        sqlx::query("COMMIT").execute(&mut self.conn).await?;
        Ok(())
    }

    async fn rollback(&mut self) {
        // After a failed COMMIT (disk full, I/O error) SQLite may keep the transaction open: end it.
        let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
    }
}

async fn apply(conn: &mut SqliteConnection, change: Change) -> StoreResult<Done> {
    match change {
        Change::None | Change::Probe => Ok(Done::Other),
        Change::Registry(m) => super::write::mutate(conn, m).await.map(Done::Registry),
        Change::Identity(c) => super::identity::apply(conn, c).await.map(|_| Done::Other),
        Change::TouchUpload { id, now_ms } => {
            sqlx::query("UPDATE uploads SET updated_at = ? WHERE id = ?")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(Done::Other)
        }
        Change::TouchToken { id, now_ms } => {
            sqlx::query("UPDATE tokens SET last_used_at = ? WHERE id = ?")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(Done::Other)
        }
        Change::SinkMark(mark) => upsert_mark(conn, &mark).await.map(|_| Done::Other),
        Change::Index { rows, after, through } => {
            super::index::write(conn, rows, after, through).await.map(|_| Done::Other)
        }
        Change::ResetIndex => super::index::reset(conn).await.map(|_| Done::Other),
        Change::RestoreJournal { records } => super::index::restore(conn, records).await.map(|_| Done::Other),
        Change::PruneJournal { through } => super::index::prune(conn, through).await.map(|_| Done::Other),
    }
}

async fn upsert_mark(conn: &mut SqliteConnection, mark: &SinkMark) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_sinks (name, path, file_id, offset, through) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET path = excluded.path, file_id = excluded.file_id, offset = excluded.offset,
             through = excluded.through",
    )
    .bind(&mark.name)
    .bind(&mark.path)
    .bind(mark.file_id as i64)
    .bind(mark.offset as i64)
    .bind(mark.through as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
