//! The shapes an event is written in for the tools that read it, besides the journal's own (`native`) and
//! NORA's six fields: CloudEvents 1.0, the Elastic Common Schema, OCSF 1.4 and Alibaba Cloud ACR's instance audit
//! fields. Every shape is made from the journal entry alone (the same bytes the Merkle tree holds), carries the
//! entry's `seq` so a consumer can put events in order and drop duplicates, and is documented with a real line in
//! `docs/forwarding.md`.

mod acr;
mod cloudevents;
mod ecs;
mod ocsf;

use crate::settings::Format;
use crate::view::EventView;

pub use cloudevents::{batch as cloudevents_batch, EVENT_TYPE_PREFIX, SOURCE_PREFIX};

/// One event in `format`, as one line's bytes (no newline). `bytes` is the journal entry and `view` its parse.
pub fn render(format: Format, bytes: &[u8], view: &EventView) -> Vec<u8> {
    let value = match format {
        Format::Native => return bytes.to_vec(),
        Format::Nora => return view.nora_line(),
        Format::Cloudevents => cloudevents::event(bytes, view),
        Format::Ecs => ecs::event(view),
        Format::Ocsf => ocsf::event(view),
        Format::Acr => acr::event(view),
    };
    serde_json::to_vec(&value).expect("JSON values always serialize")
}

/// The CloudEvent of `view` whose `data` is `data` (JSON: the journal entry, or the event in another shape), as
/// bytes: what webhooks send whatever their sink's format.
pub fn cloudevent(view: &EventView, data: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&cloudevents::event(data, view)).expect("JSON values always serialize")
}

/// Whether `format` needs the entry parsed (the native shape is the bytes themselves).
pub fn needs_view(format: Format) -> bool {
    format != Format::Native
}

/// The event's time in milliseconds since the epoch (0 when the entry has none).
fn time_ms(view: &EventView) -> i64 {
    vigil_core::time::parse_rfc3339(&view.ts).unwrap_or(0)
}

/// The product version every shape names.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests;
