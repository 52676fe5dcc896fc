//! The JSON admin API under `/api/v1`: the second front door to the same [`Directory`] the CLI uses. Paths and
//! shapes follow Quay's API where the two overlap (organizations, teams, robots, repository permissions,
//! visibility, superuser user management), so existing scripts keep working. Accepts Basic auth and API tokens
//! as `Authorization: Bearer`; registry JWTs are for `/v2` only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Extension;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_auth::directory::{Actor, Directory};
use vigil_auth::Principal;
use vigil_core::RepoName;

use crate::caller::*;
use crate::log_export::Exports;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    #[schema(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 64)]
    username: String,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    is_admin: bool,
    /// Take over a namespace that holds repositories no account owns (global administrators only).
    #[serde(default)]
    adopt_namespace: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewOrg {
    #[schema(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 64)]
    name: String,
    /// Take over a namespace that holds repositories no account owns (global administrators only).
    #[serde(default)]
    adopt_namespace: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RoleBody {
    #[schema(value_type = crate::openapi::RoleName)]
    role: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Visibility {
    #[schema(value_type = crate::openapi::VisibilityName)]
    visibility: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    #[serde(default = "default_token_name")]
    #[schema(default = "api", min_length = 1, max_length = 128)]
    name: String,
    /// `<repository, ns/* or *>:<pull,push,delete>`; none: the account's own rights.
    #[serde(default)]
    #[schema(value_type = Vec<crate::openapi::TokenScope>)]
    scopes: Vec<String>,
    #[serde(default, deserialize_with = "whole_days")]
    #[schema(minimum = 1, maximum = 36500)]
    expires_in_days: Option<u32>,
}

/// A number of days: an integer, also when written `30.0` (JSON does not tell the two apart).
fn whole_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    match Option::<f64>::deserialize(d)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(D::Error::custom(format!("expires_in_days {n} is not a whole number of days"))),
    }
}

fn default_token_name() -> String {
    "api".into()
}

fn repo_of(rest: &str, suffix: &str) -> ApiResult<RepoName> {
    api_repo(rest.strip_suffix(suffix).unwrap_or(rest).trim_end_matches('/'))
}

pub fn router(st: AdminState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .route("/api/v1/user/", get(me))
        .route("/api/v1/user/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/user/tokens/{id}", delete(revoke_token))
        .route("/api/v1/user/robots/{name}", put(create_user_robot))
        .route("/api/v1/superuser/users/", post(create_user))
        .route("/api/v1/superuser/users/{name}", delete(delete_user))
        .route("/api/v1/organization/", post(create_org))
        .route("/api/v1/organization/{org}/members/{member}", put(set_member).delete(remove_member))
        .route("/api/v1/organization/{org}/team/{team}", put(create_team))
        .route(
            "/api/v1/organization/{org}/team/{team}/members/{member}",
            put(add_team_member).delete(remove_team_member),
        )
        .route("/api/v1/organization/{org}/robots/{name}", put(create_org_robot))
        .route("/api/v1/repository", get(crate::repo_api::list).post(crate::repo_api::create))
        // Quay's usage logs add GET to this route (`quay_logs`).
        .route("/api/v1/repository/{*rest}", put(repo_put).delete(repo_delete).post(repo_post).fallback(repo_other))
        .with_state(st)
}

async fn me(Caller(p, _): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!({
        "username": p.name, "id": p.account_id, "kind": p.kind.as_str(), "is_admin": p.is_admin,
        "credential": p.credential.as_str(), "token_id": p.token_id,
    })))
}

async fn create_user(
    State(st): State<AdminState>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_global_admin(&p)?;
    let u: NewUser = parse(&bytes)?;
    let directory =
        if u.adopt_namespace { Directory::adopting(st.auth.store().clone()) } else { (*st.directory).clone() };
    let a = directory.add_user(&u.username, &u.password, u.is_admin, &actor).await?;
    st.auth.invalidate();
    Ok((StatusCode::CREATED, Json(json!({ "username": a.name, "id": a.id, "email": u.email }))))
}

async fn delete_user(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    Caller(p, actor): Caller,
) -> ApiResult<StatusCode> {
    require_global_admin(&p)?;
    // So a server never loses its last administrator by a slip: another one deletes you.
    if name == p.name {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "you cannot delete your own account; another global administrator can".into(),
        ));
    }
    st.directory.delete_account(&name, &actor).await?;
    st.auth.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

async fn create_org(
    State(st): State<AdminState>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // Organizations are made by people: not by robots, nor with a scoped token.
    if p.token_scopes.is_some() || p.kind != vigil_auth::PrincipalKind::User {
        return Err(forbidden());
    }
    let o: NewOrg = parse(&bytes)?;
    if o.adopt_namespace && !p.is_admin {
        return Err(ApiError(StatusCode::FORBIDDEN, "only a global administrator may adopt a namespace".into()));
    }
    let directory =
        if o.adopt_namespace { Directory::adopting(st.auth.store().clone()) } else { (*st.directory).clone() };
    directory.create_org(&o.name, Some(p.name.as_str()), &actor).await?;
    st.auth.invalidate();
    Ok((StatusCode::CREATED, Json(json!("Created"))))
}

async fn set_member(
    State(st): State<AdminState>,
    Path((org, member)): Path<(String, String)>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_namespace_admin(&st, &p, &org).await?;
    let r: RoleBody = parse(&bytes)?;
    let role = parse_role(&r.role)?;
    st.directory.set_member(&org, &member, Some(role), &actor).await?;
    st.auth.invalidate();
    Ok(Json(json!({ "name": member, "role": role.as_str() })))
}

async fn remove_member(
    State(st): State<AdminState>,
    Path((org, member)): Path<(String, String)>,
    Caller(p, actor): Caller,
) -> ApiResult<StatusCode> {
    require_namespace_admin(&st, &p, &org).await?;
    st.directory.set_member(&org, &member, None, &actor).await?;
    st.auth.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

async fn create_team(
    State(st): State<AdminState>,
    Path((org, team)): Path<(String, String)>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    require_namespace_admin(&st, &p, &org).await?;
    let r: RoleBody = parse(&bytes)?;
    let t = st.directory.create_team(&org, &team, parse_role(&r.role)?, &actor).await?;
    Ok(Json(json!({ "name": t.name, "role": t.role.as_str() })))
}

async fn team_member(
    st: AdminState,
    org: String,
    team: String,
    member: String,
    add: bool,
    Caller(p, actor): Caller,
) -> ApiResult<StatusCode> {
    require_namespace_admin(&st, &p, &org).await?;
    st.directory.set_team_member(&org, &team, &member, add, &actor).await?;
    st.auth.invalidate();
    Ok(if add { StatusCode::OK } else { StatusCode::NO_CONTENT })
}

async fn add_team_member(
    State(st): State<AdminState>,
    Path((org, team, member)): Path<(String, String, String)>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    team_member(st, org, team, member, true, caller).await
}

async fn remove_team_member(
    State(st): State<AdminState>,
    Path((org, team, member)): Path<(String, String, String)>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    team_member(st, org, team, member, false, caller).await
}

async fn robot(st: &AdminState, actor: &Actor, ns: &str, name: &str) -> ApiResult<Json<Value>> {
    let t = st.directory.create_robot(ns, name, actor).await?;
    Ok(Json(json!({ "name": t.account, "token": t.token, "token_id": t.id })))
}

async fn create_org_robot(
    State(st): State<AdminState>,
    Path((org, name)): Path<(String, String)>,
    Caller(p, actor): Caller,
) -> ApiResult<Json<Value>> {
    require_namespace_admin(&st, &p, &org).await?;
    robot(&st, &actor, &org, &name).await
}

async fn create_user_robot(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    Caller(p, actor): Caller,
) -> ApiResult<Json<Value>> {
    if p.kind != vigil_auth::PrincipalKind::User || p.token_scopes.is_some() {
        return Err(forbidden());
    }
    robot(&st, &actor, &p.name.clone(), &name).await
}

async fn list_tokens(State(st): State<AdminState>, Caller(p, _): Caller) -> ApiResult<Json<Value>> {
    let id = p.account_id.clone().unwrap_or_default();
    let tokens =
        st.auth.store().tokens_of(&id).await.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let list: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "scopes": t.scopes, "created": t.created_at_ms, "expires": t.expires_at_ms,
                "revoked": t.revoked_at_ms, "last_used": t.last_used_at_ms,
            })
        })
        .collect();
    Ok(Json(json!({ "tokens": list })))
}

async fn create_token(
    State(st): State<AdminState>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if p.token_scopes.is_some() {
        return Err(forbidden());
    }
    let t: NewToken = parse(&bytes)?;
    let issued = st.directory.create_token(&p.name, &t.name, &t.scopes, t.expires_in_days, &actor).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": issued.id, "token": issued.token, "expires": issued.expires_at_ms }))))
}

async fn revoke_token(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    Caller(p, actor): Caller,
) -> ApiResult<StatusCode> {
    let owner = (!p.is_admin).then_some(p.name.as_str());
    st.directory.revoke_token(&id, owner, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/repository/<repo>/permissions/{user|team}/<name>` with `{"role"}`.
async fn repo_put(
    State(st): State<AdminState>,
    Path(rest): Path<String>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let (repo, grantee, name) = permission_path(&rest)?;
    require_repo_admin(&st, &p, &repo).await?;
    let r: RoleBody = parse(&bytes)?;
    let role = parse_role(&r.role)?;
    st.directory.grant(repo.as_str(), &grantee, Some(role), &actor).await?;
    st.auth.invalidate();
    Ok(Json(json!({ "role": role.as_str(), "name": name })))
}

async fn repo_delete(
    State(st): State<AdminState>,
    Path(rest): Path<String>,
    Caller(p, actor): Caller,
) -> ApiResult<StatusCode> {
    if !rest.contains("/permissions/") {
        return crate::repo_api::delete(&st, &p, &actor, repo_of(&rest, "")?).await;
    }
    let (repo, grantee, _) = permission_path(&rest)?;
    require_repo_admin(&st, &p, &repo).await?;
    st.directory.grant(repo.as_str(), &grantee, None, &actor).await?;
    st.auth.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/repository/<repo>/…`: `changevisibility`, and `exportlogs` (handed to the log exports).
async fn repo_post(
    State(st): State<AdminState>,
    Path(rest): Path<String>,
    uri: Uri,
    exports: Option<Extension<Arc<Exports>>>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<Response> {
    if let (Some(name), Some(Extension(exports))) = (rest.strip_suffix("/exportlogs"), exports) {
        return Ok(crate::log_export::repo_export(&exports, &p, name, &uri, &bytes).await);
    }
    change_visibility(&st, &rest, p, actor, &bytes).await.map(IntoResponse::into_response)
}

/// `POST /api/v1/repository/<repo>/changevisibility` with `{"visibility": "public"|"private"}`.
async fn change_visibility(
    st: &AdminState,
    rest: &str,
    p: Principal,
    actor: Actor,
    bytes: &[u8],
) -> ApiResult<Json<Value>> {
    if !rest.ends_with("/changevisibility") {
        return Err(ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()));
    }
    let repo = repo_of(rest, "/changevisibility")?;
    require_repo_admin(st, &p, &repo).await?;
    let v: Visibility = parse(bytes)?;
    let public = match v.visibility.as_str() {
        "public" => true,
        "private" => false,
        other => {
            return Err(ApiError(StatusCode::BAD_REQUEST, format!("visibility {other:?} is not public or private")))
        }
    };
    st.directory.set_public(repo.as_str(), public, &actor).await?;
    st.auth.invalidate();
    Ok(Json(json!({ "success": true })))
}

/// Parses `<repo>/permissions/{user|team}/<name>` into the repository, the grantee as the directory names it
/// (`name`, or `<namespace>/<team>` for a team) and the name as given.
fn permission_path(rest: &str) -> ApiResult<(RepoName, String, String)> {
    let not_found = || ApiError(StatusCode::NOT_FOUND, "no such endpoint".into());
    let (head, name) = rest.rsplit_once('/').ok_or_else(not_found)?;
    let (head, kind) = head.rsplit_once('/').ok_or_else(not_found)?;
    let repo = repo_of(head.strip_suffix("/permissions").ok_or_else(not_found)?, "")?;
    let grantee = match kind {
        "user" => name.to_owned(),
        "team" => format!("{}/{name}", repo.namespace()),
        _ => return Err(not_found()),
    };
    Ok((repo, grantee, name.to_owned()))
}

/// The methods `/api/v1/repository/<rest>` answers, by how the path ends: one wildcard route serves every
/// repository endpoint (a repository name holds `/`), so axum cannot tell them apart for `Allow`.
fn repository_methods(rest: &str) -> &'static str {
    let last = rest.rsplit('/').next().unwrap_or_default();
    match last {
        "changevisibility" | "exportlogs" => "POST",
        "logs" | "aggregatelogs" => "GET, HEAD",
        _ if rest.contains("/permissions/") => "PUT, DELETE",
        _ => "DELETE",
    }
}

/// Any other method on a repository path: 405 with the methods that path has.
async fn repo_other(Path(rest): Path<String>) -> Response {
    let allow = repository_methods(&rest);
    let error = ApiError(StatusCode::METHOD_NOT_ALLOWED, format!("this endpoint answers {allow}"));
    ([(axum::http::header::ALLOW, allow)], error).into_response()
}
