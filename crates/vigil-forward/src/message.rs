//! One event as a forwarding sink sends it: the body in the sink's format, and what a transport's own envelope
//! needs (syslog's header, a NATS message id, a CloudEvent's attributes).

use vigil_audit::settings::Format;
use vigil_audit::view::EventView;

pub struct Message {
    pub seq: u64,
    /// The event's id (the dedup key receivers can use besides the seq).
    pub id: String,
    /// RFC 3339 time.
    pub ts: String,
    pub kind: String,
    pub outcome: String,
    pub node: String,
    /// The event in the sink's format.
    pub body: Vec<u8>,
    /// The event as a CloudEvent whose `data` is `body` (webhooks).
    pub cloudevent: Vec<u8>,
}

impl Message {
    pub fn new(format: Format, bytes: &[u8], view: &EventView) -> Message {
        let body = vigil_audit::shape::render(format, bytes, view);
        let data = if format == Format::Cloudevents { bytes } else { &body[..] };
        Message {
            seq: view.seq,
            id: view.id.to_string(),
            ts: view.ts.to_string(),
            kind: view.kind.to_string(),
            outcome: view.outcome.to_string(),
            node: view.node.to_string(),
            cloudevent: vigil_audit::shape::cloudevent(view, data),
            body,
        }
    }
}

/// A way to a receiver. `send` returns once the receiver acknowledged every message (as far as the protocol
/// has acknowledgements: see each transport); on error the follower retries the same batch.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String>;
}
