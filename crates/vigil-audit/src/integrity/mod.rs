//! The audit log's integrity: every journal entry is a leaf of an RFC 9162 Merkle tree (leaf index = seq − 1),
//! integrated continuously by one task that follows the journal, and the tree's heads are signed as C2SP
//! checkpoints with an Ed25519 key. The tree's hashes are kept as tlog-tiles (`vigil_tlog::TileStore`) so the
//! read API serves them directly.
//!
//! Invariant: vigil never signs two inconsistent checkpoints. The last one signed is remembered durably
//! ([`keys::write_state`]) before it is served; at start the tree is rebuilt up to it from the journal and must
//! reproduce its root exactly, or the server refuses to start (see [`integrator::recover`]).

pub mod integrator;
pub mod keys;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use vigil_tlog::proof::{self, ProofError};
use vigil_tlog::{Checkpoint, Hash, SignerKey, TileStore, VerifierKey};

/// A checkpoint and its signed note, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: String,
}

/// The tree, the key and the latest checkpoint, shared by the integrator and the read API.
#[derive(Clone)]
pub struct Integrity {
    shared: Arc<Shared>,
}

struct Shared {
    origin: String,
    signer: SignerKey,
    verifier: VerifierKey,
    tree: RwLock<TileStore>,
    latest: RwLock<Option<Arc<SignedCheckpoint>>>,
    /// The newest checkpoint witnesses cosigned, with their cosignature lines (not persisted: witnesses are asked
    /// again after a restart).
    cosigned: RwLock<Option<(u64, Arc<String>)>>,
    state_path: PathBuf,
}

impl Integrity {
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// The public key in C2SP verifier-key form.
    pub fn verifier_key(&self) -> String {
        self.shared.verifier.to_text()
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.shared.verifier
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Option<Arc<SignedCheckpoint>> {
        self.shared.latest.read().expect("checkpoint lock").clone()
    }

    /// The newest checkpoint that witnesses cosigned, with the log's signature and their cosignatures.
    pub fn cosigned(&self) -> Option<Arc<String>> {
        self.shared.cosigned.read().expect("cosigned lock").as_ref().map(|(_, note)| note.clone())
    }

    /// Keeps `note` (this log's checkpoint of `size` with cosignature lines appended) unless a larger one is held.
    pub fn set_cosigned(&self, size: u64, note: String) {
        let mut held = self.shared.cosigned.write().expect("cosigned lock");
        if held.as_ref().is_none_or(|(h, _)| *h <= size) {
            *held = Some((size, Arc::new(note)));
        }
    }

    /// Leaves integrated so far (may be ahead of the latest checkpoint).
    pub fn tree_size(&self) -> u64 {
        self.tree().size()
    }

    fn tree(&self) -> std::sync::RwLockReadGuard<'_, TileStore> {
        self.shared.tree.read().expect("tree lock")
    }

    /// Runs `f` — tile reads and proofs, file I/O under the tree's lock — on a blocking thread, so an async worker
    /// never waits on the disk or on the integrator's write lock.
    pub async fn off_runtime<T: Send + 'static>(&self, f: impl FnOnce(&Integrity) -> T + Send + 'static) -> T {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || f(&this)).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// The latest signed checkpoint, if it holds event `seq`, with the event's inclusion proof against it (leaf
    /// index `seq - 1`); `None` until a checkpoint covers the event.
    pub async fn proof_in_latest(&self, seq: u64) -> Option<(Arc<SignedCheckpoint>, Result<Vec<Hash>, ProofError>)> {
        let c = self.checkpoint().filter(|c| seq >= 1 && c.checkpoint.size >= seq)?;
        let size = c.checkpoint.size;
        let proof = self.off_runtime(move |i| i.inclusion_proof(seq - 1, size)).await;
        Some((c, proof))
    }

    /// A hash tile, if the tree has it.
    pub fn tile(&self, level: u8, index: u64, width: u64) -> Option<Vec<u8>> {
        self.tree().tile(level as usize, index, width)
    }

    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        self.tree().leaf(index).ok()
    }

    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        check_size(size, self.tree_size())?;
        proof::root(&*self.tree(), size)
    }

    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        check_size(size, self.tree_size())?;
        proof::inclusion_proof(&*self.tree(), index, size)
    }

    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, ProofError> {
        check_size(to, self.tree_size())?;
        proof::consistency_proof(&*self.tree(), from, to)
    }
}

fn check_size(size: u64, have: u64) -> Result<(), ProofError> {
    if size > have {
        return Err(ProofError::OutOfRange(format!("the tree has {have} entries, not {size}")));
    }
    Ok(())
}
