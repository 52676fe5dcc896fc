//! The recorder: journals events with the delivery guarantee that applies to them.
//!
//! `enforced` (the default): the caller waits until the event is durable and fails (503) if it cannot be made so.
//! `best-effort`: the event is queued and the caller goes on; an event that cannot be journaled is counted in
//! `vigil_audit_events_dropped_total` and logged. At most [`MAX_QUEUED`] events wait at once: beyond that a caller
//! waits for room, so an overloaded journal slows requests down rather than holding unbounded memory (or losing
//! events). `relax_reads` makes reads best-effort under `enforced`.
//! State changes never come through here: their events commit in the change's own transaction.

use std::sync::Arc;

use vigil_core::Operation;
use vigil_store::MetadataStore;

use crate::event::{EventDraft, Origin, UserRef};
use crate::settings::{AuditSettings, Guarantee};

#[derive(Debug, thiserror::Error)]
#[error("the audit journal cannot record this request: {0}")]
pub struct Unavailable(pub String);

/// Best-effort events being journaled at once, at most.
pub const MAX_QUEUED: usize = 4096;

pub struct Recorder {
    store: Arc<dyn MetadataStore>,
    /// Permits for best-effort events in flight.
    queued: Arc<tokio::sync::Semaphore>,
    guarantee: Guarantee,
    relax_reads: bool,
    two_stage: bool,
    node: Arc<str>,
}

impl Recorder {
    pub fn new(store: Arc<dyn MetadataStore>, settings: &AuditSettings) -> Self {
        Recorder {
            store,
            queued: Arc::new(tokio::sync::Semaphore::new(MAX_QUEUED)),
            guarantee: settings.delivery_guarantee,
            relax_reads: settings.relax_reads,
            two_stage: settings.two_stage(),
            node: settings.node.as_deref().map(Arc::from).unwrap_or_else(crate::event::default_node),
        }
    }

    pub fn node(&self) -> Arc<str> {
        self.node.clone()
    }

    pub fn two_stage(&self) -> bool {
        self.two_stage
    }

    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// An event of work no request carries (CLI, scheduler, system).
    pub fn background(&self, origin: Origin, operation: Operation, user: UserRef) -> EventDraft {
        EventDraft::background(origin, operation, user, self.node.clone())
    }

    fn waits_for(&self, draft: &EventDraft) -> bool {
        let relaxed = self.relax_reads && !draft.operation.is_mutation();
        self.guarantee == Guarantee::Enforced && !relaxed
    }

    /// Journals `draft`. `Ok(Some(seq))` once durable; `Ok(None)` when it was queued under best-effort.
    pub async fn record(&self, draft: EventDraft) -> Result<Option<u64>, Unavailable> {
        metrics::counter!("vigil_audit_events_total", "action" => draft.nora_action(), "outcome" => draft.outcome.as_str())
            .increment(1);
        if self.waits_for(&draft) {
            let store = self.store.clone();
            // In a task of its own: a client that disconnects now cannot cancel the append halfway.
            let seqs = tokio::spawn(async move { store.append_events(vec![draft.boxed()]).await })
                .await
                .map_err(|e| Unavailable(e.to_string()))?
                .map_err(|e| {
                    metrics::counter!("vigil_audit_events_failed_total").increment(1);
                    Unavailable(e.to_string())
                })?;
            return Ok(seqs.first().copied());
        }
        let store = self.store.clone();
        let permit = self.queued.clone().acquire_owned().await.expect("the queue's semaphore is never closed");
        tokio::spawn(async move {
            let _permit = permit;
            let operation = draft.operation;
            if let Err(e) = store.append_events(vec![draft.boxed()]).await {
                metrics::counter!("vigil_audit_events_dropped_total").increment(1);
                tracing::error!(operation = operation.name(), error = %e, "audit event dropped (best-effort)");
            }
        });
        Ok(None)
    }
}
