//! Storage ports and their embedded adapters.
//!
//! Two small traits hide every backend from the protocol code:
//! - [`MetadataStore`]: repositories, blobs links, manifests, tags, referrers, upload sessions and the journal.
//!   Every state change is a [`Mutation`] committed in one transaction *together with* the journal events that
//!   describe it; the journal's sequence numbers are assigned inside that transaction, so they are gapless and in
//!   commit order whoever writes (server, CLI, later several replicas on one PostgreSQL).
//! - [`ContentStore`]: the format-neutral model (repositories with a format, package versions, assets at paths)
//!   that every format beside OCI stores its content in; its changes are [`ContentChange`]s, applied like any
//!   other [`Mutation`].
//! - [`BlobStore`]: content-addressed bytes and the staging area for uploads.
//!
//! Only the binary's composition root names an adapter ([`sqlite::SqliteStore`], [`fs::FsBlobStore`]).

pub mod blob;
pub mod changefeed;
pub mod commit;
pub mod content;
pub mod error;
pub mod fs;
pub mod identity;
pub mod index;
pub mod journal;
pub mod meta;
pub mod sqlite;
pub mod watermark;

pub use blob::{BlobRead, BlobStore, ByteStream};
pub use content::{Asset, ContentChange, ContentStore, Expect, PackageVersion, RepoSettings, RepositoryInfo};
pub use journal::*;
pub use meta::*;

/// The settings key holding the highest seq retention removed from the journal (absent: nothing was pruned).
/// Verification reports entries up to it as pruned, not missing.
pub const JOURNAL_PRUNED_THROUGH: &str = "journal_pruned_through";

/// A source of journal timestamps (milliseconds since the Unix epoch); the system clock outside benchmarks.
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

/// Milliseconds since the Unix epoch: the one clock format stored in metadata.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
