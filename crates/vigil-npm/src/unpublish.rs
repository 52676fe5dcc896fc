//! `npm unpublish`: of some versions (the packument written back without them, at the revision it was read),
//! of the whole package, and the follow-up delete of a removed version's tarball. Removing a version takes its
//! tarball and the dist-tags naming it in the same commit.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::Caller;
use vigil_store::{ContentChange, JournalEvent, Mutation};

use crate::error::{NpmError, NpmResult};
use crate::packument::{tarball_file, tarball_path, Package};
use crate::publish::{check_rev, parse_body};
use crate::reads::load;
use crate::{json, ops, route, Npm};

/// The event of one version removed, with its tarball's digest as NORA's detail.
async fn removal_event(
    npm: &Npm,
    repo: &RepoName,
    package: &Package,
    version: &str,
    caller: &Caller,
    op: vigil_core::Operation,
) -> NpmResult<Box<dyn JournalEvent>> {
    let path = tarball_path(&package.name, &tarball_file(&package.name, version));
    let mut target = Target::repo(repo).package(package.name.clone(), Some(version.to_owned())).path(path.clone());
    let mut event = caller.scope.draft(op).status(200);
    if let Some(asset) = npm.content.asset(repo, &path).await? {
        target = target.digest(&asset.digest).size(asset.size);
        event = event.detail(asset.digest.to_string());
    }
    Ok(event.target(target).boxed())
}

/// `PUT <pkg>/-rev/<rev>`: the versions missing from the body are removed, and the body's dist-tags applied.
pub async fn versions(
    npm: &Npm,
    repo: &RepoName,
    name: &str,
    rev: &str,
    caller: &Caller,
    body: &[u8],
) -> NpmResult<Response> {
    let package = load(npm, repo, name).await?;
    check_rev(&package, rev)?;
    let doc = parse_body(body, name)?;
    if let Some(unknown) = doc.versions.keys().find(|v| package.version(v).is_none()) {
        return Err(NpmError::bad_request(format!("{name}@{unknown} is not published; publish it with npm publish")));
    }
    let removed: Vec<&str> =
        package.versions.iter().map(|v| v.version.as_str()).filter(|v| !doc.versions.contains_key(*v)).collect();
    if removed.len() == package.versions.len() {
        return whole_package(npm, repo, &package, caller, ops::UNPUBLISH_VERSIONS).await;
    }
    let mut changes = Vec::new();
    let mut events = Vec::new();
    for version in &removed {
        events.push(removal_event(npm, repo, &package, version, caller, ops::UNPUBLISH_VERSIONS).await?);
        changes.push(ContentChange::DeleteVersion {
            repo: repo.clone(),
            package: name.to_owned(),
            version: (*version).to_owned(),
        });
    }
    // Tags after the removal: those naming a removed version are gone with it; the body says the rest.
    for (tag, current) in &package.tags {
        if removed.contains(&current.as_str()) || doc.dist_tags.contains_key(tag) {
            continue;
        }
        let target = Target::repo(repo).package(name, Some(current.clone())).tag(tag);
        events.push(caller.scope.draft(ops::DELETE_DIST_TAG).target(target).status(200).boxed());
        let change = ContentChange::SetPackageTag {
            repo: repo.clone(),
            package: name.to_owned(),
            tag: tag.clone(),
            version: None,
        };
        changes.push(change);
    }
    for (tag, version) in &doc.dist_tags {
        if package.tags.iter().any(|(t, v)| t == tag && v == version) {
            continue;
        }
        route::validate_tag(tag)?;
        if removed.contains(&version.as_str()) || package.version(version).is_none() {
            return Err(NpmError::bad_request(format!("the dist-tag {tag} names {version}, which is not published")));
        }
        let target = Target::repo(repo).package(name, Some(version.clone())).tag(tag);
        events.push(caller.scope.draft(ops::SET_DIST_TAG).target(target).status(200).boxed());
        changes.push(ContentChange::SetPackageTag {
            repo: repo.clone(),
            package: name.to_owned(),
            tag: tag.clone(),
            version: Some(version.clone()),
        });
    }
    if !changes.is_empty() {
        vigil_registry::commit(&npm.ingest.meta, Mutation::Content(ContentChange::All(changes)), events).await?;
    }
    let mut resp = json(StatusCode::OK, &json!({ "ok": true, "id": name, "removed": removed }));
    resp.extensions_mut().insert(AuditTarget(Target::repo(repo).package(name, None)));
    Ok(resp)
}

/// `DELETE <pkg>/-rev/<rev>`.
pub async fn package(npm: &Npm, repo: &RepoName, name: &str, rev: &str, caller: &Caller) -> NpmResult<Response> {
    let package = load(npm, repo, name).await?;
    check_rev(&package, rev)?;
    whole_package(npm, repo, &package, caller, ops::UNPUBLISH_PACKAGE).await
}

/// Removes every version: one event per version (each with its tarball's digest), one commit.
async fn whole_package(
    npm: &Npm,
    repo: &RepoName,
    package: &Package,
    caller: &Caller,
    op: vigil_core::Operation,
) -> NpmResult<Response> {
    let mut events = Vec::new();
    for v in &package.versions {
        events.push(removal_event(npm, repo, package, &v.version, caller, op).await?);
    }
    let change = ContentChange::DeletePackage { repo: repo.clone(), package: package.name.clone() };
    vigil_registry::commit(&npm.ingest.meta, Mutation::Content(change), events).await?;
    let removed: Vec<&str> = package.versions.iter().map(|v| v.version.as_str()).collect();
    let mut resp = json(StatusCode::OK, &json!({ "ok": true, "id": package.name, "removed": removed }));
    resp.extensions_mut().insert(AuditTarget(Target::repo(repo).package(package.name.clone(), None)));
    Ok(resp)
}

/// `DELETE <pkg>/-/<file>/-rev/<rev>`: npm's last step of unpublishing a version, whose tarball went with it
/// (200, nothing to do). A tarball whose version is still published is removed with its version: an npm
/// version without its tarball cannot be installed.
pub async fn tarball(npm: &Npm, repo: &RepoName, name: &str, file: &str, caller: &Caller) -> NpmResult<Response> {
    let path = tarball_path(name, file);
    let Some(asset) = npm.content.asset(repo, &path).await? else {
        return Ok(json(StatusCode::OK, &json!({ "ok": true, "id": name, "removed": [] })));
    };
    let Some(version) = asset.version.clone() else {
        return Err(NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{path} belongs to no version")));
    };
    let package = load(npm, repo, name).await?;
    let event = removal_event(npm, repo, &package, &version, caller, ops::DELETE_TARBALL).await?;
    let change =
        ContentChange::DeleteVersion { repo: repo.clone(), package: name.to_owned(), version: version.clone() };
    vigil_registry::commit(&npm.ingest.meta, Mutation::Content(change), vec![event]).await?;
    let mut resp = json(StatusCode::OK, &json!({ "ok": true, "id": name, "removed": [version] }));
    let target = Target::repo(repo).package(name, asset.version).path(path).digest(&asset.digest);
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}
