//! One event as a forwarding sink sends it: the body in the sink's format, and what a transport's own envelope
//! needs (syslog's header, a NATS message id, a CloudEvent's attributes).

use vigil_audit::settings::{Format, SinkType};
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
    /// The event's time in milliseconds.
    pub ts_ms: i64,
    /// What OTLP sends as attributes: OpenTelemetry's names where they have one, `vigil.*` otherwise (empty for
    /// other sinks).
    pub attributes: Vec<(String, serde_json::Value)>,
    /// The event in the sink's format.
    pub body: Vec<u8>,
    /// The event as a CloudEvent whose `data` is `body` (webhooks; empty for other sinks).
    pub cloudevent: Vec<u8>,
}

impl Message {
    /// The message a sink of type `sink` sends: only a webhook's needs the CloudEvent envelope, only OTLP's the
    /// attributes.
    pub fn new(sink: SinkType, format: Format, bytes: &[u8], view: &EventView) -> Message {
        let body = vigil_audit::shape::render(format, bytes, view);
        let cloudevent = if sink == SinkType::Webhook {
            let data = if format == Format::Cloudevents { bytes } else { &body[..] };
            vigil_audit::shape::cloudevent(view, data)
        } else {
            Vec::new()
        };
        Message {
            seq: view.seq,
            id: view.id.to_string(),
            ts: view.ts.to_string(),
            kind: view.kind.to_string(),
            outcome: view.outcome.to_string(),
            node: view.node.to_string(),
            ts_ms: vigil_core::time::parse_rfc3339(&view.ts).unwrap_or(0),
            attributes: if sink == SinkType::Otlp { attributes(view) } else { Vec::new() },
            cloudevent,
            body,
        }
    }
}

/// The event's fields under OpenTelemetry's semantic-convention names where there is one.
fn attributes(view: &EventView) -> Vec<(String, serde_json::Value)> {
    use serde_json::Value;
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.push((k.to_owned(), v));
        }
    };
    let s = |v: &str| Some(Value::String(v.to_owned()));
    put("vigil.operation", s(&view.operation));
    put("vigil.action", s(&view.action));
    put("vigil.registry", s(&view.registry));
    put("vigil.artifact", Some(&view.artifact).filter(|a| !a.is_empty()).and_then(|a| s(a)));
    if let Some(u) = &view.user {
        put("user.name", s(&u.name));
        put("user.id", u.id.as_deref().and_then(s));
        put("vigil.credential", s(&u.credential));
    }
    if let Some(r) = &view.request {
        put("client.address", r.remote_addr.as_deref().and_then(s));
        put("http.request.method", s(&r.method));
        put("url.path", s(&r.path));
        put("user_agent.original", r.user_agent.as_deref().and_then(s));
        put("vigil.request_id", r.id.as_deref().and_then(s));
    }
    put("http.response.status_code", view.status().map(|c| Value::from(i64::from(c))));
    let t = view.target_view();
    put("vigil.repository", t.repository.as_deref().and_then(s));
    put("vigil.tag", t.tag.as_deref().and_then(s));
    put("vigil.digest", t.digest.as_deref().and_then(s));
    put("vigil.reason", view.reason.as_deref().and_then(s));
    out
}

/// A way to a receiver. `send` returns once the receiver acknowledged every message (as far as the protocol
/// has acknowledgements: see each transport); on error the follower retries the same batch.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String>;
}
