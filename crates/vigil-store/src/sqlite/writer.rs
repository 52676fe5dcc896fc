//! The single writer of the SQLite store, with group commit.
//!
//! Every write — a registry mutation, an identity change, a bare audit event — is a [`Job`] sent to one task that
//! owns the write connection. The task takes whatever jobs are queued (up to [`MAX_BATCH`]), runs each inside its
//! own SAVEPOINT of one `BEGIN IMMEDIATE` transaction (a job that fails is rolled back alone), hands the batch's
//! journal records to the commit participant (enforced audit sinks), and commits: one fsync for the whole batch.
//! Every waiting caller is released when its batch is durable.
//!
//! Sequence numbers are assigned here, inside the transaction, from the journal's current maximum: gapless and in
//! commit order, also when another process (the CLI) commits between two batches. A job's events are encoded
//! with their final sequence number, so the stored bytes are the canonical bytes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use sqlx::{Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot, watch};

use super::cache::DataVersion;
use crate::identity::IdentityChange;
use crate::journal::{CommitParticipant, JournalEvent, JournalRecord, SinkMark};
use crate::meta::{Applied, Mutation, StoreError, StoreResult};
use crate::now_ms;

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// Journal rows per multi-row INSERT (3 parameters each, well under SQLite's 32,766).
const ROWS_PER_INSERT: usize = 1_000;
/// Jobs waiting for the writer before senders wait too.
const QUEUE: usize = 8192;
/// `journal_ready` reports failure for this long after a failed commit.
const FAILURE_WINDOW_MS: i64 = 10_000;

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

pub(crate) enum Done {
    Registry(Applied),
    Other,
}

type Reply = StoreResult<(Done, Vec<u64>)>;

struct Job {
    change: Change,
    events: Vec<Box<dyn JournalEvent>>,
    reply: oneshot::Sender<Reply>,
}

type Participant = Arc<RwLock<Option<Arc<dyn CommitParticipant>>>>;

/// The handle requests use to reach the writer.
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    participant: Participant,
    head: watch::Receiver<u64>,
    last_failure_ms: Arc<AtomicI64>,
}

impl Writer {
    pub(crate) fn spawn(conn: SqliteConnection, head: u64, clock: crate::Clock, version: DataVersion) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (head_tx, head_rx) = watch::channel(head);
        let participant: Participant = Arc::default();
        let last_failure_ms = Arc::new(AtomicI64::new(0));
        let task = Task {
            conn,
            clock,
            rx,
            version,
            participant: participant.clone(),
            head: head_tx,
            last_failure_ms: last_failure_ms.clone(),
        };
        tokio::spawn(task.run());
        Writer { tx, participant, head: head_rx, last_failure_ms }
    }

    /// Queues a job and waits until its batch is durable (or failed).
    pub(crate) async fn submit(&self, change: Change, events: Vec<Box<dyn JournalEvent>>) -> Reply {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { change, events, reply }).await.map_err(|_| stopped())?;
        metrics::gauge!("vigil_journal_queue_depth").set((QUEUE - self.tx.capacity()) as f64);
        rx.await.map_err(|_| stopped())?
    }

    pub(crate) fn set_participant(&self, p: Arc<dyn CommitParticipant>) {
        *self.participant.write().expect("participant lock") = Some(p);
    }

    pub(crate) fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.clone()
    }

    pub(crate) async fn ready(&self) -> StoreResult<()> {
        let failed_at = self.last_failure_ms.load(Ordering::Relaxed);
        if failed_at != 0 && now_ms() - failed_at < FAILURE_WINDOW_MS {
            return Err(StoreError::JournalUnavailable("a journal commit failed in the last 10 seconds".into()));
        }
        self.submit(Change::Probe, Vec::new()).await.map(|_| ())
    }
}

fn stopped() -> StoreError {
    StoreError::JournalUnavailable("the journal writer has stopped".into())
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::JournalUnavailable(e.to_string())
}

struct Task {
    conn: SqliteConnection,
    /// What journal entries are stamped with.
    clock: crate::Clock,
    rx: mpsc::Receiver<Job>,
    /// Bumped after a batch that changed registry or identity data commits, before anyone is answered.
    version: DataVersion,
    participant: Participant,
    head: watch::Sender<u64>,
    last_failure_ms: Arc<AtomicI64>,
}

impl Task {
    async fn run(mut self) {
        while let Some(first) = self.rx.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            metrics::histogram!("vigil_journal_batch_jobs").record(jobs.len() as f64);
            metrics::gauge!("vigil_journal_queue_depth").set(self.rx.len() as f64);
            let participant = self.participant.read().expect("participant lock").clone();
            let started = Instant::now();
            let changes_data = jobs.iter().any(|j| matches!(j.change, Change::Registry(_) | Change::Identity(_)));
            let results = self.commit_batch(&mut jobs, participant).await;
            if changes_data {
                self.version.bump();
            }
            metrics::histogram!("vigil_journal_commit_seconds").record(started.elapsed().as_secs_f64());
            match &results {
                Ok(_) => {}
                Err(e) => {
                    self.last_failure_ms.store(now_ms(), Ordering::Relaxed);
                    tracing::error!(error = %e, jobs = jobs.len(), "journal commit failed; every request in the batch fails");
                }
            }
            deliver(jobs, results);
        }
    }

    /// Runs one batch. `Err` fails every job; `Ok` holds each job's own result.
    async fn commit_batch(
        &mut self,
        jobs: &mut [Job],
        participant: Option<Arc<dyn CommitParticipant>>,
    ) -> StoreResult<Vec<Reply>> {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut self.conn).await.map_err(unavailable)?;
        let result = self.fill(jobs, participant.as_ref()).await;
        let (results, prepared) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
                return Err(e);
            }
        };
        if let Err(e) = sqlx::query("COMMIT").execute(&mut self.conn).await {
            // After a failed COMMIT (disk full, I/O error) SQLite may keep the transaction open: end it.
            let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
            if let (true, Some(p)) = (prepared, &participant) {
                p.aborted();
            }
            return Err(unavailable(e));
        }
        if let (true, Some(p)) = (prepared, &participant) {
            p.committed();
        }
        let mut head = None;
        for (job, result) in jobs.iter().zip(&results) {
            if let Ok((_, seqs)) = result {
                for (event, seq) in job.events.iter().zip(seqs) {
                    event.committed(*seq);
                    head = Some(*seq);
                }
            }
        }
        if let Some(h) = head {
            self.head.send_replace(h);
        }
        Ok(results)
    }

    /// Applies every job inside the open transaction and lets the participant write the records. Returns each
    /// job's result and whether the participant prepared anything.
    async fn fill(
        &mut self,
        jobs: &mut [Job],
        participant: Option<&Arc<dyn CommitParticipant>>,
    ) -> StoreResult<(Vec<Reply>, bool)> {
        let row =
            sqlx::query("SELECT seq, ts FROM journal ORDER BY seq DESC LIMIT 1").fetch_optional(&mut self.conn).await?;
        let (last_seq, last_ts) = row.map_or((0u64, 0i64), |r| (r.get::<i64, _>(0) as u64, r.get::<i64, _>(1)));
        // Timestamps never go backwards along the sequence, even if the clock does.
        let ts = (self.clock)().max(last_ts);
        let mut seq = last_seq;
        let mut records: Vec<JournalRecord> = Vec::new();
        let mut results = Vec::with_capacity(jobs.len());
        let mut probe = false;
        // Records of event-only jobs, inserted together after the loop (as indexes into `records`).
        let mut unwritten: Vec<usize> = Vec::new();
        for job in jobs.iter_mut() {
            let change = std::mem::replace(&mut job.change, Change::None);
            probe |= matches!(change, Change::Probe);
            if matches!(change, Change::None | Change::Probe) {
                // Events alone (reads, denials) change nothing that could fail on its own: their only statement
                // is the insert, which fails only with the whole transaction. So no savepoint, and many rows per
                // statement: at one statement per event, the round trips to SQLite's thread were most of an
                // enforced-audit read's cost.
                let seqs = job
                    .events
                    .iter()
                    .map(|event| {
                        seq += 1;
                        unwritten.push(records.len());
                        records.push(JournalRecord { seq, ts_ms: ts, bytes: event.encode(seq, ts) });
                        seq
                    })
                    .collect();
                results.push(Ok((Done::Other, seqs)));
                continue;
            }
            sqlx::query("SAVEPOINT job").execute(&mut self.conn).await?;
            let (seq_before, records_before) = (seq, records.len());
            let feed = super::changefeed::intent(&change);
            let result = async {
                let done = apply(&mut self.conn, change).await?;
                let mut seqs = Vec::with_capacity(job.events.len());
                for event in &job.events {
                    seq += 1;
                    let bytes = event.encode(seq, ts);
                    sqlx::query("INSERT INTO journal (seq, ts, event) VALUES (?, ?, ?)")
                        .bind(seq as i64)
                        .bind(ts)
                        .bind(&bytes)
                        .execute(&mut self.conn)
                        .await?;
                    records.push(JournalRecord { seq, ts_ms: ts, bytes });
                    seqs.push(seq);
                }
                // The feed's records carry the seq of the change's own event, in the same savepoint.
                if let (Some(feed), Some(&first)) = (feed, seqs.first()) {
                    super::changefeed::record(&mut self.conn, feed, &done, first, ts).await?;
                }
                Ok((done, seqs))
            }
            .await;
            if result.is_err() {
                sqlx::query("ROLLBACK TO job").execute(&mut self.conn).await?;
                seq = seq_before;
                records.truncate(records_before);
            }
            sqlx::query("RELEASE job").execute(&mut self.conn).await?;
            results.push(result);
        }
        for chunk in unwritten.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO journal (seq, ts, event) ");
            insert.push_values(chunk, |mut row, &i| {
                let r = &records[i];
                row.push_bind(r.seq as i64).push_bind(r.ts_ms).push_bind(r.bytes.as_slice());
            });
            insert.build().execute(&mut self.conn).await?;
        }
        let Some(p) = participant else { return Ok((results, false)) };
        if probe {
            let p = p.clone();
            tokio::task::spawn_blocking(move || p.probe()).await.map_err(unavailable)?.map_err(unavailable)?;
        }
        if records.is_empty() {
            return Ok((results, false));
        }
        // Records committed by another process (the CLI) since the participant last wrote come first.
        let through = p.through();
        let mut batch = if through < last_seq { self.records_between(through, last_seq).await? } else { Vec::new() };
        batch.extend(records.into_iter().filter(|r| r.seq > through));
        let p2 = p.clone();
        let marks =
            tokio::task::spawn_blocking(move || p2.prepare(&batch)).await.map_err(unavailable)?.map_err(unavailable)?;
        for mark in marks {
            if let Err(e) = upsert_mark(&mut self.conn, &mark).await {
                p.aborted();
                return Err(e);
            }
        }
        Ok((results, true))
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
}

fn deliver(jobs: Vec<Job>, results: StoreResult<Vec<Reply>>) {
    match results {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            let message = e.to_string();
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::JournalUnavailable(message.clone())));
            }
        }
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
