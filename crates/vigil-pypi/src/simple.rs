//! The simple repository API pip reads: the project list and a project's files, as PEP 503 HTML or PEP 691
//! JSON chosen by `Accept` (`Vary: Accept`), with each file's sha256 in its link, `data-requires-python`,
//! PEP 592's `data-yanked`, and PEP 700's sizes, upload times and versions in JSON. Links are relative, so the
//! pages are right behind any proxy.

use std::fmt::Write;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::util::{header_str, response};

use crate::error::{PypiError, PypiResult};
use crate::names;
use crate::release::Project;
use crate::Pypi;

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML: &str = "application/vnd.pypi.simple.v1+html";
const API_VERSION: &str = "1.1";
/// Projects listed per page when the index is read.
const PAGE: usize = 1000;

/// How a page is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Json,
    /// HTML under the content type that was asked for (`text/html` or PEP 691's HTML type).
    Html(&'static str),
}

/// The form `Accept` prefers (highest quality; the JSON form on a tie); HTML without `Accept`. `None` when
/// nothing acceptable was named (406).
pub fn negotiate(headers: &HeaderMap) -> Option<Form> {
    let Some(accept) = header_str(headers, "accept").filter(|a| !a.trim().is_empty()) else {
        return Some(Form::Html("text/html"));
    };
    let mut best: Option<(f32, u8, Form)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts.filter_map(|p| p.strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        let (rank, form) = match media.as_str() {
            JSON | "application/vnd.pypi.simple.latest+json" => (3, Form::Json),
            HTML | "application/vnd.pypi.simple.latest+html" => (2, Form::Html(HTML)),
            "text/html" | "text/*" | "*/*" => (1, Form::Html("text/html")),
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        if best.is_none_or(|(bq, br, _)| q > bq || (q == bq && rank > br)) {
            best = Some((q, rank, form));
        }
    }
    best.map(|(_, _, form)| form)
}

fn page(form: Form, body: String) -> Response {
    let content_type = match form {
        Form::Json => JSON.to_owned(),
        Form::Html(t) => format!("{t}; charset=utf-8"),
    };
    response(StatusCode::OK, &[("content-type", content_type), ("vary", "Accept".to_owned())], Body::from(body))
}

fn not_acceptable() -> PypiError {
    PypiError::new(
        StatusCode::NOT_ACCEPTABLE,
        format!("this index answers {JSON}, {HTML} and text/html; none was acceptable"),
    )
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_page(title: &str, links: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n\
         <title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{links}</body>\n</html>\n",
        title = escape(title)
    )
}

/// `simple/`: every project with a release.
pub async fn projects(pypi: &Pypi, repo: &RepoName, headers: &HeaderMap) -> PypiResult<Response> {
    let form = negotiate(headers).ok_or_else(not_acceptable)?;
    let mut names: Vec<String> = Vec::new();
    loop {
        let batch = pypi.content.packages(repo, None, names.last().map(String::as_str), PAGE).await?;
        let last = batch.len() < PAGE;
        names.extend(batch);
        if last {
            break;
        }
    }
    let body = match form {
        Form::Json => {
            let projects: Vec<Value> = names.iter().map(|n| json!({ "name": n })).collect();
            json!({ "meta": { "api-version": API_VERSION }, "projects": projects }).to_string()
        }
        Form::Html(_) => {
            let mut links = String::new();
            for name in &names {
                let _ = writeln!(links, "<a href=\"{0}/\">{0}</a><br>", escape(name));
            }
            html_page(&format!("Simple index of {repo}"), &links)
        }
    };
    Ok(page(form, body))
}

/// `simple/<project>/`: the project's files. A name not in normal form (or without the trailing slash) is
/// redirected to the normal URL, as PEP 503 asks.
pub async fn project(
    pypi: &Pypi,
    repo: &RepoName,
    given: &str,
    slash: bool,
    headers: &HeaderMap,
) -> PypiResult<Response> {
    let normal = names::normalize(given);
    if normal != given || !slash {
        let location = if slash { format!("../{normal}/") } else { format!("{normal}/") };
        return Ok(response(StatusCode::MOVED_PERMANENTLY, &[("location", location)], Body::empty()));
    }
    let form = negotiate(headers).ok_or_else(not_acceptable)?;
    let project = Project::load(&pypi.content, repo, &normal)
        .await?
        .ok_or_else(|| PypiError::not_found(format!("no project {normal} in {repo}")))?;
    let body = match form {
        Form::Json => project_json(&normal, &project),
        Form::Html(_) => project_html(&normal, &project),
    };
    let mut resp = page(form, body);
    resp.extensions_mut().insert(AuditTarget(Target::repo(repo).package(normal, None)));
    Ok(resp)
}

/// A file's link from the project page (`simple/<project>/`), relative.
fn href(path: &str) -> String {
    let encoded: Vec<String> =
        path.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
    format!("../../files/{}", encoded.join("/"))
}

/// Characters escaped in a file's URL segment (everything but unreserved characters).
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn project_json(normal: &str, project: &Project) -> String {
    let mut files = Vec::new();
    for asset in &project.files {
        let version = asset.version.as_deref().unwrap_or_default();
        let Some(release) = project.release(version) else { continue };
        let filename = asset.path.rsplit('/').next().unwrap_or_default();
        let meta = release.files.get(filename).cloned().unwrap_or_default();
        let yanked = match (&release.yanked, &release.yanked_reason) {
            (false, _) => json!(false),
            (true, Some(reason)) if !reason.is_empty() => json!(reason),
            (true, _) => json!(true),
        };
        let mut file = json!({
            "filename": filename,
            "url": href(&asset.path),
            "hashes": { "sha256": asset.digest.hex() },
            "size": asset.size,
            "upload-time": vigil_core::time::rfc3339_ms(asset.created_at_ms),
            "yanked": yanked,
        });
        if !meta.requires_python.is_empty() {
            file["requires-python"] = json!(meta.requires_python);
        }
        files.push(file);
    }
    let versions: Vec<&str> = project.releases.iter().map(|(v, _)| v.version.as_str()).collect();
    json!({ "meta": { "api-version": API_VERSION }, "name": normal, "files": files, "versions": versions }).to_string()
}

fn project_html(normal: &str, project: &Project) -> String {
    let mut links = String::new();
    for asset in &project.files {
        let version = asset.version.as_deref().unwrap_or_default();
        let Some(release) = project.release(version) else { continue };
        let filename = asset.path.rsplit('/').next().unwrap_or_default();
        let meta = release.files.get(filename).cloned().unwrap_or_default();
        let mut attrs = String::new();
        if !meta.requires_python.is_empty() {
            let _ = write!(attrs, " data-requires-python=\"{}\"", escape(&meta.requires_python));
        }
        if release.yanked {
            let _ = write!(attrs, " data-yanked=\"{}\"", escape(release.yanked_reason.as_deref().unwrap_or("")));
        }
        let _ = writeln!(
            links,
            "<a href=\"{}#sha256={}\"{attrs}>{}</a><br>",
            escape(&href(&asset.path)),
            asset.digest.hex(),
            escape(filename)
        );
    }
    html_page(&format!("Links for {normal}"), &links)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(accept: &str) -> Option<Form> {
        let mut h = HeaderMap::new();
        h.insert("accept", accept.parse().unwrap());
        negotiate(&h)
    }

    #[test]
    fn the_form_follows_accept() {
        let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
        assert_eq!(with(pip), Some(Form::Json));
        assert_eq!(with("text/html"), Some(Form::Html("text/html")));
        assert_eq!(with("application/vnd.pypi.simple.v1+html"), Some(Form::Html(HTML)));
        assert_eq!(with("application/vnd.pypi.simple.v1+json;q=0, text/html"), Some(Form::Html("text/html")));
        assert_eq!(with("*/*"), Some(Form::Html("text/html")));
        assert_eq!(with("application/xml"), None);
        assert_eq!(negotiate(&HeaderMap::new()), Some(Form::Html("text/html")));
    }

    #[test]
    fn values_are_escaped() {
        assert_eq!(escape("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
        assert_eq!(href("demo/1.0/demo 1.tar.gz"), "../../files/demo/1.0/demo%201.tar.gz");
    }
}
