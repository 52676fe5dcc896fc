//! A best-effort sink: follows the journal by its own cursor, never blocking a request. After a failed write it
//! retries the same records (with a pause) until they go through, so an outage delays lines but loses none.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_store::MetadataStore;

use super::SinkWriter;

/// Records read from the journal per step.
const STEP: usize = 1000;
/// A file sink's cursor is committed at most this often (a crash re-delivers at most this much).
const MARK_EVERY: Duration = Duration::from_secs(1);

pub async fn run(store: Arc<dyn MetadataStore>, mut sink: SinkWriter) {
    let name = sink.spec.name.clone();
    let mut head = store.watch_head();
    let mut last_mark = Instant::now();
    let mut marked_through = sink.through;
    loop {
        let records = match store.journal(sink.through + 1, STEP).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(sink = name, error = %e, "audit sink cannot read the journal");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let current_head = *head.borrow();
        metrics::gauge!("vigil_audit_sink_lag", "sink" => name.clone())
            .set(current_head.saturating_sub(sink.through) as f64);
        if records.is_empty() {
            if sink.through > marked_through {
                save_mark(&*store, &sink, &mut marked_through).await;
            }
            // Woken by commits in this process; the timeout picks up commits by other processes (the CLI).
            let _ = tokio::time::timeout(Duration::from_secs(1), head.changed()).await;
            continue;
        }
        let last = records.last().map_or(sink.through, |r| r.seq);
        let task = tokio::task::spawn_blocking(move || {
            let result = sink.render(&records).and_then(|(lines, n)| {
                sink.out.write_durably(&lines).map_err(|e| e.to_string())?;
                Ok(n)
            });
            (sink, result)
        });
        let written;
        (sink, written) = match task.await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(sink = name, error = %e, "audit sink writer panicked; the sink stops");
                return;
            }
        };
        match written {
            Ok(n) => {
                metrics::counter!("vigil_audit_sink_events_total", "sink" => name.clone()).increment(n as u64);
                sink.through = last;
                if let Err(e) = sink.out.rotate_if_due() {
                    tracing::error!(sink = name, error = %e, "audit sink rotation failed; writing on");
                }
                if last_mark.elapsed() >= MARK_EVERY {
                    save_mark(&*store, &sink, &mut marked_through).await;
                    last_mark = Instant::now();
                }
            }
            Err(e) => {
                metrics::counter!("vigil_audit_sink_errors_total", "sink" => name.clone()).increment(1);
                tracing::warn!(sink = name, error = %e, "best-effort audit sink write failed; retrying");
                // Drop a partial write so the retry does not duplicate lines.
                let len = sink.out.len();
                let _ = sink.out.truncate_to(len);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn save_mark(store: &dyn MetadataStore, sink: &SinkWriter, marked_through: &mut u64) {
    if !matches!(sink.out, super::Output::File(_)) {
        return;
    }
    match store.set_sink_mark(sink.mark()).await {
        Ok(()) => *marked_through = sink.through,
        Err(e) => tracing::warn!(sink = sink.spec.name, error = %e, "could not record the audit sink's position"),
    }
}
