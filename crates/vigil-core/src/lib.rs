//! vigil's vocabulary: the types every other crate speaks, with no I/O.
//!
//! Parsing lives here so that every front door (HTTP, CLI, tests) validates names, references and digests the
//! same way: a value of these types is always well-formed.

pub mod digest;
pub mod format;
pub mod glob;
pub mod json_depth;
pub mod name;
pub mod network;
pub mod operation;
pub mod permission;
pub mod reference;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use format::Format;
pub use name::{NameError, RepoName};
pub use operation::{Description, Operation};
pub use permission::{Action, Requirement, Role};
pub use reference::{Reference, Tag};
pub mod time;
pub mod url;
