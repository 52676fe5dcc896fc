//! An append-only JSONL file with rotation by size and by age. Rotated files are renamed to
//! `<stem>-<UTC timestamp>.<ext>` (`audit-20261121T101500.123Z.jsonl`) next to the live file, and the oldest are
//! removed beyond `max_files`. Every rename is followed by a directory fsync so it survives a crash.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub struct RotatingFile {
    path: PathBuf,
    mode: u32,
    rotate_bytes: Option<u64>,
    rotate_duration: Option<Duration>,
    max_files: usize,
    file: File,
    len: u64,
    started: SystemTime,
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

fn open_append(path: &Path, mode: u32) -> io::Result<(File, u64)> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = OpenOptions::new().create(true).append(true).mode(mode).open(path)?;
    // `mode` applies only when the file is created; an existing regular file is brought to it too.
    let meta = file.metadata()?;
    if meta.is_file() && meta.permissions().mode() & 0o777 != mode {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    let len = meta.len();
    Ok((file, len))
}

/// `20261121T101500.123Z`: sortable, and free of characters that need quoting.
fn stamp(t: SystemTime) -> String {
    let ms = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    vigil_core::time::rfc3339_ms(ms).replace(['-', ':'], "")
}

impl RotatingFile {
    pub fn open(
        path: PathBuf,
        mode: u32,
        rotate_bytes: Option<u64>,
        rotate_duration: Option<Duration>,
        max_files: usize,
    ) -> io::Result<Self> {
        let (file, len) = open_append(&path, mode)?;
        sync_dir(&path)?;
        let meta = file.metadata()?;
        let started = meta.created().or_else(|_| meta.modified()).unwrap_or_else(|_| SystemTime::now());
        Ok(RotatingFile { path, mode, rotate_bytes, rotate_duration, max_files, file, len, started })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Identity of the live file (its inode): changes when the file is rotated.
    pub fn file_id(&self) -> u64 {
        self.file.metadata().map(|m| m.ino()).unwrap_or(0)
    }

    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Cuts the file back to `len` bytes (undoing a write the journal did not commit) and makes that durable.
    pub fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()?;
        self.len = len;
        Ok(())
    }

    /// Rotates when the file is over its size or age limit. Call only at a commit boundary, so a rotated file
    /// holds whole, committed lines.
    pub fn rotate_if_due(&mut self) -> io::Result<bool> {
        if self.len == 0 {
            return Ok(false);
        }
        let by_size = self.rotate_bytes.is_some_and(|max| self.len >= max);
        let by_age = self.rotate_duration.is_some_and(|max| self.started.elapsed().is_ok_and(|age| age >= max));
        if !(by_size || by_age) {
            return Ok(false);
        }
        self.rotate()?;
        Ok(true)
    }

    fn rotated_name(&self, now: SystemTime, n: u32) -> PathBuf {
        let stem = self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("audit");
        let ext = self.path.extension().and_then(|s| s.to_str()).map(|e| format!(".{e}")).unwrap_or_default();
        let suffix = if n == 0 { String::new() } else { format!("-{n}") };
        self.path.with_file_name(format!("{stem}-{}{suffix}{ext}", stamp(now)))
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.sync_all()?;
        let now = SystemTime::now();
        let mut n = 0;
        let mut target = self.rotated_name(now, n);
        while target.exists() {
            n += 1;
            target = self.rotated_name(now, n);
        }
        std::fs::rename(&self.path, &target)?;
        let (file, len) = open_append(&self.path, self.mode)?;
        sync_dir(&self.path)?;
        self.file = file;
        self.len = len;
        self.started = now;
        self.prune()?;
        Ok(())
    }

    /// The rotated files of this sink, oldest first.
    pub fn rotated(&self) -> io::Result<Vec<PathBuf>> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let stem = self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("audit");
        let ext = self.path.extension().and_then(|s| s.to_str()).map(|e| format!(".{e}")).unwrap_or_default();
        let prefix = format!("{stem}-");
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(&prefix)
                        && n.ends_with(&ext)
                        && n[prefix.len()..].chars().next().is_some_and(|c| c.is_ascii_digit())
                })
            })
            .collect();
        found.sort();
        Ok(found)
    }

    fn prune(&self) -> io::Result<()> {
        if self.max_files == 0 {
            return Ok(());
        }
        let rotated = self.rotated()?;
        let excess = rotated.len().saturating_sub(self.max_files);
        for old in &rotated[..excess] {
            std::fs::remove_file(old)?;
        }
        if excess > 0 {
            sync_dir(&self.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_keeps_max_files_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/audit.jsonl");
        let mut f = RotatingFile::open(path.clone(), 0o640, Some(10), None, 2).unwrap();
        for i in 0..5 {
            f.append(format!("line {i:05}\n").as_bytes()).unwrap();
            f.sync().unwrap();
            assert!(f.rotate_if_due().unwrap());
            std::thread::sleep(Duration::from_millis(2));
        }
        let rotated = f.rotated().unwrap();
        assert_eq!(rotated.len(), 2, "{rotated:?}");
        let newest = std::fs::read_to_string(rotated.last().unwrap()).unwrap();
        assert_eq!(newest, "line 00004\n");
        let name = rotated[0].file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with("audit-2") && name.ends_with("Z.jsonl"), "{name}");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::metadata(&rotated[0]).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn truncate_undoes_an_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let mut f = RotatingFile::open(path.clone(), 0o600, None, None, 0).unwrap();
        f.append(b"kept\n").unwrap();
        let mark = f.len();
        f.append(b"uncommitted\n").unwrap();
        f.truncate_to(mark).unwrap();
        f.append(b"next\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept\nnext\n");
    }
}
