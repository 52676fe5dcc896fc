//! `vigil audit verify --url`: the same checks against a running server, through its public tlog-tiles API
//! (the key, the checkpoint, hash tiles) and, with a global admin's credentials, its entry bundles.

use anyhow::{bail, Context};
use futures_util::{stream, StreamExt, TryStreamExt};
use vigil_tlog::scan::{ScanOptions, Scanner};
use vigil_tlog::store::TILE_WIDTH;
use vigil_tlog::tile::{unbundle, TileKind, TilePath};
use vigil_tlog::{Checkpoint, Hash, VerifierKey};

use super::tree::Checkpoints;
use super::{checkpoint_note, progress, Report, VerifyArgs};
use vigil_tlog::cosignature::CosignatureKey;

/// Tiles fetched at once.
const PARALLEL: usize = 8;

pub async fn run(url: &str, pinned: Option<VerifierKey>, args: &VerifyArgs, report: &mut Report) -> anyhow::Result<()> {
    let base = url.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder().build()?;
    let served = get_text(&client, &format!("{base}/audit/key")).await?;
    let served = VerifierKey::parse(served.trim()).context("the server's /audit/key")?;
    let key = match pinned {
        Some(k) if k != served => {
            report.problem(format!("the server's key {} is not the pinned key {}", served.to_text(), k.to_text()));
            k
        }
        Some(k) => {
            report.info(format!("key: {} (pinned; the server serves the same)", k.to_text()));
            k
        }
        None => {
            report.info(format!("key: {} (served by the server: not pinned, pass --key)", served.to_text()));
            served
        }
    };
    let note = get_text(&client, &format!("{base}/audit/checkpoint")).await?;
    let body = match key.open(&note) {
        Ok(b) => b,
        Err(e) => {
            report.problem(format!("the server's checkpoint: signature invalid: {e}"));
            return Ok(());
        }
    };
    let latest = Checkpoint::parse(body).map_err(anyhow::Error::msg)?;
    let mut checkpoints = Checkpoints::default();
    checkpoints.add(&key, &note, "the server's checkpoint", report);
    for path in &args.checkpoints {
        let note = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        checkpoints.add(&key, &note, &format!("pinned checkpoint {}", path.display()), report);
    }
    if !args.witness_keys.is_empty() {
        let cosigned = get_text(&client, &format!("{base}/audit/checkpoint/cosigned")).await?;
        witnessed(&key, &cosigned, args, report)?;
        checkpoints.add(&key, &cosigned, "the witnessed checkpoint", report);
    }

    let size = latest.size;
    let leaves = fetch_leaves(&client, &base, size).await?;
    report.info(format!("tree: {size} leaf hashes fetched"));

    if let Some(user) = &args.user {
        let password = std::env::var("VIGIL_PASSWORD").context("VIGIL_PASSWORD must hold the password of --user")?;
        let mut scanner = Scanner::new(&leaves, ScanOptions::journal(size));
        let bundles = size.div_ceil(TILE_WIDTH);
        let bar = progress(size, "entries");
        let mut fetched = stream::iter(0..bundles)
            .map(|i| {
                let width = (size - i * TILE_WIDTH).min(TILE_WIDTH);
                let path = TilePath { kind: TileKind::Entries, index: i, width };
                let req = client.get(format!("{base}/audit/{}", path.to_path())).basic_auth(user, Some(&password));
                async move { (i, req.send().await) }
            })
            .buffered(PARALLEL);
        while let Some((i, resp)) = fetched.next().await {
            let resp = resp?;
            if resp.status() == reqwest::StatusCode::GONE {
                continue; // pruned: the scanner sees a gap below the first entry it is given
            }
            if !resp.status().is_success() {
                bail!("fetching entry bundle {i}: {}", resp.status());
            }
            let data = resp.bytes().await?;
            let entries = unbundle(&data).map_err(anyhow::Error::msg)?;
            for (j, e) in entries.iter().enumerate() {
                scanner.row(i * TILE_WIDTH + j as u64 + 1, e)?;
                if let Some(note) = checkpoint_note(e) {
                    checkpoints.add(&key, &note, &format!("entry {}", i * TILE_WIDTH + j as u64 + 1), report);
                }
            }
            bar.set_position(((i + 1) * TILE_WIDTH).min(size));
        }
        bar.finish_and_clear();
        let scan = scanner.finish()?;
        if scan.is_ok() {
            report.info(format!("entries: {scan}"));
        }
        for e in scan.errors() {
            report.problem(format!("entries: {e}"));
        }
    }
    checkpoints.check_against(leaves.as_slice(), size, report);
    Ok(())
}

/// Checks that `note`, the log's witnessed checkpoint, carries valid cosignatures from at least the quorum of the
/// pinned witness keys (its root is checked against the tree with the other checkpoints).
fn witnessed(key: &VerifierKey, note: &str, args: &VerifyArgs, report: &mut Report) -> anyhow::Result<()> {
    let keys: Vec<CosignatureKey> = args
        .witness_keys
        .iter()
        .map(|k| CosignatureKey::parse(k).map_err(|e| anyhow::anyhow!("--witness-key {k:?}: {e}")))
        .collect::<anyhow::Result<_>>()?;
    let quorum = args.witness_quorum.unwrap_or(keys.len());
    if quorum == 0 || quorum > keys.len() {
        anyhow::bail!("--witness-quorum must be between 1 and the number of --witness-key ({})", keys.len());
    }
    if let Err(e) = key.open(note) {
        report.problem(format!("the witnessed checkpoint: the log's signature is invalid: {e}"));
        return Ok(());
    }
    let size = note.lines().nth(1).unwrap_or("?");
    let mut good = Vec::new();
    for k in &keys {
        match k.verify(note) {
            Ok(t) => good.push(format!("{} at {}", k.name(), vigil_core::time::rfc3339_ms(t as i64 * 1000))),
            Err(e) => report.info(format!("witness {}: {e}", k.name())),
        }
    }
    if good.len() >= quorum {
        report.info(format!(
            "witnessed: checkpoint of size {size} cosigned by {} of {} ({})",
            good.len(),
            keys.len(),
            good.join(", ")
        ));
    } else {
        report.problem(format!(
            "the witnessed checkpoint of size {size} has {} valid cosignatures of the {quorum} required",
            good.len()
        ));
    }
    Ok(())
}

async fn get_text(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let resp = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    if !resp.status().is_success() {
        bail!("GET {url}: {}", resp.status());
    }
    Ok(resp.text().await?)
}

/// All leaf hashes of the tree of `size`: its level-0 tiles, full and the last partial one.
async fn fetch_leaves(client: &reqwest::Client, base: &str, size: u64) -> anyhow::Result<Vec<Hash>> {
    let tiles = size.div_ceil(TILE_WIDTH);
    let bar = progress(size, "tiles");
    let chunks: Vec<Vec<u8>> = stream::iter(0..tiles)
        .map(|i| {
            let width = (size - i * TILE_WIDTH).min(TILE_WIDTH);
            let url = format!("{base}/audit/{}", TilePath { kind: TileKind::Hashes(0), index: i, width }.to_path());
            let bar = bar.clone();
            async move {
                let resp = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
                if !resp.status().is_success() {
                    bail!("GET {url}: {}", resp.status());
                }
                let bytes = resp.bytes().await?;
                if bytes.len() as u64 != width * 32 {
                    bail!("GET {url}: {} bytes, expected {}", bytes.len(), width * 32);
                }
                bar.inc(width);
                Ok(bytes.to_vec())
            }
        })
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    bar.finish_and_clear();
    Ok(chunks.concat().chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect())
}
