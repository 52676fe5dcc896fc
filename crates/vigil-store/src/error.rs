//! The one error type of every storage port.

use vigil_core::Digest;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("manifest references blobs this repository does not hold: {0:?}")]
    MissingBlobs(Vec<Digest>),
    #[error("manifest references manifests this repository does not hold: {0:?}")]
    MissingManifests(Vec<Digest>),
    #[error("{0}")]
    Conflict(String),
    /// A conditional write found something other than it expected (`If-Match`, `If-None-Match: *`).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The repository exists with another format than the protocol asking for it serves.
    #[error("{0}")]
    WrongFormat(String),
    #[error("storage backend: {0}")]
    Backend(String),
    /// The journal (or an enforced audit sink) cannot take the record, so nothing was changed.
    #[error("audit journal unavailable: {0}")]
    JournalUnavailable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
