//! What every package format (npm, PyPI, Cargo, Maven) does the same way around its own protocol: finding the
//! repository a request names, of the right format, and publishing a version with its file in one commit.

use std::sync::Arc;

use vigil_core::{Format, RepoName};
use vigil_store::{Asset, ContentChange, ContentStore, JournalEvent, Mutation, PackageVersion, RepositoryInfo};

use crate::ingest::{Ingest, IngestError, Received};

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No repository of the format by that name (the message says how to create one).
    #[error("{0}")]
    Missing(String),
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
}

/// The repository, which must exist and hold `format`. Called after admission, so a denial never tells whether
/// a repository exists.
pub async fn repository(
    content: &Arc<dyn ContentStore>,
    repo: &RepoName,
    format: Format,
) -> Result<RepositoryInfo, LookupError> {
    match content.repository(repo).await? {
        Some(info) if info.format == format => Ok(info),
        Some(info) => Err(LookupError::Missing(format!("{repo} is a {} repository, not a {format} one", info.format))),
        None => Err(LookupError::Missing(format!(
            "no {format} repository {repo} (create it with `vigil repo create {repo} --format {format}`)"
        ))),
    }
}

/// Assets read per page when a whole folder is listed.
const ASSET_PAGE: usize = 1000;

/// Every asset of `repo` whose path starts with `prefix`, in path order, read page by page (a release's files, a
/// version's folder).
pub async fn all_assets(
    content: &dyn ContentStore,
    repo: &RepoName,
    prefix: &str,
) -> Result<Vec<Asset>, vigil_store::StoreError> {
    let mut assets: Vec<Asset> = Vec::new();
    loop {
        let after = assets.last().map(|a| a.path.clone());
        let page = content.assets(repo, prefix, after.as_deref(), ASSET_PAGE).await?;
        let last = page.len() < ASSET_PAGE;
        assets.extend(page);
        if last {
            return Ok(assets);
        }
    }
}

/// A new version's file, to be published with it.
pub struct Publication {
    pub repo: RepoName,
    pub version: PackageVersion,
    /// Whether the version must be new (a publish) or may exist already (a further file of a PyPI release).
    pub new_version: bool,
    /// The file's path and media type; its digest and size come from what was received.
    pub path: String,
    pub media_type: String,
    /// Tags to point at the version in the same commit (npm's `latest`).
    pub tags: Vec<String>,
}

/// Stores `received` as the file of `publication` and records the version, its file and its tags in one commit
/// with `events`: all of it is durable when this returns, or none of it. A version that exists (when it must be
/// new) or a file already at the path is a `Conflict`.
pub async fn publish(
    ingest: &Ingest,
    received: Received,
    publication: Publication,
    events: Vec<Box<dyn JournalEvent>>,
) -> Result<Asset, IngestError> {
    let Publication { repo, version, new_version, path, media_type, tags } = publication;
    let asset = Asset {
        path,
        digest: received.digest.clone(),
        size: received.size,
        media_type,
        package: Some(version.package.clone()),
        version: Some(version.version.clone()),
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let (package, v) = (version.package.clone(), version.version.clone());
    let mut changes = vec![
        ContentChange::PutVersion { repo: repo.clone(), version, create_only: new_version },
        ContentChange::PutAsset { repo: repo.clone(), asset: asset.clone(), expect: vigil_store::Expect::Absent },
    ];
    changes.extend(tags.into_iter().map(|tag| ContentChange::SetPackageTag {
        repo: repo.clone(),
        package: package.clone(),
        tag,
        version: Some(v.clone()),
    }));
    match ingest.store(received, Mutation::Content(ContentChange::All(changes)), events).await {
        Ok(_) => Ok(asset),
        // The file's path is taken (another file of the release, or a race with the same publish).
        Err(IngestError::Store(vigil_store::StoreError::PreconditionFailed(_))) => Err(IngestError::Store(
            vigil_store::StoreError::Conflict(format!("{} already exists in {repo}", asset.path)),
        )),
        Err(e) => Err(e),
    }
}
