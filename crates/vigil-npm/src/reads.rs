//! What npm reads: packuments (full or abbreviated, by `Accept`), one version, tarballs and search.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::util::{header_str, response};

use crate::error::{NpmError, NpmResult};
use crate::packument::{tarball_path, Package};
use crate::{json, Npm};

const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";

pub(crate) async fn load(npm: &Npm, repo: &RepoName, name: &str) -> NpmResult<Package> {
    Package::load(&npm.content, repo, name)
        .await?
        .ok_or_else(|| NpmError::not_found(format!("{name} is not in {repo}")))
}

/// Whether the client prefers the abbreviated packument (npm's installs ask for it, with the full one as a
/// fallback of lower quality).
fn wants_abbreviated(headers: &HeaderMap) -> bool {
    header_str(headers, "accept").is_some_and(|accept| {
        accept.split(',').map(str::trim).any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts.next() == Some(ABBREVIATED) && !parts.any(|p| p.replace(' ', "") == "q=0")
        })
    })
}

pub async fn packument(
    npm: &Npm,
    repo: &RepoName,
    name: &str,
    registry: &str,
    headers: &HeaderMap,
) -> NpmResult<Response> {
    let package = load(npm, repo, name).await?;
    let (doc, content_type) = if wants_abbreviated(headers) {
        (package.abbreviated(registry), ABBREVIATED)
    } else {
        (package.full(registry), "application/json")
    };
    Ok(response(
        StatusCode::OK,
        &[
            ("content-type", content_type.to_owned()),
            ("vary", "Accept".to_owned()),
            ("etag", format!("\"{}\"", package.rev())),
        ],
        Body::from(doc.to_string()),
    ))
}

pub async fn version(npm: &Npm, repo: &RepoName, name: &str, spec: &str, registry: &str) -> NpmResult<Response> {
    let package = load(npm, repo, name).await?;
    let v = package
        .resolve(spec)
        .ok_or_else(|| NpmError::not_found(format!("{name} has no version or dist-tag {spec:?} in {repo}")))?;
    let mut resp = json(StatusCode::OK, &package.manifest(v, registry));
    let target = Target::repo(repo).package(name, Some(v.version.clone()));
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

pub async fn tarball(npm: &Npm, repo: &RepoName, name: &str, file: &str, head_only: bool) -> NpmResult<Response> {
    let path = tarball_path(name, file);
    let asset =
        npm.content.asset(repo, &path).await?.ok_or_else(|| NpmError::not_found(format!("{path} is not in {repo}")))?;
    Ok(vigil_http::download::asset(&npm.ingest.blobs, repo, asset, head_only).await?)
}

/// `npm search`: packages whose name contains the text, with their latest version's description.
pub async fn search(
    npm: &Npm,
    repo: &RepoName,
    registry: &str,
    text: &str,
    size: usize,
    from: usize,
) -> NpmResult<Response> {
    let containing = (!text.is_empty()).then_some(text);
    let names = npm.content.packages(repo, containing, None, from.saturating_add(size)).await?;
    let mut objects = Vec::new();
    for name in names.iter().skip(from) {
        let Some(package) = Package::load(&npm.content, repo, name).await? else { continue };
        let Some(latest) = package.resolve("latest").or(package.versions.last()) else { continue };
        let manifest = package.manifest(latest, registry);
        objects.push(json!({
            "package": {
                "name": name,
                "version": latest.version,
                "description": manifest.get("description").cloned().unwrap_or(json!("")),
                "keywords": manifest.get("keywords").cloned().unwrap_or(json!([])),
                "date": vigil_core::time::rfc3339_ms(latest.created_at_ms),
                "links": {},
                "publisher": manifest.get("_npmUser").cloned().unwrap_or(json!({})),
            },
            "score": {"final": 1.0, "detail": {"quality": 1.0, "popularity": 1.0, "maintenance": 1.0}},
            "searchScore": 1.0,
        }));
    }
    let total = from + objects.len();
    let doc = json!({
        "objects": objects,
        "total": total,
        "time": vigil_core::time::rfc3339_ms(vigil_store::now_ms()),
    });
    Ok(json(StatusCode::OK, &doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_abbreviated_form_is_chosen_by_accept() {
        let with = |accept: &str| {
            let mut h = HeaderMap::new();
            h.insert("accept", accept.parse().unwrap());
            wants_abbreviated(&h)
        };
        assert!(with("application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"));
        assert!(!with("application/json"));
        assert!(!with("application/vnd.npm.install-v1+json;q=0"));
        assert!(!wants_abbreviated(&HeaderMap::new()));
    }
}
