//! The right edge of a growing tree: the roots of its perfect subtrees, largest first. Appending a leaf costs on
//! average two hashes, and the root of the tree so far is always at hand, so a verifier streaming millions of
//! entries gets the root at every checkpoint size in one pass.

use crate::hash::{node_hash, Hash, EMPTY_ROOT};

#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    size: u64,
    /// Roots of perfect subtrees with sizes the set bits of `size`, largest first.
    edge: Vec<Hash>,
}

impl Accumulator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        // Each trailing one bit of the old size is a subtree of equal size waiting for a sibling.
        let mut merges = self.size.trailing_ones();
        while merges > 0 {
            let left = self.edge.pop().expect("edge holds one subtree per set bit");
            h = node_hash(&left, &h);
            merges -= 1;
        }
        self.edge.push(h);
        self.size += 1;
    }

    /// MTH of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.edge.iter().rev();
        let Some(last) = it.next() else { return EMPTY_ROOT };
        it.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::proof::root;

    #[test]
    fn root_after_every_push_matches_the_tree() {
        let leaves: Vec<Hash> = (0..600u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut acc = Accumulator::new();
        assert_eq!(acc.root(), EMPTY_ROOT);
        for (i, l) in leaves.iter().enumerate() {
            acc.push(*l);
            assert_eq!(acc.root(), root(&leaves[..=i], i as u64 + 1).unwrap(), "size {}", i + 1);
        }
    }
}
