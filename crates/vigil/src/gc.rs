//! Garbage collection of blobs that no manifest references.
//!
//! Safe while the server runs (and from `vigil gc` in another process):
//! - a blob is a candidate only if nobody linked it within the grace period (longer than the upload expiry);
//! - the metadata row is removed in a transaction that re-checks, so a manifest PUT that committed a reference
//!   first keeps the blob, and one that commits later fails its own in-transaction reference check;
//! - the bytes are moved to a trash area first, then the digest is checked again: if an upload re-linked or is
//!   finishing the same digest meanwhile, the bytes go back; otherwise they are deleted. A crash in between is
//!   repaired at the next start by [`recover`].

use std::fmt;
use std::sync::Arc;

use vigil_audit::event::default_node;
use vigil_audit::{EventDraft, Origin, Target, UserRef};
use vigil_core::Operation;
use vigil_store::{Applied, Mutation, StoreError};

use crate::config::Config;
use crate::Stores;

#[derive(Debug, Default)]
pub struct Report {
    pub candidates: usize,
    pub removed: usize,
    pub bytes: u64,
    pub dry_run: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would remove" } else { "removed" };
        let n = if self.dry_run { self.candidates } else { self.removed };
        write!(f, "gc: {verb} {n} blob(s), {} byte(s)", self.bytes)
    }
}

/// Finishes or undoes a collection that was interrupted between trashing bytes and deciding their fate.
pub async fn recover(stores: &Stores) -> anyhow::Result<()> {
    for digest in stores.blobs.trashed().await? {
        if stores.meta.blob_wanted(&digest).await? {
            stores.blobs.restore_blob(&digest).await?;
            tracing::warn!(%digest, "restored a blob an interrupted garbage collection had trashed");
        } else {
            stores.blobs.purge_trashed(&digest).await?;
        }
    }
    Ok(())
}

/// Collects unreferenced blobs, recording one `gc_blob` event per removed blob under `origin` (`cli` for
/// `vigil gc`, `scheduler` in the server).
pub async fn collect(stores: &Stores, config: &Config, dry_run: bool, origin: Origin) -> anyhow::Result<Report> {
    recover(stores).await?;
    let cutoff = vigil_store::now_ms() - (config.gc.grace_secs as i64) * 1000;
    let candidates = stores.meta.collectable_blobs(cutoff).await?;
    let mut report = Report { candidates: candidates.len(), dry_run, ..Report::default() };
    if dry_run {
        report.bytes = candidates.iter().map(|b| b.size).sum();
        for b in &candidates {
            println!("{} {}", b.digest, b.size);
        }
        return Ok(report);
    }
    let meta = Arc::clone(&stores.meta);
    let node = default_node();
    let who = if origin == Origin::Cli { UserRef::cli() } else { UserRef::system("gc") };
    for blob in candidates {
        let event = EventDraft::background(origin, Operation::CollectBlob, who.clone(), node.clone())
            .target(Target::default().digest(&blob.digest).size(blob.size))
            .boxed();
        let m = Mutation::CollectBlob { digest: blob.digest.clone(), linked_before_ms: cutoff };
        match meta.apply(m, vec![event]).await {
            Ok((Applied::Collected(true), _)) => {}
            // Linked or referenced again since the candidates were listed: kept, and nothing recorded.
            Ok(_) | Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        if stores.blobs.trash_blob(&blob.digest).await? {
            if stores.meta.blob_wanted(&blob.digest).await? {
                stores.blobs.restore_blob(&blob.digest).await?;
                continue;
            }
            stores.blobs.purge_trashed(&blob.digest).await?;
        }
        report.removed += 1;
        report.bytes += blob.size;
    }
    Ok(report)
}
