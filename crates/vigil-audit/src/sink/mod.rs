//! Audit sinks: copies of the journal outside the metadata store, in the formats security tools read.
//!
//! - An **enforced** sink takes part in every journal commit ([`enforced::EnforcedSinks`] is the store's commit
//!   participant): the batch's lines are written and fsynced before the transaction commits, and the sink's new
//!   length commits with the records. If the sink cannot take them, the batch is rolled back and its requests fail.
//!   On start the file is cut back to the committed length, so it never holds a line the journal lacks.
//! - A **best-effort** sink follows the journal by its own cursor ([`follower`]): it never blocks a request, and
//!   after an outage it catches up from where it stopped.
//!
//! Native-format lines are the journal entries' canonical bytes, so a file can be verified line by line.

mod enforced;
pub mod file;
mod follower;

use std::io::{self, Write};
use std::sync::Arc;

use vigil_store::{JournalRecord, MetadataStore, SinkMark};

use crate::filter::dropped;
use crate::settings::{Guarantee, SinkSpec, SinkType};
use crate::view::EventView;
use file::RotatingFile;

enum Output {
    File(RotatingFile),
    Stderr,
}

impl Output {
    fn open(spec: &SinkSpec) -> io::Result<Output> {
        match (spec.kind, &spec.path) {
            (SinkType::File, Some(path)) => Ok(Output::File(RotatingFile::open(
                path.clone(),
                spec.mode,
                spec.rotate_bytes,
                spec.rotate_duration,
                spec.rotate_max_files,
            )?)),
            _ => Ok(Output::Stderr),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Output::File(f) => f.len(),
            Output::Stderr => 0,
        }
    }

    fn file_id(&self) -> u64 {
        match self {
            Output::File(f) => f.file_id(),
            Output::Stderr => 0,
        }
    }

    fn path(&self) -> String {
        match self {
            Output::File(f) => f.path().display().to_string(),
            Output::Stderr => "stderr".into(),
        }
    }

    /// Writes `bytes` and makes them durable.
    fn write_durably(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self {
            Output::File(f) => {
                let started = std::time::Instant::now();
                f.append(bytes)?;
                f.sync()?;
                metrics::histogram!("vigil_audit_sink_fsync_seconds").record(started.elapsed().as_secs_f64());
                Ok(())
            }
            Output::Stderr => {
                let mut err = io::stderr().lock();
                err.write_all(bytes)?;
                err.flush()
            }
        }
    }

    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        match self {
            Output::File(f) => f.truncate_to(len),
            Output::Stderr => Ok(()),
        }
    }

    fn rotate_if_due(&mut self) -> io::Result<bool> {
        match self {
            Output::File(f) => f.rotate_if_due(),
            Output::Stderr => Ok(false),
        }
    }
}

/// One sink's writer: its spec, its output and the last sequence number it has dealt with.
struct SinkWriter {
    spec: SinkSpec,
    out: Output,
    through: u64,
}

impl SinkWriter {
    /// The lines this sink writes for `records` (those after its cursor that no filter drops).
    fn render(&self, records: &[JournalRecord]) -> Result<(Vec<u8>, usize), String> {
        let mut out = Vec::new();
        let mut n = 0;
        for r in records.iter().filter(|r| r.seq > self.through) {
            let needs_view = !self.spec.filters.is_empty() || crate::shape::needs_view(self.spec.format);
            if needs_view {
                let view = EventView::parse(&r.bytes).map_err(|e| format!("record {}: {e}", r.seq))?;
                if dropped(&self.spec.filters, &view) {
                    continue;
                }
                out.extend_from_slice(&crate::shape::render(self.spec.format, &r.bytes, &view));
            } else {
                out.extend_from_slice(&r.bytes);
            }
            out.push(b'\n');
            n += 1;
        }
        Ok((out, n))
    }

    fn mark(&self) -> SinkMark {
        SinkMark {
            name: self.spec.name.clone(),
            path: self.out.path(),
            file_id: self.out.file_id(),
            offset: self.out.len(),
            through: self.through,
        }
    }
}

/// The running sinks.
pub struct Sinks {
    pub names: Vec<String>,
    _followers: Vec<tokio::task::JoinHandle<()>>,
}

/// An enforced network sink's say in every commit (`vigil-forward` implements it): while the sink is too far
/// behind the journal, `check` fails and new events cannot commit, so their requests are refused with 503.
pub trait SinkGate: Send + Sync + 'static {
    fn check(&self) -> Result<(), String>;
}

/// Opens every file and stderr sink (network sinks are `vigil-forward`'s), reconciles enforced files with the
/// journal, registers the enforced ones and the network sinks' `gates` with the store, and starts a follower for
/// each best-effort one.
pub async fn start(
    store: Arc<dyn MetadataStore>,
    specs: Vec<SinkSpec>,
    gates: Vec<Arc<dyn SinkGate>>,
) -> Result<Sinks, String> {
    let marks = store.sink_marks().await.map_err(|e| e.to_string())?;
    let head = store.journal_head().await.map_err(|e| e.to_string())?;
    let mut enforced = Vec::new();
    let mut followers = Vec::new();
    let mut names = Vec::new();
    for spec in specs.into_iter().filter(|s| !s.kind.is_network()) {
        names.push(spec.name.clone());
        let mut out = Output::open(&spec).map_err(|e| format!("audit sink {:?}: {e}", spec.name))?;
        let path = out.path();
        let mark = marks.iter().find(|m| m.name == spec.name && m.path == path);
        let through = match (mark, spec.kind) {
            (Some(m), SinkType::File) => {
                reconcile(&spec.name, &mut out, m)?;
                m.through
            }
            // A new sink starts at the journal's head; history stays in the journal (and `vigil audit export`).
            _ => head,
        };
        let writer = SinkWriter { spec, out, through };
        if writer.spec.kind == SinkType::File {
            store.set_sink_mark(writer.mark()).await.map_err(|e| e.to_string())?;
        }
        match writer.spec.guarantee {
            Guarantee::Enforced => enforced.push(writer),
            Guarantee::BestEffort => followers.push(tokio::spawn(follower::run(store.clone(), writer))),
        }
    }
    if !enforced.is_empty() || !gates.is_empty() {
        store.set_commit_participant(Arc::new(enforced::EnforcedSinks::new(enforced, gates)));
    }
    Ok(Sinks { names, _followers: followers })
}

/// Cuts bytes past the committed length (written for a batch that never committed). A live file that is not the
/// one the mark describes was started by a rotation whose first batch never committed: all of it goes. A file
/// shorter than its mark was cut by someone else: that is reported, not repaired.
fn reconcile(name: &str, out: &mut Output, mark: &SinkMark) -> Result<(), String> {
    let committed = if mark.file_id != 0 && mark.file_id != out.file_id() { 0 } else { mark.offset };
    let len = out.len();
    if len > committed {
        tracing::warn!(sink = name, cut = len - committed, "cutting audit lines the journal never committed");
        out.truncate_to(committed).map_err(|e| format!("audit sink {name:?}: {e}"))?;
    } else if len < committed {
        tracing::warn!(
            sink = name,
            len,
            committed,
            "audit sink file is shorter than its committed length (cut outside vigil?)"
        );
    }
    Ok(())
}
