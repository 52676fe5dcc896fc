//! The web API besides publishing: downloads, `cargo yank` / `--undo`, `cargo owner --list` and `cargo search`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::Caller;
use vigil_store::{ContentChange, Mutation, PackageVersion};

use crate::error::{CargoError, CargoResult};
use crate::model::{crate_path, Stored};
use crate::{json_response, names, ops, Cargo};

/// The version `name` `version` as stored, with its parsed metadata.
async fn stored(cargo: &Cargo, repo: &RepoName, name: &str, version: &str) -> CargoResult<(PackageVersion, Stored)> {
    let missing = || CargoError::not_found(format!("crate {name} {version} is not in {repo}"));
    let versions = cargo.content.versions(repo, &names::key(name)).await?;
    let found = versions.into_iter().find(|v| v.version == version).ok_or_else(missing)?;
    let meta = Stored::parse(&found).filter(|s| s.line.name.eq_ignore_ascii_case(name)).ok_or_else(missing)?;
    Ok((found, meta))
}

pub async fn download(cargo: &Cargo, repo: &RepoName, name: &str, version: &str, head: bool) -> CargoResult<Response> {
    let (_, meta) = stored(cargo, repo, name, version).await?;
    let path = crate_path(&names::key(name), &meta.line.name, version);
    let asset = cargo
        .content
        .asset(repo, &path)
        .await?
        .ok_or_else(|| CargoError::not_found(format!("{path} is not in {repo}")))?;
    Ok(vigil_http::download::asset(&cargo.ingest.blobs, repo, asset, head).await?)
}

/// `cargo yank` (`yanked`) and `cargo yank --undo`: the index line's `yanked` changes, nothing is removed.
pub async fn yank(
    cargo: &Cargo,
    repo: &RepoName,
    name: &str,
    version: &str,
    yanked: bool,
    caller: &Caller,
) -> CargoResult<Response> {
    let (current, mut meta) = stored(cargo, repo, name, version).await?;
    let target = Target::repo(repo).package(names::key(name), Some(version.to_owned()));
    if meta.line.yanked != yanked {
        meta.line.yanked = yanked;
        let metadata = serde_json::to_string(&meta)
            .map_err(|e| CargoError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let change = ContentChange::PutVersion {
            repo: repo.clone(),
            version: PackageVersion { metadata, ..current },
            create_only: false,
        };
        let op = if yanked { ops::YANK } else { ops::UNYANK };
        let event = caller.scope.draft(op).target(target.clone()).status(200);
        vigil_registry::commit(&cargo.ingest.meta, Mutation::Content(change), vec![event.boxed()]).await?;
    }
    let mut resp = json_response(StatusCode::OK, &json!({ "ok": true }));
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

/// `cargo owner --list`: the account that published the crate's first version. Who may publish is decided by
/// the repository's grants, not by owners, so adding or removing owners is refused with that explanation.
pub async fn owners(cargo: &Cargo, repo: &RepoName, name: &str) -> CargoResult<Response> {
    let versions = cargo.content.versions(repo, &names::key(name)).await?;
    let first = versions.iter().filter_map(Stored::parse).find(|s| s.line.name.eq_ignore_ascii_case(name));
    let first = first.ok_or_else(|| CargoError::not_found(format!("no crate {name} in {repo}")))?;
    let users = json!({ "users": [{ "id": 1, "login": first.publisher, "name": first.publisher }] });
    let mut resp = json_response(StatusCode::OK, &users);
    resp.extensions_mut().insert(AuditTarget(Target::repo(repo).package(names::key(name), None)));
    Ok(resp)
}

pub fn change_owners(repo: &RepoName) -> CargoError {
    CargoError::bad_request(format!(
        "owners are not kept per crate: who may publish to {repo} is its grants (vigil grant {repo} USER --role write)"
    ))
}

/// `cargo search`: crates whose name contains the query, with their newest version that is not yanked.
pub async fn search(cargo: &Cargo, repo: &RepoName, query: &str, per_page: usize) -> CargoResult<Response> {
    let containing = (!query.is_empty()).then(|| names::key(query));
    let keys = cargo.content.packages(repo, containing.as_deref(), None, per_page + 1).await?;
    let more = keys.len() > per_page;
    let mut crates = Vec::new();
    for key in keys.iter().take(per_page) {
        let versions: Vec<Stored> = cargo.content.versions(repo, key).await?.iter().filter_map(Stored::parse).collect();
        let newest = versions
            .iter()
            .filter(|s| !s.line.yanked)
            .max_by(|a, b| semver::Version::parse(&a.line.vers).ok().cmp(&semver::Version::parse(&b.line.vers).ok()));
        if let Some(newest) = newest {
            crates.push(
                json!({ "name": newest.line.name, "max_version": newest.line.vers, "description": newest.description }),
            );
        }
    }
    // The total is what this page holds, plus one when more matched (an exact count would read every crate).
    let total = crates.len() + usize::from(more);
    Ok(json_response(StatusCode::OK, &json!({ "crates": crates, "meta": { "total": total } })))
}
