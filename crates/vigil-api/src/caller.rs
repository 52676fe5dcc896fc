//! What every vigil API shares: the state, the error format (Quay's `{status, error_message, error_type}`),
//! the authenticated caller as an extractor with the actor its changes are recorded under, and the permission
//! checks (namespace admin, repository admin, global admin).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use vigil_audit::{AuditReason, RequestScope};
use vigil_auth::directory::{Actor, Directory, DirectoryError};
use vigil_auth::{AuthError, Authenticator, Principal};
use vigil_core::{RepoName, Role};
use vigil_store::{ContentStore, MetadataStore};

#[derive(Clone)]
pub struct AdminState {
    pub auth: Arc<Authenticator>,
    pub directory: Arc<Directory>,
    pub repos: Repos,
}

/// The stores the repository endpoints write and read.
#[derive(Clone)]
pub struct Repos {
    pub meta: Arc<dyn MetadataStore>,
    pub content: Arc<dyn ContentStore>,
}

#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = match self.0 {
            StatusCode::UNAUTHORIZED => "invalid_token",
            StatusCode::FORBIDDEN => "insufficient_scope",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::GONE => "gone",
            StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
            s if s.is_server_error() => "internal_error",
            _ => "invalid_request",
        };
        let body = json!({ "status": self.0.as_u16(), "error_message": self.1, "error_type": kind, "detail": self.1 });
        let mut resp = (self.0, Json(body)).into_response();
        resp.extensions_mut().insert(AuditReason { code: Some(kind.to_owned()), message: self.1 });
        resp
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        let status = match &e {
            DirectoryError::Invalid(_) => StatusCode::BAD_REQUEST,
            DirectoryError::NotFound(_) => StatusCode::NOT_FOUND,
            DirectoryError::Conflict(_) => StatusCode::CONFLICT,
            DirectoryError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            DirectoryError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(status, e.to_string())
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// 503 in this API's error format (the request's audit record could not be made durable).
pub fn unavailable(message: &str) -> Response {
    ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("audit journal unavailable, nothing was changed: {message}"))
        .into_response()
}

pub(crate) fn forbidden() -> ApiError {
    ApiError(StatusCode::FORBIDDEN, "you are not allowed to do this".into())
}

/// The authenticated caller (401 otherwise), with the actor its changes are recorded under, as an extractor.
pub struct Caller(pub Principal, pub Actor);

impl FromRequestParts<AdminState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AdminState) -> ApiResult<Self> {
        let p = caller(st, parts).await?;
        let scope = RequestScope::of(parts);
        scope.set_user(p.audit_user());
        Ok(Caller(p, Actor::request(&scope, success_status(parts))))
    }
}

/// The status a change through this API answers when it succeeds (recorded in the change's event, which commits
/// before the response exists): creations by POST 201, deletions 204, everything else 200.
pub(crate) fn success_status(parts: &Parts) -> u16 {
    match parts.method {
        axum::http::Method::POST if !parts.uri.path().ends_with("/changevisibility") => 201,
        axum::http::Method::DELETE => 204,
        _ => 200,
    }
}

pub(crate) async fn caller(st: &AdminState, parts: &Parts) -> ApiResult<Principal> {
    let header = vigil_http::util::header_str(&parts.headers, "authorization");
    let ip = vigil_http::admission::client_ip(Some(&st.auth), parts);
    let p = st.auth.from_header(header, ip, false).await.map_err(|e| match e {
        AuthError::Throttled => ApiError(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
        AuthError::Store(m) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, m),
        e => ApiError(StatusCode::UNAUTHORIZED, e.to_string()),
    })?;
    if p.is_anonymous() {
        return Err(ApiError(StatusCode::UNAUTHORIZED, "authentication required".into()));
    }
    Ok(p)
}

/// Admin of a namespace (user or org) or a global admin.
pub(crate) async fn require_namespace_admin(st: &AdminState, p: &Principal, ns: &str) -> ApiResult<()> {
    if ns.is_empty() || ns.contains('/') {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("bad namespace {ns:?}")));
    }
    let access = admin_access(st, p).await?;
    if access.namespace_role(ns) == Some(Role::Admin) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

pub(crate) async fn require_repo_admin(st: &AdminState, p: &Principal, repo: &RepoName) -> ApiResult<()> {
    let access = admin_access(st, p).await?;
    if access.role_for(repo) == Some(Role::Admin) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// The caller's roles, for administration: a scoped API token is for registry access, not administration.
pub(crate) async fn admin_access(st: &AdminState, p: &Principal) -> ApiResult<vigil_auth::Access> {
    if p.token_scopes.is_some() && !p.is_admin {
        return Err(forbidden());
    }
    st.auth.access(p).await.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

pub(crate) fn require_global_admin(p: &Principal) -> ApiResult<()> {
    if p.is_admin && p.token_scopes.is_none() {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// Quay's team roles mapped onto vigil's (Quay `member` reads, `creator` writes, `admin` administers).
pub(crate) fn parse_role(s: &str) -> ApiResult<Role> {
    match s {
        "member" => Ok(Role::Read),
        "creator" => Ok(Role::Write),
        other => other.parse().map_err(|e: String| ApiError(StatusCode::BAD_REQUEST, e)),
    }
}

/// A repository named in an API path or body: a namespace that is an account's name (at most 64 characters), then
/// at most 190 more, so every name the API documents fits the 255 a repository name may have.
pub(crate) fn api_repo(name: &str) -> ApiResult<RepoName> {
    let bad = |why: String| ApiError(StatusCode::BAD_REQUEST, format!("bad repository name {name:?}: {why}"));
    let repo: RepoName = name.parse().map_err(|e: vigil_core::NameError| bad(e.to_string()))?;
    let rest = &repo.as_str()[repo.namespace().len() + 1..];
    if repo.namespace().len() > vigil_core::name::MAX_ACCOUNT_NAME_LEN || rest.len() > 190 {
        return Err(bad("the namespace is at most 64 characters and the rest at most 190".into()));
    }
    Ok(repo)
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.len() > 64 * 1024 {
        return Err(ApiError(StatusCode::PAYLOAD_TOO_LARGE, "request body larger than 64 KiB".into()));
    }
    vigil_core::json_depth::check(bytes).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    serde_json::from_slice(bytes).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}
