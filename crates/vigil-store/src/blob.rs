//! The blob store port: immutable content addressed by digest, plus a staging area for uploads in progress.

use std::io;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncRead;
use vigil_core::Digest;

/// Whether a write failed because the disk (or the user's quota) is full: not the client's fault, and worth a
/// retry later, so protocols answer it with 503 and `Retry-After` rather than blaming the upload.
pub fn is_storage_full(e: &io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
        || matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT))
        || e.get_ref().and_then(|inner| inner.downcast_ref::<io::Error>()).is_some_and(is_storage_full)
}

/// Seconds a client is asked to wait before retrying a write refused for a full disk.
pub const STORAGE_FULL_RETRY_SECS: u64 = 60;

/// A stream of body chunks, as the HTTP layer hands them over.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// An opened blob: its total size and a reader positioned at the requested start.
pub struct BlobRead {
    pub size: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Opens a committed blob, reading at most `len` bytes from `start` (whole blob when `len` is `None`).
    /// `Ok(None)` when the blob is not present.
    async fn open(&self, digest: &Digest, start: u64, len: Option<u64>) -> io::Result<Option<BlobRead>>;

    /// Size of a committed blob, or `None` if absent.
    async fn stat(&self, digest: &Digest) -> io::Result<Option<u64>>;

    /// Creates an empty staging file for an upload session.
    async fn create_upload(&self, id: &str) -> io::Result<()>;

    /// Current length of an upload's staged bytes, or `None` if the upload has no staging file.
    async fn upload_len(&self, id: &str) -> io::Result<Option<u64>>;

    /// Appends a whole chunk and makes it durable, showing every piece to `observe` (the caller hashes while the
    /// bytes stream through). All or nothing: if the stream fails midway, the staged bytes are cut back to their
    /// previous length before the error is returned. Returns the new length.
    async fn append_upload(
        &self,
        id: &str,
        data: ByteStream,
        observe: &mut (dyn for<'b> FnMut(&'b [u8]) + Send),
    ) -> io::Result<u64>;

    /// Reads the staged bytes back (used to rebuild a hash state after a restart).
    async fn read_upload(&self, id: &str) -> io::Result<ByteStream>;

    /// Moves a verified upload into place under its digest, durably. Replacing an existing copy is fine: the
    /// content is identical by construction.
    async fn commit_upload(&self, id: &str, digest: &Digest) -> io::Result<()>;

    /// Forgets an upload's staged bytes (missing is not an error).
    async fn delete_upload(&self, id: &str) -> io::Result<()>;

    /// Garbage collection, step 1: move a blob out of sight. Returns false if it was not there.
    async fn trash_blob(&self, digest: &Digest) -> io::Result<bool>;

    /// Garbage collection, step 2a: a concurrent push re-linked the digest; put the trashed copy back.
    async fn restore_blob(&self, digest: &Digest) -> io::Result<()>;

    /// Garbage collection, step 2b: the digest stayed unreferenced; delete the trashed copy for good.
    async fn purge_trashed(&self, digest: &Digest) -> io::Result<()>;

    /// Digests left in the trash by an interrupted collection, for recovery at start.
    async fn trashed(&self) -> io::Result<Vec<Digest>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disks_are_recognised_however_wrapped() {
        assert!(is_storage_full(&io::Error::from_raw_os_error(28)));
        assert!(is_storage_full(&io::Error::from(io::ErrorKind::StorageFull)));
        assert!(is_storage_full(&io::Error::other(io::Error::from_raw_os_error(28))));
        assert!(!is_storage_full(&io::Error::from(io::ErrorKind::BrokenPipe)));
    }
}
