//! Where clients reach the server, for the absolute URLs some formats must hand out (npm's tarball links,
//! Cargo's `dl` and `api`).

use axum::http::HeaderMap;

use crate::util::header_str;

#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The configured `public_url`, without a trailing slash.
    pub public_url: Option<String>,
    /// Whether the server itself terminates TLS (the scheme of URLs built from `Host`).
    pub tls: bool,
}

impl Site {
    /// `public_url` when configured, else the scheme the server listens with and the request's `Host`.
    pub fn origin(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host = header_str(headers, "host")
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c)))
            .unwrap_or("localhost");
        format!("{}://{host}", if self.tls { "https" } else { "http" })
    }
}
