//! `cargo publish`: `PUT api/v1/crates/new` with cargo's frame — a little-endian u32 length, the metadata JSON,
//! a u32 length, the `.crate` file. The metadata is checked first (name, version, dependencies, features); the
//! file then streams to staging while it is hashed and its tarball checked, and is stored with the version's
//! index line in one commit. Dependencies from this registry must be in it; a version is published once.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt};
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::util::body_stream;
use vigil_http::Caller;
use vigil_registry::ingest::{Also, IngestError};
use vigil_registry::packages::Publication;
use vigil_store::{PackageVersion, StoreError};

use crate::error::{CargoError, CargoResult};
use crate::model::{crate_path, split_features, IndexDep, IndexLine, PublishMeta, Stored};
use crate::{crate_file, json_response, names, ops, Cargo};

/// The metadata JSON of a publish is at most this (it carries the README).
const MAX_METADATA: u32 = 16 * 1024 * 1024;
const MAX_DEPS: usize = 1000;
const MAX_FEATURES: usize = 1000;
const DEP_KINDS: &[&str] = &["normal", "dev", "build"];

fn bad(message: impl Into<String>) -> CargoError {
    CargoError::bad_request(message)
}

async fn read_u32(reader: &mut (impl AsyncRead + Unpin), what: &str) -> CargoResult<u32> {
    reader.read_u32_le().await.map_err(|_| bad(format!("the publish body ends before the {what} length")))
}

/// The metadata's dependencies as index entries, each checked.
pub(crate) fn index_deps(meta: &PublishMeta) -> CargoResult<Vec<IndexDep>> {
    if meta.deps.len() > MAX_DEPS {
        return Err(bad(format!("a crate has at most {MAX_DEPS} dependencies")));
    }
    let mut deps = Vec::with_capacity(meta.deps.len());
    for dep in &meta.deps {
        names::valid_name(&dep.name).map_err(|e| bad(format!("dependency: {e}")))?;
        semver::VersionReq::parse(&dep.version_req).map_err(|e| {
            bad(format!("dependency {} has an invalid version requirement {:?}: {e}", dep.name, dep.version_req))
        })?;
        if !DEP_KINDS.contains(&dep.kind.as_str()) {
            return Err(bad(format!("dependency {} has an unknown kind {:?}", dep.name, dep.kind)));
        }
        if let Some(alias) = &dep.explicit_name_in_toml {
            names::valid_name(alias).map_err(|e| bad(format!("dependency alias: {e}")))?;
        }
        // The index names a dependency by what the crate calls it; `package` says what it really is.
        let (name, package) = match &dep.explicit_name_in_toml {
            Some(alias) => (alias.clone(), Some(dep.name.clone())),
            None => (dep.name.clone(), None),
        };
        deps.push(IndexDep {
            name,
            req: dep.version_req.clone(),
            features: dep.features.clone(),
            optional: dep.optional,
            default_features: dep.default_features,
            target: dep.target.clone(),
            kind: dep.kind.clone(),
            registry: dep.registry.clone(),
            package,
        });
    }
    Ok(deps)
}

/// The metadata as sent, checked on its own: bounded, well-formed, a valid name and version.
pub(crate) fn parse_meta(json: &[u8]) -> CargoResult<(PublishMeta, semver::Version)> {
    vigil_core::json_depth::check(json).map_err(bad)?;
    let meta: PublishMeta =
        serde_json::from_slice(json).map_err(|e| bad(format!("the publish metadata is not valid: {e}")))?;
    names::valid_name(&meta.name).map_err(bad)?;
    let version =
        semver::Version::parse(&meta.vers).map_err(|e| bad(format!("invalid version {:?}: {e}", meta.vers)))?;
    if meta.features.len() > MAX_FEATURES {
        return Err(bad(format!("a crate has at most {MAX_FEATURES} features")));
    }
    Ok((meta, version))
}

/// The metadata, checked against what this registry holds.
async fn checked_meta(cargo: &Cargo, repo: &RepoName, json: &[u8]) -> CargoResult<(PublishMeta, semver::Version)> {
    let (meta, version) = parse_meta(json)?;
    let existing = cargo.content.versions(repo, &names::key(&meta.name)).await?;
    if let Some(other) = existing.iter().filter_map(Stored::parse).map(|s| s.line.name).find(|n| *n != meta.name) {
        return Err(bad(format!("the crate {other} exists in {repo}; {} is the same name", meta.name)));
    }
    let same = |v: &PackageVersion| {
        semver::Version::parse(&v.version).is_ok_and(|v| {
            (&v.major, &v.minor, &v.patch, &v.pre) == (&version.major, &version.minor, &version.patch, &version.pre)
        })
    };
    if let Some(v) = existing.iter().find(|v| same(v)) {
        return Err(CargoError::conflict(format!("crate version {} {} is already uploaded", meta.name, v.version)));
    }
    for dep in meta.deps.iter().filter(|d| d.registry.is_none()) {
        if cargo.content.versions(repo, &names::key(&dep.name)).await?.is_empty() {
            return Err(bad(format!(
                "the dependency {} is not in {repo}; publish it here first, or name the registry it comes from",
                dep.name
            )));
        }
    }
    Ok((meta, version))
}

pub async fn publish(cargo: &Cargo, repo: &RepoName, caller: &Caller, body: Body) -> CargoResult<Response> {
    let mut reader = tokio_util::io::StreamReader::new(body_stream(body));
    let json_len = read_u32(&mut reader, "metadata").await?;
    if json_len > MAX_METADATA {
        return Err(CargoError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the publish metadata exceeds the limit of {MAX_METADATA} bytes"),
        ));
    }
    let mut json = vec![0; json_len as usize];
    reader.read_exact(&mut json).await.map_err(|_| bad("the publish body ends inside the metadata"))?;
    let (meta, version) = checked_meta(cargo, repo, &json).await?;
    let deps = index_deps(&meta)?;
    let crate_len = read_u32(&mut reader, ".crate file").await?;
    if let Some(max) = cargo.ingest.max_bytes.filter(|max| u64::from(crate_len) > *max) {
        return Err(IngestError::TooLarge(max).into());
    }

    let file = tokio_util::io::ReaderStream::new(reader.take(u64::from(crate_len)));
    let (stream, check) = crate_file::inspect(Box::pin(file), &meta.name, &meta.vers);
    let received = cargo.ingest.receive(repo, stream, Also::default()).await?;
    let inspected = check.await.unwrap_or_else(|e| Err(format!("checking the .crate file failed: {e}")));
    if let Err(problem) = inspected.and_then(|()| match received.size == u64::from(crate_len) {
        true => Ok(()),
        false => Err(format!("the publish body ends after {} of the .crate file's {crate_len} bytes", received.size)),
    }) {
        cargo.ingest.discard(received).await;
        return Err(bad(problem));
    }

    let (features, features2) = split_features(meta.features);
    let line = IndexLine {
        name: meta.name.clone(),
        vers: version.to_string(),
        deps,
        cksum: received.digest.hex().to_owned(),
        v: if features2.is_some() { 2 } else { 1 },
        features,
        features2,
        yanked: false,
        links: meta.links,
        rust_version: meta.rust_version,
    };
    let stored = Stored {
        line,
        publisher: caller.principal.name.clone(),
        description: meta.description.unwrap_or_default().chars().take(1024).collect(),
    };
    let key = names::key(&meta.name);
    let path = crate_path(&key, &meta.name, &stored.line.vers);
    let target = Target::repo(repo)
        .package(key.clone(), Some(stored.line.vers.clone()))
        .path(path.clone())
        .digest(&received.digest)
        .size(received.size)
        .media_type("application/gzip");
    let event = caller.scope.draft(ops::PUBLISH).target(target.clone()).status(200).detail(received.digest.to_string());
    let metadata = serde_json::to_string(&stored)
        .map_err(|e| CargoError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let publication = Publication {
        repo: repo.clone(),
        version: PackageVersion { package: key, version: stored.line.vers.clone(), metadata, created_at_ms: 0 },
        new_version: true,
        path,
        media_type: "application/gzip".to_owned(),
        tags: Vec::new(),
    };
    vigil_registry::packages::publish(&cargo.ingest, received, publication, vec![event.boxed()]).await.map_err(
        |e| match e {
            IngestError::Store(StoreError::Conflict(_)) => CargoError::conflict(format!(
                "crate version {} {} is already uploaded",
                stored.line.name, stored.line.vers
            )),
            e => e.into(),
        },
    )?;
    let warnings = json!({ "warnings": { "invalid_categories": [], "invalid_badges": [], "other": [] } });
    let mut resp = json_response(StatusCode::OK, &warnings);
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}
