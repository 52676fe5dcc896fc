//! One file: read (ranges, conditional GET), write (streamed, verified, conditional, the overwrite rule) and
//! delete.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use vigil_audit::{AuditTarget, Target};
use vigil_core::{Algorithm, Digest, RepoName};
use vigil_http::util::{blob_body, body_stream, header_str, response};
use vigil_http::Caller;
use vigil_registry::range::resolve_range;
use vigil_store::{Applied, Asset, ContentChange, Expect, Mutation, RepositoryInfo};

use crate::error::{RawError, RawResult};
use crate::{ops, Raw};

/// Longest `Content-Type` kept with a file.
const MAX_MEDIA_TYPE: usize = 255;

fn etag(digest: &Digest) -> String {
    format!("\"{digest}\"")
}

/// Whether an `If-Match`/`If-None-Match` list (`*`, or quoted tags, weak ones too) names `digest`.
fn names(list: &str, digest: Option<&Digest>) -> bool {
    let Some(digest) = digest else { return false };
    let ours = etag(digest);
    list.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == ours)
}

/// `If-Match`: the write or read goes ahead only if the file holds one of the named contents.
fn check_if_match(headers: &HeaderMap, current: Option<&Digest>) -> RawResult<()> {
    match header_str(headers, "if-match") {
        Some(list) if !names(list, current) => Err(RawError::precondition(match current {
            Some(d) => format!("If-Match does not name the current content ({d})"),
            None => "If-Match: the file does not exist".to_owned(),
        })),
        _ => Ok(()),
    }
}

/// `If-None-Match` on a write: it goes ahead only if the file holds none of the named contents (`*`: if
/// there is no file).
fn check_if_none_match(headers: &HeaderMap, current: Option<&Digest>) -> RawResult<()> {
    match header_str(headers, "if-none-match") {
        Some(list) if names(list, current) => Err(RawError::precondition(match current {
            Some(d) => format!("If-None-Match: the file exists ({d})"),
            None => "If-None-Match: the file exists".to_owned(),
        })),
        _ => Ok(()),
    }
}

fn file_target(repo: &RepoName, a: &Asset) -> Target {
    Target::repo(repo).path(a.path.clone()).digest(&a.digest).size(a.size).media_type(&a.media_type)
}

fn file_headers(a: &Asset) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", a.media_type.clone()),
        ("etag", etag(&a.digest)),
        ("last-modified", vigil_core::time::http_date(a.updated_at_ms)),
        ("accept-ranges", "bytes".to_owned()),
        ("x-checksum-sha256", a.digest.hex().to_owned()),
    ]
}

pub async fn get(raw: &Raw, repo: &RepoName, path: &str, headers: &HeaderMap, head_only: bool) -> RawResult<Response> {
    let asset =
        raw.content.asset(repo, path).await?.ok_or_else(|| RawError::not_found(format!("{path} is not in {repo}")))?;
    let target = AuditTarget(file_target(repo, &asset));
    let mut hdrs = file_headers(&asset);
    if let Some(list) = header_str(headers, "if-none-match") {
        if names(list, Some(&asset.digest)) {
            let mut resp = response(StatusCode::NOT_MODIFIED, &hdrs, Body::empty());
            resp.extensions_mut().insert(target);
            return Ok(resp);
        }
    }
    check_if_match(headers, Some(&asset.digest))?;
    let size = asset.size;
    // A HEAD describes the whole file whatever the Range.
    let range = if head_only { None } else { header_str(headers, "range") };
    let Some((start, len, content_range)) = resolve_range(range, size).span(size) else {
        return Err(RawError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "RANGE_INVALID",
            format!("{path} has {size} bytes"),
        )
        .with_header("content-range", format!("bytes */{size}")));
    };
    let status = match content_range {
        Some(cr) => {
            hdrs.push(("content-range", cr));
            StatusCode::PARTIAL_CONTENT
        }
        None => StatusCode::OK,
    };
    hdrs.push(("content-length", len.to_string()));
    let body = if head_only {
        Body::empty()
    } else {
        let read = raw.ingest.blobs.open(&asset.digest, start, Some(len)).await?;
        let Some(read) = read else {
            tracing::error!(digest = %asset.digest, "file recorded but missing from the blob store");
            return Err(RawError::not_found(format!("{path} is not in {repo}")));
        };
        blob_body(read)
    };
    let mut resp = response(status, &hdrs, body);
    resp.extensions_mut().insert(target);
    Ok(resp)
}

/// The digests the client says the body has: `X-Checksum-Sha256`/`-Sha512` (hex) and RFC 9530's
/// `Content-Digest` (`sha-256=:base64:`, `sha-512=:base64:`).
fn claimed_digests(headers: &HeaderMap) -> RawResult<Vec<Digest>> {
    let mut out = Vec::new();
    for (name, alg) in [("x-checksum-sha256", "sha256"), ("x-checksum-sha512", "sha512")] {
        if let Some(hex) = header_str(headers, name) {
            let d = format!("{alg}:{}", hex.trim().to_ascii_lowercase())
                .parse()
                .map_err(|e| RawError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", format!("{name}: {e}")))?;
            out.push(d);
        }
    }
    if let Some(value) = header_str(headers, "content-digest") {
        for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || {
                RawError::new(
                    StatusCode::BAD_REQUEST,
                    "DIGEST_INVALID",
                    format!("Content-Digest: cannot read {item:?}"),
                )
            };
            let (alg, b64) = item.split_once('=').ok_or_else(bad)?;
            let alg = match alg.trim() {
                "sha-256" => "sha256",
                "sha-512" => "sha512",
                // RFC 9530 lets a receiver ignore algorithms it does not know.
                _ => continue,
            };
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(b64.trim().trim_matches(':')).map_err(|_| bad())?;
            out.push(format!("{alg}:{}", hex::encode(bytes)).parse().map_err(|_| bad())?);
        }
    }
    Ok(out)
}

fn media_type(headers: &HeaderMap) -> RawResult<String> {
    let Some(v) = headers.get("content-type") else { return Ok("application/octet-stream".to_owned()) };
    match v.to_str() {
        Ok(s) if !s.trim().is_empty() && s.len() <= MAX_MEDIA_TYPE => Ok(s.trim().to_owned()),
        _ => Err(RawError::new(
            StatusCode::BAD_REQUEST,
            "CONTENT_TYPE_INVALID",
            format!("Content-Type must be printable text of at most {MAX_MEDIA_TYPE} bytes"),
        )),
    }
}

pub async fn put(raw: &Raw, info: &RepositoryInfo, path: String, caller: &Caller, req: Request) -> RawResult<Response> {
    let repo = info.name.clone();
    let headers = req.headers().clone();
    let claimed = claimed_digests(&headers)?;
    let media_type = media_type(&headers)?;
    // Checked before the body is read (a refused write costs no upload) and pinned for the commit: the write
    // replaces exactly what was checked, or fails.
    let current = raw.content.asset(&repo, &path).await?.map(|a| a.digest);
    check_if_match(&headers, current.as_ref())?;
    check_if_none_match(&headers, current.as_ref())?;
    let sha512 = claimed.iter().any(|d| d.algorithm() == Algorithm::Sha512);
    let also = vigil_registry::ingest::Also { sha512, ..Default::default() };
    let received = raw.ingest.receive(&repo, body_stream(req.into_body()), also).await?;
    if let Err(e) = received.verify(&claimed) {
        raw.ingest.discard(received).await;
        return Err(e.into());
    }
    let (digest, size) = (received.digest.clone(), received.size);
    let replaced = current.as_ref().filter(|c| **c != digest);
    if let (Some(old), false) = (replaced, info.settings.allow_overwrite) {
        // Refused before the bytes reach the blob store (the commit checks again, for a race).
        raw.ingest.discard(received).await;
        return Err(RawError::new(
            StatusCode::CONFLICT,
            "OVERWRITE_REFUSED",
            format!("{path} already holds {old} and {repo} does not allow overwriting"),
        ));
    }
    let asset = Asset {
        path: path.clone(),
        digest: digest.clone(),
        size,
        media_type,
        package: None,
        version: None,
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let target = file_target(&repo, &asset);
    let status = if current.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    let mut event = caller.scope.draft(ops::PUT_FILE).target(target.clone()).status(status.as_u16());
    if let Some(old) = replaced {
        event = event.action("overwrite").detail(old.to_string());
    }
    let expect = current.clone().map_or(Expect::Absent, Expect::Digest);
    let change = Mutation::Content(ContentChange::PutAsset { repo: repo.clone(), asset, expect });
    match raw.ingest.store(received, change, vec![event.boxed()]).await {
        Ok(_) => {}
        // Our own pinned expectation no longer holds: another write got there while the body streamed.
        Err(vigil_registry::ingest::IngestError::Store(vigil_store::StoreError::PreconditionFailed(what))) => {
            return Err(RawError::new(
                StatusCode::CONFLICT,
                "CHANGED_CONCURRENTLY",
                format!("{path} changed while this upload was in progress ({what}); retry"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let body =
        serde_json::json!({ "repository": repo.as_str(), "path": path, "digest": digest.to_string(), "size": size });
    let mut resp = response(
        status,
        &[("etag", etag(&digest)), ("content-type", "application/json".to_owned())],
        Body::from(body.to_string()),
    );
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

pub async fn delete(
    raw: &Raw,
    repo: RepoName,
    path: String,
    caller: &Caller,
    headers: &HeaderMap,
) -> RawResult<Response> {
    let current = raw.content.asset(&repo, &path).await?;
    let Some(current) = current else { return Err(RawError::not_found(format!("{path} is not in {repo}"))) };
    check_if_match(headers, Some(&current.digest))?;
    check_if_none_match(headers, Some(&current.digest))?;
    let target = file_target(&repo, &current);
    let event = caller
        .scope
        .draft(ops::DELETE_FILE)
        .target(target.clone())
        .detail(current.digest.to_string())
        .status(StatusCode::NO_CONTENT.as_u16());
    let change = ContentChange::DeleteAsset { repo, path, expect: Expect::Digest(current.digest) };
    let applied = vigil_registry::commit(&raw.ingest.meta, Mutation::Content(change), vec![event.boxed()]).await?;
    debug_assert!(matches!(applied.0, Applied::Asset { .. }));
    let mut resp = response(StatusCode::NO_CONTENT, &[], Body::empty());
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}
