//! Building the tree from the journal and signing its checkpoints.
//!
//! [`recover`] runs once at start: it cuts the tile files back to the last signed checkpoint, rebuilds from the
//! journal, and insists that the rebuilt tree reproduce that checkpoint's root. [`run`] then follows the journal
//! head, appending leaf hashes in batches (well under a second behind), and signs a new checkpoint at most every
//! `checkpoint_interval` when the tree grew. Each checkpoint is published as an `audit_checkpoint` event, so copies
//! reach every sink and live outside the server; a checkpoint event alone does not trigger another checkpoint,
//! so an idle log stays quiet.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use vigil_core::Operation;
use vigil_store::MetadataStore;
use vigil_tlog::{leaf_hash, note::VerifierKey, Checkpoint, TileStore};

use super::{keys, Integrity, Shared, SignedCheckpoint};
use crate::settings::TlogSettings;
use crate::{Origin, Recorder, UserRef};

/// Journal entries read and hashed per step.
const BATCH: usize = 4096;

/// Opens the tree and the key, rebuilds the tree from the journal and checks it against the last signed
/// checkpoint. Errors here stop the server: signing on would contradict a checkpoint already published.
pub async fn recover(
    store: &Arc<dyn MetadataStore>,
    settings: &TlogSettings,
    data_dir: &Path,
    default_origin: &str,
) -> Result<Integrity, String> {
    let state_path = keys::state_path(settings, data_dir);
    let previous = keys::read_state(&state_path)?;
    let previous_origin = previous.as_deref().and_then(keys::note_origin);
    let origin = settings.origin.clone().or_else(|| previous_origin.clone()).unwrap_or_else(|| default_origin.into());
    let signer = keys::load_signer(settings, data_dir, &origin)?;
    let verifier = signer.verifier();
    let tree_dir = data_dir.join("tlog");
    let mut tree =
        TileStore::open(&tree_dir).map_err(|e| format!("opening the audit tree in {}: {e}", tree_dir.display()))?;

    let last = match (previous, previous_origin) {
        (Some(note), Some(o)) if o == origin => Some(open_state(&verifier, &note, &state_path)?),
        (Some(_), Some(o)) => {
            tracing::warn!(old = o, new = origin, "audit log origin changed: starting a new log over the journal");
            tree.reset().map_err(|e| e.to_string())?;
            None
        }
        _ => None,
    };
    let head = store.journal_head().await.map_err(|e| e.to_string())?;
    if let Some(last) = &last {
        let signed = last.checkpoint.size;
        if signed > head {
            return Err(format!(
                "the journal ends at seq {head} but checkpoint {signed} was already signed: the database was restored \
                 from an older backup or lost entries. Restore the matching database, or set a new audit.tlog.origin \
                 to start a new log (its checkpoints will not claim the old log's entries)"
            ));
        }
        // The tail past the checkpoint is derived data a crash may have left half-written; rebuild it.
        tree.truncate(signed).map_err(|e| e.to_string())?;
    } else {
        tree.reset().map_err(|e| e.to_string())?;
    }
    let shared = Arc::new(Shared {
        origin,
        signer,
        verifier,
        tree: RwLock::new(tree),
        latest: RwLock::new(last.clone().map(Arc::new)),
        cosigned: RwLock::new(None),
        state_path,
    });
    let integrity = Integrity { shared };
    if let Some(last) = last {
        let size = last.checkpoint.size;
        while integrity.tree_size() < size {
            integrate_step(store, &integrity, size).await?;
        }
        // The root reads the highest stored levels, so damage below a full tile would go unseen: check that every
        // stored parent still folds from its children (one pass over the level files) as well.
        let damaged = integrity.tree().first_inconsistent_tile().map_err(|e| e.to_string())?;
        let mut root = integrity.root(size).map_err(|e| e.to_string())?;
        if root != last.checkpoint.root || damaged.is_some() {
            // Maybe only the tile files were damaged: rebuild them all from the journal once.
            tracing::warn!(size, "audit tree does not match the last checkpoint; rebuilding it from the journal");
            integrity.shared.tree.write().expect("tree lock").reset().map_err(|e| e.to_string())?;
            while integrity.tree_size() < size {
                integrate_step(store, &integrity, size).await?;
            }
            root = integrity.root(size).map_err(|e| e.to_string())?;
        }
        if root != last.checkpoint.root {
            return Err(format!(
                "the journal's first {size} entries do not hash to the root of the checkpoint signed at that size: \
                 the journal was modified or restored from a different backup. Run `vigil audit verify` to locate \
                 the damage; vigil will not sign a checkpoint inconsistent with one it already signed"
            ));
        }
    }
    Ok(integrity)
}

fn open_state(verifier: &VerifierKey, note: &str, path: &Path) -> Result<SignedCheckpoint, String> {
    let body = verifier.open(note).map_err(|e| {
        format!(
            "the checkpoint remembered in {} does not verify with the current signing key ({e}); restore the key \
             it was signed with, or set a new audit.tlog.origin to start a new log",
            path.display()
        )
    })?;
    let checkpoint = Checkpoint::parse(body).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(SignedCheckpoint { checkpoint, note: note.to_owned() })
}

/// Appends the next batch of journal entries (up to `limit` leaves in all); returns how many.
async fn integrate_step(store: &Arc<dyn MetadataStore>, integrity: &Integrity, limit: u64) -> Result<usize, String> {
    let size = integrity.tree_size();
    let want = (limit - size).min(BATCH as u64) as usize;
    if want == 0 {
        return Ok(0);
    }
    let records = store.journal(size + 1, want).await.map_err(|e| e.to_string())?;
    if records.is_empty() {
        return Ok(0);
    }
    for (i, r) in records.iter().enumerate() {
        if r.seq != size + 1 + i as u64 {
            return Err(format!(
                "the journal has no entry {} (next is {}): entries must not leave the journal before the tree holds them",
                size + 1 + i as u64,
                r.seq
            ));
        }
    }
    let n = records.len();
    let shared = integrity.shared.clone();
    tokio::task::spawn_blocking(move || {
        let hashes: Vec<_> = records.iter().map(|r| leaf_hash(&r.bytes)).collect();
        let mut tree = shared.tree.write().expect("tree lock");
        // Another step may have raced us only if two integrators ran; there is one, but stay correct anyway.
        if tree.size() != size {
            return Err("the audit tree changed under the integrator".to_string());
        }
        tree.append(&hashes).map_err(|e| format!("appending to the audit tree: {e}"))
    })
    .await
    .map_err(|e| e.to_string())??;
    metrics::counter!("vigil_tlog_leaves_total").increment(n as u64);
    Ok(n)
}

/// Integrates everything the journal holds now; returns the tree size.
pub async fn catch_up(store: &Arc<dyn MetadataStore>, integrity: &Integrity) -> Result<u64, String> {
    while integrate_step(store, integrity, u64::MAX).await? > 0 {}
    Ok(integrity.tree_size())
}

/// Follows the journal forever: integrates, signs, publishes.
pub async fn run(store: Arc<dyn MetadataStore>, integrity: Integrity, recorder: Arc<Recorder>, interval: Duration) {
    let mut head = store.watch_head();
    let mut last_signed = Instant::now() - interval;
    // The seq of the checkpoint event this process last published, so that event alone signs nothing new.
    let mut published: Option<u64> = None;
    loop {
        match integrate_step(&store, &integrity, u64::MAX).await {
            Ok(BATCH) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "audit tree integration failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let size = integrity.tree_size();
        metrics::gauge!("vigil_tlog_tree_size").set(size as f64);
        let signed = integrity.checkpoint().map_or(0, |c| c.checkpoint.size);
        let only_our_event = published.is_some_and(|seq| size == seq && signed + 1 == seq);
        if size > signed && !only_our_event {
            let wait = interval.saturating_sub(last_signed.elapsed());
            if wait.is_zero() {
                match sign(&integrity, size).await {
                    Ok(note) => {
                        last_signed = Instant::now();
                        published = publish(&store, &recorder, &integrity, note).await.or(published);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "signing an audit checkpoint failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                continue;
            }
            crate::follow::next_commits(&mut head, wait).await;
            continue;
        }
        crate::follow::next_commits(&mut head, Duration::from_secs(1)).await;
    }
}

/// Signs the tree of `size` leaves, remembers the checkpoint durably, then makes it the one served.
pub async fn sign(integrity: &Integrity, size: u64) -> Result<String, String> {
    let root = integrity.root(size).map_err(|e| e.to_string())?;
    let checkpoint = Checkpoint { origin: integrity.origin().to_owned(), size, root };
    if let Some(last) = integrity.checkpoint() {
        // Belt and braces: the new tree must extend the last signed one.
        let proof = integrity.consistency_proof(last.checkpoint.size, size).map_err(|e| e.to_string())?;
        vigil_tlog::proof::verify_consistency(last.checkpoint.size, size, &last.checkpoint.root, &root, &proof)
            .map_err(|e| format!("refusing to sign a checkpoint inconsistent with the last one: {e}"))?;
    }
    let note = integrity.shared.signer.sign(&checkpoint.body());
    let shared = integrity.shared.clone();
    let to_write = note.clone();
    tokio::task::spawn_blocking(move || keys::write_state(&shared.state_path, &to_write))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("remembering the checkpoint: {e}"))?;
    *integrity.shared.latest.write().expect("checkpoint lock") =
        Some(Arc::new(SignedCheckpoint { checkpoint, note: note.clone() }));
    metrics::gauge!("vigil_tlog_checkpoint_size").set(size as f64);
    Ok(note)
}

async fn publish(
    store: &Arc<dyn MetadataStore>,
    recorder: &Recorder,
    integrity: &Integrity,
    note: String,
) -> Option<u64> {
    let event = recorder
        .background(Origin::System, Operation::SignCheckpoint, UserRef::system("system"))
        .artifact(integrity.origin().to_owned())
        .detail(note);
    match store.append_events(vec![event.boxed()]).await {
        Ok(seqs) => seqs.first().copied(),
        Err(e) => {
            tracing::warn!(error = %e, "publishing an audit checkpoint to the journal failed");
            None
        }
    }
}
