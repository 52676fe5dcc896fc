//! Receiving content: a body streams into a staging file while it is hashed, is checked against the digests the
//! client claimed, and is then moved into the blob store and recorded by the caller's change in one commit.
//!
//! The staging file belongs to an upload session row, like an OCI upload's, so the same expiry sweeps what a
//! crashed or abandoned ingest left, and garbage collection leaves the digest alone while it is being stored
//! (`FinishingUpload` before the bytes move, the change that names the blob after).

use std::io;
use std::sync::Arc;

use futures_util::StreamExt;
use vigil_core::{Algorithm, Digest, Hasher, RepoName};
use vigil_store::{Applied, BlobStore, ByteStream, JournalEvent, MetadataStore, Mutation, StoreError, UploadSession};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("content exceeds the limit of {0} bytes")]
    TooLarge(u64),
    #[error("the upload was interrupted: {0}")]
    Interrupted(io::Error),
    #[error("content does not match {expected}: it is {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob store: {0}")]
    Blobs(io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Content received and staged, not yet stored.
#[derive(Debug)]
pub struct Received {
    upload: String,
    pub size: u64,
    /// The content's sha256 digest, under which it is stored.
    pub digest: Digest,
    /// The sha512 digest too, when it was asked for.
    pub sha512: Option<Digest>,
    /// Further checksums the format names files by (hex), when they were asked for.
    pub sums: Sums,
}

/// Which checksums to compute besides sha256 while content streams in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Also {
    pub sha512: bool,
    /// sha1 and md5: Maven's `.sha1`/`.md5` files, npm's `shasum`, PyPI's `md5_digest`.
    pub sha1: bool,
    pub md5: bool,
    /// PyPI's `blake2_256_digest`.
    pub blake2b_256: bool,
}

/// Lower-case hex checksums of received content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub blake2b_256: Option<String>,
}

impl Received {
    /// Checks every digest the client claimed; the first that differs is the error.
    pub fn verify<'a>(&self, claimed: impl IntoIterator<Item = &'a Digest>) -> Result<(), IngestError> {
        for expected in claimed {
            let actual = match expected.algorithm() {
                Algorithm::Sha256 => Some(&self.digest),
                Algorithm::Sha512 => self.sha512.as_ref(),
            };
            if actual != Some(expected) {
                let actual = actual.cloned().unwrap_or_else(|| self.digest.clone());
                return Err(IngestError::DigestMismatch { expected: expected.clone(), actual });
            }
        }
        Ok(())
    }
}

/// Where content is received and stored.
#[derive(Clone)]
pub struct Ingest {
    pub meta: Arc<dyn MetadataStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// Largest content accepted, in bytes; unlimited when `None`.
    pub max_bytes: Option<u64>,
}

impl Ingest {
    /// Streams `body` into a new staging file for `repo`, hashing it (sha256, and what `also` asks for). Nothing is
    /// left behind when this fails.
    pub async fn receive(&self, repo: &RepoName, body: ByteStream, also: Also) -> Result<Received, IngestError> {
        let upload = uuid::Uuid::new_v4().to_string();
        self.blobs.create_upload(&upload).await.map_err(IngestError::Blobs)?;
        let now = vigil_store::now_ms();
        let session = UploadSession { id: upload.clone(), repo: repo.clone(), created_at_ms: now, updated_at_ms: now };
        if let Err(e) = crate::commit(&self.meta, Mutation::OpenUpload { session }, Vec::new()).await {
            let _ = self.blobs.delete_upload(&upload).await;
            return Err(e.into());
        }
        let result = self.stage(&upload, body, also).await;
        match result {
            Ok((size, digest, sha512, sums)) => Ok(Received { upload, size, digest, sha512, sums }),
            Err(e) => {
                self.discard_upload(&upload).await;
                Err(e)
            }
        }
    }

    async fn stage(
        &self,
        upload: &str,
        body: ByteStream,
        also: Also,
    ) -> Result<(u64, Digest, Option<Digest>, Sums), IngestError> {
        let limit = self.max_bytes;
        let mut seen = 0u64;
        let body: ByteStream = Box::pin(body.map(move |chunk| {
            let chunk = chunk?;
            seen += chunk.len() as u64;
            match limit {
                Some(max) if seen > max => Err(io::Error::new(io::ErrorKind::FileTooLarge, max.to_string())),
                _ => Ok(chunk),
            }
        }));
        let mut sha256 = Hasher::new(Algorithm::Sha256);
        let mut long = also.sha512.then(|| Hasher::new(Algorithm::Sha512));
        let mut sha1 = also.sha1.then(sha1::Sha1::default);
        let mut md5 = also.md5.then(md5::Md5::default);
        let mut blake = also.blake2b_256.then(blake2::Blake2b::<blake2::digest::consts::U32>::default);
        let mut observe = |bytes: &[u8]| {
            use blake2::digest::Update;
            sha256.update(bytes);
            if let Some(h) = long.as_mut() {
                h.update(bytes);
            }
            if let Some(h) = sha1.as_mut() {
                h.update(bytes);
            }
            if let Some(h) = md5.as_mut() {
                h.update(bytes);
            }
            if let Some(h) = blake.as_mut() {
                h.update(bytes);
            }
        };
        let size = match self.blobs.append_upload(upload, body, &mut observe).await {
            Ok(size) => size,
            Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                return Err(IngestError::TooLarge(limit.unwrap_or_default()));
            }
            Err(e) => return Err(IngestError::Interrupted(e)),
        };
        use blake2::digest::FixedOutput;
        let sums = Sums {
            sha1: sha1.map(|h| hex::encode(h.finalize_fixed())),
            md5: md5.map(|h| hex::encode(h.finalize_fixed())),
            blake2b_256: blake.map(|h| hex::encode(h.finalize_fixed())),
        };
        Ok((size, sha256.finish(), long.map(Hasher::finish), sums))
    }

    /// Moves received content into the blob store and commits `change` (which names it) with `events`, in a task
    /// a disconnect cannot cancel. The staging session is closed whatever the outcome.
    pub async fn store(
        &self,
        received: Received,
        change: Mutation,
        events: Vec<Box<dyn JournalEvent>>,
    ) -> Result<Applied, IngestError> {
        let this = self.clone();
        tokio::spawn(async move {
            let id = received.upload.clone();
            let result = async {
                // Order matters for garbage collection: mark the digest as wanted, move the bytes in, then record.
                let finishing = Mutation::FinishingUpload { id: id.clone(), digest: received.digest.clone() };
                this.meta.apply(finishing, Vec::new()).await?;
                this.blobs.commit_upload(&id, &received.digest).await.map_err(IngestError::Blobs)?;
                Ok(this.meta.apply(change, events).await?.0)
            }
            .await;
            this.discard_upload(&id).await;
            result
        })
        .await
        .unwrap_or_else(|e| Err(IngestError::Store(StoreError::Backend(format!("ingest task failed: {e}")))))
    }

    /// Receives content already in memory (a base64 attachment, a frame's payload) like a streamed body.
    pub async fn receive_bytes(
        &self,
        repo: &RepoName,
        bytes: bytes::Bytes,
        also: Also,
    ) -> Result<Received, IngestError> {
        let body: ByteStream = Box::pin(futures_util::stream::once(async move { Ok(bytes) }));
        self.receive(repo, body, also).await
    }

    /// Drops received content that will not be stored.
    pub async fn discard(&self, received: Received) {
        self.discard_upload(&received.upload).await;
    }

    /// Closes a staging session and deletes its bytes; failures are logged, since upload expiry retries.
    async fn discard_upload(&self, upload: &str) {
        if let Err(e) = crate::commit(&self.meta, Mutation::CloseUpload { id: upload.to_owned() }, Vec::new()).await {
            tracing::warn!(upload, error = %e, "could not close a staging session");
        }
        if let Err(e) = self.blobs.delete_upload(upload).await {
            tracing::warn!(upload, error = %e, "could not delete staged bytes");
        }
    }
}
