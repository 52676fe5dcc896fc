//! Witnessed checkpoints (C2SP tlog-witness and tlog-cosignature): [`service`] makes vigil a witness that cosigns
//! other logs' checkpoints after checking they extend what it saw; [`submit`] has vigil's own log ask its
//! witnesses to cosign each new checkpoint. Two vigil servers can witness each other.

pub mod service;
pub mod submit;

pub use service::{router, Witness};
