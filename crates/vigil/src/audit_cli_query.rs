//! `vigil audit query`, `tail` and `export`: the query API's filters, read from the data directory (the index is
//! brought up to date from the journal first, so they work whether or not the server runs).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use vigil_store::index::{EventFilter, Order};
use vigil_store::MetadataStore;

use crate::config::Config;

/// The filters of `vigil audit query|tail|export` (the same as `GET /api/v1/audit/events`).
#[derive(clap::Args, Debug, Default)]
pub struct FilterArgs {
    /// From this time on (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    to: Option<String>,
    /// Repository, `*` wildcards allowed (`acme/*`).
    #[arg(long)]
    repository: Option<String>,
    #[arg(long)]
    namespace: Option<String>,
    /// User name.
    #[arg(long)]
    user: Option<String>,
    /// Kinds, comma separated (`push_repo,delete_tag`).
    #[arg(long)]
    kind: Option<String>,
    #[arg(long)]
    action: Option<String>,
    #[arg(long)]
    operation: Option<String>,
    /// `success`, `denied`, `failed`, ...
    #[arg(long)]
    outcome: Option<String>,
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    remote_addr: Option<String>,
    #[arg(long)]
    request_id: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> anyhow::Result<EventFilter> {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("repository", &self.repository),
            ("namespace", &self.namespace),
            ("user", &self.user),
            ("kind", &self.kind),
            ("action", &self.action),
            ("operation", &self.operation),
            ("outcome", &self.outcome),
            ("status", &self.status),
            ("remote_addr", &self.remote_addr),
            ("request_id", &self.request_id),
        ];
        let q: HashMap<String, String> =
            pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone()))).collect();
        vigil_api::audit_query::filter(&q).map_err(|e| anyhow::anyhow!("{}", e.1))
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// One line per event: seq, time, kind, outcome, user, repository.
    Table,
    /// The events as one JSON array.
    Json,
    /// The native events, one per line (as in the journal and native sinks).
    Ndjson,
    Csv,
}

async fn indexed_store(config: &Config) -> anyhow::Result<Arc<dyn MetadataStore>> {
    let stores = crate::open_stores(config).await?;
    vigil_audit::indexer::catch_up(&stores.meta).await.map_err(anyhow::Error::msg).context("indexing the journal")?;
    Ok(stores.meta)
}

fn table_line(bytes: &[u8]) -> String {
    let e = vigil_audit::view::EventView::parse_lenient(bytes);
    let s = |v: &str| if v.is_empty() { "-".to_owned() } else { v.to_owned() };
    format!(
        "{:>8}  {}  {:<20} {:<8} {:<16} {}",
        e.seq,
        s(&e.ts),
        s(&e.kind),
        s(&e.outcome),
        s(e.user_name().unwrap_or_default()),
        s(&e.artifact)
    )
}

/// `vigil audit query`: newest first, at most `limit`.
pub async fn query(config: &Config, args: &FilterArgs, limit: u32, format: Format) -> anyhow::Result<()> {
    let store = indexed_store(config).await?;
    let f = args.filter()?;
    let entries = store.query_entries(&f, Order::NewestFirst { before: None }, limit).await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let list: Vec<Value> = entries.iter().filter_map(|r| serde_json::from_slice(&r.bytes).ok()).collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        _ => {
            if matches!(format, Format::Csv) {
                out.write_all(vigil_api::audit_query::CSV_HEADER.as_bytes())?;
            }
            for r in &entries {
                write_event(&mut out, format, &r.bytes)?;
            }
        }
    }
    Ok(())
}

fn write_event(out: &mut impl Write, format: Format, bytes: &[u8]) -> std::io::Result<()> {
    match format {
        Format::Csv => out.write_all(vigil_api::audit_query::csv_line(bytes).as_bytes()),
        Format::Table => writeln!(out, "{}", table_line(bytes)),
        Format::Ndjson | Format::Json => {
            out.write_all(bytes)?;
            out.write_all(b"\n")
        }
    }
}

/// `vigil audit tail`: the last `last` matching events, then new ones as they are journaled.
pub async fn tail(config: &Config, args: &FilterArgs, last: u32, format: Format) -> anyhow::Result<()> {
    let store = indexed_store(config).await?;
    let f = args.filter()?;
    let mut newest = store.query_entries(&f, Order::NewestFirst { before: None }, last).await?;
    newest.reverse();
    let mut after = newest.last().map(|e| e.seq).unwrap_or(store.indexed_through().await?);
    let mut out = std::io::stdout();
    for r in &newest {
        write_event(&mut out, format, &r.bytes)?;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        vigil_audit::indexer::catch_up(&store).await.map_err(anyhow::Error::msg)?;
        let entries = store.query_entries(&f, Order::OldestFirst { after }, 1000).await?;
        for r in &entries {
            write_event(&mut out, format, &r.bytes)?;
        }
        out.flush()?;
        after = entries.last().map_or(after, |e| e.seq);
    }
}

/// `vigil audit export`: every matching event, oldest first, with a progress bar.
pub async fn export(config: &Config, args: &FilterArgs, format: Format, output: Option<PathBuf>) -> anyhow::Result<()> {
    let store = indexed_store(config).await?;
    let f = args.filter()?;
    let total: u64 = store.aggregate_events(&f, None, None).await?.iter().map(|g| g.count).sum();
    let mut out: Box<dyn Write> = match &output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    if matches!(format, Format::Csv) {
        out.write_all(vigil_api::audit_query::CSV_HEADER.as_bytes())?;
    }
    let bar = crate::verify::progress(total, "exporting");
    let mut after = 0;
    loop {
        let entries = store.query_entries(&f, Order::OldestFirst { after }, 5000).await?;
        let Some(last) = entries.last().map(|e| e.seq) else { break };
        for r in &entries {
            write_event(&mut out, format, &r.bytes)?;
        }
        bar.inc(entries.len() as u64);
        after = last;
    }
    bar.finish_and_clear();
    out.flush()?;
    if let Some(p) = output {
        eprintln!("exported {total} events to {}", p.display());
    }
    Ok(())
}
