//! Yanking (PEP 592): a yanked release stays downloadable and installable by an exact pin (`==1.0.0`), but pip
//! no longer picks it for a range. `POST -/yank/<project>/<version>` with an optional `{"reason": "…"}` yanks,
//! `DELETE` takes it back; both need the admin role (or a token's `delete` scope), like every removal. `vigil pypi yank` does the same
//! from the command line.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use vigil_audit::{AuditTarget, EventDraft, Target};
use vigil_core::RepoName;
use vigil_http::util::response;
use vigil_http::Caller;
use vigil_store::{ContentChange, ContentStore, MetadataStore, Mutation, PackageVersion};

use crate::error::{PypiError, PypiResult};
use crate::release::ReleaseMeta;
use crate::{ops, Pypi};

const MAX_REASON: usize = 1024;

#[derive(Deserialize)]
struct YankBody {
    #[serde(default)]
    reason: Option<String>,
}

pub async fn set(
    pypi: &Pypi,
    repo: &RepoName,
    project: &str,
    version: &str,
    yanked: bool,
    caller: &Caller,
    body: &Bytes,
) -> PypiResult<Response> {
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: YankBody = serde_json::from_slice(body)
            .map_err(|e| PypiError::bad_request(format!("the body is {{\"reason\": text}} or empty: {e}")))?;
        parsed.reason
    };
    let op = if yanked { ops::YANK } else { ops::UNYANK };
    let event = caller.scope.draft(op).status(200);
    let state = apply(&pypi.content, &pypi.ingest.meta, repo, project, version, yanked, reason, event).await?;
    let target = Target::repo(repo).package(project, Some(version.to_owned()));
    let body =
        serde_json::json!({ "project": project, "version": version, "yanked": yanked, "reason": state.yanked_reason });
    let mut resp =
        response(StatusCode::OK, &[("content-type", "application/json".to_owned())], Body::from(body.to_string()));
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

/// Yanks (or restores) `project` `version` of `repo` (normal forms), recording `event` (its target and detail
/// are set here) with the change; nothing is written when the release is already in that state. Shared by the
/// HTTP endpoint and `vigil pypi yank`. Returns the release's metadata as it now is.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    content: &Arc<dyn ContentStore>,
    meta: &Arc<dyn MetadataStore>,
    repo: &RepoName,
    project: &str,
    version: &str,
    yanked: bool,
    reason: Option<String>,
    event: EventDraft,
) -> PypiResult<ReleaseMeta> {
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.len() > MAX_REASON) {
        return Err(PypiError::bad_request(format!("a yank reason is at most {MAX_REASON} bytes")));
    }
    let current = content.versions(repo, project).await?.into_iter().find(|v| v.version == version);
    let current = current.ok_or_else(|| PypiError::not_found(format!("{project} {version} is not in {repo}")))?;
    let mut release = ReleaseMeta::parse(&current);
    if release.yanked == yanked && (!yanked || release.yanked_reason == reason) {
        return Ok(release);
    }
    release.yanked = yanked;
    release.yanked_reason = if yanked { reason.clone() } else { None };
    let metadata = serde_json::to_string(&release)
        .map_err(|e| PypiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let change = ContentChange::PutVersion {
        repo: repo.clone(),
        version: PackageVersion { metadata, ..current },
        create_only: false,
    };
    let mut event = event.target(Target::repo(repo).package(project, Some(version.to_owned())));
    if let Some(reason) = &reason {
        event = event.detail(reason.clone());
    }
    vigil_registry::commit(meta, Mutation::Content(change), vec![event.boxed()]).await?;
    Ok(release)
}
