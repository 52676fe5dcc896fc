//! `npm dist-tag ls/add/rm`: `GET -/package/<pkg>/dist-tags`, `PUT` and `DELETE …/dist-tags/<tag>` (the body of
//! a `PUT` is the version as a JSON string).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::Caller;
use vigil_store::{ContentChange, Mutation};

use crate::error::{NpmError, NpmResult};
use crate::reads::load;
use crate::{json, ops, Npm};

pub async fn list(npm: &Npm, repo: &RepoName, name: &str) -> NpmResult<Response> {
    let package = load(npm, repo, name).await?;
    let tags: serde_json::Map<String, Value> =
        package.tags.iter().map(|(t, v)| (t.clone(), Value::String(v.clone()))).collect();
    Ok(json(StatusCode::OK, &Value::Object(tags)))
}

pub async fn set(
    npm: &Npm,
    repo: &RepoName,
    name: &str,
    tag: &str,
    caller: &Caller,
    body: &[u8],
) -> NpmResult<Response> {
    let version: String = serde_json::from_slice(body).map_err(|_| {
        NpmError::bad_request("the body of a dist-tag is the version as a JSON string, such as \"1.0.0\"")
    })?;
    let package = load(npm, repo, name).await?;
    if package.version(&version).is_none() {
        return Err(NpmError::not_found(format!("{name}@{version} is not published in {repo}")));
    }
    let target = Target::repo(repo).package(name, Some(version.clone())).tag(tag);
    let previous = package.tags.iter().find(|(t, _)| t == tag).map(|(_, v)| v.clone());
    if previous.as_deref() != Some(version.as_str()) {
        let mut event = caller.scope.draft(ops::SET_DIST_TAG).target(target.clone()).status(200);
        if let Some(previous) = &previous {
            event = event.detail(format!("moved from {previous}"));
        }
        let change = ContentChange::SetPackageTag {
            repo: repo.clone(),
            package: name.to_owned(),
            tag: tag.to_owned(),
            version: Some(version.clone()),
        };
        vigil_registry::commit(&npm.ingest.meta, Mutation::Content(change), vec![event.boxed()]).await?;
    }
    let mut resp = json(StatusCode::OK, &json!({ "ok": true, "id": name, tag: version }));
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

pub async fn delete(npm: &Npm, repo: &RepoName, name: &str, tag: &str, caller: &Caller) -> NpmResult<Response> {
    if tag == "latest" {
        return Err(NpmError::bad_request("the latest dist-tag cannot be removed; point it at another version"));
    }
    let package = load(npm, repo, name).await?;
    let Some((_, version)) = package.tags.iter().find(|(t, _)| t == tag) else {
        return Err(NpmError::not_found(format!("{name} has no dist-tag {tag}")));
    };
    let target = Target::repo(repo).package(name, Some(version.clone())).tag(tag);
    let event = caller.scope.draft(ops::DELETE_DIST_TAG).target(target.clone()).status(200);
    let change = ContentChange::SetPackageTag {
        repo: repo.clone(),
        package: name.to_owned(),
        tag: tag.to_owned(),
        version: None,
    };
    vigil_registry::commit(&npm.ingest.meta, Mutation::Content(change), vec![event.boxed()]).await?;
    let mut resp = json(StatusCode::OK, &json!({ "ok": true, "id": name }));
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}
