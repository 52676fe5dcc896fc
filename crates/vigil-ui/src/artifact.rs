//! One artifact: an OCI manifest (with its referrers and the tags that name it) or a package file (with its
//! version's metadata), and "who pulled this": every pull of it with user, address and time.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use vigil_core::{Digest, Format, RepoName};
use vigil_store::RepositoryInfo;

use crate::activity;
use crate::page::{self, Chrome, When};
use crate::session::Viewer;
use crate::Ui;

/// Pull events of the repository examined for "who pulled this".
const PULL_SCAN: usize = 20_000;
/// Tags read to list those naming a manifest.
const TAG_SCAN: usize = 1000;

struct Field {
    label: &'static str,
    value: String,
    title: String,
}

struct Link {
    text: String,
    href: String,
    detail: String,
}

struct PullRow {
    seq: u64,
    when: When,
    user: String,
    remote_addr: String,
    via: String,
}

#[derive(Template)]
#[template(path = "artifact.html")]
struct ArtifactPage {
    chrome: Chrome,
    repo: String,
    repo_href: String,
    heading: String,
    fields: Vec<Field>,
    tags: Vec<String>,
    referrers: Vec<Link>,
    oci: bool,
    document_label: &'static str,
    document: String,
    pulls: Vec<PullRow>,
    pulls_note: String,
}

/// The sum of a manifest's own bytes and the config and layers it names (what a pull of it transfers at most).
pub fn total_size(manifest: &[u8]) -> u64 {
    let own = manifest.len() as u64;
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(manifest) else { return own };
    let sizes = |key: &str| {
        v.get(key).and_then(|l| l.as_array()).map_or(0, |l| l.iter().filter_map(|d| d["size"].as_u64()).sum::<u64>())
    };
    own + v["config"]["size"].as_u64().unwrap_or(0) + sizes("layers")
}

pub async fn page(
    ui: &Ui,
    viewer: &Viewer,
    repo: RepositoryInfo,
    digest: Option<String>,
    path: Option<String>,
) -> Response {
    let name = repo.name.to_string();
    let chrome = || viewer.chrome(name.clone(), "repos");
    let failed = |e: String| page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(chrome()), &e);
    let missing = |what: &str| {
        page::error(
            StatusCode::NOT_FOUND,
            Some(chrome()),
            &format!("{name} holds no {what}; its page lists what it holds."),
        )
    };
    let mut page = ArtifactPage {
        chrome: chrome(),
        repo_href: format!("/ui/repo/{name}"),
        repo: name.clone(),
        heading: String::new(),
        fields: Vec::new(),
        tags: Vec::new(),
        referrers: Vec::new(),
        oci: repo.format == Format::Oci,
        document_label: "Metadata",
        document: String::new(),
        pulls: Vec::new(),
        pulls_note: String::new(),
    };
    let (match_digest, match_path) = match (repo.format, digest, path) {
        (Format::Oci, Some(d), _) => {
            let Ok(digest) = d.parse::<Digest>() else { return missing(&format!("manifest {d:?}")) };
            match oci(ui, &repo.name, &digest, &mut page).await {
                Ok(true) => {}
                Ok(false) => return missing(&format!("manifest {digest}")),
                Err(e) => return failed(e),
            }
            (Some(digest.to_string()), None)
        }
        (f, _, Some(p)) if f != Format::Oci => match file(ui, &repo.name, &p, &mut page).await {
            Ok(Some(digest)) => (Some(digest), Some(p)),
            Ok(None) => return missing(&format!("file {p:?}")),
            Err(e) => return failed(e),
        },
        _ => return missing("such artifact (an OCI artifact is named by `digest`, a file by `path`)"),
    };
    let scan = match activity::recent(ui, &name, &["pull"], PULL_SCAN).await {
        Ok(scan) => scan,
        Err(e) => return failed(e),
    };
    page.pulls = scan
        .events
        .iter()
        .filter(|a| a.concerns(None, match_digest.as_deref(), match_path.as_deref()))
        .map(|a| PullRow {
            seq: a.seq,
            when: When::at(a.ms),
            user: a.user.clone(),
            remote_addr: a.remote_addr.clone(),
            via: a.tag.clone().map(|t| format!("tag {t}")).unwrap_or_else(|| a.operation.clone()),
        })
        .collect();
    page.pulls_note = format!(
        "{} pull{} of this artifact among the newest {} pulls of {name}{}.",
        page.pulls.len(),
        if page.pulls.len() == 1 { "" } else { "s" },
        scan.examined,
        if scan.truncated { " (older pulls are in the usage logs)" } else { "" }
    );
    page::render(StatusCode::OK, &page)
}

async fn oci(ui: &Ui, repo: &RepoName, digest: &Digest, page: &mut ArtifactPage) -> Result<bool, String> {
    let meta = ui.meta();
    let Some(m) = meta.manifest_by_digest(repo, digest).await.map_err(|e| e.to_string())? else { return Ok(false) };
    page.heading = format!("{repo}@{digest}");
    let total = total_size(&m.content);
    let manifest: serde_json::Value = serde_json::from_slice(&m.content).unwrap_or_default();
    page.fields.push(Field { label: "Digest", value: digest.to_string(), title: String::new() });
    page.fields.push(Field { label: "Media type", value: m.media_type.clone(), title: String::new() });
    if let Some(t) = manifest["artifactType"].as_str().or(manifest["config"]["mediaType"].as_str()) {
        page.fields.push(Field { label: "Artifact type", value: t.to_owned(), title: String::new() });
    }
    page.fields.push(Field {
        label: "Size",
        value: page::size(total),
        title: format!("{total} bytes with config and layers"),
    });
    if let Some(subject) = &m.subject {
        page.fields.push(Field { label: "Subject", value: subject.to_string(), title: String::new() });
    }
    let tags = meta.tags(repo, None, TAG_SCAN).await.map_err(|e| e.to_string())?;
    for tag in tags {
        let Ok(t) = tag.parse::<vigil_core::Tag>() else { continue };
        if meta.manifest_by_tag(repo, &t).await.map_err(|e| e.to_string())?.is_some_and(|r| r.digest == *digest) {
            page.tags.push(tag);
        }
    }
    for r in meta.referrers(repo, digest).await.map_err(|e| e.to_string())? {
        page.referrers.push(Link {
            href: format!("/ui/repo/{repo}/-/artifact?digest={}", page::query_escape(&r.digest.to_string())),
            text: r.digest.to_string(),
            detail: r.artifact_type.clone().unwrap_or_else(|| r.media_type.clone()),
        });
    }
    page.document_label = "Manifest";
    page.document = page::pretty_json(&m.content);
    Ok(true)
}

/// A package or raw file; its digest when it exists.
async fn file(ui: &Ui, repo: &RepoName, path: &str, page: &mut ArtifactPage) -> Result<Option<String>, String> {
    let content = ui.content();
    let Some(a) = content.asset(repo, path).await.map_err(|e| e.to_string())? else { return Ok(None) };
    page.heading = format!("{repo}: {path}");
    page.fields.push(Field { label: "Path", value: a.path.clone(), title: String::new() });
    page.fields.push(Field { label: "Digest", value: a.digest.to_string(), title: String::new() });
    page.fields.push(Field { label: "Size", value: page::size(a.size), title: format!("{} bytes", a.size) });
    page.fields.push(Field { label: "Media type", value: a.media_type.clone(), title: String::new() });
    let stored = When::at(a.updated_at_ms);
    page.fields.push(Field { label: "Stored", value: stored.text, title: stored.exact });
    if let (Some(package), Some(version)) = (&a.package, &a.version) {
        page.fields.push(Field { label: "Package", value: format!("{package} {version}"), title: String::new() });
        let versions = content.versions(repo, package).await.map_err(|e| e.to_string())?;
        if let Some(v) = versions.iter().find(|v| &v.version == version) {
            page.document = page::pretty_json(v.metadata.as_bytes());
        }
    }
    Ok(Some(a.digest.to_string()))
}
