//! Checking a `.crate` file while it streams to staging: it must be a gzipped tarball whose every entry sits
//! below `<name>-<version>/` (no `..`, no absolute paths, no links out), holding that directory's `Cargo.toml`.
//! The bytes are read once: each chunk goes to the blob store's staging and to this check, which runs on a
//! blocking thread (gzip and tar readers are synchronous). Its cases are tested through publishing
//! (`tests/protocol.rs`).

use std::io::{self, Read};
use std::path::Component;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use vigil_store::ByteStream;

/// Chunks buffered between the upload and the check.
const QUEUE: usize = 16;
/// Entries a crate may hold.
const MAX_ENTRIES: usize = 100_000;

/// Reads the chunks the upload forwards, as one byte stream.
struct Chunks {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Wraps `body` so every chunk is also checked; the returned handle answers once the body has been read.
pub fn inspect(
    body: ByteStream,
    name: &str,
    version: &str,
) -> (ByteStream, tokio::task::JoinHandle<Result<(), String>>) {
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let root = format!("{name}-{version}");
    let check = tokio::task::spawn_blocking(move || {
        let mut chunks = Chunks { rx, current: Bytes::new() };
        let result = check(&mut chunks, &root);
        // Read what is left, so the upload is never held up by a check that finished early.
        let _ = io::copy(&mut chunks, &mut io::sink());
        result
    });
    let tee = body.then(move |chunk| {
        let tx = tx.clone();
        async move {
            if let Ok(bytes) = &chunk {
                // A check that gave up has dropped its receiver; the upload goes on and is refused after.
                let _ = tx.send(bytes.clone()).await;
            }
            chunk
        }
    });
    (Box::pin(tee), check)
}

pub(crate) fn check(reader: impl Read, root: &str) -> Result<(), String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    let entries = archive.entries().map_err(|e| format!("the .crate file is not a gzipped tarball: {e}"))?;
    let mut manifest = false;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(format!("the .crate file holds more than {MAX_ENTRIES} entries"));
        }
        let entry = entry.map_err(|e| format!("the .crate file is not a gzipped tarball: {e}"))?;
        let path = entry.path().map_err(|e| format!("an entry of the .crate file has an unreadable path: {e}"))?;
        let mut components = path.components();
        let inside = components.next() == Some(Component::Normal(root.as_ref()))
            && components.all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(format!("the .crate file holds {}, outside {root}/", path.display()));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(format!("the .crate file holds a link at {}", path.display()));
        }
        manifest |= path == std::path::Path::new(root).join("Cargo.toml");
    }
    if !manifest {
        return Err(format!("the .crate file has no {root}/Cargo.toml"));
    }
    Ok(())
}
