//! Retention: events older than `[audit.retention] max_age` leave the journal and the query index, after being
//! written to a compressed archive (native lines, verifiable with `vigil audit verify`).
//!
//! Only entries the Merkle tree holds under a signed checkpoint and the index holds may go, and never the newest
//! entry (sequence numbers must not restart). Their hashes stay in the tree, so proofs and checkpoints stay valid;
//! `journal_pruned_through` tells verifiers and the read API that the range was pruned, not lost. Each run that
//! prunes records an `audit_retention` event with the range and the archive, committed with the deletion.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vigil_core::Operation;
use vigil_store::index::{EventFilter, Order};
use vigil_store::MetadataStore;

use crate::integrity::Integrity;
use crate::{Origin, Recorder, UserRef};

/// Journal rows archived per read.
const STEP: usize = 5000;

pub struct Retention {
    pub store: Arc<dyn MetadataStore>,
    pub recorder: Arc<Recorder>,
    pub integrity: Option<Integrity>,
    pub max_age: Duration,
    pub archive_dir: Option<PathBuf>,
}

impl Retention {
    /// Runs every `interval` until the process ends.
    pub async fn run(self, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            match self.once().await {
                Ok(Some((from, through))) => tracing::info!(from, through, "audit retention pruned the journal"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "audit retention failed; will retry"),
            }
        }
    }

    /// One pass: the range it pruned, if any.
    pub async fn once(&self) -> Result<Option<(u64, u64)>, String> {
        let s = |e: vigil_store::StoreError| e.to_string();
        let pruned: u64 = self
            .store
            .setting(vigil_store::JOURNAL_PRUNED_THROUGH)
            .await
            .map_err(s)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let cutoff = vigil_store::now_ms() - self.max_age.as_millis() as i64;
        let expired = EventFilter { to_ms: Some(cutoff), ..EventFilter::default() };
        let newest_expired =
            self.store.query_events(&expired, Order::NewestFirst { before: None }, 1).await.map_err(s)?;
        let Some(&newest_expired) = newest_expired.first() else { return Ok(None) };
        let mut through = newest_expired.min(self.store.indexed_through().await.map_err(s)?);
        if let Some(integrity) = &self.integrity {
            through = through.min(integrity.checkpoint().map_or(0, |c| c.checkpoint.size));
        }
        through = through.min(self.store.journal_head().await.map_err(s)?.saturating_sub(1));
        if through <= pruned {
            return Ok(None);
        }
        let from = pruned + 1;
        let archive = match &self.archive_dir {
            Some(dir) => Some(self.archive(dir, from, through).await?),
            None => None,
        };
        let detail = serde_json::json!({
            "pruned_from": from,
            "pruned_through": through,
            "archive": archive.as_ref().map(|p| p.display().to_string()),
            "max_age_secs": self.max_age.as_secs(),
        });
        let event = self
            .recorder
            .background(Origin::Scheduler, Operation::PruneAudit, UserRef::system("scheduler"))
            .artifact("audit")
            .detail(detail.to_string());
        self.store.prune_journal(through, vec![event.boxed()]).await.map_err(s)?;
        Ok(Some((from, through)))
    }

    /// Writes entries `from..=through` to `dir/audit-<from>-<through>.jsonl.gz`, durably (temp file, fsync,
    /// rename, directory fsync), before anything is deleted.
    async fn archive(&self, dir: &Path, from: u64, through: u64) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let path = dir.join(format!("audit-{from:012}-{through:012}.jsonl.gz"));
        let tmp = path.with_extension("gz.tmp");
        let file = std::fs::File::create(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let mut gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::default());
        let mut next = from;
        while next <= through {
            let rows = self.store.journal(next, STEP).await.map_err(|e| e.to_string())?;
            let rows: Vec<_> = rows.into_iter().take_while(|r| r.seq <= through).collect();
            let Some(last) = rows.last().map(|r| r.seq) else { break };
            for r in &rows {
                gz.write_all(&r.bytes).and_then(|_| gz.write_all(b"\n")).map_err(|e| e.to_string())?;
            }
            next = last + 1;
        }
        let file = gz.finish().map_err(|e| e.to_string())?.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| e.to_string())?;
        Ok(path)
    }
}
