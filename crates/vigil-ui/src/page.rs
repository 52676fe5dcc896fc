//! What every page shares: the frame (title, navigation, the viewer and their sign-out form), rendering with the
//! headers every page carries, error pages that say what to do, and the formats people read (sizes, times).

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The frame around every page.
pub struct Chrome {
    pub title: String,
    /// The navigation entry to mark: `repos`, `logs`, `integrity`, `login` or none.
    pub section: &'static str,
    /// The signed-in user's name; `None` on the sign-in page and for errors before sign-in.
    pub user: Option<String>,
    pub is_admin: bool,
    /// The token the page's forms carry.
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub next: String,
    pub message: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    reason: String,
    message: String,
}

/// A rendered page (HTML, never cached: pages show audit data and the viewer's session).
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut resp = (status, html).into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// An error page: the status, and in words what went wrong and what to do.
pub fn error(status: StatusCode, chrome: Option<Chrome>, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error").to_owned();
    let chrome = chrome.unwrap_or(Chrome {
        title: reason.clone(),
        section: "",
        user: None,
        is_admin: false,
        csrf: String::new(),
    });
    let mut resp = render(status, &ErrorPage { chrome, status: status.as_u16(), reason, message: message.to_owned() });
    resp.extensions_mut().insert(vigil_audit::AuditReason { code: None, message: message.to_owned() });
    resp
}

/// JSON bytes indented for reading (the bytes as text when they are not JSON).
pub fn pretty_json(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// A value for a query string (RFC 3986 unreserved characters kept, everything else percent-encoded).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `1.5 MiB`: binary units, one decimal from KiB up.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `2026-12-03 12:00:05 UTC`: to the second, in UTC (the exact value, to the millisecond, is [`exact_time`]).
pub fn time(ms: i64) -> String {
    let exact = exact_time(ms);
    format!("{} UTC", exact.get(..19).unwrap_or(&exact).replace('T', " "))
}

/// RFC 3339 to the millisecond, as the API writes times.
pub fn exact_time(ms: i64) -> String {
    vigil_core::time::rfc3339_ms(ms)
}

/// `3 minutes ago`, for how recent something is at a glance.
pub fn ago(ms: i64, now_ms: i64) -> String {
    let secs = (now_ms - ms).max(0) / 1000;
    let (n, unit) = match secs {
        s if s < 60 => return "just now".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A time the way a page shows it: readable, with the exact value for the hover title.
pub struct When {
    pub text: String,
    pub exact: String,
}

impl When {
    pub fn at(ms: i64) -> When {
        When { text: time(ms), exact: exact_time(ms) }
    }

    pub fn relative(ms: i64, now_ms: i64) -> When {
        When { text: ago(ms, now_ms), exact: exact_time(ms) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(64 * 1024 * 1024), "64.0 MiB");
        assert_eq!(time(1_764_763_205_123), "2025-12-03 12:00:05 UTC");
        assert_eq!(exact_time(1_764_763_205_123), "2025-12-03T12:00:05.123Z");
        assert_eq!(ago(0, 30_000), "just now");
        assert_eq!(ago(0, 60_000), "1 minute ago");
        assert_eq!(ago(0, 3 * 86_400_000), "3 days ago");
        assert_eq!(query_escape("/ui/logs?kind=a&x=<b>"), "/ui/logs%3Fkind%3Da%26x%3D%3Cb%3E");
    }
}
