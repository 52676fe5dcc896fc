//! `vigil audit`: the log's public key, portable receipts, and verification of the journal, sink files and
//! receipts against the tree and the signed checkpoints (offline, or against a running server with `--url`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use vigil_audit::integrity::keys;
use vigil_tlog::receipt::Receipt;
use vigil_tlog::{proof, Checkpoint, TileStore, VerifierKey};

use crate::config::Config;
use crate::verify;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Print the log's public key in C2SP verifier-key form (pin it in verifiers and `--key`).
    Key,
    /// Write a C2SP tlog-proof receipt that the event `seq` is in the log (verifies offline with the key).
    Prove {
        seq: u64,
        /// Where to write the receipt (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check the journal and the given JSONL sink files (or archives) against the Merkle tree and the signed
    /// checkpoints; exit 0 with a summary when all holds, non-zero with the first bad entry otherwise.
    Verify(verify::VerifyArgs),
}

pub async fn run(config: &Config, cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Key => {
            println!("{}", signer_verifier(config)?.to_text());
            Ok(())
        }
        AuditCmd::Prove { seq, output } => {
            let text = prove(config, seq).await?;
            match output {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        AuditCmd::Verify(args) => verify::run(config, args).await,
    }
}

/// The verifier key of the configured signing key.
pub fn signer_verifier(config: &Config) -> anyhow::Result<VerifierKey> {
    let tlog = &config.audit.tlog;
    let origin =
        keys::origin(tlog, &config.data_dir, &crate::audit::default_origin(config)).map_err(anyhow::Error::msg)?;
    Ok(keys::load_signer(tlog, &config.data_dir, &origin).map_err(anyhow::Error::msg)?.verifier())
}

/// The last checkpoint the server signed, checked with `key`.
pub fn last_checkpoint(config: &Config, key: &VerifierKey) -> anyhow::Result<Option<(Checkpoint, String)>> {
    let path = keys::state_path(&config.audit.tlog, &config.data_dir);
    let Some(note) = keys::read_state(&path).map_err(anyhow::Error::msg)? else { return Ok(None) };
    let body = key.open(&note).with_context(|| format!("the checkpoint in {}", path.display()))?;
    Ok(Some((Checkpoint::parse(body).map_err(anyhow::Error::msg)?, note)))
}

pub fn open_tree(data_dir: &Path) -> anyhow::Result<TileStore> {
    TileStore::open_read_only(&data_dir.join("tlog")).context("opening the audit tree (has the server run?)")
}

async fn prove(config: &Config, seq: u64) -> anyhow::Result<String> {
    let key = signer_verifier(config)?;
    let Some((checkpoint, note)) = last_checkpoint(config, &key)? else {
        bail!("no checkpoint has been signed yet: start the server, which signs within a second");
    };
    if seq == 0 || seq > checkpoint.size {
        bail!(
            "seq {seq} is not in the last signed checkpoint (size {}); retry once the server signed again",
            checkpoint.size
        );
    }
    let stores = crate::open_stores(config).await?;
    let entry = stores.meta.journal(seq, 1).await?.into_iter().find(|r| r.seq == seq);
    let Some(entry) = entry else { bail!("event {seq} is no longer in the journal (pruned)") };
    let tree = open_tree(&config.data_dir)?;
    let path = proof::inclusion_proof(&tree, seq - 1, checkpoint.size)?;
    let receipt = Receipt { entry: entry.bytes, index: seq - 1, proof: path, checkpoint: note };
    // Never hand out a receipt that does not verify.
    receipt.verify(&key).map_err(|e| anyhow::anyhow!("the receipt for {seq} does not verify: {e}"))?;
    Ok(receipt.to_text())
}
