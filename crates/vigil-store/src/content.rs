//! The format-neutral content port: repositories with a format and settings, package versions with their
//! format's metadata, and assets (files at paths, whose bytes are content-addressed blobs).
//!
//! Every format maps onto it: a raw repository is assets at paths; npm, PyPI, Cargo and Maven are packages whose
//! versions carry metadata and whose files are assets. OCI keeps the tables only it needs (manifests, tags,
//! referrers, per-repository blob links, uploads) behind [`crate::MetadataStore`]; its repositories are rows here
//! with format `oci`. Changes are [`ContentChange`]s committed through [`crate::MetadataStore::apply`] like every
//! other change, so they commit with their journal events.

use async_trait::async_trait;
use vigil_core::{Digest, Format, RepoName};

use crate::error::StoreResult;

/// Per-repository behaviour chosen when the repository is created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepoSettings {
    /// Whether a file (or a release) may be replaced by different content at the same path.
    pub allow_overwrite: bool,
}

/// A repository as the content port knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryInfo {
    pub name: RepoName,
    pub format: Format,
    pub settings: RepoSettings,
    /// Created explicitly (`vigil repo create`, the admin API) rather than by a first push.
    pub declared: bool,
    pub created_at_ms: i64,
}

/// A file of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub path: String,
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    /// The package version it belongs to, for formats that have them.
    pub package: Option<String>,
    pub version: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A version of a package with its format's metadata document (kept verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageVersion {
    pub package: String,
    pub version: String,
    pub metadata: String,
    pub created_at_ms: i64,
}

/// What a write of an asset expects to find at its path, checked inside the transaction (optimistic
/// concurrency: conditional requests and the overwrite rule see the same state the write replaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there.
    Any,
    /// Nothing.
    Absent,
    /// Exactly this content.
    Digest(Digest),
}

/// A change to format-neutral content.
#[derive(Debug, Clone)]
pub enum ContentChange {
    /// Creates a repository; `Conflict` if the name exists.
    CreateRepository { repo: RepoName, format: Format, settings: RepoSettings },
    /// Deletes a repository and everything it holds (its blobs become garbage for collection); `NotFound` if
    /// absent.
    DeleteRepository { repo: RepoName },
    /// Stores an asset whose blob is already in the blob store, replacing what is at its path. Fails with
    /// `PreconditionFailed` when the path does not hold what `expect` says, and with `Conflict` when it would
    /// replace different content in a repository that refuses overwrites.
    PutAsset { repo: RepoName, asset: Asset, expect: Expect },
    /// Removes the asset at `path` (it must hold what `expect` says); `NotFound` if absent.
    DeleteAsset { repo: RepoName, path: String, expect: Expect },
    /// Records a package version's metadata. With `create_only` it fails with `Conflict` when the version exists
    /// (a publish); without, it replaces the metadata (yanking and deprecation rewrite it), keeping its creation
    /// time.
    PutVersion { repo: RepoName, version: PackageVersion, create_only: bool },
    /// Removes a package version, its assets and the tags that name it; `NotFound` if absent.
    DeleteVersion { repo: RepoName, package: String, version: String },
    /// Removes every version of a package, its assets and its tags; `NotFound` if it has no version.
    DeletePackage { repo: RepoName, package: String },
    /// Points a package's tag at one of its versions (`NotFound` if the version does not exist), or removes the
    /// tag (`version: None`; `NotFound` if there is no such tag).
    SetPackageTag { repo: RepoName, package: String, tag: String, version: Option<String> },
    /// Several changes that commit together or not at all (a publish: the version, its file and its tags), in
    /// order.
    All(Vec<ContentChange>),
}

/// Reads of format-neutral content. Writes are [`ContentChange`]s.
#[async_trait]
pub trait ContentStore: Send + Sync + 'static {
    async fn repository(&self, repo: &RepoName) -> StoreResult<Option<RepositoryInfo>>;
    /// Repositories in name order, strictly after `after`, of one format or all.
    async fn repositories(
        &self,
        format: Option<Format>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RepositoryInfo>>;
    async fn asset(&self, repo: &RepoName, path: &str) -> StoreResult<Option<Asset>>;
    /// Assets whose path starts with `prefix`, in path order, strictly after `after`.
    async fn assets(&self, repo: &RepoName, prefix: &str, after: Option<&str>, limit: usize)
        -> StoreResult<Vec<Asset>>;
    /// Versions of a package, oldest first.
    async fn versions(&self, repo: &RepoName, package: &str) -> StoreResult<Vec<PackageVersion>>;
    /// A package's tags and the versions they name, in tag order.
    async fn package_tags(&self, repo: &RepoName, package: &str) -> StoreResult<Vec<(String, String)>>;
    /// Names of the packages that have versions, in name order, strictly after `after`; with `containing`, only
    /// names that contain it (case-insensitively).
    async fn packages(
        &self,
        repo: &RepoName,
        containing: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>>;
}
