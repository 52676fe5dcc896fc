//! `vigil audit reindex [--archive FILE]...`: rebuilds the query index from the journal (after an index was lost
//! or damaged, or to make archived events queryable again). Archived entries go back into the journal only if
//! every one of them equals its leaf in the Merkle tree, so a restore can bring back what retention removed but
//! never anything else. Works while the server runs: the server's indexer yields to the reset (its writes are
//! compare-and-set on the index position) and then follows the rebuilt index.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::json;
use vigil_audit::{Origin, Recorder, UserRef};
use vigil_core::time::parse_rfc3339;
use vigil_core::Operation;
use vigil_store::JournalRecord;
use vigil_tlog::TileStore;

use crate::config::Config;

/// Entries restored per journal job.
const RESTORE_BATCH: usize = 5_000;

pub async fn run(config: &Config, archives: &[PathBuf]) -> anyhow::Result<()> {
    let stores = crate::open_stores(config).await?;
    let mut restored = 0u64;
    if !archives.is_empty() {
        let tree = crate::audit_cli::open_tree(&config.data_dir)
            .context("restoring archives needs the Merkle tree to check them against")?;
        // All files are checked before anything is restored: a bad archive restores nothing.
        let mut checked = 0u64;
        for path in archives {
            for entry in entries(path, &tree)? {
                entry?;
                checked += 1;
            }
        }
        for path in archives {
            let mut batch = Vec::with_capacity(RESTORE_BATCH);
            for entry in entries(path, &tree)? {
                batch.push(entry?);
                if batch.len() == RESTORE_BATCH {
                    restored += stores.meta.restore_journal(std::mem::take(&mut batch)).await?;
                }
            }
            restored += stores.meta.restore_journal(batch).await?;
        }
        eprintln!("restored {restored} archived entries ({checked} checked against the tree)");
    }
    let recorder = Recorder::new(stores.meta.clone(), &config.audit);
    let detail = json!({
        "archives": archives.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "restored": restored,
    });
    let event = recorder
        .background(Origin::Cli, Operation::RebuildAuditIndex, UserRef::cli())
        .artifact("audit")
        .detail(detail.to_string());
    stores.meta.reset_index(vec![event.boxed()]).await?;
    let started = Instant::now();
    let through = vigil_audit::indexer::catch_up(&stores.meta).await.map_err(anyhow::Error::msg)?;
    println!("indexed the journal through seq {through} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The entries of an archive, each checked against its leaf in the tree.
fn entries<'a>(
    path: &'a Path,
    tree: &'a TileStore,
) -> anyhow::Result<impl Iterator<Item = anyhow::Result<JournalRecord>> + 'a> {
    #[derive(serde::Deserialize)]
    struct Head {
        seq: u64,
        ts: String,
    }
    let reader = crate::verify::local::open_file(path)?;
    let lines = reader.split(b'\n').enumerate().filter(|(_, l)| l.as_ref().map_or(true, |l| !l.is_empty()));
    Ok(lines.map(move |(i, line)| {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let at = || format!("{} line {}", path.display(), i + 1);
        let head: Head =
            serde_json::from_slice(&line).with_context(|| format!("{}: not a native audit event", at()))?;
        let ts_ms = parse_rfc3339(&head.ts).with_context(|| format!("{}: bad `ts` {:?}", at(), head.ts))?;
        if head.seq == 0 || head.seq > tree.size() {
            bail!("{}: seq {} is not in the audit log's tree (size {}); nothing restored", at(), head.seq, tree.size());
        }
        let leaf = tree.leaf(head.seq - 1).with_context(|| format!("reading leaf {}", head.seq - 1))?;
        if leaf != vigil_tlog::leaf_hash(&line) {
            bail!(
                "{}: seq {} does not match the audit log's tree (altered or foreign); nothing restored",
                at(),
                head.seq
            );
        }
        Ok(JournalRecord { seq: head.seq, ts_ms, bytes: line })
    }))
}
