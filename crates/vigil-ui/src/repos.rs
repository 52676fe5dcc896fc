//! The repositories a viewer may read, across formats, with search; a repository's tags (OCI) or files (every
//! other format) with digest, size, media type, who pushed them and when, and when they were last pulled.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use strum::VariantArray;
use vigil_core::{Action, Format, RepoName};

use crate::activity::{self, Activity};
use crate::artifact;
use crate::page::{self, Chrome, When};
use crate::session::Viewer;
use crate::Ui;

/// Rows per page of tags or files.
const PAGE: usize = 50;
/// Pushes and pulls read to say who pushed each row and when it was last pulled.
const ACTIVITY_SCAN: usize = 2000;

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    format: Option<String>,
}

struct RepoRow {
    name: String,
    format: &'static str,
    created: When,
}

#[derive(Template)]
#[template(path = "repos.html")]
struct ReposPage {
    chrome: Chrome,
    q: String,
    format: String,
    formats: Vec<&'static str>,
    rows: Vec<RepoRow>,
    total_readable: usize,
}

pub async fn list(State(ui): State<Ui>, Query(q): Query<ListQuery>, viewer: Viewer) -> Response {
    let chrome = viewer.chrome("Repositories", "repos");
    let format = match q.format.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => match f.parse::<Format>() {
            Ok(f) => Some(f),
            Err(_) => return page::error(StatusCode::BAD_REQUEST, Some(chrome), &format!("unknown format {f:?}")),
        },
        None => None,
    };
    let access = match ui.auth().access(&viewer.principal).await {
        Ok(a) => a,
        Err(e) => return page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(chrome), &e.to_string()),
    };
    let all = match vigil_registry::repositories::list(ui.content(), format).await {
        Ok(all) => all,
        Err(e) => return page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(chrome), &e.to_string()),
    };
    let readable: Vec<_> =
        all.into_iter().filter(|r| access.allows(&viewer.principal, &r.name, Action::Pull)).collect();
    let needle = q.q.as_deref().unwrap_or_default().trim().to_lowercase();
    let rows = readable
        .iter()
        .filter(|r| needle.is_empty() || r.name.as_str().contains(&needle))
        .map(|r| RepoRow { name: r.name.to_string(), format: r.format.as_str(), created: When::at(r.created_at_ms) })
        .collect();
    let formats = Format::VARIANTS.iter().map(|f| f.as_str()).collect();
    let page = ReposPage {
        chrome,
        q: q.q.unwrap_or_default(),
        format: format.map(|f| f.as_str().to_owned()).unwrap_or_default(),
        formats,
        rows,
        total_readable: readable.len(),
    };
    page::render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct RepoQuery {
    /// Tags or files after this one (the next page).
    after: Option<String>,
    digest: Option<String>,
    path: Option<String>,
}

/// One tag (OCI) or file (every other format).
struct ItemRow {
    /// The tag, or the file's path.
    name: String,
    /// Link to the artifact page.
    href: String,
    digest: String,
    size: Option<u64>,
    media_type: String,
    package: String,
    pushed: Option<(String, When)>,
    pulled: Option<When>,
}

impl ItemRow {
    fn size_text(&self) -> String {
        self.size.map(page::size).unwrap_or_default()
    }

    fn size_exact(&self) -> String {
        self.size.map(|s| format!("{s} bytes")).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "repo.html")]
struct RepoPage {
    chrome: Chrome,
    name: String,
    format: &'static str,
    created: When,
    oci: bool,
    rows: Vec<ItemRow>,
    next: Option<String>,
    scanned: String,
    logs_href: String,
}

/// `/ui/repo/<name>` and `/ui/repo/<name>/-/artifact?digest=|path=`.
pub async fn repository(
    State(ui): State<Ui>,
    Path(path): Path<String>,
    Query(q): Query<RepoQuery>,
    viewer: Viewer,
) -> Response {
    let (name, sub) = match path.split_once("/-/") {
        Some((name, sub)) => (name, Some(sub)),
        None => (path.trim_end_matches('/'), None),
    };
    let repo = match readable(&ui, &viewer, name).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    // The view belongs to the repository's log: who looked at what is audit data too.
    let target = vigil_audit::Target::repo(&repo.name);
    let mut resp = match sub {
        None => overview(&ui, &viewer, repo, q.after).await,
        Some("artifact") => artifact::page(&ui, &viewer, repo, q.digest, q.path).await,
        Some(_) => page::error(StatusCode::NOT_FOUND, Some(viewer.chrome("Not found", "repos")), "no such page"),
    };
    resp.extensions_mut().insert(vigil_audit::AuditTarget(target));
    resp
}

/// The repository `name` if the viewer may pull from it; the same 404 whether it is missing or not theirs.
pub async fn readable(ui: &Ui, viewer: &Viewer, name: &str) -> Result<vigil_store::RepositoryInfo, Response> {
    let missing = || {
        page::error(
            StatusCode::NOT_FOUND,
            Some(viewer.chrome("Not found", "repos")),
            &format!("there is no repository {name:?} that you can read; the repository list shows those you can."),
        )
    };
    let Ok(repo) = name.parse::<RepoName>() else { return Err(missing()) };
    let access = ui.auth().access(&viewer.principal).await.map_err(|e| {
        page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(viewer.chrome("Error", "repos")), &e.to_string())
    })?;
    if !access.allows(&viewer.principal, &repo, Action::Pull) {
        return Err(missing());
    }
    match ui.content().repository(&repo).await {
        Ok(Some(info)) => Ok(info),
        Ok(None) => Err(missing()),
        Err(e) => {
            Err(page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(viewer.chrome("Error", "repos")), &e.to_string()))
        }
    }
}

async fn overview(ui: &Ui, viewer: &Viewer, repo: vigil_store::RepositoryInfo, after: Option<String>) -> Response {
    let name = repo.name.to_string();
    let chrome = viewer.chrome(name.clone(), "repos");
    let oci = repo.format == Format::Oci;
    let rows =
        if oci { tags(ui, &repo.name, after.as_deref()).await } else { files(ui, &repo.name, after.as_deref()).await };
    let mut rows = match rows {
        Ok(rows) => rows,
        Err(e) => return page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(chrome), &e),
    };
    let next = (rows.len() > PAGE).then(|| {
        rows.truncate(PAGE);
        rows.last().map(|r| r.name.clone()).unwrap_or_default()
    });
    let (pushes, pulls) = match (
        activity::recent(ui, &name, &["push", "overwrite"], ACTIVITY_SCAN).await,
        activity::recent(ui, &name, &["pull"], ACTIVITY_SCAN).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return page::error(StatusCode::INTERNAL_SERVER_ERROR, Some(chrome), &e),
    };
    let now = vigil_store::now_ms();
    for row in &mut rows {
        let (tag, path) = if oci { (Some(row.name.as_str()), None) } else { (None, Some(row.name.as_str())) };
        let about = |a: &&Activity| a.concerns(tag, Some(&row.digest), path);
        row.pushed = pushes.events.iter().find(about).map(|a| (a.user.clone(), When::relative(a.ms, now)));
        row.pulled = pulls.events.iter().find(about).map(|a| When::relative(a.ms, now));
    }
    let scanned = format!(
        "Pushed by and last pulled come from the newest {} pushes and {} pulls of this repository in the audit log{}.",
        pushes.examined,
        pulls.examined,
        if pushes.truncated || pulls.truncated { "; older activity is in the usage logs" } else { "" }
    );
    let page = RepoPage {
        chrome,
        logs_href: format!("/ui/logs?repository={}", page::query_escape(&name)),
        name,
        format: repo.format.as_str(),
        created: When::at(repo.created_at_ms),
        oci,
        rows,
        next,
        scanned,
    };
    page::render(StatusCode::OK, &page)
}

fn artifact_href(repo: &RepoName, key: &str, value: &str) -> String {
    format!("/ui/repo/{repo}/-/artifact?{key}={}", page::query_escape(value))
}

/// A page of tags (one more than [`PAGE`], to know whether there is a next one), each with its manifest.
async fn tags(ui: &Ui, repo: &RepoName, after: Option<&str>) -> Result<Vec<ItemRow>, String> {
    let meta = ui.meta();
    let names = meta.tags(repo, after, PAGE + 1).await.map_err(|e| e.to_string())?;
    let mut rows = Vec::with_capacity(names.len());
    for tag in names {
        let Ok(parsed) = tag.parse::<vigil_core::Tag>() else { continue };
        let Some(m) = meta.manifest_by_tag(repo, &parsed).await.map_err(|e| e.to_string())? else { continue };
        let digest = m.digest.to_string();
        rows.push(ItemRow {
            href: artifact_href(repo, "digest", &digest),
            size: Some(artifact::total_size(&m.content)),
            media_type: m.media_type.clone(),
            package: String::new(),
            name: tag,
            digest,
            pushed: None,
            pulled: None,
        });
    }
    Ok(rows)
}

/// A page of files of a package or raw repository, in path order.
async fn files(ui: &Ui, repo: &RepoName, after: Option<&str>) -> Result<Vec<ItemRow>, String> {
    let assets = ui.content().assets(repo, "", after, PAGE + 1).await.map_err(|e| e.to_string())?;
    Ok(assets
        .into_iter()
        .map(|a| ItemRow {
            href: artifact_href(repo, "path", &a.path),
            digest: a.digest.to_string(),
            size: Some(a.size),
            media_type: a.media_type,
            package: match (a.package, a.version) {
                (Some(p), Some(v)) => format!("{p} {v}"),
                (Some(p), None) => p,
                _ => String::new(),
            },
            name: a.path,
            pushed: None,
            pulled: None,
        })
        .collect())
}
