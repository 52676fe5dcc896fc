//! `PUT <pkg>`: `npm publish` (one new version with its tarball as a base64 attachment) or, without an
//! attachment, a packument written back by `npm deprecate` (only the versions' `deprecated` messages change).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::Caller;
use vigil_registry::ingest::Also;
use vigil_registry::packages::Publication;
use vigil_store::{ContentChange, Mutation, PackageVersion};

use crate::error::{NpmError, NpmResult};
use crate::packument::{tarball_file, tarball_path, Package};
use crate::{json, ops, route, Npm};

const TARBALL_MEDIA_TYPE: &str = "application/octet-stream";
/// Longest deprecation message kept.
const MAX_DEPRECATION: usize = 1024;

/// The parts of a `PUT <pkg>` body vigil reads.
#[derive(Deserialize)]
pub(crate) struct PutBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "_rev")]
    pub rev: Option<String>,
    #[serde(default, rename = "dist-tags")]
    pub dist_tags: BTreeMap<String, String>,
    #[serde(default)]
    pub versions: Map<String, Value>,
    #[serde(default, rename = "_attachments")]
    pub attachments: BTreeMap<String, Attachment>,
    #[serde(default)]
    pub readme: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Attachment {
    pub data: String,
    #[serde(default)]
    pub length: Option<u64>,
}

pub(crate) fn parse_body(body: &[u8], name: &str) -> NpmResult<PutBody> {
    vigil_core::json_depth::check(body).map_err(NpmError::bad_request)?;
    let parsed: PutBody = serde_json::from_slice(body)
        .map_err(|e| NpmError::bad_request(format!("the package document is not valid: {e}")))?;
    if let Some(claimed) = &parsed.name {
        if claimed != name {
            return Err(NpmError::bad_request(format!("the document names {claimed:?} but was sent to {name:?}")));
        }
    }
    Ok(parsed)
}

/// A version string npm accepts (semver 2.0; a leading `v` or `=` is not stored).
fn check_version(version: &str) -> NpmResult<()> {
    semver::Version::parse(version)
        .map(drop)
        .map_err(|e| NpmError::bad_request(format!("invalid version {version:?}: {e}")))
}

pub async fn put(npm: &Npm, repo: &RepoName, name: &str, caller: &Caller, body: &[u8]) -> NpmResult<Response> {
    let doc = parse_body(body, name)?;
    if doc.attachments.is_empty() {
        return deprecate(npm, repo, name, caller, doc).await;
    }
    publish(npm, repo, name, caller, doc).await
}

/// What the manifest says the tarball is: `dist.integrity` (`sha512-<base64>`) and `dist.shasum` (SHA-1 hex).
fn claimed_sums(manifest: &Value) -> NpmResult<(Option<String>, Option<String>)> {
    let dist = manifest.get("dist");
    let integrity = dist.and_then(|d| d.get("integrity")).and_then(Value::as_str);
    let sha512 = match integrity {
        None => None,
        Some(sri) => {
            // Subresource integrity: space-separated `alg-base64` items; sha512 is what npm sends.
            let item = sri.split_whitespace().find_map(|i| i.strip_prefix("sha512-")).ok_or_else(|| {
                NpmError::bad_request(format!("dist.integrity {sri:?} has no sha512 hash; npm sends sha512-<base64>"))
            })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(item)
                .ok()
                .filter(|b| b.len() == 64)
                .ok_or_else(|| NpmError::bad_request(format!("dist.integrity {sri:?} is not a sha512 hash")))?;
            Some(hex::encode(bytes))
        }
    };
    let sha1 = dist.and_then(|d| d.get("shasum")).and_then(Value::as_str).map(str::to_ascii_lowercase);
    if sha512.is_none() && sha1.is_none() {
        return Err(NpmError::bad_request(
            "the manifest has neither dist.integrity nor dist.shasum, so the tarball cannot be checked",
        ));
    }
    Ok((sha512, sha1))
}

async fn publish(npm: &Npm, repo: &RepoName, name: &str, caller: &Caller, doc: PutBody) -> NpmResult<Response> {
    let (version, mut manifest) = match (doc.versions.len(), doc.versions.into_iter().next()) {
        (1, Some(one)) => one,
        (n, _) => return Err(NpmError::bad_request(format!("a publish carries exactly one version, not {n}"))),
    };
    check_version(&version)?;
    if manifest.get("version").and_then(Value::as_str) != Some(version.as_str()) {
        return Err(NpmError::bad_request(format!("the manifest of {version} names another version")));
    }
    if manifest.get("name").and_then(Value::as_str) != Some(name) {
        return Err(NpmError::bad_request(format!("the manifest of {version} names another package than {name}")));
    }
    if doc.attachments.len() != 1 {
        return Err(NpmError::bad_request(format!(
            "a publish carries exactly one tarball, not {}",
            doc.attachments.len()
        )));
    }
    let file = tarball_file(name, &version);
    let (key, attachment) = doc.attachments.into_iter().next().expect("one attachment");
    // npm names the attachment after the full name (`@acme/ui-1.0.0.tgz`); the stored file is the unscoped name.
    if key != format!("{name}-{version}.tgz") && key != file {
        return Err(NpmError::bad_request(format!("the attachment {key:?} is not the tarball of {name}@{version}")));
    }
    for (tag, target) in &doc.dist_tags {
        route::validate_tag(tag)?;
        if *target != version {
            return Err(NpmError::bad_request(format!(
                "the dist-tag {tag} names {target}, but this publish is {version}; use npm dist-tag for other versions"
            )));
        }
    }
    let (sha512, sha1) = claimed_sums(&manifest)?;
    // Refused before the tarball is decoded and stored (the commit checks again, for a race).
    if npm.content.versions(repo, name).await?.iter().any(|v| v.version == version) {
        return Err(NpmError::conflict(format!(
            "cannot publish over the previously published version {name}@{version}"
        )));
    }
    let tarball = base64::engine::general_purpose::STANDARD
        .decode(attachment.data.as_bytes())
        .map_err(|e| NpmError::bad_request(format!("the tarball attachment is not valid base64: {e}")))?;
    if let Some(length) = attachment.length.filter(|l| *l != tarball.len() as u64) {
        return Err(NpmError::bad_request(format!(
            "the tarball attachment says it has {length} bytes but holds {}",
            tarball.len()
        )));
    }
    let received =
        npm.ingest.receive_bytes(repo, tarball.into(), Also { sha512: true, sha1: true, ..Default::default() }).await?;
    let mismatch = |what: &str, claimed: &str, actual: &str| {
        NpmError::bad_request(format!(
            "the tarball does not match {what}: the manifest says {claimed}, the tarball is {actual}"
        ))
    };
    let actual_sha512 = received.sha512.as_ref().map(|d| d.hex().to_owned()).unwrap_or_default();
    let actual_sha1 = received.sums.sha1.clone().unwrap_or_default();
    let check = match (&sha512, &sha1) {
        (Some(c), _) if *c != actual_sha512 => Err(mismatch("dist.integrity", c, &actual_sha512)),
        (_, Some(c)) if *c != actual_sha1 => Err(mismatch("dist.shasum", c, &actual_sha1)),
        _ => Ok(()),
    };
    if let Err(e) = check {
        npm.ingest.discard(received).await;
        return Err(e);
    }
    if let (Some(readme), Some(obj)) = (doc.readme, manifest.as_object_mut()) {
        obj.entry("readme").or_insert(Value::String(readme));
    }
    let path = tarball_path(name, &file);
    let (digest, size) = (received.digest.clone(), received.size);
    let target = Target::repo(repo)
        .package(name, Some(version.clone()))
        .path(path.clone())
        .digest(&digest)
        .size(size)
        .media_type(TARBALL_MEDIA_TYPE);
    let event = caller.scope.draft(ops::PUT_PACKAGE).target(target.clone()).status(201).detail(digest.to_string());
    let publication = Publication {
        repo: repo.clone(),
        version: PackageVersion {
            package: name.to_owned(),
            version: version.clone(),
            metadata: manifest.to_string(),
            created_at_ms: 0,
        },
        new_version: true,
        path,
        media_type: TARBALL_MEDIA_TYPE.to_owned(),
        tags: doc.dist_tags.into_keys().collect(),
    };
    vigil_registry::packages::publish(&npm.ingest, received, publication, vec![event.boxed()]).await.map_err(|e| {
        match e {
            vigil_registry::ingest::IngestError::Store(vigil_store::StoreError::Conflict(_)) => {
                NpmError::conflict(format!("cannot publish over the previously published version {name}@{version}"))
            }
            e => e.into(),
        }
    })?;
    let mut resp = json(StatusCode::CREATED, &json!({ "ok": true, "id": name, "version": version }));
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

/// The deprecation message a manifest carries (`""` and absence both mean none).
fn deprecation(manifest: &Value) -> Option<&str> {
    manifest.get("deprecated").and_then(Value::as_str).filter(|m| !m.is_empty())
}

async fn deprecate(npm: &Npm, repo: &RepoName, name: &str, caller: &Caller, doc: PutBody) -> NpmResult<Response> {
    let package = crate::reads::load(npm, repo, name).await?;
    if let Some(rev) = doc.rev.as_deref().filter(|r| *r != package.rev()) {
        return Err(stale(name, rev));
    }
    let mut changes = Vec::new();
    let mut events = Vec::new();
    for (version, sent) in &doc.versions {
        let stored = package.version(version).ok_or_else(|| {
            NpmError::bad_request(format!("{name}@{version} is not published; publish it with its tarball"))
        })?;
        let mut manifest: Value = serde_json::from_str(&stored.metadata).unwrap_or_else(|_| json!({}));
        let wanted = deprecation(sent);
        if wanted == deprecation(&manifest) {
            continue;
        }
        if wanted.is_some_and(|m| m.len() > MAX_DEPRECATION) {
            return Err(NpmError::bad_request(format!("a deprecation message is at most {MAX_DEPRECATION} bytes")));
        }
        let Some(obj) = manifest.as_object_mut() else { continue };
        let kind = match wanted {
            Some(message) => {
                obj.insert("deprecated".into(), json!(message));
                "deprecate_version"
            }
            None => {
                obj.remove("deprecated");
                "undeprecate_version"
            }
        };
        let target = Target::repo(repo).package(name, Some(version.clone()));
        let mut event = caller.scope.draft(ops::PUT_PACKAGE).action("deprecate").kind(kind).target(target).status(200);
        if let Some(message) = wanted {
            event = event.detail(message.to_owned());
        }
        events.push(event.boxed());
        let version = PackageVersion { metadata: manifest.to_string(), ..stored.clone() };
        changes.push(ContentChange::PutVersion { repo: repo.clone(), version, create_only: false });
    }
    let changed = changes.len();
    if changed > 0 {
        vigil_registry::commit(&npm.ingest.meta, Mutation::Content(ContentChange::All(changes)), events).await?;
    }
    let mut resp = json(StatusCode::OK, &json!({ "ok": true, "id": name, "changed": changed }));
    resp.extensions_mut().insert(AuditTarget(Target::repo(repo).package(name, None)));
    Ok(resp)
}

/// 409: the client wrote back a packument older than the current one.
pub(crate) fn stale(name: &str, rev: &str) -> NpmError {
    NpmError::conflict(format!("{name} changed since revision {rev} was read; fetch it again and retry"))
}

/// Used by `Package` users that need the revision check without a body.
pub(crate) fn check_rev(package: &Package, rev: &str) -> NpmResult<()> {
    if package.rev() == rev {
        Ok(())
    } else {
        Err(stale(&package.name, rev))
    }
}
