//! Offline verification of a data directory: the tree, the checkpoints, the journal table and sink files.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use vigil_tlog::scan::{ScanOptions, ScanReport, Scanner};
use vigil_tlog::{TileStore, VerifierKey};

use super::tree::{check_levels, Checkpoints};
use super::{checkpoint_note, progress, Report, VerifyArgs};
use crate::config::Config;

/// Journal rows read per step.
const STEP: usize = 20_000;

pub async fn run(
    config: &Config,
    pinned: Option<VerifierKey>,
    args: &VerifyArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let key = match pinned {
        Some(k) => {
            report.info(format!("key: {} (pinned)", k.to_text()));
            k
        }
        None => {
            let k = crate::audit_cli::signer_verifier(config)?;
            report.info(format!("key: {} (the data directory's own key: not pinned, pass --key)", k.to_text()));
            k
        }
    };
    let tree = crate::audit_cli::open_tree(&config.data_dir)?;
    if check_levels(&tree, report) {
        report.info(format!("tree: {} entries, tile files consistent", tree.size()));
    }
    let mut checkpoints = Checkpoints::default();
    // The last signed checkpoint, checked by `add` (a bad signature is reported there).
    let state = vigil_audit::integrity::keys::state_path(&config.audit.tlog, &config.data_dir);
    if let Some(note) = vigil_audit::integrity::keys::read_state(&state).map_err(anyhow::Error::msg)? {
        checkpoints.add(&key, &note, &format!("the last signed checkpoint ({})", state.display()), report);
    }
    for path in &args.checkpoints {
        let note = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        checkpoints.add(&key, &note, &format!("pinned checkpoint {}", path.display()), report);
    }
    let must_reach = checkpoints.largest();

    if !args.no_journal {
        let stores = crate::open_stores(config).await?;
        let pruned_through =
            stores.meta.setting(vigil_store::JOURNAL_PRUNED_THROUGH).await?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let head = stores.meta.journal_head().await?;
        // The journal must hold everything the tree and the checkpoints cover; entries it has beyond the tree are
        // not integrated yet (a running server) and are counted, not checked.
        let opts = ScanOptions {
            pruned_through,
            trusted_size: Some(tree.size()),
            ..ScanOptions::journal(must_reach.max(tree.size()))
        };
        let bar = progress(head, "journal");
        let mut scanner = Scanner::new(&tree, opts);
        // Reading rows (SQLite, one core) and hashing them (the other) overlap.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<vigil_store::JournalRecord>>(4);
        let meta = stores.meta.clone();
        let reader = tokio::spawn(async move {
            let mut from = pruned_through + 1;
            loop {
                let rows = meta.journal(from, STEP).await?;
                let Some(last) = rows.last().map(|r| r.seq) else { break };
                from = last + 1;
                if tx.send(rows).await.is_err() {
                    break;
                }
            }
            anyhow::Ok(())
        });
        tokio::task::block_in_place(|| -> anyhow::Result<()> {
            while let Some(rows) = rx.blocking_recv() {
                for r in &rows {
                    scanner.row(r.seq, &r.bytes)?;
                    if let Some(note) = checkpoint_note(&r.bytes) {
                        checkpoints.add(&key, &note, &format!("journal seq {}", r.seq), report);
                    }
                }
                bar.set_position(rows.last().map_or(0, |r| r.seq));
            }
            Ok(())
        })?;
        reader.await??;
        bar.finish_and_clear();
        summarize("journal", scanner.finish()?, report, &[]);
    }

    for group in group_files(config, &args.files) {
        let name = group.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let filtered = sink_is_filtered(config, &group);
        let mut scanner = Scanner::new(&tree, ScanOptions { filtered, ..ScanOptions::sink() });
        for path in &group {
            let reader = open_file(path)?;
            scanner.begin_file();
            scan_lines(reader, &mut scanner, &key, &mut checkpoints, path, report)?;
        }
        summarize(&format!("file {name}"), scanner.finish()?, report, &group);
    }
    // A running server keeps integrating and signing while the journal and files are read: a checkpoint found in a
    // file may sign entries the tree opened above did not hold yet. The tree is written before its checkpoint is
    // signed, so the tree as it is now covers every checkpoint read; a size beyond it is a real truncation.
    let tree = crate::audit_cli::open_tree(&config.data_dir)?;
    checkpoints.check_against(&tree, tree.size(), report);
    Ok(())
}

fn scan_lines(
    mut reader: Box<dyn BufRead>,
    scanner: &mut Scanner<'_, TileStore>,
    key: &VerifierKey,
    checkpoints: &mut Checkpoints,
    path: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).with_context(|| format!("reading {}", path.display()))? == 0 {
            return Ok(());
        }
        line += 1;
        scanner.line(&buf)?;
        if buf.ends_with(b"\n") {
            if let Some(note) = checkpoint_note(&buf[..buf.len() - 1]) {
                checkpoints.add(key, &note, &format!("{} line {line}", path.display()), report);
            }
        }
    }
}

pub(crate) fn open_file(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}

/// Groups files of one rotated set (`<stem>-<stamp>.<ext>` with its live `<stem>.<ext>`), each group in the
/// order it was written: rotated files by their stamp, the live file last.
fn group_files(_config: &Config, files: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let mut groups: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for f in files {
        let (key, _) = set_key(f);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(f.clone()),
            None => groups.push((key, vec![f.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut g)| {
            g.sort_by_key(|p| (set_key(p).1, p.file_name().map(|n| n.to_owned())));
            g
        })
        .collect()
}

/// `dir/audit-20261121T073540.123Z.jsonl(.gz)` and `dir/audit.jsonl` both give `dir/audit`; the flag says whether
/// the file is the live one (no stamp).
fn set_key(path: &Path) -> (String, bool) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let base = name.split('.').next().unwrap_or_default();
    let (stem, live) = match base.rsplit_once('-') {
        Some((stem, stamp)) if stamp.len() >= 15 && stamp.starts_with(|c: char| c.is_ascii_digit()) => (stem, false),
        _ => (base, true),
    };
    (path.with_file_name(stem).display().to_string(), live)
}

/// Whether a configured sink writing to one of these files drops events by filter (gaps are then expected).
fn sink_is_filtered(config: &Config, group: &[PathBuf]) -> bool {
    let Ok(specs) = config.audit.resolve(&config.data_dir) else { return false };
    let global = !config.audit.filters.is_empty();
    specs.iter().any(|s| {
        let Some(path) = &s.path else { return false };
        let live = set_key(path).0;
        (global || !s.filters.is_empty()) && group.iter().any(|f| set_key(f).0 == live)
    })
}

fn summarize(what: &str, scan: ScanReport, report: &mut Report, files: &[PathBuf]) {
    // The scanner numbers the files of a set from 1; name them.
    let named = |text: String| {
        files
            .iter()
            .enumerate()
            .rev()
            .fold(text, |t, (i, p)| t.replace(&format!("file {}", i + 1), &p.display().to_string()))
    };
    if scan.is_ok() {
        report.info(named(format!("{what}: {scan}")));
    }
    for f in scan.findings.iter().filter(|f| !f.is_error()) {
        report.info(named(format!("{what}: {f}")));
    }
    for e in scan.errors() {
        report.problem(named(format!("{what}: {e}")));
    }
    if scan.omitted > 0 {
        report.problem(format!("{what}: and {} more findings", scan.omitted));
    }
}
