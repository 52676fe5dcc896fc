//! Repositories created and deleted explicitly (`vigil repo create|delete`, the admin API): every format beside
//! OCI starts this way, with its format and settings; OCI repositories may, and are otherwise created by their
//! first push. The caller supplies the change's event, so the CLI and the API record it their own way.

use std::sync::Arc;

use vigil_core::{Format, RepoName};
use vigil_store::{
    ContentChange, ContentStore, JournalEvent, MetadataStore, Mutation, RepoSettings, RepositoryInfo, StoreError,
    StoreResult,
};

/// Checks that `repo` can be a repository of `format`: the formats served under `/<format>/<ns>/<repo>/` name
/// a repository with exactly two components.
pub fn check_name(repo: &RepoName, format: Format) -> Result<(), String> {
    if format != Format::Oci && repo.as_str().matches('/').count() != 1 {
        return Err(format!("a {format} repository is named <namespace>/<name>, not {repo}"));
    }
    Ok(())
}

pub async fn create(
    meta: &Arc<dyn MetadataStore>,
    repo: RepoName,
    format: Format,
    settings: RepoSettings,
    event: Box<dyn JournalEvent>,
) -> StoreResult<()> {
    check_name(&repo, format).map_err(StoreError::Conflict)?;
    crate::commit(meta, Mutation::Content(ContentChange::CreateRepository { repo, format, settings }), vec![event])
        .await
        .map(drop)
}

/// Deletes a repository and what it holds; its blobs are left to garbage collection.
pub async fn delete(meta: &Arc<dyn MetadataStore>, repo: RepoName, event: Box<dyn JournalEvent>) -> StoreResult<()> {
    crate::commit(meta, Mutation::Content(ContentChange::DeleteRepository { repo }), vec![event]).await.map(drop)
}

/// Every repository (of one format, or all), in name order.
pub async fn list(content: &Arc<dyn ContentStore>, format: Option<Format>) -> StoreResult<Vec<RepositoryInfo>> {
    let mut out: Vec<RepositoryInfo> = Vec::new();
    loop {
        let after = out.last().map(|r| r.name.to_string());
        let page = content.repositories(format, after.as_deref(), 500).await?;
        let done = page.len() < 500;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// A repository's settings as words (`allow_overwrite=false`), for events and listings.
pub fn describe(format: Format, settings: RepoSettings) -> String {
    format!("format={format} allow_overwrite={}", settings.allow_overwrite)
}
