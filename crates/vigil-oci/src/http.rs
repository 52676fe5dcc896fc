//! HTTP helpers: the shared ones, and the one only OCI's upload protocol needs.

pub use vigil_http::util::{body_stream, header_str, query_pairs, query_param, response};

/// `Range` header value for `len` stored bytes, as the spec and the reference registry write it.
pub fn upload_range(len: u64) -> String {
    format!("0-{}", len.saturating_sub(1))
}
