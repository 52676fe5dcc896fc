//! Audit events of every operation, checked field by field against the running binary.

#[allow(unused_imports)]
use super::{client, start};
