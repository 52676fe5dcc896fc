//! Folder listings: the files and sub-folders directly under a folder, from one range scan per sub-folder
//! (each sub-folder's subtree is skipped, so a listing costs its own size, not the size of what lies below).

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vigil_core::RepoName;

use crate::error::{RawError, RawResult};
use crate::Raw;

/// Entries in one listing at most; `truncated` says when there were more.
const MAX_ENTRIES: usize = 1000;
const PAGE: usize = 200;

#[derive(Serialize)]
struct Listing<'a> {
    repository: &'a str,
    path: &'a str,
    entries: Vec<Entry>,
    truncated: bool,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
}

pub async fn list(raw: &Raw, repo: &RepoName, folder: &str) -> RawResult<Response> {
    let mut entries = Vec::new();
    let mut after: Option<String> = None;
    let mut truncated = false;
    'scan: loop {
        let page = raw.content.assets(repo, folder, after.as_deref(), PAGE).await?;
        let done = page.len() < PAGE;
        for a in page {
            if entries.len() == MAX_ENTRIES {
                truncated = true;
                break 'scan;
            }
            let rest = &a.path[folder.len()..];
            match rest.split_once('/') {
                Some((sub, _)) => {
                    entries.push(Entry {
                        name: format!("{sub}/"),
                        kind: "folder",
                        size: None,
                        digest: None,
                        media_type: None,
                        modified: None,
                    });
                    // Past everything under `sub/`: U+10FFFF sorts after every character a path can hold.
                    after = Some(format!("{folder}{sub}/\u{10FFFF}"));
                    continue 'scan;
                }
                None => {
                    after = Some(a.path.clone());
                    entries.push(Entry {
                        name: rest.to_owned(),
                        kind: "file",
                        size: Some(a.size),
                        digest: Some(a.digest.to_string()),
                        media_type: Some(a.media_type),
                        modified: Some(vigil_core::time::rfc3339_ms(a.updated_at_ms)),
                    });
                }
            }
        }
        if done {
            break;
        }
    }
    if entries.is_empty() && !folder.is_empty() {
        return Err(RawError::not_found(format!("no folder {folder} in {repo}")));
    }
    Ok(axum::Json(Listing { repository: repo.as_str(), path: folder, entries, truncated }).into_response())
}
