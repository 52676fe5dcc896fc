//! Byte ranges (RFC 9110 §14): one `Range` header resolved against a stored size.

/// A byte range resolved against a blob's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable single range: serve everything (RFC 9110 lets a server ignore a `Range` it does not support).
    Full,
    /// Inclusive first and last byte.
    Partial(u64, u64),
    Unsatisfiable,
}

/// Resolves a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against `size`.
pub fn resolve_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    match (a.trim().is_empty(), parse(a), parse(b)) {
        (true, _, Some(n)) if n == 0 || size == 0 => RangeRequest::Unsatisfiable,
        (true, _, Some(n)) => RangeRequest::Partial(size.saturating_sub(n), size - 1),
        (false, Some(start), _) if start >= size => RangeRequest::Unsatisfiable,
        (false, Some(start), None) if b.trim().is_empty() => RangeRequest::Partial(start, size - 1),
        (false, Some(start), Some(end)) if end >= start => RangeRequest::Partial(start, end.min(size - 1)),
        _ => RangeRequest::Full,
    }
}

impl RangeRequest {
    /// The first byte and the length to send, with the `Content-Range` value of a partial answer; `None` when
    /// unsatisfiable.
    pub fn span(self, size: u64) -> Option<(u64, u64, Option<String>)> {
        match self {
            RangeRequest::Full => Some((0, size, None)),
            RangeRequest::Partial(a, b) => Some((a, b - a + 1, Some(format!("bytes {a}-{b}/{size}")))),
            RangeRequest::Unsatisfiable => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{resolve_range as r, RangeRequest::*};

    #[test]
    fn ranges() {
        assert_eq!(r(None, 10), Full);
        assert_eq!(r(Some("bytes=0-4"), 10), Partial(0, 4));
        assert_eq!(r(Some("bytes=5-"), 10), Partial(5, 9));
        assert_eq!(r(Some("bytes=-3"), 10), Partial(7, 9));
        assert_eq!(r(Some("bytes=-30"), 10), Partial(0, 9));
        assert_eq!(r(Some("bytes=2-100"), 10), Partial(2, 9));
        assert_eq!(r(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(r(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(r(Some("bytes=0-0"), 0), Unsatisfiable);
        assert_eq!(r(Some("bytes=5-2"), 10), Full);
        assert_eq!(r(Some("bytes=0-1,3-4"), 10), Full);
        assert_eq!(r(Some("items=0-1"), 10), Full);
        assert_eq!(r(Some("bytes=x-y"), 10), Full);
    }
}
