//! Files of versions: deploys (streamed and hashed, POMs checked, a release never replaced unless the repository
//! allows it), downloads, checksums (served from what was computed at deploy; an uploaded checksum must match
//! the stored file), and an administrator's delete.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::util::{body_stream, header_str, read_limited, response};
use vigil_http::Caller;
use vigil_registry::ingest::{Also, Received};
use vigil_store::{Asset, ContentChange, Expect, Mutation, PackageVersion, RepositoryInfo};

use crate::error::{MavenError, MavenResult};
use crate::metadata::{self, Sums, VersionMeta};
use crate::route::{snapshot_stamp, Algo, Coords};
use crate::{ops, Maven};

/// A POM is read whole (to check it), so it is at most this.
const MAX_POM: usize = 16 * 1024 * 1024;
/// An uploaded checksum file is at most this.
const MAX_CHECKSUM: usize = 1024;

fn target(repo: &RepoName, coords: &Coords, path: &str) -> Target {
    Target::repo(repo).package(coords.package(), Some(coords.version.clone())).path(path)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("pom" | "xml") => "application/xml",
        Some("jar" | "war" | "ear" | "aar" | "zip") => "application/java-archive",
        Some("asc") => "application/pgp-signature",
        Some("json" | "module") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The checksum headers some clients send with a file (`X-Checksum-Sha1` …), each compared with the file.
fn check_headers(headers: &HeaderMap, received: &Received) -> MavenResult<()> {
    let sums = [
        ("x-checksum-sha1", received.sums.sha1.clone()),
        ("x-checksum-md5", received.sums.md5.clone()),
        ("x-checksum-sha256", Some(received.digest.hex().to_owned())),
        ("x-checksum-sha512", received.sha512.as_ref().map(|d| d.hex().to_owned())),
    ];
    for (header, actual) in sums {
        if let Some(claimed) = header_str(headers, header) {
            let actual = actual.unwrap_or_default();
            if !claimed.trim().eq_ignore_ascii_case(&actual) {
                return Err(MavenError::bad_request(format!(
                    "checksum mismatch: {header} says {claimed}, the file is {actual}"
                )));
            }
        }
    }
    Ok(())
}

/// Deploys a file into `info`'s repository (as the dispatch looked it up).
pub async fn put(
    maven: &Maven,
    info: &RepositoryInfo,
    coords: &Coords,
    path: &str,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> MavenResult<Response> {
    let repo = &info.name;
    let existing = maven.content.asset(repo, path).await?;
    let also = Also { sha512: true, sha1: true, md5: true, ..Default::default() };
    let received = if path.ends_with(".pom") {
        let pom = read_limited(body, MAX_POM).await?;
        metadata::check_pom(&pom, coords).map_err(|e| MavenError::bad_request(format!("invalid POM: {e}")))?;
        maven.ingest.receive_bytes(repo, pom, also).await?
    } else {
        maven.ingest.receive(repo, body_stream(body), also).await?
    };
    if let Err(e) = check_headers(headers, &received) {
        maven.ingest.discard(received).await;
        return Err(e);
    }
    let target = target(repo, coords, path).digest(&received.digest).size(received.size).media_type(media_type(path));
    if let Some(old) = &existing {
        if old.digest == received.digest {
            maven.ingest.discard(received).await;
            let mut resp = response(StatusCode::OK, &[], Body::empty());
            resp.extensions_mut().insert(AuditTarget(target));
            return Ok(resp);
        }
        if !info.settings.allow_overwrite {
            maven.ingest.discard(received).await;
            return Err(MavenError::conflict(format!(
                "{path} is deployed already with other content; redeploying is refused (the repository does not allow overwrites)"
            )));
        }
    }
    let sums = Sums {
        sha1: received.sums.sha1.clone().unwrap_or_default(),
        md5: received.sums.md5.clone().unwrap_or_default(),
        sha512: received.sha512.as_ref().map(|d| d.hex().to_owned()).unwrap_or_default(),
    };
    let current =
        maven.content.versions(repo, &coords.package()).await?.into_iter().find(|v| v.version == coords.version);
    let mut meta = current.as_ref().map(VersionMeta::parse).unwrap_or_else(|| VersionMeta {
        group: coords.group.clone(),
        artifact: coords.artifact.clone(),
        version: coords.version.clone(),
        files: Default::default(),
    });
    meta.files.insert(file_name(path).to_owned(), sums);
    let metadata =
        serde_json::to_string(&meta).map_err(|e| MavenError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let asset = Asset {
        path: path.to_owned(),
        digest: received.digest.clone(),
        size: received.size,
        media_type: media_type(path).to_owned(),
        package: Some(coords.package()),
        version: Some(coords.version.clone()),
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let expect = match &existing {
        Some(old) => Expect::Digest(old.digest.clone()),
        None => Expect::Absent,
    };
    let changes = vec![
        ContentChange::PutVersion {
            repo: repo.clone(),
            version: PackageVersion {
                package: coords.package(),
                version: coords.version.clone(),
                metadata,
                created_at_ms: 0,
            },
            create_only: false,
        },
        ContentChange::PutAsset { repo: repo.clone(), asset, expect },
    ];
    let mut event =
        caller.scope.draft(ops::PUT_FILE).target(target.clone()).status(201).detail(received.digest.to_string());
    if let Some(old) = &existing {
        event = event.action("overwrite").status(200).detail(old.digest.to_string());
    }
    maven.ingest.store(received, Mutation::Content(ContentChange::All(changes)), vec![event.boxed()]).await.map_err(
        |e| match e {
            vigil_registry::ingest::IngestError::Store(vigil_store::StoreError::PreconditionFailed(_)) => {
                MavenError::conflict(format!("{path} was deployed by another request meanwhile; retry"))
            }
            e => e.into(),
        },
    )?;
    let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    let mut resp = response(status, &[], Body::empty());
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

/// The stored file at `path`; a request for a SNAPSHOT file by its plain name (`demo-1.0-SNAPSHOT.jar`) gets the
/// newest timestamped file of that classifier and extension.
async fn find(maven: &Maven, repo: &RepoName, coords: &Coords, path: &str) -> MavenResult<Asset> {
    if let Some(asset) = maven.content.asset(repo, path).await? {
        return Ok(asset);
    }
    let missing = || MavenError::not_found(format!("{path} is not in {repo}"));
    if !coords.is_snapshot() {
        return Err(missing());
    }
    let wanted = crate::route::classifier_and_extension(file_name(path), coords).ok_or_else(missing)?;
    let files = metadata::folder(maven.content.as_ref(), repo, coords).await?;
    files
        .into_iter()
        .filter_map(|a| {
            let name = file_name(&a.path);
            let stamp = snapshot_stamp(name, coords)?;
            (crate::route::classifier_and_extension(name, coords)? == wanted).then_some((stamp, a))
        })
        .max_by(|(x, _), (y, _)| x.cmp(y))
        .map(|(_, a)| a)
        .ok_or_else(missing)
}

pub async fn get(maven: &Maven, repo: &RepoName, coords: &Coords, path: &str, head: bool) -> MavenResult<Response> {
    let asset = find(maven, repo, coords, path).await?;
    Ok(vigil_http::download::asset(&maven.ingest.blobs, repo, asset, head).await?)
}

/// A stored file's checksum: from what was computed when it was deployed, else computed from its bytes.
async fn checksum_of(
    maven: &Maven,
    repo: &RepoName,
    coords: &Coords,
    asset: &Asset,
    algo: Algo,
) -> MavenResult<String> {
    if algo == Algo::Sha256 {
        return Ok(asset.digest.hex().to_owned());
    }
    let current =
        maven.content.versions(repo, &coords.package()).await?.into_iter().find(|v| v.version == coords.version);
    let sums = current.map(|v| VersionMeta::parse(&v)).and_then(|m| m.files.get(file_name(&asset.path)).cloned());
    let known = sums.map(|s| match algo {
        Algo::Sha1 => s.sha1,
        Algo::Md5 => s.md5,
        _ => s.sha512,
    });
    if let Some(sum) = known.filter(|s| !s.is_empty()) {
        return Ok(sum);
    }
    let Some(read) =
        maven.ingest.blobs.open(&asset.digest, 0, None).await.map_err(vigil_registry::ingest::IngestError::Blobs)?
    else {
        return Err(MavenError::not_found(format!("{} is not in {repo}", asset.path)));
    };
    hash_reader(read.reader, algo).await
}

async fn hash_reader(mut reader: impl tokio::io::AsyncRead + Unpin, algo: Algo) -> MavenResult<String> {
    use tokio::io::AsyncReadExt;
    let mut hasher = algo.hasher();
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).await.map_err(vigil_registry::ingest::IngestError::Blobs)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

pub async fn get_checksum(
    maven: &Maven,
    repo: &RepoName,
    coords: &Coords,
    path: &str,
    algo: Algo,
) -> MavenResult<Response> {
    let asset = find(maven, repo, coords, path).await?;
    let sum = checksum_of(maven, repo, coords, &asset, algo).await?;
    let mut resp = response(StatusCode::OK, &[("content-type", "text/plain".to_owned())], Body::from(sum));
    resp.extensions_mut().insert(AuditTarget(target(repo, coords, &asset.path).digest(&asset.digest)));
    Ok(resp)
}

/// The first word of a checksum file (`<hex>` or `<hex>  <file name>`).
pub fn claimed_sum(body: &[u8]) -> MavenResult<String> {
    let text = std::str::from_utf8(body).map_err(|_| MavenError::bad_request("a checksum file is hex text"))?;
    let sum = text.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
    if sum.is_empty() || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MavenError::bad_request(format!("{text:?} is not a checksum")));
    }
    Ok(sum)
}

/// An uploaded checksum: it must be the stored file's; nothing is stored (vigil serves the ones it computed).
pub async fn put_checksum(
    maven: &Maven,
    repo: &RepoName,
    coords: &Coords,
    path: &str,
    algo: Algo,
    body: Body,
) -> MavenResult<Response> {
    let claimed = claimed_sum(&read_limited(body, MAX_CHECKSUM).await?)?;
    let asset = maven.content.asset(repo, path).await?.ok_or_else(|| {
        MavenError::bad_request(format!(
            "{path} is not deployed, so its {} cannot be checked; deploy the file first",
            algo.suffix()
        ))
    })?;
    let actual = checksum_of(maven, repo, coords, &asset, algo).await?;
    if claimed != actual {
        return Err(MavenError::bad_request(format!(
            "checksum mismatch for {}: the {} says {claimed}, the stored file is {actual}",
            file_name(path),
            algo.suffix()
        )));
    }
    let mut resp = response(StatusCode::CREATED, &[], Body::empty());
    resp.extensions_mut().insert(AuditTarget(target(repo, coords, path).digest(&asset.digest)));
    Ok(resp)
}

pub async fn delete(
    maven: &Maven,
    repo: &RepoName,
    coords: &Coords,
    path: &str,
    caller: &Caller,
) -> MavenResult<Response> {
    let asset = maven
        .content
        .asset(repo, path)
        .await?
        .ok_or_else(|| MavenError::not_found(format!("{path} is not in {repo}")))?;
    let target = target(repo, coords, path).digest(&asset.digest).size(asset.size);
    let event =
        caller.scope.draft(ops::DELETE_FILE).target(target.clone()).status(204).detail(asset.digest.to_string());
    let mut changes = vec![ContentChange::DeleteAsset {
        repo: repo.clone(),
        path: path.to_owned(),
        expect: Expect::Digest(asset.digest),
    }];
    // The version goes with its last file, so metadata never lists a version with nothing in it.
    if metadata::folder(maven.content.as_ref(), repo, coords).await?.len() <= 1 {
        changes.push(ContentChange::DeleteVersion {
            repo: repo.clone(),
            package: coords.package(),
            version: coords.version.clone(),
        });
    }
    let change = ContentChange::All(changes);
    vigil_registry::commit(&maven.ingest.meta, Mutation::Content(change), vec![event.boxed()]).await?;
    let mut resp = response(StatusCode::NO_CONTENT, &[], Body::empty());
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}
