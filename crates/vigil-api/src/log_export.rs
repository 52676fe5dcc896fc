//! Quay's log exports: `POST /api/v1/user/exportlogs`, `/api/v1/organization/<org>/exportlogs` and
//! `/api/v1/repository/<ns>/<repo>/exportlogs` with `{"callback_url"}` and/or `{"callback_email"}` answer
//! `{"export_id"}` at once; a background job writes every matching entry (Quay's file shape, no record cap), then
//! POSTs the callback with `exported_data_url`, a link signed by the server that expires after
//! `audit.export.url_ttl` (one hour), and e-mails the link (`export_mail.rs`).
//!
//! Callbacks only go to origins in `audit.export.callback_allowlist`, so nobody can make the server send requests
//! to internal addresses; redirects are not followed. E-mail only goes to `audit.export.smtp.recipient_domains`.
//! The request is recorded as `export_logs`, and the job's end as `export_logs_success` or `export_logs_failure`
//! (with the count, the callback's answer, whether the e-mail went, or the error).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, Path as UrlPath, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use vigil_audit::settings::ExportSettings;
use vigil_audit::{AuditDetail, Origin, Recorder, Target, UserRef};
use vigil_auth::Principal;
use vigil_core::time::rfc2822;
use vigil_core::{Operation, RepoName};
use vigil_store::index::{EventFilter, Order};

use crate::callback_allowlist::Allowlist;
use crate::caller::{self as admin_api, ApiError};
use crate::export_mail::{Mailer, Notice};
use crate::quay_logs::{self, bad, ApiResult, Caller, Level, LogsQuery, LogsState};
use vigil_audit::view::EventView;

/// Exports written at once; the rest wait their turn.
const CONCURRENT_JOBS: usize = 2;
/// Exports accepted but not finished, per server, before new ones are refused with 429.
const MAX_PENDING: usize = 32;
/// Entries read from the index and the journal per step.
const STEP: u32 = 1000;
/// Callback and e-mail attempts, and the pause before each retry.
const CALLBACK_RETRIES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a job waits for the query index to reach the journal's head as of the request, before it gives up
/// with Quay's `timedout`.
const INDEX_WAIT: Duration = Duration::from_secs(60);

/// The export service, shared by the handlers and the jobs they start.
pub struct Exports {
    logs: LogsState,
    recorder: Arc<Recorder>,
    dir: PathBuf,
    /// `public_url`, or the address the server listens on: the start of every download link.
    base_url: String,
    /// Signs download links; derived from the page-token key, so no second secret file.
    url_key: [u8; 32],
    allowlist: Allowlist,
    ttl: Duration,
    http: reqwest::Client,
    /// `None` without `[audit.export.smtp]`: `callback_email` is refused.
    mailer: Option<Mailer>,
    running: tokio::sync::Semaphore,
    pending: AtomicUsize,
}

impl FromRef<Arc<Exports>> for LogsState {
    fn from_ref(ex: &Arc<Exports>) -> LogsState {
        ex.logs.clone()
    }
}

impl Exports {
    /// Checks the settings and removes what an earlier run left behind: unfinished files and expired exports.
    /// Whether exports can be sent by e-mail (`audit.export.smtp` is configured).
    pub fn has_mail(&self) -> bool {
        self.mailer.is_some()
    }

    pub fn new(
        settings: &ExportSettings,
        data_dir: &Path,
        base_url: String,
        logs: LogsState,
        recorder: Arc<Recorder>,
    ) -> anyhow::Result<Arc<Exports>> {
        let ttl = settings.url_ttl().map_err(anyhow::Error::msg)?;
        let allowlist = Allowlist::parse(&settings.callback_allowlist)
            .map_err(|e| anyhow::anyhow!("audit.export.callback_allowlist: {e}"))?;
        let dir = data_dir.join(settings.dir.as_deref().unwrap_or(Path::new("exports")));
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        sweep(&dir, ttl);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&logs.page_key[..]).expect("HMAC takes any key length");
        mac.update(b"vigil log export download links");
        let url_key: [u8; 32] = mac.finalize().into_bytes().into();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALLBACK_TIMEOUT)
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION"), " log-export"))
            .build()?;
        let hello = reqwest::Url::parse(&base_url).ok().and_then(|u| u.host_str().map(str::to_owned));
        let mailer = Mailer::new(&settings.smtp, hello.as_deref())?;
        Ok(Arc::new(Exports {
            logs,
            recorder,
            dir,
            base_url: base_url.trim_end_matches('/').to_owned(),
            url_key,
            allowlist,
            ttl,
            http,
            mailer,
            running: tokio::sync::Semaphore::new(CONCURRENT_JOBS),
            pending: AtomicUsize::new(0),
        }))
    }

    fn file(&self, id: &uuid::Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn link_mac(&self, id: &uuid::Uuid, expires: u64) -> Hmac<sha2::Sha256> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.url_key).expect("HMAC takes any key length");
        mac.update(format!("{id}|{expires}").as_bytes());
        mac
    }

    /// A download link for `id` valid until `expires` (Unix seconds).
    fn signed_url(&self, id: &uuid::Uuid, expires: u64) -> String {
        let signature = B64URL.encode(self.link_mac(id, expires).finalize().into_bytes());
        format!("{}/api/v1/audit/exports/{id}.json?expires={expires}&signature={signature}", self.base_url)
    }
}

/// Removes unfinished files (a crash mid-export) and exports whose links have expired.
fn sweep(dir: &Path, ttl: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry.metadata().and_then(|m| m.modified()).map(|t| t.elapsed().unwrap_or_default() > ttl);
        let unfinished = path.extension().is_some_and(|e| e == "partial");
        if unfinished || old.unwrap_or(false) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

pub fn router(ex: Arc<Exports>) -> Router {
    Router::new()
        .route("/api/v1/user/exportlogs", post(user_export))
        .route("/api/v1/organization/{org}/exportlogs", post(org_export))
        // Repository paths hold `/`; the admin API owns POST on them and hands `…/exportlogs` to `repo_export`.
        .route("/api/v1/audit/exports/{file}", get(download))
        .with_state(ex)
}

type QueryArg = Result<Query<LogsQuery>, axum::extract::rejection::QueryRejection>;

/// The body Quay takes: where to send the result and, as Quay's documentation writes it, the window (which wins over
/// the query string's when both are given). Any other field is a clear 400.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportRequest {
    callback_url: Option<String>,
    callback_email: Option<String>,
    starttime: Option<String>,
    endtime: Option<String>,
}

/// One accepted export.
struct Job {
    id: uuid::Uuid,
    requester: UserRef,
    level_target: Target,
    filter: EventFilter,
    start_ms: i64,
    end_ms: i64,
    /// What the export covers, in words, for the e-mail.
    scope: String,
    callback_url: Option<reqwest::Url>,
    callback_email: Option<lettre::Address>,
    /// The journal's head when the export was asked for: everything up to it is in the file.
    journal_head: u64,
}

async fn user_export(State(ex): State<Arc<Exports>>, Caller(p): Caller, q: QueryArg, body: Bytes) -> Response {
    let level = match crate::quay_logs::user_level(&ex.logs.admin, &p).await {
        Ok(level) => level,
        Err(e) => return e.into_response(),
    };
    accept(&ex, &p, level, q, &body).await.into_response()
}

async fn org_export(
    State(ex): State<Arc<Exports>>,
    UrlPath(org): UrlPath<String>,
    Caller(p): Caller,
    q: QueryArg,
    body: Bytes,
) -> Response {
    let result = async {
        quay_logs::organization(&org)?;
        admin_api::require_namespace_admin(&ex.logs.admin, &p, &org).await?;
        accept(&ex, &p, Level::Organization(org), q, &body).await
    };
    result.await.into_response()
}

/// `POST /api/v1/repository/<ns>/<repo>/exportlogs`, reached through the admin API's repository routes (`name` is
/// `<ns>/<repo>`; the caller is already authenticated).
pub async fn repo_export(ex: &Arc<Exports>, p: &Principal, name: &str, uri: &Uri, body: &[u8]) -> Response {
    let result = async {
        let name = crate::caller::api_repo(name)?;
        admin_api::require_repo_admin(&ex.logs.admin, p, &name).await?;
        let q = Query::<LogsQuery>::try_from_uri(uri);
        accept(ex, p, Level::Repository(name), q, body).await
    };
    result.await.into_response()
}

/// Where an export asked for outside Quay's paths (the web UI) covers: the caller's own actions, an organization,
/// or a repository.
pub enum ExportLevel<'a> {
    User,
    Organization(&'a str),
    Repository(&'a str),
}

/// An export asked for from the web UI: the same permission checks, body rules and job as Quay's
/// `POST …/exportlogs`, answered with the export's id (or the error the API would answer).
pub async fn request(ex: &Arc<Exports>, p: &Principal, level: ExportLevel<'_>, uri: &Uri, body: &[u8]) -> Response {
    let result = async {
        let level = match level {
            ExportLevel::User => crate::quay_logs::user_level(&ex.logs.admin, p).await?,
            ExportLevel::Organization(org) => {
                quay_logs::literal("organization", org)?;
                admin_api::require_namespace_admin(&ex.logs.admin, p, org).await?;
                Level::Organization(org.to_owned())
            }
            ExportLevel::Repository(name) => {
                let name: RepoName = name.parse().map_err(|e| bad(format!("bad repository name {name}: {e}")))?;
                admin_api::require_repo_admin(&ex.logs.admin, p, &name).await?;
                Level::Repository(name)
            }
        };
        accept(ex, p, level, Query::<LogsQuery>::try_from_uri(uri), body).await
    };
    result.await.into_response()
}

/// Checks the request, starts the job and answers its id.
async fn accept(ex: &Arc<Exports>, p: &Principal, level: Level, q: QueryArg, body: &[u8]) -> ApiResult<Response> {
    let mut q = q.map(|Query(q)| q).map_err(|e| bad(format!("bad query string: {e}")))?;
    if q.next_page.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(bad("exports are not paged: `next_page` does not apply"));
    }
    vigil_core::json_depth::check(body).map_err(bad)?;
    let req: ExportRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the body must be a JSON object with `callback_url` and/or `callback_email`, and optionally \
             `starttime` and `endtime`: {e}"
        ))
    })?;
    if let Some(start) = req.starttime.filter(|s| !s.is_empty()) {
        q.starttime = Some(start);
    }
    if let Some(end) = req.endtime.filter(|s| !s.is_empty()) {
        q.endtime = Some(end);
    }
    let (start_ms, end_ms) = quay_logs::window(&q, vigil_store::now_ms())?;
    let filter = quay_logs::full_filter(&level, &q, start_ms, end_ms)?;
    let callback_email = match (req.callback_email.filter(|e| !e.is_empty()), &ex.mailer) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(bad("e-mail is not configured on this server (no audit.export.smtp.host): give \
                            `callback_url` to be told where the export is"))
        }
        (Some(address), Some(mailer)) => Some(mailer.recipient(&address).map_err(bad)?),
    };
    let callback_url = match req.callback_url.filter(|u| !u.is_empty()) {
        Some(url) => Some(ex.allowlist.check(&url).map_err(bad)?),
        None if callback_email.is_some() => None,
        None if ex.mailer.is_some() => return Err(bad("`callback_url` or `callback_email` is required")),
        None => return Err(bad("`callback_url` is required")),
    };
    if ex.pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING {
        ex.pending.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError(StatusCode::TOO_MANY_REQUESTS, "too many log exports in progress; retry later".into()));
    }
    let scope = scope(&level, &q);
    let level_target = match &level {
        Level::Repository(r) => Target::repo(r),
        Level::Organization(o) => Target { namespace: Some(o.clone()), ..Target::default() },
        Level::User { .. } => Target::default(),
    };
    let journal_head = ex.logs.journal.journal_head().await.map_err(|e| {
        ex.pending.fetch_sub(1, Ordering::SeqCst);
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    })?;
    let requester = p.audit_user();
    let id = uuid::Uuid::new_v4();
    let job = Job {
        id,
        requester,
        level_target,
        filter,
        start_ms,
        end_ms,
        scope,
        callback_url,
        callback_email,
        journal_head,
    };
    let detail = json!({
        "export_id": id.to_string(),
        "callback_url": job.callback_url.as_ref().map(crate::callback_allowlist::recorded),
        "callback_email": job.callback_email.as_ref().map(ToString::to_string),
    });
    tokio::spawn(run(ex.clone(), job));
    let mut resp = Json(json!({ "export_id": id.to_string() })).into_response();
    resp.extensions_mut().insert(AuditDetail(detail.to_string()));
    Ok(resp)
}

/// `repository acme/app`, `organization acme` or `user alice`, and the filters.
fn scope(level: &Level, q: &LogsQuery) -> String {
    let mut scope = match level {
        Level::Repository(r) => format!("repository {r}"),
        Level::Organization(o) => format!("organization {o}"),
        Level::User { name, .. } => format!("user {name}"),
    };
    for (name, value) in [("performer", &q.performer), ("kind", &q.kind)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            scope.push_str(&format!(", {name} {v}"));
        }
    }
    scope
}

/// Writes the file, calls back and e-mails, records the result, and removes the file when its link expires.
async fn run(ex: Arc<Exports>, job: Job) {
    let written = match indexed(&ex, job.journal_head).await {
        Ok(()) => {
            let _turn = ex.running.acquire().await.expect("the semaphore is never closed");
            write(&ex, &job).await.map_err(|e| ("failed", e))
        }
        Err(e) => Err(("timedout", e)),
    };
    // Rounded up to the second the link names, so a TTL under a second still leaves that much.
    let expires = (vigil_store::now_ms() as u64 + ex.ttl.as_millis() as u64).div_ceil(1000);
    let (status, url) = match &written {
        Ok(_) => ("success", Some(ex.signed_url(&job.id, expires))),
        Err((status, e)) => {
            tracing::warn!(export_id = %job.id, error = %e, "log export failed");
            (*status, None)
        }
    };
    let written = written.map_err(|(_, e)| e);
    let callback = async {
        let target = job.callback_url.as_ref()?;
        Some(call_back(&ex, &job, target, status, url.as_deref()).await)
    };
    let email = async {
        let (to, mailer) = (job.callback_email.as_ref()?, ex.mailer.as_ref()?);
        // The reader gets the link, or why there is none (the details are the server's: its log and this event).
        let outcome = match (&written, &url) {
            (Ok(entries), Some(link)) => Ok((*entries, link.as_str(), expires)),
            _ if status == "timedout" => Err("the audit log's query index did not catch up in time"),
            _ => Err("the server could not write the export file"),
        };
        let notice =
            Notice { export_id: &job.id, scope: &job.scope, start_ms: job.start_ms, end_ms: job.end_ms, outcome };
        let message = match mailer.message(to, &notice) {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        Some(mailer.send(&message, &CALLBACK_RETRIES).await)
    };
    let (delivered, mailed) = tokio::join!(callback, email);
    record(&ex, &job, &written, &delivered, &mailed).await;
    ex.pending.fetch_sub(1, Ordering::SeqCst);
    if written.is_ok() {
        tokio::time::sleep(ex.ttl + Duration::from_secs(60)).await;
        let _ = tokio::fs::remove_file(ex.file(&job.id)).await;
    }
}

/// Waits until the query index holds every event up to `head`.
async fn indexed(ex: &Exports, head: u64) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + INDEX_WAIT;
    loop {
        let through = ex.logs.journal.indexed_through().await.map_err(|e| format!("reading the query index: {e}"))?;
        if through >= head {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("the query index stayed at seq {through}, behind the journal's {head}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `{"export_id", "details": {…}, "logs": [Quay entries, oldest first]}`, written to a temporary file, fsynced
/// and renamed, so a link never points at half a file. Returns the number of entries.
async fn write(ex: &Exports, job: &Job) -> Result<u64, String> {
    let path = ex.file(&job.id);
    let tmp = path.with_extension("json.partial");
    let result = async {
        let file = tokio::fs::File::create(&tmp).await.map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let mut out = tokio::io::BufWriter::new(file);
        let io = |e: std::io::Error| format!("writing {}: {e}", tmp.display());
        let details = json!({
            "start_time": rfc2822(job.start_ms),
            "end_time": rfc2822(job.end_ms),
            "namespace": job.level_target.namespace,
            "repository": job.level_target.repository,
        });
        let head = json!({ "export_id": job.id.to_string(), "details": details });
        let head = head.to_string();
        // `{"details":…,"export_id":…}` → the same object left open for `"logs"`.
        out.write_all(&head.as_bytes()[..head.len() - 1]).await.map_err(io)?;
        out.write_all(b",\"logs\":[").await.map_err(io)?;
        let (mut after, mut count) = (0u64, 0u64);
        loop {
            let store = |e: vigil_store::StoreError| format!("reading the audit log: {e}");
            let entries =
                ex.logs.journal.query_entries(&job.filter, Order::OldestFirst { after }, STEP).await.map_err(store)?;
            // Up to the journal's head when the export was asked for: the file is what the log held then.
            let past_head = entries.last().is_some_and(|e| e.seq > job.journal_head);
            for entry in entries.iter().filter(|e| e.seq <= job.journal_head) {
                let Ok(event) = EventView::parse(&entry.bytes) else { continue };
                if count > 0 {
                    out.write_all(b",").await.map_err(io)?;
                }
                out.write_all(quay_logs::quay_log(&event).to_string().as_bytes()).await.map_err(io)?;
                count += 1;
            }
            match entries.last() {
                Some(last) if entries.len() == STEP as usize && !past_head => after = last.seq,
                _ => break,
            }
        }
        out.write_all(b"]}").await.map_err(io)?;
        out.flush().await.map_err(io)?;
        out.get_ref().sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
        Ok(count)
    };
    let r = result.await;
    if r.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    r
}

/// POSTs Quay's callback body, retrying on errors and non-2xx answers. The callback's HTTP status, or why none.
async fn call_back(
    ex: &Exports,
    job: &Job,
    target: &reqwest::Url,
    status: &str,
    url: Option<&str>,
) -> Result<u16, String> {
    let body = json!({
        "export_id": job.id.to_string(),
        "start_time": rfc2822(job.start_ms),
        "end_time": rfc2822(job.end_ms),
        "namespace": job.level_target.namespace,
        "repository": job.level_target.repository,
        "exported_data_url": url,
        "status": status,
    });
    crate::retry::with_retries(&CALLBACK_RETRIES, || async {
        match ex.http.post(target.clone()).json(&body).send().await {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err(format!("the callback answered {}", r.status())),
            Err(e) => Err(format!("the callback failed: {e}")),
        }
    })
    .await
}

/// `export_logs_success` when the file was written and the callback and the e-mail asked for went;
/// `export_logs_failure` otherwise, with every error.
async fn record(
    ex: &Exports,
    job: &Job,
    written: &Result<u64, String>,
    delivered: &Option<Result<u16, String>>,
    mailed: &Option<Result<(), String>>,
) {
    let errors: Vec<&str> = [
        written.as_ref().err(),
        delivered.as_ref().and_then(|d| d.as_ref().err()),
        mailed.as_ref().and_then(|m| m.as_ref().err()),
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    let ok = errors.is_empty();
    let detail = json!({
        "export_id": job.id.to_string(),
        "entries": written.as_ref().ok(),
        "error": (!ok).then(|| errors.join("; ")),
        "callback_url": job.callback_url.as_ref().map(crate::callback_allowlist::recorded),
        "callback_status": delivered.as_ref().and_then(|d| d.as_ref().ok()),
        "callback_email": job.callback_email.as_ref().map(ToString::to_string),
        "email_status": mailed.as_ref().map(|m| if m.is_ok() { "sent" } else { "failed" }),
    });
    let event = ex
        .recorder
        .background(Origin::Scheduler, Operation::ExportAuditLog, job.requester.clone())
        .kind(if ok { "export_logs_success" } else { "export_logs_failure" })
        .target(job.level_target.clone())
        .status(if ok { 200 } else { 500 })
        .detail(detail.to_string());
    let event = if job.level_target.repository.is_none() && job.level_target.namespace.is_none() {
        event.artifact("audit")
    } else {
        event
    };
    if let Err(e) = ex.recorder.record(event).await {
        tracing::error!(export_id = %job.id, error = %e, "could not record the log export's result");
    }
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: Option<String>,
    signature: Option<String>,
}

/// `GET /api/v1/audit/exports/<id>.json?expires=…&signature=…`: the file, to whoever holds a valid link (the
/// callback receiver usually has no account). 403 for a link this server did not sign, 410 once it expired.
async fn download(
    State(ex): State<Arc<Exports>>,
    UrlPath(file): UrlPath<String>,
    q: Result<Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let not_found = || ApiError(StatusCode::NOT_FOUND, "no such export".into());
    let id = file.strip_suffix(".json").and_then(|s| uuid::Uuid::try_parse(s).ok()).ok_or_else(not_found)?;
    if file != format!("{id}.json") {
        return Err(not_found());
    }
    let forbidden = || ApiError(StatusCode::FORBIDDEN, "not a download link this server signed".into());
    let Query(q) = q.map_err(|_| forbidden())?;
    let expires: u64 = q.expires.as_deref().and_then(|e| e.parse().ok()).ok_or_else(forbidden)?;
    let signature = q.signature.as_deref().and_then(|s| B64URL.decode(s).ok()).ok_or_else(forbidden)?;
    ex.link_mac(&id, expires).verify_slice(&signature).map_err(|_| forbidden())?;
    if (vigil_store::now_ms() / 1000) as u64 > expires {
        return Err(ApiError(
            StatusCode::GONE,
            format!("this download link expired at {}", rfc2822(expires as i64 * 1000)),
        ));
    }
    let file = tokio::fs::File::open(ex.file(&id)).await.map_err(|_| not_found())?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut resp = (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.json\"")),
        ],
        body,
    )
        .into_response();
    if let Some(len) = len {
        resp.headers_mut().insert(header::CONTENT_LENGTH, len.into());
    }
    Ok(resp)
}
