//! The tree's hashes on disk. Level `L` is an append-only file of the roots of the aligned perfect subtrees of
//! 256^L leaves, in order: level 0 holds the leaf hashes, level 1 the root of every full 256-leaf tile, and so
//! on. Hash `i` of level `L` is exactly hash `i % 256` of tlog-tile `L/(i / 256)`, so serving a tile is one read
//! and full tiles never change. Any other node is at most 128 hashes of one level away.
//!
//! Everything here is derived from the journal, so the files are not fsynced per append: after a crash the store
//! is cut back to what the signed checkpoint covers and rebuilt from the journal (see the integrator).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::hash::{fold_perfect, Hash};
use crate::proof::{ProofError, SubtreeSource};

/// Hashes per tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
const TILE_HEIGHT: u32 = 8;
const HASH: u64 = 32;

pub struct TileStore {
    dir: PathBuf,
    levels: Vec<Level>,
}

struct Level {
    file: File,
    count: u64,
}

impl TileStore {
    /// Opens (creating) the store in `dir`, dropping any torn trailing hash and completing parent levels that a
    /// crash left behind.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut store = TileStore { dir: dir.to_path_buf(), levels: Vec::new() };
        let mut level = 0;
        while store.level_path(level).exists() {
            let file = OpenOptions::new().read(true).append(true).open(store.level_path(level))?;
            let count = file.metadata()?.len() / HASH;
            file.set_len(count * HASH)?;
            store.levels.push(Level { file, count });
            level += 1;
        }
        if store.levels.is_empty() {
            store.add_level()?;
        }
        // A parent level may not claim more than its children hold.
        for l in 1..store.levels.len() {
            let allowed = store.levels[l - 1].count / TILE_WIDTH;
            if store.levels[l].count > allowed {
                store.levels[l].file.set_len(allowed * HASH)?;
                store.levels[l].count = allowed;
            }
        }
        store.complete_parents()?;
        Ok(store)
    }

    /// Opens an existing store without changing it (for `vigil audit verify` and `prove` while a server runs):
    /// a torn trailing hash is ignored, not cut.
    pub fn open_read_only(dir: &Path) -> io::Result<Self> {
        let mut store = TileStore { dir: dir.to_path_buf(), levels: Vec::new() };
        let mut level = 0;
        while store.level_path(level).exists() {
            let file = File::open(store.level_path(level))?;
            let count = file.metadata()?.len() / HASH;
            store.levels.push(Level { file, count });
            level += 1;
        }
        if store.levels.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no tree in {}", dir.display())));
        }
        for l in 1..store.levels.len() {
            store.levels[l].count = store.levels[l].count.min(store.levels[l - 1].count / TILE_WIDTH);
        }
        Ok(store)
    }

    fn level_path(&self, level: usize) -> PathBuf {
        self.dir.join(format!("level-{level}.hashes"))
    }

    fn add_level(&mut self) -> io::Result<()> {
        let path = self.level_path(self.levels.len());
        let file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        file.set_len(0)?;
        self.levels.push(Level { file, count: 0 });
        Ok(())
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels[0].count
    }

    /// Hashes stored at `level` (0 for levels the tree has not reached).
    pub fn level_count(&self, level: usize) -> u64 {
        self.levels.get(level).map_or(0, |l| l.count)
    }

    /// Appends leaf hashes, then the root of every tile they complete, at every level.
    pub fn append(&mut self, leaves: &[Hash]) -> io::Result<()> {
        if leaves.is_empty() {
            return Ok(());
        }
        self.levels[0].file.write_all(leaves.as_flattened())?;
        self.levels[0].count += leaves.len() as u64;
        self.complete_parents()
    }

    fn complete_parents(&mut self) -> io::Result<()> {
        let mut l = 0;
        while self.levels[l].count >= TILE_WIDTH {
            if l + 1 == self.levels.len() {
                self.add_level()?;
            }
            let due = self.levels[l].count / TILE_WIDTH;
            while self.levels[l + 1].count < due {
                let tile = self.levels[l + 1].count;
                let root = fold_perfect(&self.read(l, tile * TILE_WIDTH, TILE_WIDTH)?);
                self.levels[l + 1].file.write_all(&root)?;
                self.levels[l + 1].count += 1;
            }
            l += 1;
        }
        Ok(())
    }

    /// Cuts the tree back to `size` leaves (never grows it).
    pub fn truncate(&mut self, size: u64) -> io::Result<()> {
        let mut keep = size;
        for level in &mut self.levels {
            if level.count > keep {
                level.file.set_len(keep * HASH)?;
                level.count = keep;
            }
            keep /= TILE_WIDTH;
        }
        Ok(())
    }

    /// Removes every hash (a new log over the same journal).
    pub fn reset(&mut self) -> io::Result<()> {
        self.truncate(0)
    }

    /// Makes the appended hashes durable (used before a checkpoint that covers them is signed).
    pub fn sync(&self) -> io::Result<()> {
        for level in &self.levels {
            level.file.sync_data()?;
        }
        Ok(())
    }

    /// `n` consecutive hashes of `level` starting at `from`.
    pub fn read(&self, level: usize, from: u64, n: u64) -> io::Result<Vec<Hash>> {
        let have = self.levels.get(level).map_or(0, |l| l.count);
        if from + n > have {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("hashes {from}..{} of level {level} are not in the tree (it has {have})", from + n),
            ));
        }
        let mut buf = vec![0u8; (n * HASH) as usize];
        self.levels[level].file.read_exact_at(&mut buf, from * HASH)?;
        Ok(buf.chunks_exact(HASH as usize).map(|c| c.try_into().expect("32-byte chunk")).collect())
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> io::Result<Hash> {
        Ok(self.read(0, index, 1)?[0])
    }

    /// The bytes of tile `level/index`, `width` hashes wide (256 for a full tile), if the tree has them.
    pub fn tile(&self, level: usize, index: u64, width: u64) -> Option<Vec<u8>> {
        let hashes = self.read(level, index * TILE_WIDTH, width).ok()?;
        Some(hashes.concat())
    }
}

impl TileStore {
    /// The first tile (level, index) whose 256 hashes do not fold to the stored parent hash: a level file was
    /// edited or damaged. `None` when every stored parent agrees with its children. Reads every level once.
    pub fn first_inconsistent_tile(&self) -> io::Result<Option<(usize, u64)>> {
        /// Tiles folded per read (8 MiB of hashes).
        const CHUNK: u64 = 1024;
        for level in 0..self.levels.len().saturating_sub(1) {
            let parents = self.levels[level + 1].count;
            let mut tile = 0;
            while tile < parents {
                let n = CHUNK.min(parents - tile);
                let children = self.read(level, tile * TILE_WIDTH, n * TILE_WIDTH)?;
                let stored = self.read(level + 1, tile, n)?;
                let folded = fold_tiles(&children);
                if let Some(bad) = folded.iter().zip(&stored).position(|(a, b)| a != b) {
                    return Ok(Some((level, tile + bad as u64)));
                }
                tile += n;
            }
        }
        Ok(None)
    }
}

/// The root of every 256-hash tile in `children`, on two threads.
fn fold_tiles(children: &[Hash]) -> Vec<Hash> {
    let tiles: Vec<&[Hash]> = children.chunks(TILE_WIDTH as usize).collect();
    let (a, b) = tiles.split_at(tiles.len().div_ceil(2));
    std::thread::scope(|s| {
        let left = s.spawn(|| a.iter().map(|t| fold_perfect(t)).collect::<Vec<_>>());
        let right: Vec<Hash> = b.iter().map(|t| fold_perfect(t)).collect();
        let mut out = left.join().expect("folding thread");
        out.extend(right);
        out
    })
}

impl SubtreeSource for TileStore {
    fn perfect(&self, start: u64, size: u64) -> Result<Hash, ProofError> {
        let height = size.trailing_zeros();
        // The highest stored level at or below this subtree's height.
        let level = ((height / TILE_HEIGHT) as usize).min(self.levels.len() - 1);
        let shift = level as u32 * TILE_HEIGHT;
        let hashes =
            self.read(level, start >> shift, size >> shift).map_err(|e| ProofError::OutOfRange(e.to_string()))?;
        Ok(fold_perfect(&hashes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::proof::root;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn roots_from_tiles_match_roots_from_leaves_across_reopen_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let all = leaves(70_000);
        let mut store = TileStore::open(dir.path()).unwrap();
        for chunk in all[..66_000].chunks(777) {
            store.append(chunk).unwrap();
        }
        for n in [1u64, 255, 256, 257, 65_535, 65_536, 65_537, 66_000] {
            assert_eq!(root(&store, n).unwrap(), root(&all[..n as usize], n).unwrap(), "size {n}");
        }
        drop(store);
        let mut store = TileStore::open(dir.path()).unwrap();
        assert_eq!(store.size(), 66_000);
        store.truncate(65_535).unwrap();
        assert_eq!(store.levels[2].count, 0);
        store.append(&all[65_535..]).unwrap();
        assert_eq!(store.levels[2].count, 1);
        assert_eq!(root(&store, 70_000).unwrap(), root(all.as_slice(), 70_000).unwrap());
        assert_eq!(store.tile(0, 1, 256).unwrap(), all[256..512].concat());
        assert!(store.tile(0, 273, 256).is_none(), "tile 273 is only partly filled");
        assert_eq!(store.tile(0, 273, 112).unwrap().len(), 112 * 32);
    }

    #[test]
    fn an_edited_leaf_hash_under_a_full_tile_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TileStore::open(dir.path()).unwrap();
        store.append(&leaves(70_000)).unwrap();
        assert_eq!(store.first_inconsistent_tile().unwrap(), None);
        drop(store);
        let path = dir.path().join("level-0.hashes");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[600 * 32 + 5] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let store = TileStore::open(dir.path()).unwrap();
        assert_eq!(store.first_inconsistent_tile().unwrap(), Some((0, 2)));
    }

    #[test]
    fn a_torn_hash_and_a_missing_parent_are_repaired_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let all = leaves(600);
        let mut store = TileStore::open(dir.path()).unwrap();
        store.append(&all).unwrap();
        drop(store);
        let level0 = dir.path().join("level-0.hashes");
        let f = OpenOptions::new().append(true).open(&level0).unwrap();
        f.set_len(600 * 32 + 7).unwrap();
        std::fs::write(dir.path().join("level-1.hashes"), b"").unwrap();
        let store = TileStore::open(dir.path()).unwrap();
        assert_eq!(store.size(), 600);
        assert_eq!(store.levels[1].count, 2);
        assert_eq!(root(&store, 600).unwrap(), root(all.as_slice(), 600).unwrap());
    }
}
