//! The audit trail: the native event schema, the request recorder, the guarantees, and the sinks.
//!
//! - [`event`]: the event (schema 2) and its canonical bytes; NORA's six fields first.
//! - [`scope`]: what is known about one request while it runs, and the details handlers attach.
//! - [`layer`]: the HTTP middleware, the one place that records requests.
//! - [`recorder`]: enforced or best-effort journaling of events that change nothing.
//! - [`settings`], [`filter`]: the `[audit]` configuration and sink filters.
//! - [`sink`]: enforced sinks (part of every journal commit) and best-effort sinks (followers of the journal).
//!
//! The journal itself lives in the metadata store (`vigil_store`), whose single writer group-commits.

mod counted;
pub mod event;
pub mod filter;
mod follow;
pub mod indexer;
pub mod integrity;
pub mod layer;
pub mod network_sink;
pub mod ratelimit;
pub mod recorder;
pub mod retention;
pub mod scope;
pub mod settings;
pub mod shape;
pub mod sink;
pub mod tally;
pub mod view;

pub use event::{EventDraft, Origin, Outcome, RequestInfo, Stage, Target, UserRef};
pub use recorder::{Recorder, Unavailable};
pub use scope::{AuditDetail, AuditKind, AuditReason, AuditTarget, AuditUser, RequestScope};
pub use settings::{AuditSettings, Guarantee, LogMode};
