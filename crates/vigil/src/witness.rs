//! Witnessing, as the binary wires it: this server as a witness of other logs (`[witness]`), its own log asking
//! its witnesses (`[[audit.tlog.witness]]`), and `vigil witness key`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use vigil_audit::integrity::Integrity;
use vigil_tlog::cosignature::{CosignatureKey, Cosigner};
use vigil_tlog::VerifierKey;

use crate::config::Config;

#[derive(Subcommand)]
pub enum WitnessCmd {
    /// Print this server's witness key (C2SP cosignature verifier key), making the key on first use: give it to
    /// the logs this server witnesses (`[[audit.tlog.witness]] key`) and to verifiers (`--witness-key`).
    Key,
}

fn key_path(config: &Config) -> PathBuf {
    config.witness.key_file.clone().unwrap_or_else(|| config.data_dir.join("witness.key"))
}

fn name(config: &Config) -> String {
    config.witness.name.clone().unwrap_or_else(|| {
        let node = config.audit.node.clone().unwrap_or_else(|| vigil_audit::event::default_node().to_string());
        format!("{node}/vigil-witness")
    })
}

/// The witness's cosigning key: read from its file, or made and written there (mode 0600) on first use.
pub fn cosigner(config: &Config) -> anyhow::Result<Cosigner> {
    let path = key_path(config);
    match std::fs::read_to_string(&path) {
        Ok(text) => Cosigner::parse(&text).map_err(|e| anyhow::anyhow!("witness key {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Cosigner::generate(&name(config)).map_err(|e| anyhow::anyhow!("witness key name: {e}"))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("writing the witness key {}", path.display()))?;
            f.write_all(format!("{}\n", key.to_text()).as_bytes())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated the witness key");
            Ok(key)
        }
        Err(e) => Err(anyhow::anyhow!("reading the witness key {}: {e}", path.display())),
    }
}

/// The witness service's routes, when `[witness] enabled`.
pub fn service(config: &Config) -> anyhow::Result<Option<axum::Router>> {
    if !config.witness.enabled {
        return Ok(None);
    }
    let mut logs = Vec::new();
    for log in &config.witness.logs {
        let key = VerifierKey::parse(&log.key).map_err(|e| anyhow::anyhow!("witness.log key {:?}: {e}", log.key))?;
        logs.push((log.origin.clone().unwrap_or_else(|| key.name().to_owned()), key));
    }
    let state = config.data_dir.join("witness-state.json");
    let witness = vigil_witness::Witness::open(cosigner(config)?, logs, state).map_err(anyhow::Error::msg)?;
    tracing::info!(key = witness.cosigner().verifier().to_text(), "witnessing other logs at /witness/add-checkpoint");
    Ok(Some(vigil_witness::router(Arc::new(witness))))
}

/// Starts asking the configured witnesses to cosign this log's checkpoints.
pub fn spawn_submitter(
    config: &Config,
    integrity: &Integrity,
    recorder: Arc<vigil_audit::Recorder>,
) -> anyhow::Result<()> {
    let mut targets = Vec::new();
    for w in &config.audit.tlog.witnesses {
        let key =
            CosignatureKey::parse(&w.key).map_err(|e| anyhow::anyhow!("audit.tlog.witness key {:?}: {e}", w.key))?;
        if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
            anyhow::bail!("audit.tlog.witness url {:?} must be http:// or https://", w.url);
        }
        targets.push(vigil_witness::submit::Target { url: w.url.clone(), key });
    }
    if !targets.is_empty() {
        tracing::info!(witnesses = targets.len(), "asking witnesses to cosign checkpoints");
        tokio::spawn(vigil_witness::submit::run(integrity.clone(), targets, recorder));
    }
    Ok(())
}

pub fn run(config: &Config, cmd: WitnessCmd) -> anyhow::Result<()> {
    match cmd {
        WitnessCmd::Key => {
            println!("{}", cosigner(config)?.verifier().to_text());
            Ok(())
        }
    }
}
