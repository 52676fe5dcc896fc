//! CloudEvents 1.0 (JSON event format): `id` is the event's id, `source` names the node, `type` is
//! `dev.vigil.audit.<kind>`, `subject` the artifact, `time` the event's time, and `data` the journal entry
//! verbatim (so a receiver can still verify it against the Merkle tree). The `sequence` extension is the seq.

use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::view::EventView;

/// `type` of every event: this prefix and the event's kind (`dev.vigil.audit.push_repo`).
pub const EVENT_TYPE_PREFIX: &str = "dev.vigil.audit.";
/// `source` of every event: this prefix and the node (`/vigil/registry-1`).
pub const SOURCE_PREFIX: &str = "/vigil/";

/// The CloudEvent of `view` with `data` (JSON bytes: the journal entry, or the event in another shape) as its data.
pub fn event(data: &[u8], view: &EventView) -> Value {
    let data = std::str::from_utf8(data)
        .ok()
        .and_then(|s| RawValue::from_string(s.to_owned()).ok())
        .map(|raw| serde_json::to_value(raw).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let mut ce = json!({
        "specversion": "1.0",
        "id": view.id,
        "source": format!("{SOURCE_PREFIX}{}", view.node),
        "type": format!("{EVENT_TYPE_PREFIX}{}", view.kind),
        "time": view.ts,
        "datacontenttype": "application/json",
        "sequence": view.seq.to_string(),
        "sequencetype": "Integer",
        "data": data,
    });
    if !view.artifact.is_empty() {
        ce["subject"] = Value::String(view.artifact.to_string());
    }
    ce
}

/// A batch in CloudEvents' JSON batch format (`application/cloudevents-batch+json`): an array of events.
pub fn batch(events: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.push(b']');
    out
}
