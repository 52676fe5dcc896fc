//! Small HTTP helpers shared by the protocols.

use std::io;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::TryStreamExt;
use vigil_store::{BlobRead, ByteStream};

/// Builds a response from a status, headers and a body. Header values are ours (digests, numbers, paths of
/// validated names), so they are always valid; an invalid one would be a bug, and is dropped rather than panicking.
/// A name given twice is sent twice (`OCI-Tag`, one per tag).
pub fn response(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(*name), HeaderValue::from_str(value)) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// Query parameters as pairs, in order. Malformed encoding yields no pairs rather than an error: callers treat
/// a missing required parameter with their protocol's error.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default()
}

pub fn query_param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every value of a header that may repeat.
pub fn all_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
}

/// The request body as a stream of chunks with I/O errors.
pub fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(io::Error::other))
}

/// A stored blob as a response body, read in large chunks (fewer syscalls and wakeups per byte).
pub fn blob_body(read: BlobRead) -> Body {
    Body::from_stream(tokio_util::io::ReaderStream::with_capacity(read.reader, 256 * 1024))
}

/// Reads a whole (small) body into memory, refusing one over `limit` bytes with 413 and a broken one with 400.
pub async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, crate::Problem> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            crate::Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body exceeds the limit of {limit} bytes"),
            )
        } else {
            crate::Problem::bad_request(format!("the request body could not be read: {e}"))
        }
    })
}

/// A path segment percent-decoded as the package formats read them: UTF-8, without control characters (a NUL or
/// newline never reaches a name or a log). Slashes stay: npm sends a scoped name as one `@scope%2fname` segment.
pub fn decode_segment(segment: &str) -> Result<String, String> {
    let text = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| "a path segment is not UTF-8 once decoded".to_owned())?;
    if text.chars().any(char::is_control) {
        return Err("control characters are not allowed in paths".to_owned());
    }
    Ok(text.into_owned())
}
