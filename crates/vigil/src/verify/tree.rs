//! Checks of the tree itself: its stored levels agree with each other, and every signed checkpoint (remembered,
//! pinned, or found in the journal and the sink files) is a root of it.

use std::collections::BTreeMap;

use vigil_tlog::proof::SubtreeSource;
use vigil_tlog::store::TILE_WIDTH;
use vigil_tlog::{proof, Checkpoint, TileStore, VerifierKey};

use super::Report;

/// Every stored parent hash must be the root of its 256 children: if the level files were edited, the first
/// tile that no longer folds to its parent is reported.
pub fn check_levels(tree: &TileStore, report: &mut Report) -> bool {
    match tree.first_inconsistent_tile() {
        Ok(None) => true,
        Ok(Some((level, t))) => {
            let span = TILE_WIDTH.pow(level as u32 + 1);
            report.problem(format!(
                "tree files: tile {level}/{t} does not hash to its parent (leaves {}..{} at level 0 or the tile \
                 files were modified or damaged)",
                t * span,
                (t + 1) * span - 1
            ));
            false
        }
        Err(e) => {
            report.problem(format!("tree files: cannot read them: {e}"));
            false
        }
    }
}

/// Signed checkpoints to check, by where they were found.
#[derive(Default)]
pub struct Checkpoints {
    /// size → (root, where first found)
    found: BTreeMap<u64, (vigil_tlog::Hash, String)>,
}

impl Checkpoints {
    /// Adds a signed note found at `source`, reporting a bad signature or two different roots for one size.
    pub fn add(&mut self, key: &VerifierKey, note: &str, source: &str, report: &mut Report) {
        let body = match key.open(note) {
            Ok(b) => b,
            Err(e) => {
                report.problem(format!("{source}: checkpoint signature invalid: {e}"));
                return;
            }
        };
        let c = match Checkpoint::parse(body) {
            Ok(c) => c,
            Err(e) => {
                report.problem(format!("{source}: malformed checkpoint: {e}"));
                return;
            }
        };
        match self.found.get(&c.size) {
            Some((root, first)) if *root != c.root => report.problem(format!(
                "checkpoints inconsistent: {source} and {first} both sign size {} with different roots",
                c.size
            )),
            Some(_) => {}
            None => {
                self.found.insert(c.size, (c.root, source.to_owned()));
            }
        }
    }

    pub fn largest(&self) -> u64 {
        self.found.keys().next_back().copied().unwrap_or(0)
    }

    /// Every checkpoint must be a root of the tree; a checkpoint larger than the tree means entries were cut off.
    /// When the tree disagrees, the damage lies between the largest agreeing and the smallest disagreeing size.
    pub fn check_against<S: SubtreeSource + ?Sized>(&self, tree: &S, tree_size: u64, report: &mut Report) {
        let mut last_good = 0;
        for (&size, (root, source)) in &self.found {
            if size > tree_size {
                report.problem(format!(
                    "truncated: {source} signs {size} entries but the tree holds {tree_size}; entries {}..{size} are \
                     missing",
                    tree_size + 1
                ));
                return;
            }
            match proof::root(tree, size) {
                Ok(r) if r == *root => last_good = size,
                Ok(_) => {
                    report.problem(format!(
                        "checkpoints inconsistent with the tree: {source} (size {size}) does not match; the first \
                         difference is between seq {} and seq {size}",
                        last_good + 1
                    ));
                    return;
                }
                Err(e) => {
                    report.problem(format!("reading the tree at size {size}: {e}"));
                    return;
                }
            }
        }
        if let Some((&size, _)) = self.found.iter().next_back() {
            report.info(format!("checkpoints: {} signed, up to size {size}, all roots of this tree", self.found.len()));
        }
    }
}
