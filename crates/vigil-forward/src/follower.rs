//! A forwarding sink follows the journal by its own durable cursor: it reads what committed after the last seq
//! its receiver acknowledged, renders it in the sink's format, sends it in batches, and retries a failed batch
//! (exponential backoff with jitter) until it goes through, so an outage delays events but loses none and never
//! reorders them. The cursor is stored with the sink marks at most every second: after a crash or `kill -9`, at
//! most that much is sent again (receivers deduplicate by seq or event id).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use vigil_audit::filter::dropped;
use vigil_audit::settings::SinkSpec;
use vigil_audit::view::EventView;
use vigil_audit::{Origin, Recorder, UserRef};
use vigil_core::Operation;
use vigil_store::{MetadataStore, SinkMark};

use crate::health::Health;
use crate::message::{Message, Transport};

/// Journal records read per step.
const STEP: usize = 1000;
/// The cursor is stored at most this often.
const MARK_EVERY: Duration = Duration::from_secs(1);
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub struct Follower {
    pub spec: SinkSpec,
    pub url: String,
    pub transport: Box<dyn Transport>,
    pub health: Arc<Health>,
    pub store: Arc<dyn MetadataStore>,
    pub recorder: Arc<Recorder>,
    /// Whether the sink has said it is behind (and not yet that it caught up).
    pub lagging: bool,
}

/// Where a sink resumes: after the seq its mark holds (the same name and destination), or at the journal's head
/// for a new sink (history stays in the journal and `vigil audit export`).
pub async fn resume_point(store: &dyn MetadataStore, name: &str, url: &str) -> Result<u64, String> {
    let marks = store.sink_marks().await.map_err(|e| e.to_string())?;
    match marks.iter().find(|m| m.name == name && m.path == url) {
        Some(m) => Ok(m.through),
        None => store.journal_head().await.map_err(|e| e.to_string()),
    }
}

/// The pause before retry `attempt` (0-based): doubling from 200 ms up to 30 s, each with ±50% jitter so many
/// servers retrying one receiver do not arrive together.
fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_FIRST.saturating_mul(1u32 << attempt.min(10)).min(BACKOFF_MAX);
    base.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

impl Follower {
    pub async fn run(mut self) {
        let name = self.spec.name.clone();
        let mut through = self.health.delivered();
        let mut head = self.store.watch_head();
        let (mut last_mark, mut marked) = (Instant::now(), through);
        loop {
            let records = match self.store.journal(through + 1, STEP).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(sink = name, error = %e, "forwarding sink cannot read the journal");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.check_lag().await;
            if records.is_empty() {
                if through > marked {
                    marked = self.save_mark(through).await.unwrap_or(marked);
                }
                // Woken by commits in this process; the timeout picks up commits by other processes (the CLI).
                let _ = tokio::time::timeout(Duration::from_secs(1), head.changed()).await;
                continue;
            }
            let last = records.last().map_or(through, |r| r.seq);
            let mut messages = Vec::with_capacity(records.len());
            for r in &records {
                match EventView::parse(&r.bytes) {
                    Ok(view) if !dropped(&self.spec.filters, &view) => {
                        messages.push(Message::new(self.spec.kind, self.spec.format, &r.bytes, &view))
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(sink = name, seq = r.seq, error = %e, "a journal entry is not an event"),
                }
            }
            for batch in messages.chunks(self.batch_size()) {
                self.deliver(batch).await;
                self.health.set_delivered(batch.last().map_or(through, |m| m.seq));
            }
            through = last;
            self.health.set_delivered(through);
            if last_mark.elapsed() >= MARK_EVERY {
                marked = self.save_mark(through).await.unwrap_or(marked);
                last_mark = Instant::now();
            }
        }
    }

    /// Waits `pause` before a retry, saying that the sink is behind as soon as new commits take it past its
    /// threshold (an enforced sink must say so before it starts refusing them).
    async fn wait_checking_lag(&mut self, pause: Duration) {
        let until = tokio::time::Instant::now() + pause;
        let mut head = self.store.watch_head();
        loop {
            self.check_lag().await;
            match tokio::time::timeout_at(until, head.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return,
            }
        }
    }

    /// Says once (log and event) that the sink fell behind by more than its threshold, and once that it caught up
    /// (at half the threshold, so a sink hovering at the bound does not flap).
    async fn check_lag(&mut self) {
        let (lag, threshold) = (self.health.lag(), self.lag_threshold());
        if !self.lagging && lag > threshold {
            self.lagging = true;
            tracing::warn!(sink = self.spec.name, lag, max_lag = self.health.max_lag, "audit sink is falling behind");
            self.record_lag("audit_sink_lagging", lag).await;
        } else if self.lagging && lag <= threshold / 2 {
            self.lagging = false;
            tracing::info!(sink = self.spec.name, lag, "audit sink caught up");
            self.record_lag("audit_sink_recovered", lag).await;
        }
    }

    /// The lag at which the sink says it is behind: its `max_lag` when best-effort; half of it when enforced,
    /// since at `max_lag` it starts refusing requests (and so could not record the warning).
    fn lag_threshold(&self) -> u64 {
        match self.spec.guarantee {
            vigil_audit::Guarantee::Enforced => (self.health.max_lag / 2).max(1),
            vigil_audit::Guarantee::BestEffort => self.health.max_lag,
        }
    }

    fn batch_size(&self) -> usize {
        self.spec.network.as_ref().map_or(100, |n| n.batch_size)
    }

    fn timeout(&self) -> Duration {
        self.spec.network.as_ref().map_or(Duration::from_secs(10), |n| n.timeout)
    }

    /// Sends `batch` until the receiver takes it.
    async fn deliver(&mut self, batch: &[Message]) {
        let name = self.spec.name.clone();
        let mut attempt = 0u32;
        loop {
            let result = match tokio::time::timeout(self.timeout(), self.transport.send(batch)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {:?}", self.timeout())),
            };
            match result {
                Ok(()) => {
                    metrics::counter!("vigil_audit_sink_events_total", "sink" => name.clone())
                        .increment(batch.len() as u64);
                    if self.health.recovered() {
                        tracing::info!(sink = name, "audit sink delivers again");
                    }
                    return;
                }
                Err(e) => {
                    if attempt == 0 {
                        tracing::warn!(sink = name, error = %e, "audit sink delivery failed; retrying");
                    }
                    metrics::counter!("vigil_audit_sink_retries_total", "sink" => name.clone()).increment(1);
                    self.health.failed(e);
                    self.wait_checking_lag(backoff(attempt)).await;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }

    async fn save_mark(&self, through: u64) -> Option<u64> {
        let mark = SinkMark { name: self.spec.name.clone(), path: self.url.clone(), file_id: 0, offset: 0, through };
        match self.store.set_sink_mark(mark).await {
            Ok(()) => Some(through),
            Err(e) => {
                tracing::warn!(sink = self.spec.name, error = %e, "could not store the forwarding sink's position");
                None
            }
        }
    }

    async fn record_lag(&self, kind: &'static str, lag: u64) {
        let detail = format!(
            "{lag} events behind the journal (max_lag {}); delivered through seq {}",
            self.health.max_lag,
            self.health.delivered()
        );
        let event = self
            .recorder
            .background(Origin::System, Operation::WatchAuditSink, UserRef::system("system"))
            .kind(kind)
            .artifact(&self.spec.name)
            .detail(detail);
        if let Err(e) = self.recorder.record(event).await {
            tracing::warn!(sink = self.spec.name, error = %e, "recording the sink's lag failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let base = BACKOFF_FIRST.saturating_mul(1u32 << attempt.min(10)).min(BACKOFF_MAX);
            assert!(d >= base.mul_f64(0.5) && d <= base.mul_f64(1.5), "{attempt}: {d:?}");
        }
        assert!(backoff(30) <= BACKOFF_MAX.mul_f64(1.5));
    }
}
