//! The sparse index: `config.json` (where downloads and the API are, and whether they need a token) and one
//! file per crate with a JSON line per version, in publish order. Files carry an `ETag`, so cargo's
//! `If-None-Match` revalidation costs a `304`.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::util::{header_str, response};

use crate::error::{CargoError, CargoResult};
use crate::model::Stored;
use crate::{json_response, names, Cargo};

/// `config.json`: `auth-required` unless the repository is public, so cargo sends its token with every request.
pub async fn config(cargo: &Cargo, repo: &RepoName, headers: &HeaderMap) -> CargoResult<Response> {
    let api = format!("{}/cargo/{repo}", cargo.site.origin(headers));
    let public = cargo
        .auth
        .is_public(repo)
        .await
        .map_err(|e| CargoError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let doc = json!({ "dl": format!("{api}/api/v1/crates"), "api": api, "auth-required": !public });
    Ok(json_response(StatusCode::OK, &doc))
}

/// `index/<prefix>/<name>`: the crate's versions, one JSON line each. A name spelled differently from the
/// published one (`foo_bar` for `foo-bar`) is not found, as on every registry: cargo then suggests the other.
pub async fn file(cargo: &Cargo, repo: &RepoName, name: &str, headers: &HeaderMap) -> CargoResult<Response> {
    let versions = cargo.content.versions(repo, &names::key(name)).await?;
    let lines: Vec<Stored> =
        versions.iter().filter_map(Stored::parse).filter(|s| s.line.name.eq_ignore_ascii_case(name)).collect();
    if lines.is_empty() {
        return Err(CargoError::not_found(format!("no crate {name} in {repo}")));
    }
    let mut body = String::new();
    for stored in &lines {
        body.push_str(&serde_json::to_string(&stored.line).unwrap_or_default());
        body.push('\n');
    }
    let etag = format!("\"{}\"", hex_prefix(&Sha256::digest(body.as_bytes())));
    let target = Target::repo(repo).package(names::key(name), None);
    let mut resp = if header_str(headers, "if-none-match").is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        response(StatusCode::NOT_MODIFIED, &[("etag", etag)], Body::empty())
    } else {
        response(
            StatusCode::OK,
            &[("content-type", "text/plain; charset=utf-8".to_owned()), ("etag", etag)],
            Body::from(body),
        )
    };
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
