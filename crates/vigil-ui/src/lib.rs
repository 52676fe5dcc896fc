//! vigil's web UI, served at `/ui/` by the server itself: repositories and their artifacts, the usage logs with a
//! chart, filters, paging, exports and a live tail, and the verifiable log's checkpoint with in-browser proof
//! checks.
//!
//! Pages are HTML rendered on the server from compile-time-checked templates (`templates/`, askama: every value
//! is escaped), charts are SVG drawn on the server, and the only scripts are the live tail and the proof check
//! (`assets/`, served from here, allowed by a Content-Security-Policy without `unsafe-inline`). Every page reads
//! through the services the APIs use, with the same permission checks (`vigil_api::audit_query::authorize`,
//! the `Authenticator`'s access): a page never shows what its viewer could not read through the API.

mod activity;
mod artifact;
mod chart;
mod integrity;
mod logs;
pub mod ops;
mod page;
mod repos;
mod session;

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use vigil_api::log_export::Exports;
use vigil_api::quay_logs::LogsState;
use vigil_audit::integrity::Integrity;
use vigil_store::{ContentStore, MetadataStore};

use session::Viewer;
pub use session::{SESSION_COOKIE, SESSION_DAYS};

/// What the UI reads through: the same state the audit and admin APIs hold.
#[derive(Clone)]
pub struct Ui(Arc<Inner>);

struct Inner {
    logs: LogsState,
    integrity: Option<Integrity>,
    exports: Arc<Exports>,
    /// Served over TLS: session cookies are `Secure`.
    secure_cookies: bool,
}

impl Ui {
    pub fn new(logs: LogsState, integrity: Option<Integrity>, exports: Arc<Exports>, secure_cookies: bool) -> Ui {
        Ui(Arc::new(Inner { logs, integrity, exports, secure_cookies }))
    }

    fn journal(&self) -> &Arc<dyn MetadataStore> {
        &self.0.logs.journal
    }

    fn meta(&self) -> &Arc<dyn MetadataStore> {
        &self.0.logs.admin.repos.meta
    }

    fn content(&self) -> &Arc<dyn ContentStore> {
        &self.0.logs.admin.repos.content
    }
}

/// The pages, the root's redirect for browsers, and the UI's assets, each response with the UI's security
/// headers.
pub fn router(ui: Ui) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(repos::list))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/repo/{*name}", get(repos::repository))
        .route("/ui/logs", get(logs::page))
        .route("/ui/logs/export.ndjson", get(logs::export_ndjson))
        .route("/ui/logs/export.csv", get(logs::export_csv))
        .route("/ui/logs/stream", get(logs::stream))
        .route("/ui/logs/exportlogs", post(logs::quay_export))
        .route("/ui/integrity", get(integrity::page))
        .route("/ui/event/{seq}", get(integrity::event))
        .route("/ui/event/{seq}/receipt", get(integrity::receipt))
        .route("/ui/static/{file}", get(asset))
        .route("/ui/{*rest}", get(not_found))
        .with_state(ui)
        .layer(axum::extract::DefaultBodyLimit::max(session::MAX_FORM_BYTES))
        .layer(axum::middleware::map_response(security_headers))
}

/// The UI in the audit layer's terms: its prefix, how its requests are named, and its 503 page.
pub fn front() -> vigil_http::Front {
    vigil_http::Front {
        prefix: "/ui",
        classify: Arc::new(|method, path, _query| ops::classify(method, path)),
        unavailable: Arc::new(|message| {
            page::error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                &format!("the audit journal cannot record this request, so it was not served: {message}"),
            )
        }),
        operations: ops::OPERATIONS,
    }
}

/// No inline script or style anywhere, no framing, no other origin: a value that slipped past escaping still
/// could not run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

/// `GET /`: browsers go to the UI; other clients get the 404 they always got.
async fn root(parts: Parts) -> Response {
    let browser = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if browser {
        Redirect::to("/ui/").into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(State(ui): State<Ui>, Query(q): Query<NextQuery>) -> Response {
    ui.login_form(q.next.as_deref(), None, StatusCode::OK)
}

async fn login(State(ui): State<Ui>, parts: Parts, form: Result<Form<session::LoginForm>, FormRejection>) -> Response {
    match form {
        Ok(Form(form)) => ui.login(&parts, &form).await,
        Err(e) => ui.login_form(None, Some(&format!("the sign-in form was incomplete: {e}")), StatusCode::BAD_REQUEST),
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(ui): State<Ui>,
    viewer: Viewer,
    parts: Parts,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    ui.logout(&parts, &viewer, form.as_ref().ok().and_then(|f| f.csrf.as_deref())).await
}

async fn not_found(State(ui): State<Ui>, parts: Parts) -> Response {
    let chrome = ui.viewer(&parts).await.ok().map(|v| v.chrome("Not found", ""));
    page::error(StatusCode::NOT_FOUND, chrome, "there is no such page; the links above lead to every page of the UI.")
}

/// The stylesheet and scripts, compiled into the binary (no build step, nothing to install beside it).
async fn asset(Path(file): Path<String>) -> Response {
    let (body, media): (&'static str, &'static str) = match file.as_str() {
        "vigil.css" => (include_str!("../assets/vigil.css"), "text/css; charset=utf-8"),
        "live.js" => (include_str!("../assets/live.js"), "text/javascript; charset=utf-8"),
        "proof.js" => (include_str!("../assets/proof.js"), "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    ([(header::CONTENT_TYPE, media), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}
