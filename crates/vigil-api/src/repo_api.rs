//! `/api/v1/repository`: creating, listing and deleting repositories of a format, in Quay's shapes where Quay
//! has them (`POST {namespace, repository, visibility}` answering 201; `DELETE …/repository/<ns>/<name>`
//! answering 204) with vigil's `format` and `allow_overwrite` beside them.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_auth::directory::Actor;
use vigil_core::{Action, Format, RepoName};
use vigil_registry::repositories;
use vigil_store::{RepoSettings, StoreError};

use crate::caller::{parse, require_namespace_admin, require_repo_admin, AdminState, ApiError, ApiResult, Caller};

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
        StoreError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, format!("{m} not found")),
        e @ StoreError::JournalUnavailable(_) => ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        e => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRepo {
    #[schema(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 64)]
    namespace: String,
    /// One or more name components separated by `/`.
    #[schema(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$", max_length = 190)]
    repository: String,
    /// vigil's: oci, npm, pypi, maven, cargo, raw.
    #[schema(value_type = Option<crate::openapi::FormatName>)]
    format: Option<String>,
    /// Quay's: `image` (OCI).
    #[schema(value_type = Option<crate::openapi::RepoKind>)]
    repo_kind: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::VisibilityName>)]
    visibility: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allow_overwrite: bool,
}

fn format_of(r: &NewRepo) -> ApiResult<Format> {
    let bad = |what: &str| ApiError(StatusCode::BAD_REQUEST, what.to_owned());
    match (r.format.as_deref(), r.repo_kind.as_deref()) {
        (Some(f), _) => f.parse().map_err(|_| bad(&format!("format {f:?} is not oci, npm, pypi, maven, cargo or raw"))),
        (None, Some("image") | None) => Ok(Format::Oci),
        (None, Some(k)) => Err(bad(&format!("repo_kind {k:?} is not supported; give a format instead"))),
    }
}

/// `POST /api/v1/repository`: namespace admins.
pub async fn create(
    State(st): State<AdminState>,
    Caller(p, actor): Caller,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body: NewRepo = parse(&bytes)?;
    let format = format_of(&body)?;
    // A namespace is an account's name; `api_repo` bounds the rest of the name.
    if !vigil_core::name::is_account_name(&body.namespace) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "`namespace` is one name of at most 64 characters".into()));
    }
    let name = crate::caller::api_repo(&format!("{}/{}", body.namespace, body.repository))?;
    let public = match body.visibility.as_deref() {
        None | Some("private") => false,
        Some("public") => true,
        Some(other) => {
            return Err(ApiError(StatusCode::BAD_REQUEST, format!("visibility {other:?} is not public or private")))
        }
    };
    let _ = body.description;
    require_namespace_admin(&st, &p, &body.namespace).await?;
    let settings = RepoSettings { allow_overwrite: body.allow_overwrite };
    let event = actor.event("create_repo", name.as_str(), repositories::describe(format, settings));
    repositories::create(&st.repos.meta, name.clone(), format, settings, event.boxed()).await.map_err(store_error)?;
    if public {
        st.directory.set_public(name.as_str(), true, &actor).await?;
        st.auth.invalidate();
    }
    let answer = json!({ "namespace": name.namespace(), "name": body.repository, "kind": format.as_str() });
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    namespace: Option<String>,
    format: Option<String>,
}

/// `GET /api/v1/repository?namespace=&format=`: the repositories the caller may pull from.
pub async fn list(
    State(st): State<AdminState>,
    Caller(p, _): Caller,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad query string: {e}")))?;
    let format = q
        .format
        .as_deref()
        .filter(|f| !f.is_empty())
        .map(|f| f.parse::<Format>().map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("unknown format {f:?}"))))
        .transpose()?;
    let access = st.auth.access(&p).await.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let all = repositories::list(&st.repos.content, format).await.map_err(store_error)?;
    let repos: Vec<Value> = all
        .into_iter()
        .filter(|r| q.namespace.as_deref().is_none_or(|ns| r.name.namespace() == ns))
        .filter(|r| access.allows(&p, &r.name, Action::Pull))
        .map(|r| {
            json!({
                "namespace": r.name.namespace(),
                "name": &r.name.as_str()[r.name.namespace().len() + 1..],
                "kind": r.format.as_str(),
                "allow_overwrite": r.settings.allow_overwrite,
                "created": vigil_core::time::rfc3339_ms(r.created_at_ms),
            })
        })
        .collect();
    Ok(Json(json!({ "repositories": repos })))
}

/// `DELETE /api/v1/repository/<ns>/<name>`: repository admins.
pub async fn delete(
    st: &AdminState,
    p: &vigil_auth::Principal,
    actor: &Actor,
    name: RepoName,
) -> ApiResult<StatusCode> {
    require_repo_admin(st, p, &name).await?;
    let event = actor.event("delete_repo", name.as_str(), String::new());
    repositories::delete(&st.repos.meta, name, event.boxed()).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}
