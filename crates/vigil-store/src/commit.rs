//! The group committer: the one writer every metadata adapter commits through, whatever its database.
//!
//! Every write — a registry mutation, an identity change, a bare audit event — is a job sent to one task. The task
//! takes whatever jobs are queued (up to [`MAX_BATCH`]), opens one transaction holding the backend's write lock,
//! and runs each job inside a savepoint of its own (a job that fails is rolled back alone; events-only jobs need
//! none and are appended together). It then hands the batch's journal records to the commit participant
//! (enforced audit sinks), stores the participant's marks in the same transaction, and commits: one durable
//! write for the whole batch. Every waiting caller is released when its batch is durable.
//!
//! Sequence numbers are assigned here, inside the transaction, from the journal's current tail as the backend
//! reads it under its write lock: gapless and in commit order, also when another process (the CLI, another
//! replica on a shared PostgreSQL) commits between two batches. A job's events are encoded with their final
//! sequence number, so the stored bytes are the canonical bytes.
//!
//! What is backend-specific — the transaction, savepoints, applying a change, writing journal rows and sink
//! marks — is a [`CommitBackend`]; everything else (batching, seq and time assignment, the participant protocol,
//! failure reporting, the head watch, metrics) is written once, here.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{StoreError, StoreResult};
use crate::journal::{CommitParticipant, JournalEvent, JournalRecord, SinkMark};
use crate::now_ms;

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer before senders wait too.
const QUEUE: usize = 8192;
/// `ready` reports failure for this long after a failed commit.
const FAILURE_WINDOW_MS: i64 = 10_000;

/// What kind of job a change makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Nothing but the job's events (reads, denials): no savepoint, appended with the batch's other events.
    EventsOnly,
    /// A write-lock and participant probe that changes nothing (readiness).
    Probe,
    /// Changes registry or identity data: read caches are invalidated after the batch commits.
    Data,
    /// Changes bookkeeping only (indexes, marks, touches).
    Bookkeeping,
}

/// One database's side of the group commit. Called only from the committer's task, one batch at a time.
#[async_trait]
pub trait CommitBackend: Send + 'static {
    /// A change a job makes besides appending its events.
    type Change: Send + 'static;
    /// What applying a change returns to its caller (`Default` for events-only jobs and probes).
    type Done: Default + Send + 'static;

    fn kind(change: &Self::Change) -> ChangeKind;
    /// Opens the batch's transaction, holding the write lock that orders commits across processes.
    async fn begin(&mut self) -> StoreResult<()>;
    /// The last journal entry's seq and time (0, 0 for an empty journal), read under the write lock.
    async fn journal_tail(&mut self) -> StoreResult<(u64, i64)>;
    async fn savepoint(&mut self) -> StoreResult<()>;
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()>;
    async fn release_savepoint(&mut self) -> StoreResult<()>;
    /// Applies one change and writes its journal records (seqs assigned), inside a savepoint.
    async fn apply(&mut self, change: Self::Change, records: &[JournalRecord]) -> StoreResult<Self::Done>;
    /// Writes the records of events-only jobs.
    async fn append(&mut self, records: &[&JournalRecord]) -> StoreResult<()>;
    /// Journal records in `(after, through]`, committed by another process since the participant last wrote.
    async fn records_between(&mut self, after: u64, through: u64) -> StoreResult<Vec<JournalRecord>>;
    /// Stores the participant's positions in the batch's transaction.
    async fn save_marks(&mut self, marks: &[SinkMark]) -> StoreResult<()>;
    async fn commit(&mut self) -> StoreResult<()>;
    async fn rollback(&mut self);
}

type Reply<D> = StoreResult<(D, Vec<u64>)>;

struct Job<B: CommitBackend> {
    change: Option<B::Change>,
    kind: ChangeKind,
    events: Vec<Box<dyn JournalEvent>>,
    reply: oneshot::Sender<Reply<B::Done>>,
}

type Participant = Arc<RwLock<Option<Arc<dyn CommitParticipant>>>>;

/// The handle writers use to reach the committer's task.
pub struct Committer<B: CommitBackend> {
    tx: mpsc::Sender<Job<B>>,
    participant: Participant,
    head: watch::Receiver<u64>,
    last_failure_ms: Arc<AtomicI64>,
}

impl<B: CommitBackend> Committer<B> {
    /// Starts the committer's task over `backend`. `head` is the journal's last seq; entries are stamped by
    /// `clock` (never earlier than the entry before); `after_data` runs after a batch that changed data commits
    /// and before anyone in it is answered (read caches bump their version there).
    pub fn spawn(backend: B, head: u64, clock: crate::Clock, after_data: Box<dyn Fn() + Send>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (head_tx, head_rx) = watch::channel(head);
        let participant: Participant = Arc::default();
        let last_failure_ms = Arc::new(AtomicI64::new(0));
        let task = Task {
            backend,
            clock,
            rx,
            after_data,
            participant: participant.clone(),
            head: head_tx,
            last_failure_ms: last_failure_ms.clone(),
        };
        tokio::spawn(task.run());
        Committer { tx, participant, head: head_rx, last_failure_ms }
    }

    /// Queues a job and waits until its batch is durable (or failed).
    pub async fn submit(&self, change: B::Change, events: Vec<Box<dyn JournalEvent>>) -> Reply<B::Done> {
        let (reply, rx) = oneshot::channel();
        let kind = B::kind(&change);
        self.tx.send(Job { change: Some(change), kind, events, reply }).await.map_err(|_| stopped())?;
        metrics::gauge!("vigil_journal_queue_depth").set((QUEUE - self.tx.capacity()) as f64);
        rx.await.map_err(|_| stopped())?
    }

    pub fn set_participant(&self, p: Arc<dyn CommitParticipant>) {
        *self.participant.write().expect("participant lock") = Some(p);
    }

    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.clone()
    }

    /// Whether the journal can be written now: no failed commit within the failure window, and `probe` (a change
    /// of kind [`ChangeKind::Probe`]) gets the write lock and passes the participant's own check.
    pub async fn ready(&self, probe: B::Change) -> StoreResult<()> {
        let failed_at = self.last_failure_ms.load(Ordering::Relaxed);
        if failed_at != 0 && now_ms() - failed_at < FAILURE_WINDOW_MS {
            return Err(StoreError::JournalUnavailable("a journal commit failed in the last 10 seconds".into()));
        }
        self.submit(probe, Vec::new()).await.map(|_| ())
    }
}

fn stopped() -> StoreError {
    StoreError::JournalUnavailable("the journal writer has stopped".into())
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::JournalUnavailable(e.to_string())
}

struct Task<B: CommitBackend> {
    backend: B,
    clock: crate::Clock,
    rx: mpsc::Receiver<Job<B>>,
    after_data: Box<dyn Fn() + Send>,
    participant: Participant,
    head: watch::Sender<u64>,
    last_failure_ms: Arc<AtomicI64>,
}

impl<B: CommitBackend> Task<B> {
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
            let changes_data = jobs.iter().any(|j| j.kind == ChangeKind::Data);
            let results = self.commit_batch(&mut jobs, participant).await;
            if changes_data {
                (self.after_data)();
            }
            metrics::histogram!("vigil_journal_commit_seconds").record(started.elapsed().as_secs_f64());
            if let Err(e) = &results {
                self.last_failure_ms.store(now_ms(), Ordering::Relaxed);
                tracing::error!(error = %e, jobs = jobs.len(), "journal commit failed; every request in the batch fails");
            }
            deliver(jobs, results);
        }
    }

    /// Runs one batch. `Err` fails every job; `Ok` holds each job's own result.
    async fn commit_batch(
        &mut self,
        jobs: &mut [Job<B>],
        participant: Option<Arc<dyn CommitParticipant>>,
    ) -> StoreResult<Vec<Reply<B::Done>>> {
        self.backend.begin().await.map_err(unavailable)?;
        let (results, prepared) = match self.fill(jobs, participant.as_ref()).await {
            Ok(r) => r,
            Err(e) => {
                self.backend.rollback().await;
                return Err(e);
            }
        };
        if let Err(e) = self.backend.commit().await {
            self.backend.rollback().await;
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
        jobs: &mut [Job<B>],
        participant: Option<&Arc<dyn CommitParticipant>>,
    ) -> StoreResult<(Vec<Reply<B::Done>>, bool)> {
        let (last_seq, last_ts) = self.backend.journal_tail().await?;
        // Timestamps never go backwards along the sequence, even if the clock does.
        let ts = (self.clock)().max(last_ts);
        let mut seq = last_seq;
        let mut records: Vec<JournalRecord> = Vec::new();
        let mut results = Vec::with_capacity(jobs.len());
        let mut probe = false;
        // Records of events-only jobs, appended together after the loop (as indexes into `records`).
        let mut unwritten: Vec<usize> = Vec::new();
        for job in jobs.iter_mut() {
            let change = job.change.take().expect("a job is run once");
            probe |= job.kind == ChangeKind::Probe;
            let encode = |seq: &mut u64, event: &dyn JournalEvent| {
                *seq += 1;
                JournalRecord { seq: *seq, ts_ms: ts, bytes: event.encode(*seq, ts) }
            };
            if matches!(job.kind, ChangeKind::EventsOnly | ChangeKind::Probe) {
                // Events alone change nothing that could fail on its own: their only statement is the insert,
                // which fails only with the whole transaction. So no savepoint, and many rows per statement.
                let seqs = job
                    .events
                    .iter()
                    .map(|event| {
                        unwritten.push(records.len());
                        records.push(encode(&mut seq, event.as_ref()));
                        seq
                    })
                    .collect();
                results.push(Ok((B::Done::default(), seqs)));
                continue;
            }
            self.backend.savepoint().await?;
            let (seq_before, records_before) = (seq, records.len());
            let own: Vec<JournalRecord> = job.events.iter().map(|e| encode(&mut seq, e.as_ref())).collect();
            let result = self.backend.apply(change, &own).await;
            let result = match result {
                Ok(done) => {
                    let seqs = own.iter().map(|r| r.seq).collect();
                    records.extend(own);
                    Ok((done, seqs))
                }
                Err(e) => {
                    self.backend.rollback_to_savepoint().await?;
                    seq = seq_before;
                    records.truncate(records_before);
                    Err(e)
                }
            };
            self.backend.release_savepoint().await?;
            results.push(result);
        }
        let appended: Vec<&JournalRecord> = unwritten.iter().map(|&i| &records[i]).collect();
        if !appended.is_empty() {
            self.backend.append(&appended).await?;
        }
        let Some(p) = participant else { return Ok((results, false)) };
        if probe {
            let p = p.clone();
            tokio::task::spawn_blocking(move || p.probe()).await.map_err(unavailable)?.map_err(unavailable)?;
        }
        if records.is_empty() {
            return Ok((results, false));
        }
        // Records committed by another process since the participant last wrote come first.
        let through = p.through();
        let mut batch =
            if through < last_seq { self.backend.records_between(through, last_seq).await? } else { Vec::new() };
        batch.extend(records.into_iter().filter(|r| r.seq > through));
        let p2 = p.clone();
        let marks =
            tokio::task::spawn_blocking(move || p2.prepare(&batch)).await.map_err(unavailable)?.map_err(unavailable)?;
        if let Err(e) = self.backend.save_marks(&marks).await {
            p.aborted();
            return Err(e);
        }
        Ok((results, true))
    }
}

fn deliver<B: CommitBackend>(jobs: Vec<Job<B>>, results: StoreResult<Vec<Reply<B::Done>>>) {
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
