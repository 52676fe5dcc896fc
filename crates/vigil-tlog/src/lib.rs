//! The audit log's integrity layer, in the standard formats of the transparency-log world:
//!
//! - [`hash`]: RFC 9162 leaf and node hashes.
//! - [`proof`]: inclusion and consistency proofs, generated over any [`proof::SubtreeSource`] and verified with
//!   RFC 9162's own algorithms (§2.1.3.2, §2.1.4.2).
//! - [`store`]: the tree's hashes on disk as append-only level files, which are also C2SP tlog-tiles.
//! - [`tile`]: tile paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>`), entry bundles.
//! - [`note`]: C2SP signed notes with Ed25519 keys; verifier keys.
//! - [`checkpoint`]: C2SP tlog-checkpoint bodies.
//! - [`receipt`]: C2SP tlog-proof receipts that verify offline.
//! - [`accumulator`]: the tree's right edge, so a stream of leaves yields the root at any size in one pass.
//! - [`scan`]: checks a copy of the journal (its table, or native sink files) against the trusted leaves, naming
//!   the first seq of every modified, missing, inserted, duplicated, reordered or truncated stretch.
//!
//! Leaf `i` of the tree is the journal entry with sequence number `i + 1`, hashed over its canonical bytes.

pub mod accumulator;
pub mod checkpoint;
pub mod cosignature;
pub mod hash;
pub mod note;
pub mod proof;
pub mod receipt;
pub mod scan;
pub mod store;
pub mod tile;

pub use accumulator::Accumulator;
pub use checkpoint::Checkpoint;
pub use hash::{leaf_hash, node_hash, Hash, EMPTY_ROOT};
pub use note::{SignerKey, VerifierKey};
pub use store::TileStore;
