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
    /// Events matching filters, newest first (from the data directory; works with or without the server).
    Query {
        #[command(flatten)]
        filter: crate::audit_cli_query::FilterArgs,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::audit_cli_query::Format,
    },
    /// The last matching events, then new ones as they happen.
    Tail {
        #[command(flatten)]
        filter: crate::audit_cli_query::FilterArgs,
        /// How many earlier events to show first.
        #[arg(long, default_value_t = 10)]
        last: u32,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::audit_cli_query::Format,
    },
    /// Every matching event, oldest first, to a file or standard output (a progress bar on long exports).
    Export {
        #[command(flatten)]
        filter: crate::audit_cli_query::FilterArgs,
        #[arg(long, value_enum, default_value = "ndjson")]
        format: crate::audit_cli_query::Format,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Rebuild the query index from the journal. With `--archive`, first put the events of retention archives
    /// back into the journal (each checked against the Merkle tree, all before any is restored), so they can be
    /// queried again until retention removes them again.
    Reindex {
        /// A retention archive (`audit-<first>-<last>.jsonl.gz`) or JSONL file of pruned events; repeatable.
        #[arg(long = "archive")]
        archives: Vec<PathBuf>,
    },
    /// Benchmarks only: append `count` synthetic push events through the real journal writer, stamped evenly
    /// over the 31 days before now, then integrate the tree and sign a checkpoint, as the server would.
    #[command(hide = true)]
    LoadSynthetic {
        #[arg(long)]
        count: u64,
    },
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
        AuditCmd::LoadSynthetic { count } => load_synthetic(config, count).await,
        AuditCmd::Reindex { archives } => crate::audit_reindex::run(config, &archives).await,
        AuditCmd::Query { filter, limit, format } => {
            crate::audit_cli_query::query(config, &filter, limit, format).await
        }
        AuditCmd::Tail { filter, last, format } => crate::audit_cli_query::tail(config, &filter, last, format).await,
        AuditCmd::Export { filter, format, output } => {
            crate::audit_cli_query::export(config, &filter, format, output).await
        }
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

/// Events per journal job, and jobs in flight (so the writer group-commits several at once).
const LOAD_BATCH: u64 = 5_000;
const LOAD_IN_FLIGHT: usize = 4;
/// The loaded events' times spread evenly over this many days before now, as a month of a busy registry.
const LOAD_SPAN_DAYS: i64 = 31;
/// One loaded event in this many is a real tag change committed with its manifest, so the trust changefeed
/// holds a tenth as many records as the journal has events.
const LOAD_CHANGE_EVERY: u64 = 10;

/// The manifest of synthetic change `i`: 1,000 distinct ones per repository, so tags move between them.
fn synthetic_manifest(i: u64) -> vigil_store::NewManifest {
    let content = bytes::Bytes::from(format!(r#"{{"schemaVersion":2,"annotations":{{"bench":"{}"}}}}"#, i % 1_000));
    vigil_store::NewManifest::standalone("application/vnd.oci.image.manifest.v1+json", content)
}

async fn load_synthetic(config: &Config, count: u64) -> anyhow::Result<()> {
    use futures_util::{future, stream, StreamExt, TryStreamExt};
    use std::sync::atomic::{AtomicI64, Ordering};
    use vigil_audit::integrity::integrator;
    use vigil_audit::{Origin, Recorder, Target, UserRef};
    use vigil_core::{Operation, RepoName, Tag};
    use vigil_store::Mutation;

    // The writer's clock is the loader's progress through the span: each batch sets it as it starts (the writer
    // still never stamps an entry earlier than the one before).
    let span_ms = LOAD_SPAN_DAYS * 86_400_000;
    let start_ms = vigil_store::now_ms() - span_ms;
    let virtual_now = std::sync::Arc::new(AtomicI64::new(start_ms));
    let clock = virtual_now.clone();
    let stores =
        crate::open_stores_with_clock(config, std::sync::Arc::new(move || clock.load(Ordering::Relaxed))).await?;
    let recorder = std::sync::Arc::new(Recorder::new(stores.meta.clone(), &config.audit));
    let repos: Vec<RepoName> = (0..100).map(|i| format!("bench/app{i}").parse().expect("repo name")).collect();
    let started = std::time::Instant::now();
    let bar = verify::progress(count, "loading");
    // At least a thousand batches, so even a small (smoke) data set has a thousand distinct times over the span.
    let batch = LOAD_BATCH.min(count.div_ceil(1_000)).max(1);
    stream::iter((0..count).step_by(batch as usize))
        .map(|from| {
            let (recorder, meta, repos, bar) = (recorder.clone(), stores.meta.clone(), &repos, bar.clone());
            let at = start_ms + (i128::from(from) * i128::from(span_ms) / i128::from(count.max(1))) as i64;
            let virtual_now = virtual_now.clone();
            async move {
                virtual_now.fetch_max(at, Ordering::Relaxed);
                let event = |i: u64, target: Target| {
                    let user = UserRef {
                        id: Some(format!("00000000-0000-4000-8000-{:012}", i % 50)),
                        name: format!("user{}", i % 50),
                        kind: "user",
                        credential: "password",
                        token_id: None,
                    };
                    recorder.background(Origin::Api, Operation::PutManifest, user).target(target).boxed()
                };
                let repo = |i: u64| &repos[(i % 100) as usize];
                let (changes, plain): (Vec<u64>, Vec<u64>) =
                    (from..count.min(from + batch)).partition(|i| i % LOAD_CHANGE_EVERY == 0);
                let plain = plain.into_iter().map(|i| {
                    // Not `i % 100`: the changes take every tenth `i`, which would leave a tenth of the
                    // repositories with none of these.
                    let target = Target::repo(repo(i + i / LOAD_CHANGE_EVERY))
                        .tag(format!("v{i}"))
                        .digest(format!("sha256:{:064x}", i))
                        .size(1_000 + i % 9_000);
                    event(i, target)
                });
                let changes = changes.into_iter().map(|i| {
                    // Numbered among the changes, so they spread over every repository and manifest.
                    let n = i / LOAD_CHANGE_EVERY;
                    let manifest = synthetic_manifest(n);
                    let tag: Tag = format!("t{}", n % 50).parse().expect("tag");
                    let target =
                        Target::repo(repo(n)).tag(&tag).digest(&manifest.digest).size(manifest.content.len() as u64);
                    let change = Mutation::PutManifest { repo: repo(n).clone(), manifest, tags: vec![tag] };
                    meta.apply(change, vec![event(i, target)])
                });
                let (plain, changes) =
                    future::join(meta.append_events(plain.collect()), future::try_join_all(changes)).await;
                plain?;
                changes?;
                bar.inc(batch);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(LOAD_IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    bar.finish_and_clear();
    let loaded = started.elapsed();
    let started = std::time::Instant::now();
    let integrity =
        integrator::recover(&stores.meta, &config.audit.tlog, &config.data_dir, &crate::audit::default_origin(config))
            .await
            .map_err(anyhow::Error::msg)?;
    let size = integrator::catch_up(&stores.meta, &integrity).await.map_err(anyhow::Error::msg)?;
    integrator::sign(&integrity, size).await.map_err(anyhow::Error::msg)?;
    let integrated = started.elapsed();
    let started = std::time::Instant::now();
    let indexed = vigil_audit::indexer::catch_up(&stores.meta).await.map_err(anyhow::Error::msg)?;
    println!(
        "loaded {count} events ({} with a tag change) in {:.1} s ({:.0}/s); integrated and signed a tree of {size} \
         in {:.1} s; indexed through {indexed} in {:.1} s",
        count.div_ceil(LOAD_CHANGE_EVERY),
        loaded.as_secs_f64(),
        count as f64 / loaded.as_secs_f64(),
        integrated.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
