//! A release as the index keeps it: the version's metadata document in the content port (the project's name as
//! uploaded, summary, yanked state, and per file what the simple index shows), its files as assets at
//! `<project>/<version>/<file>` (project and version in their normal forms).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vigil_core::RepoName;
use vigil_store::{Asset, ContentStore, PackageVersion, StoreResult};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseMeta {
    /// The project's name as its first upload wrote it (`Demo.Pkg`; the index is keyed by `demo-pkg`).
    pub name: String,
    /// The version as uploaded (the key is its normal form).
    pub version: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub yanked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked_reason: Option<String>,
    #[serde(default)]
    pub files: BTreeMap<String, FileMeta>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileMeta {
    /// `Requires-Python` of the file's metadata (`data-requires-python`, PEP 503).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requires_python: String,
    /// `sdist` or `bdist_wheel`.
    pub packagetype: String,
    #[serde(default)]
    pub python_version: String,
}

impl ReleaseMeta {
    pub fn parse(version: &PackageVersion) -> ReleaseMeta {
        serde_json::from_str(&version.metadata).unwrap_or_else(|e| {
            tracing::warn!(package = %version.package, version = %version.version, error = %e, "unreadable release metadata");
            ReleaseMeta { name: version.package.clone(), version: version.version.clone(), ..Default::default() }
        })
    }
}

/// The asset path of a file.
pub fn file_path(project: &str, version: &str, file: &str) -> String {
    format!("{project}/{version}/{file}")
}

/// A project's releases (oldest first) and every file of them.
pub struct Project {
    pub releases: Vec<(PackageVersion, ReleaseMeta)>,
    pub files: Vec<Asset>,
}

impl Project {
    /// The project (by normal name), or `None` when it has no release.
    pub async fn load(content: &Arc<dyn ContentStore>, repo: &RepoName, project: &str) -> StoreResult<Option<Project>> {
        let versions = content.versions(repo, project).await?;
        if versions.is_empty() {
            return Ok(None);
        }
        let releases = versions
            .into_iter()
            .map(|v| {
                let meta = ReleaseMeta::parse(&v);
                (v, meta)
            })
            .collect();
        let files = vigil_registry::packages::all_assets(content.as_ref(), repo, &format!("{project}/")).await?;
        Ok(Some(Project { releases, files }))
    }

    pub fn release(&self, version: &str) -> Option<&ReleaseMeta> {
        self.releases.iter().find(|(v, _)| v.version == version).map(|(_, m)| m)
    }
}
