//! Audit sinks against the running binary: formats, filters, rotation, faults and crashes.

#[allow(unused_imports)]
use super::{client, start};
