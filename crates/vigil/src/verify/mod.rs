//! `vigil audit verify`: checks the audit log against its Merkle tree and signed checkpoints.
//!
//! Offline (default): the tree files' internal consistency, every signed checkpoint (the remembered one, pinned
//! ones, and those published in the journal and the files) as a root of the tree, then the journal table and each
//! given JSONL file entry by entry against the tree's leaves ([`vigil_tlog::scan`]). With `--url`, the same against
//! a running server through its tlog-tiles API ([`remote`]). With `--receipt`, C2SP tlog-proof receipts.
//!
//! The trust anchor is the key: pin it with `--key` (the output of `vigil audit key`, kept elsewhere) and an
//! earlier checkpoint with `--checkpoint`; without `--key` the data directory's own key is used, which proves
//! nothing against whoever controls that directory, and the summary says so.

pub(crate) mod local;
mod remote;
mod tree;

use std::path::PathBuf;

use anyhow::Context;
use vigil_tlog::receipt::Receipt;
use vigil_tlog::VerifierKey;

use crate::config::Config;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// JSONL sink files or archives (`.gz`) to check, besides the journal. A rotated set may be given in any order.
    pub files: Vec<PathBuf>,
    /// The trusted public key: the verifier-key text or a file holding it.
    #[arg(long)]
    pub key: Option<String>,
    /// An earlier signed checkpoint (a file) the log must still extend. Repeatable.
    #[arg(long = "checkpoint")]
    pub checkpoints: Vec<PathBuf>,
    /// Check these C2SP tlog-proof receipts instead (offline; only the key is needed).
    #[arg(long = "receipt")]
    pub receipts: Vec<PathBuf>,
    /// Check a running server through its tiles API instead of the local data directory.
    #[arg(long)]
    pub url: Option<String>,
    /// With `--url`: a global admin whose credentials fetch the entries (password in `VIGIL_PASSWORD`). Without
    /// it only the tree and the checkpoints are checked.
    #[arg(long)]
    pub user: Option<String>,
    /// Do not check the journal table (only the tree, the checkpoints and the given files).
    #[arg(long)]
    pub no_journal: bool,
    /// With `--url`: a witness's cosignature key (`name+id+base64`) whose cosignature the log's witnessed
    /// checkpoint must carry. Repeatable.
    #[arg(long = "witness-key")]
    pub witness_keys: Vec<String>,
    /// How many of the `--witness-key`s must have cosigned (default: all of them).
    #[arg(long)]
    pub witness_quorum: Option<usize>,
}

/// What verification found: problems make the command fail; facts make the summary.
#[derive(Default)]
pub struct Report {
    problems: Vec<String>,
    facts: Vec<String>,
}

impl Report {
    pub fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    pub fn info(&mut self, f: String) {
        self.facts.push(f);
    }

    fn finish(self) -> anyhow::Result<()> {
        for f in &self.facts {
            println!("  {f}");
        }
        if self.problems.is_empty() {
            println!("OK: the audit log verifies");
            return Ok(());
        }
        for p in &self.problems {
            println!("FAIL {p}");
        }
        anyhow::bail!("verification failed: {} problem(s)", self.problems.len())
    }
}

pub async fn run(config: &Config, args: VerifyArgs) -> anyhow::Result<()> {
    let mut report = Report::default();
    let pinned = args.key.as_deref().map(parse_key).transpose()?;
    if !args.receipts.is_empty() {
        let key = match pinned {
            Some(k) => k,
            None => crate::audit_cli::signer_verifier(config)?,
        };
        for path in &args.receipts {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            match Receipt::parse(&text).and_then(|r| r.verify(&key).map(|c| (r, c))) {
                Ok((r, c)) => report.info(format!(
                    "{}: seq {} is in the log {} of size {} (signed by {})",
                    path.display(),
                    r.index + 1,
                    c.origin,
                    c.size,
                    key.name()
                )),
                Err(e) => report.problem(format!("{}: {e}", path.display())),
            }
        }
        return report.finish();
    }
    if let Some(url) = &args.url {
        remote::run(url, pinned, &args, &mut report).await?;
    } else if !args.witness_keys.is_empty() {
        anyhow::bail!("--witness-key checks the witnessed checkpoint a server serves: give --url");
    } else {
        local::run(config, pinned, &args, &mut report).await?;
    }
    report.finish()
}

fn parse_key(arg: &str) -> anyhow::Result<VerifierKey> {
    let text = if std::path::Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("reading the key file {arg}"))?
    } else {
        arg.to_owned()
    };
    VerifierKey::parse(text.trim()).with_context(|| format!("--key {arg}"))
}

/// The signed note of a published checkpoint, if `entry` is an `audit_checkpoint` event. Canonical entries begin
/// `{"ts":"<24 characters>","action":"`, so one comparison at a fixed offset rules out every other event.
pub fn checkpoint_note(entry: &[u8]) -> Option<String> {
    const ACTION_AT: usize = r#"{"ts":"2026-11-21T07:35:40.085Z","action":""#.len();
    if !entry.get(ACTION_AT..)?.starts_with(b"audit_checkpoint\"") {
        return None;
    }
    let e = vigil_audit::view::EventView::parse(entry).ok()?;
    Some(e.detail.into_owned()).filter(|d| !d.is_empty())
}

/// A progress bar on standard error for long runs (hidden when it is not a terminal).
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .expect("progress template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::checkpoint_note;
    use vigil_audit::{EventDraft, Origin, UserRef};
    use vigil_core::Operation;
    use vigil_store::JournalEvent;

    #[test]
    fn checkpoint_events_are_recognised_by_their_canonical_prefix() {
        let draft = |op| EventDraft::background(Origin::System, op, UserRef::system("system"), "node".into());
        let note = "o\n1\nAAAA\n\n\u{2014} o sig\n";
        let checkpoint = draft(Operation::SignCheckpoint).artifact("o").detail(note).encode(7, 1_700_000_000_000);
        assert_eq!(checkpoint_note(&checkpoint).as_deref(), Some(note));
        let other = draft(Operation::LoadConfig).detail("audit_checkpoint").encode(8, 1_700_000_000_000);
        assert_eq!(checkpoint_note(&other), None);
        assert_eq!(checkpoint_note(b"{}"), None);
    }
}
