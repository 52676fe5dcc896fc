//! The usage logs: global (admins), namespace, repository and user level, chosen by the same filter names as
//! `/api/v1/audit/events` (`namespace`, `repository`, `user`, `kind`, `action`, `outcome`, `remote_addr`, `from`,
//! `to`, ...), checked and narrowed by the API's own `authorize`. A chart of counts per day or hour by kind, a
//! table of events with each one's full record, paging by signed seq cursors (a page never skips or repeats an
//! event however many arrive meanwhile), NDJSON/CSV downloads, Quay's export, and a live tail.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use vigil_api::audit_query::{self, Format};
use vigil_api::log_export::{self, ExportLevel};
use vigil_audit::view::EventView;
use vigil_store::index::{EventFilter, GroupBy, Order};

use crate::chart::{self, Chart};
use crate::page::{self, Chrome, When};
use crate::session::Viewer;
use crate::Ui;

/// Events per page.
const PAGE: u32 = 50;
/// The default range: the last seven days.
const DEFAULT_RANGE_MS: i64 = 7 * 86_400_000;
/// The filter fields the form shows, in its order.
const FIELDS: [(&str, &str); 8] = [
    ("namespace", "Namespace"),
    ("repository", "Repository"),
    ("user", "Performed by"),
    ("kind", "Kind"),
    ("action", "Action"),
    ("outcome", "Outcome"),
    ("remote_addr", "IP address"),
    ("operation", "Operation"),
];

/// A filter as the page got it: the values to show again in the form and to keep in links, and the checked
/// filter (with the default range filled in).
#[derive(Debug)]
struct Request {
    values: BTreeMap<String, String>,
    filter: EventFilter,
    from_ms: i64,
    to_ms: i64,
}

/// Times as `<input type="datetime-local">` sends them (`2026-12-03T10:00` or with seconds, no zone) are UTC, as
/// the page says; RFC 3339 with a zone is taken as written.
fn rfc3339(value: &str) -> String {
    let v = value.trim();
    let has_zone = v.ends_with('Z') || v.ends_with('z') || v.get(19..).is_some_and(|rest| rest.contains(['+', '-']));
    match (has_zone, v.len()) {
        (true, _) => v.to_owned(),
        (false, 16) => format!("{v}:00Z"),
        (false, _) => format!("{v}Z"),
    }
}

/// The UI's parameters besides the API's: paging in either direction.
const PAGING: [&str; 2] = ["cursor", "newer"];

fn request(q: &HashMap<String, String>) -> Result<Request, String> {
    let mut values: BTreeMap<String, String> = q
        .iter()
        .filter(|(k, v)| !v.trim().is_empty() && !PAGING.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect();
    for key in ["from", "to"] {
        if let Some(v) = values.get_mut(key) {
            *v = rfc3339(v);
        }
    }
    let now = vigil_store::now_ms();
    if !values.contains_key("from") {
        let default_from = values
            .get("to")
            .and_then(|t| vigil_core::time::parse_rfc3339(t))
            .unwrap_or(now)
            .saturating_sub(DEFAULT_RANGE_MS);
        values.insert("from".into(), vigil_core::time::rfc3339_ms(default_from / 1000 * 1000));
    }
    let api: HashMap<String, String> = values.clone().into_iter().collect();
    let filter = audit_query::filter(&api).map_err(|e| e.1)?;
    let from_ms = filter.from_ms.unwrap_or(0);
    let to_ms = filter.to_ms.unwrap_or(now).max(from_ms + 1);
    Ok(Request { values, filter, from_ms, to_ms })
}

impl Request {
    /// The filter as a query string, for links that keep it.
    fn query(&self) -> String {
        self.values.iter().map(|(k, v)| format!("{k}={}", page::query_escape(v))).collect::<Vec<_>>().join("&")
    }

    /// What a cursor of this page is bound to.
    fn binding(&self) -> String {
        format!("ui-logs:{}", vigil_api::page_token::canonical(&self.filter))
    }
}

struct FieldValue {
    name: &'static str,
    label: &'static str,
    value: String,
}

struct Row {
    seq: u64,
    when: When,
    description: String,
    namespace: String,
    repository: String,
    user: String,
    remote_addr: String,
    outcome: String,
    status: String,
    user_agent: String,
    json: String,
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    chrome: Chrome,
    fields: Vec<FieldValue>,
    from: String,
    to: String,
    error: Option<String>,
    chart: Option<Chart>,
    rows: Vec<Row>,
    older: Option<String>,
    newer: Option<String>,
    query: String,
    /// Quay's export: where it can go, and what it covers.
    export_level: String,
    export_name: String,
    export_mail: bool,
    heading: String,
}

/// The `datetime-local` form value of an RFC 3339 time (seconds kept, zone dropped: the page works in UTC).
fn local(v: Option<&String>) -> String {
    v.map(|v| v.trim_end_matches('Z').split('.').next().unwrap_or_default().to_owned()).unwrap_or_default()
}

fn row(seq: u64, bytes: &[u8]) -> Row {
    let e = EventView::parse_lenient(bytes);
    let t = e.target_view();
    let mut target = String::new();
    if let Some(r) = &t.repository {
        target.push_str(r);
    } else if let Some(n) = &t.namespace {
        target.push_str(n);
    }
    if let Some(p) = t.path.as_deref().or(t.package.as_deref()) {
        target.push_str(&format!(" {p}"));
    }
    if let Some(v) = &t.version {
        target.push_str(&format!(" {v}"));
    }
    if let Some(tag) = &t.tag {
        target.push_str(&format!(":{tag}"));
    } else if let Some(d) = &t.digest {
        target.push_str(&format!("@{d}"));
    }
    if target.is_empty() && !e.artifact.is_empty() {
        target.push_str(&e.artifact);
    }
    if target.is_empty() {
        // Page views and API reads name no artifact: their path says what was looked at.
        if let Some(r) = &e.request {
            target.push_str(&r.path);
        }
    }
    let mut description = format!("{} {}", e.kind, target.trim());
    if let Some(reason) = &e.reason {
        description.push_str(&format!(" ({reason})"));
    }
    let json = page::pretty_json(bytes);
    Row {
        seq,
        when: When::at(vigil_core::time::parse_rfc3339(&e.ts).unwrap_or(0)),
        description: description.trim().to_owned(),
        namespace: t.namespace.as_deref().unwrap_or_default().to_owned(),
        repository: t.repository.as_deref().unwrap_or_default().to_owned(),
        user: e.user_name().unwrap_or("anonymous").to_owned(),
        remote_addr: e.remote_addr().unwrap_or_default().to_owned(),
        outcome: e.outcome.to_string(),
        status: e.status().map(|s| s.to_string()).unwrap_or_default(),
        user_agent: e.request.as_ref().and_then(|r| r.user_agent.as_deref()).unwrap_or_default().to_owned(),
        json,
    }
}

pub async fn page(State(ui): State<Ui>, Query(q): Query<HashMap<String, String>>, viewer: Viewer) -> Response {
    let mut page = LogsPage {
        chrome: viewer.chrome("Usage logs", "logs"),
        fields: Vec::new(),
        from: String::new(),
        to: String::new(),
        error: None,
        chart: None,
        rows: Vec::new(),
        older: None,
        newer: None,
        query: String::new(),
        export_level: "user".into(),
        export_name: viewer.principal.name.clone(),
        export_mail: ui.0.exports.has_mail(),
        heading: String::new(),
    };
    let status = match fill(&ui, &viewer, &q, &mut page).await {
        Ok(()) => StatusCode::OK,
        Err((status, message)) => {
            page.error = Some(message);
            status
        }
    };
    page::render(status, &page)
}

async fn fill(
    ui: &Ui,
    viewer: &Viewer,
    q: &HashMap<String, String>,
    page: &mut LogsPage,
) -> Result<(), (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let req = request(q);
    let values = req.as_ref().map(|r| r.values.clone()).unwrap_or_default();
    page.fields = FIELDS
        .iter()
        .map(|(name, label)| FieldValue { name, label, value: values.get(*name).cloned().unwrap_or_default() })
        .collect();
    page.from = local(values.get("from"));
    page.to = local(values.get("to"));
    let req = req.map_err(bad)?;
    page.query = req.query();
    let filter = audit_query::authorize(&ui.0.logs, &viewer.principal, req.filter.clone())
        .await
        .map_err(|e| (e.0, format!("{} Change the filter above.", e.1)))?;
    page.heading = heading(&filter, viewer);
    (page.export_level, page.export_name) = match (&filter.repository, &filter.namespace) {
        (Some(r), _) if !vigil_core::glob::is_pattern(r) => ("repository".into(), r.clone()),
        (None, Some(n)) if !vigil_core::glob::is_pattern(n) => ("organization".into(), n.clone()),
        _ => ("user".into(), viewer.principal.name.clone()),
    };
    let internal = |e: vigil_store::StoreError| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let bucket = chart::bucket_for(req.from_ms, req.to_ms);
    let groups = ui.journal().aggregate_events(&filter, Some(bucket), Some(GroupBy::Kind)).await.map_err(internal)?;
    page.chart = Some(chart::draw(&groups, req.from_ms, req.to_ms, bucket));
    let key = &ui.0.logs.page_key;
    let token = |name: &str| -> Result<Option<u64>, (StatusCode, String)> {
        match q.get(name).filter(|c| !c.is_empty()) {
            Some(c) => vigil_api::page_token::read(key, &req.binding(), c)
                .map(Some)
                .map_err(|e| bad(format!("the page link {e}; start again from the newest events"))),
            None => Ok(None),
        }
    };
    let (older_than, newer_than) = (token("cursor")?, token("newer")?);
    let mut entries = match newer_than {
        Some(after) => {
            let mut e =
                ui.journal().query_entries(&filter, Order::OldestFirst { after }, PAGE + 1).await.map_err(internal)?;
            let has_newer = e.len() > PAGE as usize;
            e.truncate(PAGE as usize);
            e.reverse();
            if has_newer {
                page.newer = e.first().map(|f| vigil_api::page_token::issue(key, &req.binding(), f.seq));
            }
            // Whatever came before this page is older, and there is at least the page we came from.
            page.older = e.last().map(|l| vigil_api::page_token::issue(key, &req.binding(), l.seq));
            e
        }
        None => {
            let mut e = ui
                .journal()
                .query_entries(&filter, Order::NewestFirst { before: older_than }, PAGE + 1)
                .await
                .map_err(internal)?;
            let has_older = e.len() > PAGE as usize;
            e.truncate(PAGE as usize);
            if has_older {
                page.older = e.last().map(|l| vigil_api::page_token::issue(key, &req.binding(), l.seq));
            }
            if older_than.is_some() {
                page.newer = e.first().map(|f| vigil_api::page_token::issue(key, &req.binding(), f.seq));
            }
            e
        }
    };
    page.rows = entries.drain(..).map(|r| row(r.seq, &r.bytes)).collect();
    Ok(())
}

/// What the page shows, in words: whose events, as narrowed by the viewer's rights (a filter over a namespace the
/// viewer does not administer reads only their own events in it, as the API does).
fn heading(f: &EventFilter, viewer: &Viewer) -> String {
    let within = match (&f.repository, &f.namespace) {
        (Some(r), _) => format!(" of repository {r}"),
        (None, Some(n)) => format!(" of namespace {n}"),
        (None, None) => String::new(),
    };
    match &f.user_name {
        Some(u) if *u == viewer.principal.name => format!("Your usage logs{}", within.replacen(" of ", " in ", 1)),
        Some(u) => format!("Usage logs of user {u}{}", within.replacen(" of ", " in ", 1)),
        None if within.is_empty() => "Usage logs of the whole registry".to_owned(),
        None => format!("Usage logs{within}"),
    }
}

/// The viewer and their checked filter, for the downloads and the live tail.
async fn checked(ui: &Ui, parts: &Parts, q: &HashMap<String, String>) -> Result<(Viewer, EventFilter), Response> {
    let viewer = ui.viewer(parts).await?;
    let req =
        request(q).map_err(|e| page::error(StatusCode::BAD_REQUEST, Some(viewer.chrome("Usage logs", "logs")), &e))?;
    match audit_query::authorize(&ui.0.logs, &viewer.principal, req.filter).await {
        Ok(f) => Ok((viewer, f)),
        Err(e) => Err(page::error(e.0, Some(viewer.chrome("Usage logs", "logs")), &e.1)),
    }
}

async fn export(ui: Ui, q: HashMap<String, String>, parts: Parts, format: Format) -> Response {
    let f = match checked(&ui, &parts, &q).await {
        Ok((_, f)) => f,
        Err(resp) => return resp,
    };
    let name = match format {
        Format::Ndjson => "attachment; filename=\"vigil-usage-logs.ndjson\"",
        Format::Csv => "attachment; filename=\"vigil-usage-logs.csv\"",
    };
    let mut resp = audit_query::stream_all(ui.0.logs.clone(), f, format);
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(name));
    resp
}

pub async fn export_ndjson(State(ui): State<Ui>, Query(q): Query<HashMap<String, String>>, parts: Parts) -> Response {
    export(ui, q, parts, Format::Ndjson).await
}

pub async fn export_csv(State(ui): State<Ui>, Query(q): Query<HashMap<String, String>>, parts: Parts) -> Response {
    export(ui, q, parts, Format::Csv).await
}

/// The live tail: Server-Sent Events of the events matching the page's filter, as they commit.
pub async fn stream(State(ui): State<Ui>, Query(q): Query<HashMap<String, String>>, parts: Parts) -> Response {
    let (_, mut f) = match checked(&ui, &parts, &q).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    // A tail shows what arrives from now on, whatever window the page was showing.
    f.to_ms = None;
    let last = parts.headers.get("last-event-id").and_then(|v| v.to_str().ok());
    match audit_query::resume_point(&ui.0.logs, last).await {
        Ok(after) => audit_query::live(ui.0.logs.clone(), f, after),
        Err(e) => (e.0, e.1).into_response(),
    }
}

#[derive(serde::Deserialize)]
pub struct ExportForm {
    csrf: Option<String>,
    level: String,
    name: Option<String>,
    starttime: Option<String>,
    endtime: Option<String>,
    callback_url: Option<String>,
    callback_email: Option<String>,
}

#[derive(Template)]
#[template(path = "export.html")]
struct ExportedPage {
    chrome: Chrome,
    export_id: String,
    destination: String,
}

/// Quay's export (`POST …/exportlogs`) from the page's form: the same checks and job, its answer shown as a page.
pub async fn quay_export(
    State(ui): State<Ui>,
    viewer: Viewer,
    parts: Parts,
    form: Result<Form<ExportForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(e) => {
            let message = format!("the export form was incomplete: {e}");
            return page::error(StatusCode::BAD_REQUEST, Some(viewer.chrome("Export", "logs")), &message);
        }
    };
    if let Some(refused) = ui.refuse_form(&viewer, &parts, form.csrf.as_deref()) {
        return refused;
    }
    let name = form.name.as_deref().unwrap_or_default();
    let level = match form.level.as_str() {
        "repository" => ExportLevel::Repository(name),
        "organization" => ExportLevel::Organization(name),
        _ => ExportLevel::User,
    };
    let body = serde_json::json!({
        "callback_url": form.callback_url.filter(|v| !v.is_empty()),
        "callback_email": form.callback_email.filter(|v| !v.is_empty()),
        "starttime": form.starttime.filter(|v| !v.is_empty()).map(|v| rfc3339(&v)),
        "endtime": form.endtime.filter(|v| !v.is_empty()).map(|v| rfc3339(&v)),
    });
    let uri: axum::http::Uri = "/ui/logs/exportlogs".parse().expect("a path");
    let resp = log_export::request(&ui.0.exports, &viewer.principal, level, &uri, body.to_string().as_bytes()).await;
    let (head, answer_body) = resp.into_parts();
    let bytes = axum::body::to_bytes(answer_body, 64 * 1024).await.unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let chrome = viewer.chrome("Export", "logs");
    if !head.status.is_success() {
        let message = answer["error_message"].as_str().unwrap_or("the export was refused").to_owned();
        return page::error(head.status, Some(chrome), &message);
    }
    let destination = match (body["callback_url"].as_str(), body["callback_email"].as_str()) {
        (Some(u), Some(m)) => format!("{u} and {m}"),
        (Some(u), None) => u.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => String::new(),
    };
    let export_id = answer["export_id"].as_str().unwrap_or_default().to_owned();
    let mut resp = page::render(StatusCode::OK, &ExportedPage { chrome, export_id, destination });
    resp.extensions_mut().extend(head.extensions);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_utc_and_api_times_are_kept() {
        assert_eq!(rfc3339("2026-12-03T10:00"), "2026-12-03T10:00:00Z");
        assert_eq!(rfc3339("2026-12-03T10:00:05"), "2026-12-03T10:00:05Z");
        assert_eq!(rfc3339("2026-12-03T10:00:05Z"), "2026-12-03T10:00:05Z");
        assert_eq!(rfc3339("2026-12-03T10:00:05+02:00"), "2026-12-03T10:00:05+02:00");
        assert_eq!(local(Some(&"2026-12-03T10:00:05.000Z".to_owned())), "2026-12-03T10:00:05");
    }

    #[test]
    fn a_page_defaults_to_the_last_seven_days_and_refuses_bad_dates() {
        let q: HashMap<String, String> = [("kind".to_owned(), "push_repo".to_owned())].into();
        let r = request(&q).unwrap();
        let span = r.to_ms - r.from_ms;
        assert!((DEFAULT_RANGE_MS - 2000..=DEFAULT_RANGE_MS + 2000).contains(&span), "{span}");
        assert_eq!(r.filter.kinds, vec!["push_repo".to_owned()]);
        let q: HashMap<String, String> = [("from".to_owned(), "yesterday".to_owned())].into();
        assert!(request(&q).unwrap_err().contains("RFC 3339"));
        let q: HashMap<String, String> = [("colour".to_owned(), "red".to_owned())].into();
        assert!(request(&q).unwrap_err().contains("unknown parameter"));
    }
}
