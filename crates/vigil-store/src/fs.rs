//! Blob store on a local filesystem.
//!
//! Layout under the root: `blobs/<alg>/<hh>/<hex>` for committed content, `uploads/<id>` for staged uploads and
//! `trash/<alg>-<hex>` for blobs a collection is deleting. Staging lives on the same filesystem as the blobs so that
//! committing is an atomic `rename`: a reader sees either no blob or the whole, fsynced blob.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;
use vigil_core::Digest;

use crate::blob::{BlobRead, BlobStore, ByteStream};

pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating if needed) a blob store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for dir in ["blobs", "uploads", "trash"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        Ok(FsBlobStore { root })
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algorithm().as_str()).join(&d.hex()[..2]).join(d.hex())
    }

    fn trash_path(&self, d: &Digest) -> PathBuf {
        self.root.join("trash").join(format!("{}-{}", d.algorithm().as_str(), d.hex()))
    }

    fn upload_path(&self, id: &str) -> io::Result<PathBuf> {
        // Ids come from us (UUIDs), but they travel through URLs: never let one name a path outside uploads/.
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "malformed upload id"));
        }
        Ok(self.root.join("uploads").join(id))
    }
}

/// Makes a rename or create in `dir` durable.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all()).await.map_err(io::Error::other)?
}

fn missing_ok<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn open(&self, digest: &Digest, start: u64, len: Option<u64>) -> io::Result<Option<BlobRead>> {
        let Some(mut file) = missing_ok(File::open(self.blob_path(digest)).await)? else {
            return Ok(None);
        };
        let size = file.metadata().await?.len();
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        let remaining = size.saturating_sub(start);
        let take = len.map_or(remaining, |l| l.min(remaining));
        Ok(Some(BlobRead { size, reader: Box::pin(file.take(take)) }))
    }

    async fn stat(&self, digest: &Digest) -> io::Result<Option<u64>> {
        Ok(missing_ok(fs::metadata(self.blob_path(digest)).await)?.map(|m| m.len()))
    }

    async fn create_upload(&self, id: &str) -> io::Result<()> {
        let path = self.upload_path(id)?;
        OpenOptions::new().write(true).create_new(true).open(&path).await?.sync_all().await?;
        sync_dir(path.parent().expect("uploads dir")).await
    }

    async fn upload_len(&self, id: &str) -> io::Result<Option<u64>> {
        Ok(missing_ok(fs::metadata(self.upload_path(id)?).await)?.map(|m| m.len()))
    }

    async fn append_upload(
        &self,
        id: &str,
        mut data: ByteStream,
        observe: &mut (dyn for<'b> FnMut(&'b [u8]) + Send),
    ) -> io::Result<u64> {
        let path = self.upload_path(id)?;
        let mut file = OpenOptions::new().write(true).open(&path).await?;
        let start = file.seek(SeekFrom::End(0)).await?;
        let mut written = 0u64;
        let result: io::Result<()> = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk?;
                observe(&chunk);
                file.write_all(&chunk).await?;
                written += chunk.len() as u64;
            }
            file.flush().await?;
            file.sync_data().await
        }
        .await;
        if let Err(e) = result {
            // All or nothing: a broken chunk must not shift the session's offset.
            let _ = file.set_len(start).await;
            let _ = file.sync_data().await;
            return Err(e);
        }
        Ok(start + written)
    }

    async fn read_upload(&self, id: &str) -> io::Result<ByteStream> {
        let file = File::open(self.upload_path(id)?).await?;
        Ok(Box::pin(ReaderStream::with_capacity(file, 256 * 1024)))
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> io::Result<()> {
        let from = self.upload_path(id)?;
        let to = self.blob_path(digest);
        let dir = to.parent().expect("blob dir").to_owned();
        fs::create_dir_all(&dir).await?;
        // The staged bytes were fsynced by append_upload; the rename is made durable by syncing both directories.
        fs::rename(&from, &to).await?;
        sync_dir(&dir).await?;
        sync_dir(from.parent().expect("uploads dir")).await
    }

    async fn delete_upload(&self, id: &str) -> io::Result<()> {
        missing_ok(fs::remove_file(self.upload_path(id)?).await).map(|_| ())
    }

    async fn trash_blob(&self, digest: &Digest) -> io::Result<bool> {
        Ok(missing_ok(fs::rename(self.blob_path(digest), self.trash_path(digest)).await)?.is_some())
    }

    async fn restore_blob(&self, digest: &Digest) -> io::Result<()> {
        let to = self.blob_path(digest);
        fs::create_dir_all(to.parent().expect("blob dir")).await?;
        missing_ok(fs::rename(self.trash_path(digest), &to).await).map(|_| ())
    }

    async fn purge_trashed(&self, digest: &Digest) -> io::Result<()> {
        missing_ok(fs::remove_file(self.trash_path(digest)).await).map(|_| ())
    }

    async fn trashed(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        let mut dir = fs::read_dir(self.root.join("trash")).await?;
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(d) = name.split_once('-').and_then(|(a, h)| format!("{a}:{h}").parse().ok()) {
                out.push(d);
            }
        }
        Ok(out)
    }
}
