//! Blob uploads: sessions (start, chunk, status, finish, cancel), monolithic uploads and cross-repository mounts.
//!
//! Sessions are durable (a metadata row plus a staging file), so they survive a restart. Hashing happens while
//! bytes stream to disk; the hash state is kept in memory between chunks and rebuilt from the staged bytes when
//! it is missing (after a restart) or stale (after a failed chunk).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::StreamExt;
use vigil_audit::{EventDraft, Target};
use vigil_core::{Algorithm, Digest, Hasher, Operation, RepoName};
use vigil_store::{BlobInfo, ByteStream, JournalEvent, Mutation, StoreError, UploadSession};

use crate::error::{ErrorCode, OciError, OciResult};
use crate::http::{body_stream, header_str, query_pairs, query_param, response, upload_range};
use crate::Registry;

/// The sha256 state of an upload's first `len` staged bytes.
struct HashState {
    len: u64,
    hasher: Hasher,
}

type Slot = Arc<tokio::sync::Mutex<Option<HashState>>>;

/// In-memory per-upload state. The async lock also serializes concurrent requests on one session.
#[derive(Default)]
pub struct UploadStates {
    slots: Mutex<HashMap<String, Slot>>,
}

impl UploadStates {
    fn slot(&self, id: &str) -> Slot {
        self.slots.lock().expect("upload states lock").entry(id.to_owned()).or_default().clone()
    }

    fn forget(&self, id: &str) {
        self.slots.lock().expect("upload states lock").remove(id);
    }
}

fn upload_unknown(id: &str) -> OciError {
    OciError::new(ErrorCode::BlobUploadUnknown, format!("upload {id:?} is unknown or expired"))
}

fn upload_path(repo: &RepoName, id: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/{id}")
}

fn session_headers(reg: &Registry, repo: &RepoName, id: &str, len: u64) -> Vec<(&'static str, String)> {
    vec![
        ("location", reg.location(&upload_path(repo, id))),
        ("range", upload_range(len)),
        ("docker-upload-uuid", id.to_owned()),
        ("content-length", "0".to_owned()),
    ]
}

fn blob_created(reg: &Registry, repo: &RepoName, digest: &Digest) -> Response {
    let hdrs = [
        ("location", reg.location(&format!("/v2/{repo}/blobs/{digest}"))),
        ("docker-content-digest", digest.to_string()),
        ("content-length", "0".to_owned()),
    ];
    response(StatusCode::CREATED, &hdrs, Body::empty())
}

/// `POST /v2/<name>/blobs/uploads/`: start a session, upload monolithically, or mount.
pub async fn post(reg: &Registry, op: Operation, repo: RepoName, req: Request) -> OciResult<Response> {
    let pairs = query_pairs(req.uri().query());
    if op == Operation::MountBlob && crate::admitted(&req).mount_allowed {
        let digest: Digest = query_param(&pairs, "mount")
            .unwrap_or_default()
            .parse()
            .map_err(|e: vigil_core::DigestError| OciError::new(ErrorCode::DigestInvalid, e.to_string()))?;
        if let Some(from) = query_param(&pairs, "from") {
            let from: RepoName = from
                .parse()
                .map_err(|e: vigil_core::NameError| OciError::new(ErrorCode::NameInvalid, format!("from: {e}")))?;
            let event = crate::admitted(&req)
                .scope
                .draft(Operation::MountBlob)
                .target(Target::repo(&repo).digest(&digest))
                .status(StatusCode::CREATED.as_u16())
                .boxed();
            let m = Mutation::MountBlob { repo: repo.clone(), from, digest: digest.clone() };
            match reg.commit(m, vec![event]).await {
                Ok(_) => return Ok(blob_created(reg, &repo, &digest)),
                // Not mountable: the spec says fall back to an ordinary upload session.
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    // A plain start is a change of its own (a new session): its event commits with it. A monolithic upload's
    // event commits with the blob instead, and a mount that fell back is recorded by the audit layer as a mount.
    let event = (op == Operation::StartUpload).then(|| {
        let draft = crate::admitted(&req).scope.draft(Operation::StartUpload);
        draft.target(Target::repo(&repo)).status(StatusCode::ACCEPTED.as_u16()).boxed()
    });
    let id = open_session(reg, &repo, event).await?;
    if op != Operation::UploadBlobMonolithic {
        return Ok(response(StatusCode::ACCEPTED, &session_headers(reg, &repo, &id, 0), Body::empty()));
    }
    let draft = crate::admitted(&req).scope.draft(Operation::UploadBlobMonolithic);
    let result = async {
        let expected = digest_param(&pairs)?;
        let slot = reg.uploads.slot(&id);
        let mut state = slot.lock().await;
        append(reg, &repo, &id, &mut state, None, body_stream(req.into_body())).await?;
        finish(reg, &repo, &id, &mut state, expected, draft).await
    }
    .await;
    if result.is_err() {
        // A failed monolithic upload leaves nothing behind: the session was never shown to the client.
        discard(reg, &id).await;
    }
    result.map(|digest| blob_created(reg, &repo, &digest))
}

/// `PATCH`: append a chunk.
pub async fn patch(reg: &Registry, repo: &RepoName, id: &str, req: Request) -> OciResult<Response> {
    session_for(reg, repo, id).await?;
    let slot = reg.uploads.slot(id);
    let mut state = slot.lock().await;
    let content_range = header_str(req.headers(), "content-range").map(str::to_owned);
    let content_length = header_str(req.headers(), "content-length").and_then(|v| v.parse().ok());
    let len = append(
        reg,
        repo,
        id,
        &mut state,
        content_range.as_deref().map(|r| (r, content_length)),
        body_stream(req.into_body()),
    )
    .await?;
    reg.meta.touch_upload(id).await?;
    Ok(response(StatusCode::ACCEPTED, &session_headers(reg, repo, id, len), Body::empty()))
}

/// `PUT ?digest=`: append an optional last chunk, verify the digest, and commit the blob.
pub async fn complete(reg: &Registry, repo: RepoName, id: &str, req: Request) -> OciResult<Response> {
    session_for(reg, &repo, id).await?;
    let expected = digest_param(&query_pairs(req.uri().query()))?;
    let draft = crate::admitted(&req).scope.draft(Operation::CompleteUpload);
    let slot = reg.uploads.slot(id);
    let mut state = slot.lock().await;
    let content_range = header_str(req.headers(), "content-range").map(str::to_owned);
    let content_length = header_str(req.headers(), "content-length").and_then(|v| v.parse().ok());
    append(
        reg,
        &repo,
        id,
        &mut state,
        content_range.as_deref().map(|r| (r, content_length)),
        body_stream(req.into_body()),
    )
    .await?;
    let digest = finish(reg, &repo, id, &mut state, expected, draft).await?;
    Ok(blob_created(reg, &repo, &digest))
}

/// `GET`: how much of the upload is stored.
pub async fn status(reg: &Registry, repo: &RepoName, id: &str) -> OciResult<Response> {
    session_for(reg, repo, id).await?;
    let len = reg.blobs.upload_len(id).await?.ok_or_else(|| upload_unknown(id))?;
    Ok(response(StatusCode::NO_CONTENT, &session_headers(reg, repo, id, len), Body::empty()))
}

/// `DELETE`: cancel the session and drop its bytes.
pub async fn cancel(reg: &Registry, repo: &RepoName, id: &str) -> OciResult<Response> {
    session_for(reg, repo, id).await?;
    let slot = reg.uploads.slot(id);
    let _state = slot.lock().await;
    discard(reg, id).await;
    Ok(response(StatusCode::NO_CONTENT, &[("content-length", "0".into())], Body::empty()))
}

/// Closes sessions untouched for longer than the configured expiry.
pub async fn expire(reg: &Registry) -> OciResult<usize> {
    let cutoff = vigil_store::now_ms() - reg.config.upload_expiry.as_millis() as i64;
    let stale = reg.meta.stale_uploads(cutoff).await?;
    for s in &stale {
        discard(reg, &s.id).await;
    }
    Ok(stale.len())
}

fn digest_param(pairs: &[(String, String)]) -> OciResult<Digest> {
    let raw = query_param(pairs, "digest")
        .ok_or_else(|| OciError::new(ErrorCode::DigestInvalid, "the digest query parameter is required"))?;
    raw.parse().map_err(|e: vigil_core::DigestError| OciError::new(ErrorCode::DigestInvalid, e.to_string()))
}

async fn open_session(reg: &Registry, repo: &RepoName, event: Option<Box<dyn JournalEvent>>) -> OciResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    reg.blobs.create_upload(&id).await?;
    let now = vigil_store::now_ms();
    let session = UploadSession { id: id.clone(), repo: repo.clone(), created_at_ms: now, updated_at_ms: now };
    if let Err(e) = reg.commit(Mutation::OpenUpload { session }, event.into_iter().collect()).await {
        let _ = reg.blobs.delete_upload(&id).await;
        return Err(e.into());
    }
    Ok(id)
}

async fn session_for(reg: &Registry, repo: &RepoName, id: &str) -> OciResult<UploadSession> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(upload_unknown(id));
    }
    match reg.meta.upload(id).await? {
        Some(s) if &s.repo == repo => Ok(s),
        _ => Err(upload_unknown(id)),
    }
}

/// Drops a session and its staged bytes; failures are logged, since expiry will try again.
async fn discard(reg: &Registry, id: &str) {
    if let Err(e) = reg.commit(Mutation::CloseUpload { id: id.to_owned() }, Vec::new()).await {
        tracing::warn!(upload = id, error = %e, "could not close upload session");
    }
    if let Err(e) = reg.blobs.delete_upload(id).await {
        tracing::warn!(upload = id, error = %e, "could not delete staged upload");
    }
    reg.uploads.forget(id);
}

/// Parses `Content-Range: <start>-<end>` (also accepting a `bytes ` prefix and a `/total` suffix).
pub fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (b >= a).then_some((a, b))
}

async fn rehash(reg: &Registry, id: &str, algorithm: Algorithm) -> OciResult<HashState> {
    let mut hasher = Hasher::new(algorithm);
    let mut len = 0u64;
    let mut stream = reg.blobs.read_upload(id).await?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        len += chunk.len() as u64;
    }
    Ok(HashState { len, hasher })
}

/// Appends a chunk to an upload, keeping `state` in step. `range` is the `Content-Range` (and `Content-Length`)
/// the client sent, checked against what is stored: an out-of-order chunk is refused with 416.
async fn append(
    reg: &Registry,
    repo: &RepoName,
    id: &str,
    state: &mut Option<HashState>,
    range: Option<(&str, Option<u64>)>,
    body: ByteStream,
) -> OciResult<u64> {
    let current = reg.blobs.upload_len(id).await?.ok_or_else(|| upload_unknown(id))?;
    if let Some((raw, content_length)) = range {
        let in_order = parse_content_range(raw)
            .is_some_and(|(a, b)| a == current && content_length.is_none_or(|n| n == b - a + 1));
        if !in_order {
            return Err(OciError::new(
                ErrorCode::RangeInvalid,
                format!("Content-Range {raw:?} does not continue the upload at byte {current}"),
            )
            .with_header("range", upload_range(current))
            .with_header("location", reg.location(&upload_path(repo, id)))
            .with_header("docker-upload-uuid", id.to_owned()));
        }
    }
    let mut hs = match state.take() {
        Some(hs) if hs.len == current => hs,
        _ => rehash(reg, id, Algorithm::Sha256).await?,
    };
    let limit = reg.config.max_blob_bytes;
    let mut seen = current;
    let body: ByteStream = Box::pin(body.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        match limit {
            Some(max) if seen > max => {
                Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("blob exceeds {max} bytes")))
            }
            _ => Ok(chunk),
        }
    }));
    let mut hasher = hs.hasher.clone();
    match reg.blobs.append_upload(id, body, &mut |bytes| hasher.update(bytes)).await {
        Ok(len) => {
            hs.hasher = hasher;
            hs.len = len;
            *state = Some(hs);
            Ok(len)
        }
        Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
            *state = Some(hs);
            Err(OciError::new(ErrorCode::SizeInvalid, e.to_string()).with_status(StatusCode::PAYLOAD_TOO_LARGE))
        }
        Err(e) if vigil_store::blob::is_storage_full(&e) => {
            *state = Some(hs);
            Err(OciError::storage_full(&e))
        }
        Err(e) => {
            // The store cut the staged bytes back; the untouched state still matches them.
            *state = Some(hs);
            Err(OciError::new(ErrorCode::BlobUploadInvalid, format!("upload interrupted: {e}")))
        }
    }
}

/// Verifies the staged bytes against `expected` and commits the blob. The commit runs in its own task so that a
/// client going away cannot leave it half done.
async fn finish(
    reg: &Registry,
    repo: &RepoName,
    id: &str,
    state: &mut Option<HashState>,
    expected: Digest,
    event: EventDraft,
) -> OciResult<Digest> {
    let current = reg.blobs.upload_len(id).await?.ok_or_else(|| upload_unknown(id))?;
    let actual = match state.as_ref() {
        Some(hs) if hs.len == current && expected.algorithm() == Algorithm::Sha256 => hs.hasher.clone().finish(),
        _ => rehash(reg, id, expected.algorithm()).await?.hasher.finish(),
    };
    if actual != expected {
        return Err(OciError::new(ErrorCode::DigestInvalid, "uploaded content does not match the digest")
            .with_detail(serde_json::json!({ "expected": expected.to_string(), "actual": actual.to_string() })));
    }
    let (reg2, repo2, id2, digest) = (reg.clone(), repo.clone(), id.to_owned(), expected.clone());
    tokio::spawn(async move {
        // Order matters for garbage collection: mark the digest as wanted, move the bytes in, then record the blob.
        reg2.meta.apply(Mutation::FinishingUpload { id: id2.clone(), digest: digest.clone() }, Vec::new()).await?;
        reg2.blobs.commit_upload(&id2, &digest).await?;
        let event = event
            .target(Target::repo(&repo2).digest(&digest).size(current))
            .status(StatusCode::CREATED.as_u16())
            .boxed();
        let blob = BlobInfo { digest, size: current };
        reg2.meta.apply(Mutation::LinkBlob { repo: repo2, blob, upload: Some(id2.clone()) }, vec![event]).await?;
        reg2.uploads.forget(&id2);
        Ok::<_, OciError>(())
    })
    .await
    .map_err(|e| OciError::internal("upload commit task", e))??;
    *state = None;
    Ok(expected)
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_range_forms() {
        use super::parse_content_range as p;
        assert_eq!(p("0-99"), Some((0, 99)));
        assert_eq!(p("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(p("5-4"), None);
        assert_eq!(p("x"), None);
    }
}
