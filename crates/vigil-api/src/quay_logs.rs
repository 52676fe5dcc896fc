//! Quay-compatible usage logs: `GET …/logs` and `GET …/aggregatelogs` for a repository, an organization and the
//! calling user, with Quay's shapes (RFC 2822 datetimes, Quay's kind names, 20 per page newest first, opaque
//! `next_page`) so existing scripts work unchanged. Beyond Quay: RFC 3339 times to the second besides
//! `MM/DD/YYYY`, `performer` at every level, a `kind` filter, no 31-day limit on aggregates, and a 400 (never a
//! silent default) for a bad date, a reversed range or a forged `next_page`. Reads the query index
//! (`vigil_audit::indexer`), then the events themselves from the journal.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Path as UrlPath, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vigil_audit::RequestScope;
use vigil_auth::Principal;
use vigil_core::time::{parse_iso_date, parse_rfc3339, parse_us_date, rfc2822};
use vigil_core::RepoName;
use vigil_store::index::{Bucket, EventFilter, GroupBy, Order};
use vigil_store::MetadataStore;

use crate::caller::{self as admin_api, AdminState, ApiError};
use vigil_audit::view::EventView;

/// Quay's page size.
const PAGE: u32 = 20;
const DAY_MS: i64 = 86_400_000;

#[derive(Clone)]
pub struct LogsState {
    pub admin: AdminState,
    pub journal: Arc<dyn MetadataStore>,
    /// Signs `next_page` tokens, so a client can neither forge nor alter one.
    pub page_key: Arc<[u8; 32]>,
}

impl LogsState {
    /// Loads (creating on the first start) the page-token key in the data directory.
    pub fn new(admin: AdminState, journal: Arc<dyn MetadataStore>, data_dir: &Path) -> anyhow::Result<LogsState> {
        let path = data_dir.join("logs-page.key");
        let key = vigil_auth::secret::load_or_create_key(&path)
            .map_err(|e| anyhow::anyhow!("loading the page-token key {}: {e}", path.display()))?;
        let key: [u8; 32] = key[..32].try_into().expect("at least 32 bytes");
        Ok(LogsState { admin, journal, page_key: Arc::new(key) })
    }
}

pub fn router(st: LogsState) -> Router {
    Router::new()
        .route("/api/v1/user/logs", get(user_get))
        .route("/api/v1/user/aggregatelogs", get(user_get))
        .route("/api/v1/organization/{org}/logs", get(org_get))
        .route("/api/v1/organization/{org}/aggregatelogs", get(org_get))
        // The admin API owns `/api/v1/repository/{*rest}` for other methods; repository names hold `/`.
        .route("/api/v1/repository/{*rest}", get(repo_get))
        .with_state(st)
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

/// The authenticated caller (Basic or an API token as Bearer, like the admin API).
pub(crate) struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    LogsState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &S) -> ApiResult<Self> {
        let p = admin_api::caller(&LogsState::from_ref(st).admin, parts).await?;
        RequestScope::of(parts).set_user(p.audit_user());
        Ok(Caller(p))
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct LogsQuery {
    pub starttime: Option<String>,
    pub endtime: Option<String>,
    pub performer: Option<String>,
    /// vigil: one kind, or several separated by commas.
    pub kind: Option<String>,
    pub next_page: Option<String>,
}

/// Which logs a level covers.
pub(crate) enum Level {
    Repository(RepoName),
    Organization(String),
    /// A user's own actions: by name, since the account was created (a name deleted and made again is another
    /// account, whose log does not start with its predecessor's).
    User {
        name: String,
        since_ms: i64,
    },
}

impl Level {
    pub(crate) fn filter(&self) -> EventFilter {
        match self {
            Level::Repository(r) => EventFilter { repository: Some(r.to_string()), ..EventFilter::default() },
            Level::Organization(o) => EventFilter { namespace: Some(o.clone()), ..EventFilter::default() },
            Level::User { name, since_ms } => {
                EventFilter { user_name: Some(name.clone()), from_ms: Some(*since_ms), ..EventFilter::default() }
            }
        }
    }
}

/// `starttime`/`endtime`: `MM/DD/YYYY` or `YYYY-MM-DD` (an end date covers its whole day) or RFC 3339. Quay's
/// default window is the day before now to the day after.
pub(crate) fn window(q: &LogsQuery, now_ms: i64) -> ApiResult<(i64, i64)> {
    let parse = |name: &str, v: &str, end: bool| -> ApiResult<i64> {
        if let Some(day) = parse_us_date(v).or_else(|| parse_iso_date(v)) {
            return Ok(if end { day + DAY_MS } else { day });
        }
        parse_rfc3339(v).ok_or_else(|| {
            bad(format!(
                "`{name}` {v:?} is not MM/DD/YYYY, YYYY-MM-DD or an RFC 3339 time such as 2024-01-02T10:11:12Z"
            ))
        })
    };
    let start = match q.starttime.as_deref().filter(|s| !s.is_empty()) {
        Some(v) => parse("starttime", v, false)?,
        None => now_ms - DAY_MS,
    };
    let end = match q.endtime.as_deref().filter(|s| !s.is_empty()) {
        Some(v) => parse("endtime", v, true)?,
        None => now_ms + DAY_MS,
    };
    if end < start {
        return Err(bad(format!("`endtime` ({}) is before `starttime` ({})", rfc2822(end), rfc2822(start))));
    }
    Ok((start, end))
}

pub(crate) fn full_filter(level: &Level, q: &LogsQuery, start: i64, end: i64) -> ApiResult<EventFilter> {
    let mut f = level.filter();
    f.from_ms = Some(f.from_ms.map_or(start, |since| since.max(start)));
    f.to_ms = Some(end);
    if let Some(p) = q.performer.as_deref().filter(|p| !p.is_empty()) {
        literal("performer", p)?;
        if matches!(level, Level::User { name, .. } if name != p) {
            // Your own logs, filtered by someone else: nothing, as in Quay.
            f.user_name = Some(String::from("\u{0}none"));
        } else {
            f.user_name = Some(p.to_owned());
        }
    }
    if let Some(kinds) = q.kind.as_deref().filter(|k| !k.is_empty()) {
        f.kinds = kinds.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
        if let Some(k) = f.kinds.iter().find(|k| !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')) {
            return Err(bad(format!("`kind` {k:?} is not a log kind (lowercase letters and _)")));
        }
    }
    Ok(f)
}

async fn logs(st: &LogsState, level: Level, q: LogsQuery) -> ApiResult<Json<Value>> {
    let (start, end) = window(&q, vigil_store::now_ms())?;
    let filter = full_filter(&level, &q, start, end)?;
    // The token is bound to the query as asked, not to the computed window, which moves with the clock when the
    // dates are left to their defaults.
    let asked = format!(
        "{}starttime={:?};endtime={:?};performer={:?};kind={:?}",
        crate::page_token::canonical(&level.filter()),
        q.starttime,
        q.endtime,
        q.performer,
        q.kind
    );
    let before = match q.next_page.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(crate::page_token::read(&st.page_key, &asked, t).map_err(|e| bad(format!("`next_page` {e}")))?),
        None => None,
    };
    let internal = |e: vigil_store::StoreError| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let mut entries =
        st.journal.query_entries(&filter, Order::NewestFirst { before }, PAGE + 1).await.map_err(internal)?;
    let more = entries.len() > PAGE as usize;
    entries.truncate(PAGE as usize);
    let logs: Vec<Value> =
        entries.iter().filter_map(|r| EventView::parse(&r.bytes).ok()).map(|e| quay_log(&e)).collect();
    let mut body = json!({ "start_time": rfc2822(start), "end_time": rfc2822(end), "logs": logs });
    if let (true, Some(last)) = (more, entries.last()) {
        body["next_page"] = Value::String(crate::page_token::issue(&st.page_key, &asked, last.seq));
    }
    Ok(Json(body))
}

/// One event as a Quay log entry. `metadata` has Quay's keys for what vigil records, plus `seq` (the event in
/// vigil's own API and in the changefeed), `outcome` and `request_id`.
pub(crate) fn quay_log(e: &EventView<'_>) -> Value {
    let own = |v: Option<&str>| v.map(str::to_owned);
    let target = e.target_view();
    let mut meta = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            meta.insert(k.to_owned(), Value::String(v));
        }
    };
    let repository = own(target.repository.as_deref());
    let namespace = own(target.namespace.as_deref());
    let short = match (&repository, &namespace) {
        (Some(r), Some(n)) => r.strip_prefix(&format!("{n}/")).map(str::to_owned).or(Some(r.clone())),
        (r, _) => r.clone(),
    };
    put("namespace", namespace);
    put("repo", short);
    put("tag", own(target.tag.as_deref()));
    put("manifest_digest", own(target.digest.as_deref()));
    put("username", own(e.user_name()));
    put("user-agent", own(e.user_agent()));
    put("outcome", Some(e.outcome.to_string()));
    put("request_id", own(e.request_id()));
    put("detail", Some(e.detail.to_string()));
    meta.insert("seq".into(), e.seq.into());
    if let Some(status) = e.status() {
        meta.insert("status".into(), status.into());
    }
    let performer = match e.user.as_ref().map(|u| u.kind.as_ref()) {
        Some("anonymous") | Some("") | None => Value::Null,
        Some(kind) => json!({
            "kind": if kind == "robot" { "user" } else { kind },
            "name": e.user_name(),
            "is_robot": kind == "robot",
        }),
    };
    let ts_ms = parse_rfc3339(&e.ts).unwrap_or_default();
    json!({
        "kind": e.kind,
        "ip": e.remote_addr(),
        "datetime": rfc2822(ts_ms),
        "metadata": meta,
        "performer": performer,
    })
}

async fn aggregate(st: &LogsState, level: Level, q: LogsQuery) -> ApiResult<Json<Value>> {
    if q.next_page.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(bad("aggregates are not paged: `next_page` does not apply"));
    }
    let (start, end) = window(&q, vigil_store::now_ms())?;
    let filter = full_filter(&level, &q, start, end)?;
    let groups = st
        .journal
        .aggregate_events(&filter, Some(Bucket::Day), Some(GroupBy::Kind))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let aggregated: Vec<Value> = groups
        .iter()
        .map(|g| json!({ "kind": g.key, "count": g.count, "datetime": rfc2822(g.bucket_ms.unwrap_or_default()) }))
        .collect();
    Ok(Json(json!({ "aggregated": aggregated })))
}

/// The query string, or the reason it is not one.
type QueryArg = Result<Query<LogsQuery>, axum::extract::rejection::QueryRejection>;

/// What an endpoint answers: the entries themselves, or their counts.
#[derive(Clone, Copy)]
enum Report {
    Logs,
    Aggregate,
}

impl Report {
    /// The last path segment naming it.
    fn of(segment: &str) -> Option<Report> {
        match segment {
            "logs" => Some(Report::Logs),
            "aggregatelogs" => Some(Report::Aggregate),
            _ => None,
        }
    }

    /// The report a request's path ends with.
    fn of_path(uri: &Uri) -> ApiResult<Report> {
        uri.path().rsplit('/').next().and_then(Report::of).ok_or_else(not_found)
    }
}

async fn answer(st: &LogsState, level: Level, report: Report, q: QueryArg) -> ApiResult<Json<Value>> {
    let q = q.map(|Query(q)| q).map_err(|e| bad(format!("bad query string: {e}")))?;
    match report {
        Report::Logs => logs(st, level, q).await,
        Report::Aggregate => aggregate(st, level, q).await,
    }
}

pub(crate) fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such endpoint".into())
}

/// `GET /api/v1/user/logs` and `…/aggregatelogs`: the caller's own actions.
async fn user_get(State(st): State<LogsState>, uri: Uri, Caller(p): Caller, q: QueryArg) -> ApiResult<Json<Value>> {
    let report = Report::of_path(&uri)?;
    let level = user_level(&st.admin, &p).await?;
    answer(&st, level, report, q).await
}

/// The caller's own level: their name, from their account's creation on.
pub(crate) async fn user_level(admin: &AdminState, p: &vigil_auth::Principal) -> ApiResult<Level> {
    let account = match &p.account_id {
        Some(id) => admin
            .auth
            .store()
            .account_by_id(id)
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
        None => None,
    };
    Ok(Level::User { name: p.name.clone(), since_ms: account.map_or(0, |a| a.created_at_ms) })
}

/// Names in Quay's API are literal: the index treats `*`, `?` and `[` as wildcards, so they may not reach it.
pub(crate) fn literal(what: &str, name: &str) -> ApiResult<()> {
    if vigil_core::glob::is_pattern(name) {
        return Err(bad(format!("{what} {name:?} is not a name (no wildcards here)")));
    }
    Ok(())
}

/// An organization's name: one repository name component of at most 64 characters, as every account's.
pub(crate) fn organization(org: &str) -> ApiResult<()> {
    if !vigil_core::name::is_account_name(org) {
        return Err(bad(format!(
            "organization {org:?} is not a name (lowercase letters, digits and separators, at most 64)"
        )));
    }
    Ok(())
}

/// `GET /api/v1/organization/<org>/logs` and `…/aggregatelogs`.
async fn org_get(
    State(st): State<LogsState>,
    UrlPath(org): UrlPath<String>,
    uri: Uri,
    Caller(p): Caller,
    q: QueryArg,
) -> ApiResult<Json<Value>> {
    let report = Report::of_path(&uri)?;
    organization(&org)?;
    admin_api::require_namespace_admin(&st.admin, &p, &org).await?;
    answer(&st, Level::Organization(org), report, q).await
}

/// `GET /api/v1/repository/<ns>/<repo>/logs` and `…/aggregatelogs`.
async fn repo_get(
    State(st): State<LogsState>,
    UrlPath(rest): UrlPath<String>,
    Caller(p): Caller,
    q: QueryArg,
) -> ApiResult<Json<Value>> {
    let (name, what) = rest.rsplit_once('/').ok_or_else(not_found)?;
    let report = Report::of(what).ok_or_else(not_found)?;
    let (ns, repo) = name.split_once('/').ok_or_else(not_found)?;
    let name = crate::caller::api_repo(&format!("{ns}/{repo}"))?;
    admin_api::require_repo_admin(&st.admin, &p, &name).await?;
    answer(&st, Level::Repository(name), report, q).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_take_quay_dates_and_rfc3339_and_refuse_the_rest() {
        let q = |s: Option<&str>, e: Option<&str>| LogsQuery {
            starttime: s.map(str::to_owned),
            endtime: e.map(str::to_owned),
            ..LogsQuery::default()
        };
        let now = 1_704_190_272_000;
        assert_eq!(window(&q(None, None), now).unwrap(), (now - DAY_MS, now + DAY_MS));
        // An end date covers its whole day.
        assert_eq!(
            window(&q(Some("01/02/2024"), Some("01/02/2024")), now).unwrap(),
            (1_704_153_600_000, 1_704_153_600_000 + DAY_MS)
        );
        assert_eq!(
            window(&q(Some("2024-01-02T10:00:00Z"), Some("2024-01-02T11:00:00Z")), now).unwrap(),
            (1_704_189_600_000, 1_704_193_200_000)
        );
        // The seed's own form: YYYY-MM-DD, an end date again covering its day.
        assert_eq!(
            window(&q(Some("2024-01-02"), Some("2024-01-02")), now).unwrap(),
            (1_704_153_600_000, 1_704_153_600_000 + DAY_MS)
        );
        for (s, e) in [(Some("13/01/2024"), None), (Some("yesterday"), None), (None, Some("2024-13-02"))] {
            assert!(window(&q(s, e), now).is_err(), "{s:?} {e:?}");
        }
        assert!(window(&q(Some("01/03/2024"), Some("01/01/2024")), now).is_err(), "reversed");
    }
}
