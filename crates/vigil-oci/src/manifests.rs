//! Manifest get, put and delete.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use vigil_audit::{AuditTarget, RequestScope, Target};
use vigil_core::{Algorithm, Digest, Operation, Reference, RepoName, Tag};
use vigil_store::{Applied, Mutation, NewManifest, StoreError};

use crate::error::{ErrorCode, OciError, OciResult};
use crate::http::{header_str, query_pairs, response};
use crate::{manifest, Registry};

/// Most tags one manifest PUT may set with `?tag=`.
const MAX_TAGS_PER_PUT: usize = 32;

fn unknown(repo: &RepoName, reference: &Reference) -> OciError {
    OciError::new(ErrorCode::ManifestUnknown, format!("manifest {reference} is not in {repo}"))
}

pub async fn get(reg: &Registry, repo: &RepoName, reference: &Reference, head_only: bool) -> OciResult<Response> {
    let record = match reference {
        Reference::Tag(t) => reg.meta.manifest_by_tag(repo, t).await?,
        Reference::Digest(d) => reg.meta.manifest_by_digest(repo, d).await?,
    }
    .ok_or_else(|| unknown(repo, reference))?;
    let hdrs = [
        ("content-type", record.media_type.clone()),
        ("docker-content-digest", record.digest.to_string()),
        ("etag", format!("\"{}\"", record.digest)),
        ("content-length", record.content.len().to_string()),
    ];
    let mut target =
        Target::repo(repo).digest(&record.digest).media_type(&record.media_type).size(record.content.len() as u64);
    if let Reference::Tag(t) = reference {
        target = target.tag(t);
    }
    let body = if head_only { Body::empty() } else { Body::from(record.content) };
    let mut resp = response(StatusCode::OK, &hdrs, body);
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

pub async fn put(reg: &Registry, repo: RepoName, reference: Reference, req: Request) -> OciResult<Response> {
    let scope = crate::admitted(&req).scope.clone();
    let extra_tags = tag_params(&reference, req.uri().query())?;
    let content_type = header_str(req.headers(), "content-type").map(str::to_owned);
    let max = reg.config.max_manifest_bytes;
    let body = axum::body::to_bytes(req.into_body(), max).await.map_err(|e| {
        let too_big = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_big {
            OciError::new(ErrorCode::SizeInvalid, format!("manifest exceeds the limit of {max} bytes"))
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            OciError::new(ErrorCode::ManifestInvalid, format!("could not read the manifest body: {e}"))
        }
    })?;
    let parsed = manifest::parse(content_type.as_deref(), &body)?;
    let (digest, tags) = match &reference {
        Reference::Digest(d) => {
            let actual = Digest::of(d.algorithm(), &body);
            if &actual != d {
                return Err(OciError::new(
                    ErrorCode::DigestInvalid,
                    "manifest body does not match the digest in the URL",
                )
                .with_detail(serde_json::json!({ "expected": d.to_string(), "actual": actual.to_string() })));
            }
            (actual, extra_tags)
        }
        Reference::Tag(t) => (Digest::of(Algorithm::Sha256, &body), vec![t.clone()]),
    };
    let mut target = Target::repo(&repo).digest(&digest).size(body.len() as u64).media_type(&parsed.media_type);
    if let Some(t) = tags.first() {
        target = target.tag(t);
    }
    let mut event = scope.draft(Operation::PutManifest).target(target).status(StatusCode::CREATED.as_u16());
    if tags.len() > 1 {
        // The target holds one tag; the record keeps every one that was set.
        let names: Vec<&str> = tags.iter().map(Tag::as_str).collect();
        event = event.detail(format!("{digest} tags={}", names.join(",")));
    }
    let subject = parsed.subject.clone();
    let new = NewManifest {
        digest: digest.clone(),
        media_type: parsed.media_type,
        content: body,
        blobs: parsed.blobs,
        manifests: parsed.manifests,
        subject: parsed.subject,
        artifact_type: parsed.artifact_type,
        annotations: parsed.annotations,
    };
    let (_, seqs) = reg
        .commit(Mutation::PutManifest { repo: repo.clone(), manifest: new, tags: tags.clone() }, vec![event.boxed()])
        .await?;
    let mut hdrs = vec![
        ("location", reg.location(&format!("/v2/{repo}/manifests/{digest}"))),
        ("docker-content-digest", digest.to_string()),
        ("content-length", "0".to_owned()),
    ];
    if let Some(s) = subject {
        hdrs.push(("oci-subject", s.to_string()));
    }
    if matches!(reference, Reference::Digest(_)) {
        // The spec's answer to `?tag=`: one `OCI-Tag` per tag that now points at the manifest.
        hdrs.extend(tags.iter().map(|t| ("oci-tag", t.to_string())));
    }
    if let Some(seq) = seqs.first() {
        hdrs.push(("vigil-audit-seq", seq.to_string()));
    }
    Ok(response(StatusCode::CREATED, &hdrs, Body::empty()))
}

/// The `tag` parameters of a PUT by digest (distribution-spec: push a manifest by digest and tag it in one request).
fn tag_params(reference: &Reference, query: Option<&str>) -> OciResult<Vec<Tag>> {
    let values: Vec<String> = query_pairs(query).into_iter().filter(|(k, _)| k == "tag").map(|(_, v)| v).collect();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    if matches!(reference, Reference::Tag(_)) {
        return Err(OciError::new(ErrorCode::TagInvalid, "`tag` parameters apply to a PUT by digest, not by tag"));
    }
    if values.len() > MAX_TAGS_PER_PUT {
        return Err(OciError::new(ErrorCode::TagInvalid, format!("at most {MAX_TAGS_PER_PUT} `tag` parameters")));
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(values.len());
    for v in values {
        let tag: Tag = v.parse().map_err(|()| {
            OciError::new(
                ErrorCode::TagInvalid,
                format!("`tag` parameter {v:?} is not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})"),
            )
        })?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

pub async fn delete(
    reg: &Registry,
    op: Operation,
    repo: RepoName,
    reference: Reference,
    scope: &Arc<RequestScope>,
) -> OciResult<Response> {
    let (mutation, target) = match &reference {
        Reference::Digest(d) => {
            (Mutation::DeleteManifest { repo: repo.clone(), digest: d.clone() }, Target::repo(&repo).digest(d))
        }
        Reference::Tag(t) => (Mutation::DeleteTag { repo: repo.clone(), tag: t.clone() }, Target::repo(&repo).tag(t)),
    };
    let event = scope.draft(op).target(target).status(StatusCode::ACCEPTED.as_u16());
    match reg.commit(mutation, vec![event.boxed()]).await {
        Ok((Applied::Manifest { .. } | Applied::Done, _)) => {
            Ok(response(StatusCode::ACCEPTED, &[("content-length", "0".into())], Body::empty()))
        }
        Ok((other, _)) => Err(OciError::internal("delete manifest", format!("unexpected result {other:?}"))),
        Err(StoreError::NotFound(_)) => Err(unknown(&repo, &reference)),
        Err(e) => Err(e.into()),
    }
}
