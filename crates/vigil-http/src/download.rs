//! Serving a package file (an asset of the content port) as every package client downloads it: the bytes with
//! their type, length, digest as `ETag` and time, or only the head. The response names its target for the
//! audit trail, so every format's download event carries the package, version, path, digest and size.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_store::{Asset, BlobStore};

use crate::util::{blob_body, response};
use crate::Problem;

/// The file `asset` of `repo` (`head_only`: its headers without the body). A file recorded but missing from the
/// blob store is logged and answered 404, as if it were absent.
pub async fn asset(
    blobs: &Arc<dyn BlobStore>,
    repo: &RepoName,
    asset: Asset,
    head_only: bool,
) -> Result<Response, Problem> {
    let headers = [
        ("content-type", asset.media_type.clone()),
        ("content-length", asset.size.to_string()),
        ("etag", format!("\"{}\"", asset.digest)),
        ("last-modified", vigil_core::time::http_date(asset.updated_at_ms)),
    ];
    let body = if head_only {
        Body::empty()
    } else {
        match blobs.open(&asset.digest, 0, None).await.map_err(vigil_registry::ingest::IngestError::Blobs)? {
            Some(read) => blob_body(read),
            None => {
                tracing::error!(digest = %asset.digest, path = %asset.path, "file recorded but missing from the blob store");
                return Err(Problem::not_found(format!("{} is not in {repo}", asset.path)));
            }
        }
    };
    let mut target = Target::repo(repo).path(asset.path.clone()).digest(&asset.digest).size(asset.size);
    if let Some(package) = asset.package {
        target = target.package(package, asset.version);
    }
    let mut resp = response(StatusCode::OK, &headers, body);
    resp.extensions_mut().insert(AuditTarget(target.media_type(&asset.media_type)));
    Ok(resp)
}
