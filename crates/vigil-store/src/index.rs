//! The audit query index: the fields of each journal event that queries filter and group by.

/// One event's indexed fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexRow {
    pub seq: u64,
    pub ts_ms: i64,
    pub kind: String,
    pub action: String,
    pub operation: String,
    pub outcome: String,
    pub status: Option<u16>,
    pub namespace: Option<String>,
    pub repository: Option<String>,
    pub user_name: Option<String>,
    pub remote_addr: Option<String>,
    pub request_id: Option<String>,
}

/// A filter over the index. Every set field must match; list fields match any of their values. Text fields
/// may hold wildcards `*`, `?`, `[...]` (matched with SQL `GLOB`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Inclusive lower bound, milliseconds.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound, milliseconds.
    pub to_ms: Option<i64>,
    pub namespace: Option<String>,
    pub repository: Option<String>,
    pub user_name: Option<String>,
    pub kinds: Vec<String>,
    pub actions: Vec<String>,
    pub operations: Vec<String>,
    pub outcomes: Vec<String>,
    pub status: Option<u16>,
    pub remote_addr: Option<String>,
    pub request_id: Option<String>,
}

/// Which way a page runs from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first, seqs below the cursor (Quay's order).
    NewestFirst { before: Option<u64> },
    /// Oldest first, seqs above the cursor (a tail, an export).
    OldestFirst { after: u64 },
}

/// How an aggregate groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Hour,
}

/// What an aggregate groups by, besides time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Kind,
    Action,
    User,
    Repository,
    Outcome,
}

impl GroupBy {
    pub(crate) fn column(self) -> &'static str {
        match self {
            GroupBy::Kind => "kind",
            GroupBy::Action => "action",
            GroupBy::User => "user_name",
            GroupBy::Repository => "repository",
            GroupBy::Outcome => "outcome",
        }
    }
}

/// One group of an aggregate: the start of its time bucket (if grouped by time), its key (if grouped), its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub bucket_ms: Option<i64>,
    pub key: Option<String>,
    pub count: u64,
}
