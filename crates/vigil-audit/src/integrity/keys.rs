//! The signing key and the remembered last checkpoint.
//!
//! The key comes from `VIGIL_AUDIT_SIGNING_KEY` (the key text), else `audit.tlog.signing_key_file`, else
//! `{data_dir}/audit-signing.key`, which is generated (mode 0600) at the first start. A configured key file that
//! does not exist is an error, never silently replaced: a missing mount must not start a log under a new key.
//!
//! The state file holds the last signed checkpoint note. It is written with write-to-temp, fsync, rename, fsync
//! of the directory, before the checkpoint is served, so no restart can forget a checkpoint it already showed.

use std::io::Write;
use std::path::{Path, PathBuf};

use vigil_tlog::note::SignerKey;

use crate::settings::TlogSettings;

pub const KEY_ENV: &str = "VIGIL_AUDIT_SIGNING_KEY";

pub fn default_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-signing.key")
}

pub fn state_path(settings: &TlogSettings, data_dir: &Path) -> PathBuf {
    match (&settings.checkpoint_state, &settings.signing_key_file) {
        (Some(p), _) => resolve(data_dir, p),
        (None, Some(key)) => {
            let mut p = resolve(data_dir, key).into_os_string();
            p.push(".checkpoint");
            PathBuf::from(p)
        }
        (None, None) => data_dir.join("tlog").join("checkpoint"),
    }
}

fn resolve(data_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        data_dir.join(p)
    }
}

/// The log's origin: configured, else the one the last checkpoint carries, else `default_origin`.
pub fn origin(settings: &TlogSettings, data_dir: &Path, default_origin: &str) -> Result<String, String> {
    if let Some(o) = &settings.origin {
        return Ok(o.clone());
    }
    let state = read_state(&state_path(settings, data_dir))?;
    Ok(state.as_deref().and_then(note_origin).unwrap_or_else(|| default_origin.to_owned()))
}

/// The first line of a checkpoint note.
pub fn note_origin(note: &str) -> Option<String> {
    note.split('\n').next().filter(|o| !o.is_empty()).map(str::to_owned)
}

/// Loads the signing key, generating the default one (named `origin`) on the first start.
pub fn load_signer(settings: &TlogSettings, data_dir: &Path, origin: &str) -> Result<SignerKey, String> {
    if let Ok(text) = std::env::var(KEY_ENV) {
        return SignerKey::parse(&text).map_err(|e| format!("{KEY_ENV}: {e}"));
    }
    if let Some(path) = &settings.signing_key_file {
        let path = resolve(data_dir, path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading the audit signing key {}: {e}", path.display()))?;
        return SignerKey::parse(&text).map_err(|e| format!("{}: {e}", path.display()));
    }
    let path = default_key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => SignerKey::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SignerKey::generate(origin).map_err(|e| e.to_string())?;
            write_durably(&path, format!("{}\n", key.to_text()).as_bytes(), 0o600)
                .map_err(|e| format!("writing the audit signing key {}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "generated the audit log signing key");
            Ok(key)
        }
        Err(e) => Err(format!("reading the audit signing key {}: {e}", path.display())),
    }
}

/// The last signed checkpoint note, if any.
pub fn read_state(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.is_empty() => Ok(None),
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading the checkpoint state {}: {e}", path.display())),
    }
}

pub fn write_state(path: &Path, note: &str) -> std::io::Result<()> {
    write_durably(path, note.as_bytes(), 0o644)
}

fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
