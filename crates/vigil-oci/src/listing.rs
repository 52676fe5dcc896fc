//! Listings: the catalog, tags (both paginated with `n`/`last` and a `Link` header) and referrers.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use vigil_core::{Action, Digest, RepoName};

use crate::error::{ErrorCode, OciError, OciResult};
use crate::gate::Admitted;
use crate::http::{query_pairs, query_param, response};
use crate::manifest::OCI_INDEX;
use crate::Registry;

/// Page size when the client gives no `n`, and the largest page served.
pub const MAX_PAGE: usize = 10_000;

struct Page {
    n: usize,
    last: Option<String>,
}

fn page(query: Option<&str>) -> OciResult<Page> {
    let pairs = query_pairs(query);
    let n = match query_param(&pairs, "n") {
        None | Some("") => MAX_PAGE,
        Some(raw) => raw.parse::<usize>().map_err(|_| {
            OciError::new(ErrorCode::PaginationNumberInvalid, format!("n={raw:?} is not a non-negative integer"))
        })?,
    };
    let last = query_param(&pairs, "last").filter(|l| !l.is_empty()).map(str::to_owned);
    Ok(Page { n: n.min(MAX_PAGE), last })
}

/// Answers a page with a `Link` to the next one when more entries follow. `fetched` holds up to `n + 1` entries.
fn paged(path: &str, key: &str, name: Option<&RepoName>, n: usize, mut fetched: Vec<String>) -> Response {
    let more = fetched.len() > n;
    fetched.truncate(n);
    let mut hdrs = vec![("content-type", "application/json".to_owned())];
    if more {
        if let Some(last) = fetched.last() {
            let q = serde_urlencoded::to_string([("n", n.to_string()), ("last", last.clone())]).unwrap_or_default();
            hdrs.push(("link", format!("<{path}?{q}>; rel=\"next\"")));
        }
    }
    let body = match name {
        Some(name) => serde_json::json!({ "name": name.as_str(), key: fetched }),
        None => serde_json::json!({ key: fetched }),
    };
    response(StatusCode::OK, &hdrs, Body::from(body.to_string()))
}

/// The catalog, limited to repositories the caller may pull.
pub async fn catalog(reg: &Registry, admitted: &Admitted, query: Option<&str>) -> OciResult<Response> {
    let p = page(query)?;
    let mut names = Vec::new();
    let mut after = p.last.clone();
    // Filtering may drop entries: keep reading batches until the page (plus one, for the Link) is full.
    while p.n > 0 && names.len() <= p.n {
        let batch = reg.meta.catalog(after.as_deref(), p.n + 1).await?;
        let exhausted = batch.len() <= p.n;
        after = batch.last().cloned();
        names.extend(batch.into_iter().filter(|name| match &admitted.access {
            None => true,
            Some(access) => {
                name.parse::<RepoName>().is_ok_and(|repo| access.allows(&admitted.principal, &repo, Action::Pull))
            }
        }));
        if exhausted {
            break;
        }
    }
    Ok(paged("/v2/_catalog", "repositories", None, p.n, names))
}

pub async fn tags(reg: &Registry, repo: &RepoName, query: Option<&str>) -> OciResult<Response> {
    let p = page(query)?;
    if !reg.meta.repository_exists(repo).await? {
        return Err(OciError::new(ErrorCode::NameUnknown, format!("repository {repo} is not known")));
    }
    let tags = if p.n == 0 { Vec::new() } else { reg.meta.tags(repo, p.last.as_deref(), p.n + 1).await? };
    Ok(paged(&format!("/v2/{repo}/tags/list"), "tags", Some(repo), p.n, tags))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireDescriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireIndex {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<WireDescriptor>,
}

pub async fn referrers(reg: &Registry, repo: &RepoName, subject: &Digest, query: Option<&str>) -> OciResult<Response> {
    let pairs = query_pairs(query);
    let filter = query_param(&pairs, "artifactType").filter(|t| !t.is_empty());
    let manifests = reg
        .meta
        .referrers(repo, subject)
        .await?
        .into_iter()
        .filter(|r| filter.is_none_or(|f| r.artifact_type.as_deref() == Some(f)))
        .map(|r| WireDescriptor {
            media_type: r.media_type,
            digest: r.digest.to_string(),
            size: r.size,
            artifact_type: r.artifact_type,
            annotations: r.annotations.and_then(|a| serde_json::from_str(&a).ok()),
        })
        .collect();
    let index = WireIndex { schema_version: 2, media_type: OCI_INDEX, manifests };
    let mut hdrs = vec![("content-type", OCI_INDEX.to_owned())];
    if filter.is_some() {
        hdrs.push(("oci-filters-applied", "artifactType".to_owned()));
    }
    let body = serde_json::to_vec(&index).map_err(|e| OciError::internal("referrers", e))?;
    Ok(response(StatusCode::OK, &hdrs, Body::from(body)))
}
