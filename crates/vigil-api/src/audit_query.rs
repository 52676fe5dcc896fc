//! vigil's own audit query API, for what Quay's cannot do:
//!
//! - `GET /api/v1/audit/events`: any time range (RFC 3339), repository or namespace (with `*` wildcards), user,
//!   action, kind, operation, outcome, status, remote address, request id; cursor paging (`limit` up to 1000,
//!   newest first, or `order=asc`); with `Accept: application/x-ndjson` or `text/csv` the whole result streams,
//!   oldest first, with no record cap.
//! - `GET /api/v1/audit/aggregate`: counts grouped by `day`/`hour` and/or one of kind, action, user, repository,
//!   outcome; any range.
//! - `GET /api/v1/audit/stream`: Server-Sent Events with the same filters, resumable with `Last-Event-ID`.
//!
//! Permissions follow Quay's: global admins read everything; a repository's admins its events, a namespace's
//! admins the namespace's; everyone their own. A filter a caller may not read is refused (403), never widened.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use vigil_auth::Principal;
use vigil_core::time::{parse_rfc3339, rfc3339_ms};
use vigil_core::RepoName;
use vigil_store::index::{Bucket, EventFilter, GroupBy, Order};

use crate::caller::{self as admin_api, ApiError};
use crate::quay_logs::LogsState;
use vigil_audit::view::EventView;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Rows fetched per step when streaming.
const STREAM_STEP: u32 = 1000;
/// How often a live tail looks for new events.
const TAIL_POLL: Duration = Duration::from_millis(250);

pub fn router(st: LogsState) -> Router {
    Router::new()
        .route("/api/v1/audit/events", get(events))
        .route("/api/v1/audit/aggregate", get(aggregate))
        .route("/api/v1/audit/stream", get(tail))
        .with_state(st)
}

pub type ApiResult<T> = Result<T, ApiError>;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Every parameter this API knows; anything else is a 400, so a typo never silently widens a query.
const KNOWN: &[&str] = &[
    "from",
    "to",
    "repository",
    "namespace",
    "user",
    "action",
    "kind",
    "operation",
    "outcome",
    "status",
    "remote_addr",
    "request_id",
    "cursor",
    "limit",
    "order",
    "group_by",
];

/// The filter of a query string, every value checked.
pub fn filter(q: &HashMap<String, String>) -> ApiResult<EventFilter> {
    if let Some(unknown) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!("unknown parameter `{unknown}`; known: {}", KNOWN.join(", "))));
    }
    let time = |name: &str| -> ApiResult<Option<i64>> {
        q.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| parse_rfc3339(v).ok_or_else(|| bad(format!("`{name}` {v:?} is not an RFC 3339 time"))))
            .transpose()
    };
    let text = |name: &str| -> ApiResult<Option<String>> {
        match q.get(name).filter(|v| !v.is_empty()) {
            Some(v) if v.chars().count() > 256 || v.chars().any(char::is_control) => {
                Err(bad(format!("`{name}` must be at most 256 printable characters")))
            }
            Some(v) => Ok(Some(v.clone())),
            None => Ok(None),
        }
    };
    let list = |name: &str| -> ApiResult<Vec<String>> {
        let values: Vec<String> = text(name)?
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(v) = values.iter().find(|v| !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')) {
            return Err(bad(format!("`{name}` value {v:?} is not a name (letters, digits, _)")));
        }
        Ok(values)
    };
    let f = EventFilter {
        from_ms: time("from")?,
        to_ms: time("to")?,
        namespace: text("namespace")?,
        repository: text("repository")?,
        user_name: text("user")?,
        kinds: list("kind")?,
        actions: list("action")?,
        operations: list("operation")?,
        outcomes: list("outcome")?,
        status: q
            .get("status")
            .map(|s| {
                s.parse::<u16>()
                    .ok()
                    .filter(|s| (100..600).contains(s))
                    .ok_or_else(|| bad("`status` is an HTTP status"))
            })
            .transpose()?,
        remote_addr: text("remote_addr")?,
        request_id: text("request_id")?,
    };
    if let (Some(from), Some(to)) = (f.from_ms, f.to_ms) {
        if to < from {
            return Err(bad(format!("`to` ({}) is before `from` ({})", rfc3339_ms(to), rfc3339_ms(from))));
        }
    }
    Ok(f)
}

/// Narrows or refuses a filter by what the caller may read (the web UI asks the same question).
pub async fn authorize(st: &LogsState, p: &Principal, mut f: EventFilter) -> ApiResult<EventFilter> {
    if p.is_admin {
        return Ok(f);
    }
    fn exact(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| !vigil_core::glob::is_pattern(v))
    }
    if let Some(repo) = exact(&f.repository) {
        let name: RepoName = repo.parse().map_err(|e| bad(format!("bad repository {repo:?}: {e}")))?;
        if admin_api::require_repo_admin(&st.admin, p, &name).await.is_ok() {
            return Ok(f);
        }
    }
    if let Some(ns) = exact(&f.namespace) {
        if admin_api::require_namespace_admin(&st.admin, p, ns).await.is_ok() {
            return Ok(f);
        }
    }
    match f.user_name.as_deref() {
        None => f.user_name = Some(p.name.clone()),
        Some(u) if u == p.name => {}
        Some(_) => {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "you may read your own events, and those of repositories and namespaces you administer".into(),
            ))
        }
    }
    Ok(f)
}

async fn caller(st: &LogsState, parts: &axum::http::request::Parts) -> ApiResult<Principal> {
    let p = admin_api::caller(&st.admin, parts).await?;
    vigil_audit::RequestScope::of(parts).set_user(p.audit_user());
    Ok(p)
}

fn wants(headers: &HeaderMap, media: &str) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains(media))
}

async fn events(
    State(st): State<LogsState>,
    Query(q): Query<HashMap<String, String>>,
    parts: axum::http::request::Parts,
) -> ApiResult<Response> {
    let p = caller(&st, &parts).await?;
    let f = authorize(&st, &p, filter(&q)?).await?;
    let ascending = match q.get("order").map(String::as_str) {
        None | Some("" | "desc") => false,
        Some("asc") => true,
        Some(o) => return Err(bad(format!("`order` is asc or desc, not {o:?}"))),
    };
    if wants(&parts.headers, "application/x-ndjson") {
        return Ok(stream_all(st, f, Format::Ndjson));
    }
    if wants(&parts.headers, "text/csv") {
        return Ok(stream_all(st, f, Format::Csv));
    }
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| bad(format!("`limit` is 1 to {MAX_LIMIT}, not {l:?}")))?,
    };
    let cursor = match q.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            crate::page_token::read(&st.page_key, &paged(&f, ascending), c)
                .map_err(|e| bad(format!("`cursor` {e}")))?,
        ),
        None => None,
    };
    let order = if ascending {
        Order::OldestFirst { after: cursor.unwrap_or(0) }
    } else {
        Order::NewestFirst { before: cursor }
    };
    let mut entries = st.journal.query_entries(&f, order, limit + 1).await.map_err(internal)?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let list: Vec<Value> = entries.iter().filter_map(|r| serde_json::from_slice(&r.bytes).ok()).collect();
    let next = match (more, entries.last()) {
        (true, Some(last)) => Value::String(crate::page_token::issue(&st.page_key, &paged(&f, ascending), last.seq)),
        _ => Value::Null,
    };
    Ok(Json(json!({ "events": list, "next_cursor": next })).into_response())
}

/// What a cursor of `/api/v1/audit/events` is bound to: the filter and the order.
fn paged(f: &EventFilter, ascending: bool) -> String {
    format!("{}order={}", crate::page_token::canonical(f), if ascending { "asc" } else { "desc" })
}

/// The shapes a whole result streams in.
#[derive(Clone, Copy)]
pub enum Format {
    Ndjson,
    Csv,
}

pub const CSV_HEADER: &str =
    "seq,ts,kind,action,operation,outcome,status,user,repository,tag,digest,remote_addr,request_id\n";

/// A cell as a spreadsheet will read it: text that would start a formula (`=`, `+`, `-`, `@`, a tab or a carriage
/// return: a failed login named `=cmd|' /C calc'!A0`, say) gets a leading `'`, which spreadsheets show as text.
/// User names, paths and user agents come from clients, so no cell is trusted.
fn csv_cell(v: Option<&str>) -> std::borrow::Cow<'_, str> {
    match v {
        Some(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}").into(),
        Some(s) => s.into(),
        None => "".into(),
    }
}

/// One event as a CSV record (the columns of [`CSV_HEADER`]), quoted by the csv crate's rules.
pub fn csv_line(bytes: &[u8]) -> String {
    let e = EventView::parse_lenient(bytes);
    let (seq, status) = (e.seq.to_string(), e.status().map(|s| s.to_string()));
    let t = e.target_view();
    let fields = [
        Some(seq.as_str()),
        Some(e.ts.as_ref()),
        Some(e.kind.as_ref()),
        Some(e.action.as_ref()),
        Some(e.operation.as_ref()),
        Some(e.outcome.as_ref()),
        status.as_deref(),
        e.user_name(),
        t.repository.as_deref(),
        t.tag.as_deref(),
        t.digest.as_deref(),
        e.remote_addr(),
        e.request_id(),
    ];
    // A record is a few hundred bytes: a small buffer, not the crate's 8 KiB, for each line of an export.
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(512)
        .from_writer(Vec::with_capacity(512));
    let written = out.write_record(fields.iter().map(|v| csv_cell(*v).into_owned())).is_ok();
    let bytes = match (written, out.into_inner()) {
        (true, Ok(bytes)) => bytes,
        // Writing to memory fails only on a bug; an empty record keeps the export's shape.
        _ => b"\n".to_vec(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every match, oldest first, in steps, as the body is sent: no record cap and bounded memory.
pub fn stream_all(st: LogsState, f: EventFilter, format: Format) -> Response {
    let header = match format {
        Format::Csv => Some(Bytes::from_static(CSV_HEADER.as_bytes())),
        Format::Ndjson => None,
    };
    let rows = stream::unfold(Some(0u64), move |after| {
        let (st, f) = (st.clone(), f.clone());
        async move {
            let after = after?;
            match st.journal.query_entries(&f, Order::OldestFirst { after }, STREAM_STEP).await {
                Ok(entries) => {
                    let next =
                        (entries.len() == STREAM_STEP as usize).then(|| entries.last().expect("a full page").seq);
                    let mut chunk = Vec::with_capacity(entries.len() * 700);
                    for r in &entries {
                        match format {
                            Format::Ndjson => {
                                chunk.extend_from_slice(&r.bytes);
                                chunk.push(b'\n');
                            }
                            Format::Csv => chunk.extend_from_slice(csv_line(&r.bytes).as_bytes()),
                        }
                    }
                    Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
                }
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    let body = stream::iter(header.map(Ok)).chain(rows);
    let media = match format {
        Format::Ndjson => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    ([(header::CONTENT_TYPE, media)], Body::from_stream(body)).into_response()
}

async fn aggregate(
    State(st): State<LogsState>,
    Query(q): Query<HashMap<String, String>>,
    parts: axum::http::request::Parts,
) -> ApiResult<Json<Value>> {
    let p = caller(&st, &parts).await?;
    let f = authorize(&st, &p, filter(&q)?).await?;
    let (mut bucket, mut group) = (None, None);
    for g in
        q.get("group_by").map(String::as_str).filter(|g| !g.is_empty()).unwrap_or("day,kind").split(',').map(str::trim)
    {
        match g {
            "day" if bucket.is_none() => bucket = Some(Bucket::Day),
            "hour" if bucket.is_none() => bucket = Some(Bucket::Hour),
            "kind" | "action" | "user" | "repository" | "outcome" if group.is_none() => {
                group = Some(match g {
                    "kind" => GroupBy::Kind,
                    "action" => GroupBy::Action,
                    "user" => GroupBy::User,
                    "repository" => GroupBy::Repository,
                    _ => GroupBy::Outcome,
                })
            }
            other => {
                return Err(bad(format!(
                    "`group_by` takes at most one of day, hour and one of kind, action, user, repository, outcome; \
                     not {other:?}"
                )))
            }
        }
    }
    let groups = st.journal.aggregate_events(&f, bucket, group).await.map_err(internal)?;
    let rows: Vec<Value> = groups
        .iter()
        .map(|g| json!({ "bucket": g.bucket_ms.map(rfc3339_ms), "key": g.key, "count": g.count }))
        .collect();
    Ok(Json(json!({ "groups": rows })))
}

/// Server-Sent Events: every matching event as it is indexed, `id:` its seq, resumable with `Last-Event-ID`
/// (or `?cursor=<seq>`); without either, only events from now on.
async fn tail(
    State(st): State<LogsState>,
    Query(q): Query<HashMap<String, String>>,
    parts: axum::http::request::Parts,
) -> ApiResult<Response> {
    let p = caller(&st, &parts).await?;
    let mut q = q;
    let resume =
        parts.headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned).or(q.remove("cursor"));
    let f = authorize(&st, &p, filter(&q)?).await?;
    let after = resume_point(&st, resume.as_deref()).await?;
    Ok(live(st, f, after))
}

/// Where a live tail starts: after the event a client last saw (`Last-Event-ID`), or after the newest indexed one.
pub async fn resume_point(st: &LogsState, last_seen: Option<&str>) -> ApiResult<u64> {
    let head = st.journal.indexed_through().await.map_err(internal)?;
    let Some(id) = last_seen else { return Ok(head) };
    let seq = id.trim().parse::<u64>().map_err(|_| bad(format!("`Last-Event-ID` {id:?} is not a seq")))?;
    // A cursor past the head would wait silently for events that already have other numbers' places.
    if seq > head {
        return Err(bad(format!("`Last-Event-ID` {seq} is beyond the newest event ({head})")));
    }
    Ok(seq)
}

/// Server-Sent Events of every event matching `f` after seq `after`, as they are indexed (the web UI's live tail
/// too).
pub fn live(st: LogsState, f: EventFilter, after: u64) -> Response {
    let events = stream::unfold((st, f, after, true), |(st, f, after, first)| async move {
        if !first {
            tokio::time::sleep(TAIL_POLL).await;
        }
        let (chunk, next) = match st.journal.query_entries(&f, Order::OldestFirst { after }, STREAM_STEP).await {
            Ok(entries) => {
                let mut chunk = String::new();
                for r in &entries {
                    chunk.push_str(&format!(
                        "id: {}\nevent: audit\ndata: {}\n\n",
                        r.seq,
                        String::from_utf8_lossy(&r.bytes)
                    ));
                }
                if chunk.is_empty() {
                    chunk.push_str(": keep-alive\n\n");
                }
                (chunk, entries.last().map_or(after, |e| e.seq))
            }
            Err(e) => (format!("event: error\ndata: {e}\n\n"), after),
        };
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), (st, f, next, false)))
    });
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(events))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_never_start_a_formula_and_read_back_with_a_csv_reader() {
        let event = serde_json::json!({
            "seq": 7, "ts": "2026-12-01T10:00:00.000Z", "kind": "login_failure", "action": "login",
            "operation": "Login", "outcome": "denied", "actor": "api",
            "user": { "name": "=cmd|' /C calc'!A0", "kind": "anonymous", "credential": "password" },
            "target": { "repository": "a/b", "tag": "+SUM(1,2)" },
            "request": { "remote_addr": "@evil", "id": "r,1\"x\nnext", "method": "GET", "path": "/v2/" },
            "response": { "status": 401 },
        });
        let text = format!("{CSV_HEADER}{}", csv_line(event.to_string().as_bytes()));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let record = reader.records().next().unwrap().unwrap();
        let field = |name: &str| record.get(headers.iter().position(|h| h == name).unwrap()).unwrap().to_owned();
        assert_eq!(field("user"), "'=cmd|' /C calc'!A0");
        assert_eq!(field("tag"), "'+SUM(1,2)");
        assert_eq!(field("remote_addr"), "'@evil");
        assert_eq!(field("request_id"), "r,1\"x\nnext", "quoting keeps commas, quotes and newlines in one cell");
        assert_eq!((field("seq"), field("status")), ("7".to_owned(), "401".to_owned()));
        assert!(reader.records().next().is_none(), "one record");
    }
}
