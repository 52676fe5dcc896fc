//! The journal's port types: what an event must provide to be journaled, what a committed record is, and how
//! enforced audit sinks take part in a commit.
//!
//! The journal is the system of record for the audit trail. Its sequence numbers are assigned inside the
//! transaction that commits them, so they are gapless and in commit order whoever writes.

/// A journal record under construction. The store assigns the sequence number and timestamp inside the
/// transaction that commits the change, then asks the event for its canonical bytes.
pub trait JournalEvent: Send + Sync {
    fn encode(&self, seq: u64, ts_ms: i64) -> Vec<u8>;
    /// Called once the transaction holding this event is durable (after COMMIT returned).
    fn committed(&self, _seq: u64) {}
}

/// A committed journal record: `bytes` are its canonical form, exactly as stored, served and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    pub seq: u64,
    pub ts_ms: i64,
    pub bytes: Vec<u8>,
}

/// Where an audit sink stands: the file it writes, its length and the last sequence number it holds (or, for a
/// filtered sink, has decided about). Enforced sinks' marks commit in the same transaction as the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkMark {
    pub name: String,
    pub path: String,
    /// Identity of the file (its inode), 0 when there is none (stderr).
    pub file_id: u64,
    pub offset: u64,
    pub through: u64,
}

/// Something that must hold every journal record before it commits (the enforced audit sinks). The writer calls
/// it inside the open transaction; if it fails, the whole batch is rolled back and its requests fail.
///
/// Methods may block (file writes and fsync); the writer calls them off the async runtime.
pub trait CommitParticipant: Send + Sync + 'static {
    /// The last sequence number the participant holds; the writer hands it everything after this.
    fn through(&self) -> u64;
    /// Durably writes `records` (consecutive, starting at `through() + 1`) and returns the marks to commit.
    fn prepare(&self, records: &[JournalRecord]) -> Result<Vec<SinkMark>, String>;
    /// The transaction committed: what `prepare` wrote is now part of the record.
    fn committed(&self);
    /// The transaction did not commit after `prepare` succeeded: cut what it wrote.
    fn aborted(&self);
    /// Whether the participant could take a record now (for readiness checks).
    fn probe(&self) -> Result<(), String>;
}
