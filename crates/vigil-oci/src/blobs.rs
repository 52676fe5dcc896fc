//! Blob reads (with ranges) and deletes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use vigil_audit::{AuditTarget, RequestScope, Target};
use vigil_core::{Digest, Operation, RepoName};
use vigil_store::{Mutation, StoreError};

use crate::error::{ErrorCode, OciError, OciResult};
use crate::http::{header_str, response};
use crate::Registry;
use vigil_registry::range::{resolve_range, RangeRequest};

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
    let body = vigil_http::util::blob_body(read);
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
