//! Blob reads (with ranges) and deletes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio_util::io::ReaderStream;
use vigil_audit::{AuditTarget, RequestScope, Target};
use vigil_core::{Digest, Operation, RepoName};
use vigil_store::{Mutation, StoreError};

use crate::error::{ErrorCode, OciError, OciResult};
use crate::http::{header_str, response};
use crate::Registry;

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

pub async fn get(
    reg: &Registry,
    repo: &RepoName,
    digest: &Digest,
    headers: &HeaderMap,
    head_only: bool,
) -> OciResult<Response> {
    let unknown = || OciError::new(ErrorCode::BlobUnknown, format!("blob {digest} is not in {repo}"));
    let info = reg.meta.blob(repo, digest).await?.ok_or_else(unknown)?;
    let size = info.size;
    let mut hdrs = vec![
        ("docker-content-digest", digest.to_string()),
        ("content-type", "application/octet-stream".to_owned()),
        ("accept-ranges", "bytes".to_owned()),
        ("etag", format!("\"{digest}\"")),
        ("cache-control", "max-age=31536000".to_owned()),
    ];
    if head_only {
        if reg.blobs.stat(digest).await?.is_none() {
            tracing::warn!(%digest, "blob recorded but missing from the blob store");
            return Err(unknown());
        }
        hdrs.push(("content-length", size.to_string()));
        let mut resp = response(StatusCode::OK, &hdrs, Body::empty());
        resp.extensions_mut().insert(AuditTarget(Target::repo(repo).digest(digest).size(size)));
        return Ok(resp);
    }
    let (status, start, len) = match resolve_range(header_str(headers, "range"), size) {
        RangeRequest::Full => (StatusCode::OK, 0, size),
        RangeRequest::Partial(a, b) => {
            hdrs.push(("content-range", format!("bytes {a}-{b}/{size}")));
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        RangeRequest::Unsatisfiable => {
            return Err(OciError::new(
                ErrorCode::RangeInvalid,
                format!("range not satisfiable for a blob of {size} bytes"),
            )
            .with_header("content-range", format!("bytes */{size}")));
        }
    };
    let Some(read) = reg.blobs.open(digest, start, Some(len)).await? else {
        tracing::warn!(%digest, "blob recorded but missing from the blob store");
        return Err(unknown());
    };
    hdrs.push(("content-length", len.to_string()));
    let body = Body::from_stream(ReaderStream::with_capacity(read.reader, 256 * 1024));
    let mut resp = response(status, &hdrs, body);
    resp.extensions_mut().insert(AuditTarget(Target::repo(repo).digest(digest).size(size)));
    Ok(resp)
}

pub async fn delete(reg: &Registry, repo: RepoName, digest: Digest, scope: &Arc<RequestScope>) -> OciResult<Response> {
    let event = scope
        .draft(Operation::DeleteBlob)
        .target(Target::repo(&repo).digest(&digest))
        .status(StatusCode::ACCEPTED.as_u16())
        .boxed();
    match reg.commit(Mutation::UnlinkBlob { repo: repo.clone(), digest: digest.clone() }, vec![event]).await {
        Ok(_) => Ok(response(StatusCode::ACCEPTED, &[("content-length", "0".into())], Body::empty())),
        Err(StoreError::NotFound(_)) => {
            Err(OciError::new(ErrorCode::BlobUnknown, format!("blob {digest} is not in {repo}")))
        }
        Err(e) => Err(e.into()),
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
