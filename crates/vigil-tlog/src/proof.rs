//! RFC 9162 Merkle proofs. Generation follows §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF) over any source of
//! perfect-subtree hashes; verification is §2.1.3.2 and §2.1.4.2 step by step, because homemade proof checks are
//! where logs have had real bugs.

use crate::hash::{node_hash, split, Hash, EMPTY_ROOT};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("{0}")]
    OutOfRange(String),
    #[error("the proof does not verify: {0}")]
    Invalid(&'static str),
    #[error("reading the tree: {0}")]
    Store(String),
}

/// Where proofs get hashes from: the root of the perfect subtree of `size` (a power of two) leaves starting at
/// `start` (a multiple of `size`).
pub trait SubtreeSource {
    fn perfect(&self, start: u64, size: u64) -> Result<Hash, ProofError>;
}

/// MTH(D[start:end]) (RFC 9162 §2.1.1), recursing only down to perfect subtrees the source can answer.
pub fn subtree_root<S: SubtreeSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash, ProofError> {
    let n = end - start;
    if n == 0 {
        return Ok(EMPTY_ROOT);
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.perfect(start, n);
    }
    let k = split(n);
    Ok(node_hash(&subtree_root(src, start, start + k)?, &subtree_root(src, start + k, end)?))
}

/// The root of the tree of `size` leaves.
pub fn root<S: SubtreeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, ProofError> {
    subtree_root(src, 0, size)
}

/// PATH(index, D[size]): the audit path of leaf `index` in the tree of `size` leaves, leaf end first.
pub fn inclusion_proof<S: SubtreeSource + ?Sized>(src: &S, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange(format!("leaf index {index} is not in a tree of size {size}")));
    }
    let mut path = Vec::new();
    path_into(src, index, 0, size, &mut path)?;
    Ok(path)
}

fn path_into<S: SubtreeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path_into(src, m, start, start + k, out)?;
        out.push(subtree_root(src, start + k, end)?);
    } else {
        path_into(src, m - k, start + k, end, out)?;
        out.push(subtree_root(src, start, start + k)?);
    }
    Ok(())
}

/// PROOF(old, D[new]): the consistency proof that the tree of `old` leaves is a prefix of the tree of `new`.
pub fn consistency_proof<S: SubtreeSource + ?Sized>(src: &S, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange(format!("tree size {old} is larger than {new}")));
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof_into(src, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof_into<S: SubtreeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(subtree_root(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof_into(src, m, start, start + k, complete, out)?;
        out.push(subtree_root(src, start + k, end)?);
    } else {
        subproof_into(src, m - k, start + k, end, false, out)?;
        out.push(subtree_root(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: verifies that `leaf` is leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange(format!("leaf index {index} is not in a tree of size {size}")));
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::Invalid("the inclusion proof is too long"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Invalid("the inclusion proof is too short"));
    }
    if &r != root {
        return Err(ProofError::Invalid("the inclusion proof leads to a different root"));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange(format!("tree size {old} is larger than {new}")));
    }
    if old == new {
        return match (proof.is_empty(), old_root == new_root) {
            (true, true) => Ok(()),
            (false, _) => Err(ProofError::Invalid("a proof between equal sizes must be empty")),
            (true, false) => Err(ProofError::Invalid("two trees of the same size have different roots")),
        };
    }
    if old == 0 {
        // Every tree extends the empty tree.
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::Invalid("a proof from size 0 must be empty")) };
    }
    if proof.is_empty() {
        return Err(ProofError::Invalid("the consistency proof is empty"));
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (path[0], path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return Err(ProofError::Invalid("the consistency proof is too long"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Invalid("the consistency proof is too short"));
    }
    if &f_r != old_root {
        return Err(ProofError::Invalid("the consistency proof does not lead to the older root"));
    }
    if &s_r != new_root {
        return Err(ProofError::Invalid("the consistency proof does not lead to the newer root"));
    }
    Ok(())
}

/// Leaf hashes held in memory: the simplest source, for tests and small trees.
impl SubtreeSource for [Hash] {
    fn perfect(&self, start: u64, size: u64) -> Result<Hash, ProofError> {
        let end = start + size;
        if end > self.len() as u64 {
            return Err(ProofError::OutOfRange(format!("leaves {start}..{end} are beyond the tree")));
        }
        Ok(crate::hash::fold_perfect(&self[start as usize..end as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    /// MTH straight from the RFC's recursive definition, with no shortcuts.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => EMPTY_ROOT,
            1 => d[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_definition() {
        for n in 0..70 {
            let l = leaves(n);
            assert_eq!(root(l.as_slice(), n).unwrap(), mth(&l), "size {n}");
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_and_tampering_fails() {
        let l = leaves(40);
        for n in 1..=40u64 {
            let r = mth(&l[..n as usize]);
            for i in 0..n {
                let p = inclusion_proof(l.as_slice(), i, n).unwrap();
                verify_inclusion(i, n, &l[i as usize], &p, &r).unwrap();
                assert!(verify_inclusion(i, n, &leaf_hash(b"other"), &p, &r).is_err());
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first);
                    assert!(verify_inclusion(i, n, &l[i as usize], &bad, &r).is_err());
                    assert!(verify_inclusion(i, n, &l[i as usize], &p[1..], &r).is_err());
                }
            }
            for m in 0..=n {
                let rm = mth(&l[..m as usize]);
                let p = consistency_proof(l.as_slice(), m, n).unwrap();
                verify_consistency(m, n, &rm, &r, &p).unwrap();
                if m > 0 && m < n {
                    assert!(verify_consistency(m, n, &leaf_hash(b"x"), &r, &p).is_err());
                    assert!(verify_consistency(m, n, &rm, &leaf_hash(b"x"), &p).is_err());
                    assert!(verify_consistency(m, n, &rm, &r, &p[..p.len() - 1]).is_err());
                }
            }
        }
    }
}
