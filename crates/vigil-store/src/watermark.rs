//! The free-space watermark of the disk holding the data directory. Below it, vigil refuses new content (503 with
//! an audit event per refusal) while it still has room to record that it did so: the journal is never the write
//! that fills the disk, and deletes, reads and garbage collection go on to free space.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub struct Watermark {
    dir: PathBuf,
    min_free: u64,
    free: AtomicU64,
    low: AtomicBool,
}

/// What a refresh saw change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    BecameLow { free: u64 },
    Recovered { free: u64 },
}

impl Watermark {
    /// Watches the disk of `dir`; `min_free` bytes (0: never low).
    pub fn new(dir: PathBuf, min_free: u64) -> Self {
        Watermark { dir, min_free, free: AtomicU64::new(u64::MAX), low: AtomicBool::new(false) }
    }

    pub fn min_free(&self) -> u64 {
        self.min_free
    }

    /// Reads the free space again; says whether the disk just went below the watermark or back above it.
    pub fn refresh(&self) -> io::Result<Option<Change>> {
        let stat = rustix::fs::statvfs(&self.dir)?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        Ok(self.observe(free))
    }

    fn observe(&self, free: u64) -> Option<Change> {
        self.free.store(free, Ordering::Relaxed);
        let low = self.min_free > 0 && free < self.min_free;
        match (self.low.swap(low, Ordering::Relaxed), low) {
            (false, true) => Some(Change::BecameLow { free }),
            (true, false) => Some(Change::Recovered { free }),
            _ => None,
        }
    }

    /// The free bytes, when they are below the watermark.
    pub fn low(&self) -> Option<u64> {
        self.low.load(Ordering::Relaxed).then(|| self.free.load(Ordering::Relaxed))
    }

    /// Words for a refusal or for `/ready`.
    pub fn describe(&self, free: u64) -> String {
        format!(
            "the disk holding the data directory has {} MiB free, below storage.min_free_bytes ({} MiB); new content \
             is refused until space is freed",
            free / (1024 * 1024),
            self.min_free / (1024 * 1024)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_reported_once_each_way() {
        let w = Watermark::new(PathBuf::from("."), 1000);
        assert_eq!(w.observe(5000), None);
        assert_eq!(w.observe(999), Some(Change::BecameLow { free: 999 }));
        assert_eq!((w.observe(10), w.low()), (None, Some(10)));
        assert_eq!(w.observe(1000), Some(Change::Recovered { free: 1000 }));
        assert_eq!(w.low(), None);
        assert!(Watermark::new(PathBuf::from("."), 0).observe(0).is_none(), "0 turns the watermark off");
        assert!(w.refresh().is_ok(), "the real disk can be read");
    }
}
