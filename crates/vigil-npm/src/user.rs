//! `npm login` / `npm adduser` (the CouchDB-style `PUT -/user/org.couchdb.user:<name>`), `npm whoami` and
//! `npm logout`.
//!
//! A login proves a vigil password and is answered with a new API token limited to this repository (stored
//! hashed like every API token, listed and revocable through the API); npm keeps it in `.npmrc`. Logging in with
//! an API token as the password hands that token back instead of minting another. vigil accounts are made by an
//! administrator, so `adduser` of an unknown name is a failed login, not a registration.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use vigil_audit::UserRef;
use vigil_auth::directory::{Actor, Directory};
use vigil_auth::AuthError;
use vigil_core::RepoName;
use vigil_http::util::header_str;
use vigil_http::Caller;

use crate::error::{NpmError, NpmResult};
use crate::{json, ops, Npm};

#[derive(Deserialize)]
struct LoginBody {
    name: String,
    password: String,
}

pub fn whoami(caller: &Caller) -> NpmResult<Response> {
    Ok(json(StatusCode::OK, &json!({ "username": caller.principal.name })))
}

pub async fn login(npm: &Npm, repo: &RepoName, user: &str, caller: &Caller, body: &[u8]) -> NpmResult<Response> {
    let body: LoginBody = serde_json::from_slice(body)
        .map_err(|e| NpmError::bad_request(format!("a login is {{\"name\", \"password\"}}: {e}")))?;
    if body.name != user {
        return Err(NpmError::bad_request(format!("the body logs in {:?} but the path names {user:?}", body.name)));
    }
    // The body, not a header, names who is logging in: record the claim in case it fails.
    caller.scope.set_user(UserRef::claimed(Some(user.to_owned()), "password", None));
    let principal = npm.auth.basic(user, &body.password, caller.client_ip).await.map_err(|e| match e {
        AuthError::Throttled => NpmError::new(StatusCode::TOO_MANY_REQUESTS, "too many failed logins; wait and retry"),
        AuthError::Store(e) => {
            NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("checking the login failed: {e}"))
        }
        _ => NpmError::unauthorized("incorrect username or password (vigil accounts are created by an administrator)"),
    })?;
    caller.scope.set_user(principal.audit_user());
    if principal.token_id.is_some() {
        // The password was an API token already: that is the token npm should keep.
        let resp = json(
            StatusCode::CREATED,
            &json!({ "ok": true, "id": format!("org.couchdb.user:{user}"), "token": body.password }),
        );
        return Ok(resp);
    }
    let scope = format!("{repo}:pull,push,delete");
    let name = format!("npm login {}", vigil_core::time::rfc3339_ms(vigil_store::now_ms()));
    let actor = Actor::request_as(&caller.scope, ops::LOGIN, 201);
    let issued = Directory::new(npm.auth.store().clone())
        .create_token(&principal.name, &name, &[scope], None, &actor)
        .await
        .map_err(|e| NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("issuing a token failed: {e}")))?;
    Ok(json(
        StatusCode::CREATED,
        &json!({ "ok": true, "id": format!("org.couchdb.user:{user}"), "rev": issued.id, "token": issued.token }),
    ))
}

/// `npm logout`: revokes the token in the path, which must be the one the request presents.
pub async fn logout(npm: &Npm, token: &str, caller: &Caller, headers: &HeaderMap) -> NpmResult<Response> {
    let presented = header_str(headers, "authorization").map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim());
    let Some(token_id) = caller.principal.token_id.as_deref().filter(|_| presented == Some(token)) else {
        return Err(NpmError::bad_request("npm logout revokes the token it is logged in with; present that token"));
    };
    let actor = Actor::request_as(&caller.scope, ops::LOGOUT, 200);
    Directory::new(npm.auth.store().clone())
        .revoke_token(token_id, Some(&caller.principal.name), &actor)
        .await
        .map_err(|e| NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("revoking the token failed: {e}")))?;
    Ok(json(StatusCode::OK, &json!({ "ok": true })))
}
