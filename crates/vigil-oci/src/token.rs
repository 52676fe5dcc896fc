//! The Docker token service: `GET /auth/token?service=&scope=...` (and the OAuth2 password grant on `POST`).
//! Valid credentials always get a token; its access is the intersection of what was asked and what the caller
//! may do. Anonymous callers get pull access to public repositories.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

use vigil_audit::{AuditDetail, AuditUser, RequestScope, UserRef};
use vigil_auth::scope::{parse_request_scope, ResourceAccess};
use vigil_auth::{Authenticator, Principal};
use vigil_core::{Operation, RepoName};

use crate::error::{ErrorCode, OciError, OciResult};
use crate::gate::auth_failure;
use crate::http::{header_str, response};
use crate::Registry;
use vigil_http::admission::client_ip;

/// Largest form body accepted on `POST /auth/token`.
const MAX_FORM: usize = 16 * 1024;

fn bad_request(msg: String) -> OciError {
    OciError::new(ErrorCode::Unsupported, msg).with_status(StatusCode::BAD_REQUEST)
}

pub async fn token(State(reg): State<Registry>, req: Request) -> Response {
    let Some(auth) = reg.auth.clone() else {
        return OciError::new(ErrorCode::Unsupported, "this registry has no token service").into_response();
    };
    let scope = req.extensions().get::<Arc<RequestScope>>().cloned();
    let own_host = reg.name_host();
    let (issued, result) = match issue(&auth, req, scope.as_deref(), own_host.as_deref()).await {
        Ok((p, granted, r)) => (Some((p, granted)), Ok(r)),
        Err(e) => (None, Err(e)),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    resp.extensions_mut().insert(Operation::IssueToken);
    if let Some((p, granted)) = issued {
        resp.extensions_mut().insert(AuditUser(p.audit_user()));
        resp.extensions_mut().insert(AuditDetail(granted));
    }
    resp
}

/// Issues a token; returns the caller, the granted scopes as text (for the audit record) and the response.
async fn issue(
    auth: &Authenticator,
    req: Request,
    scope: Option<&RequestScope>,
    own_host: Option<&str>,
) -> OciResult<(Principal, String, Response)> {
    let (parts, body) = req.into_parts();
    let ip = client_ip(Some(auth), &parts);
    let (params, principal) = if parts.method == Method::POST {
        let body = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| bad_request(format!("form body larger than {MAX_FORM} bytes")))?;
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|e| bad_request(format!("malformed form: {e}")))?;
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("grant_type").as_deref() != Some("password") {
            return Err(bad_request("only grant_type=password is supported".into()));
        }
        let (user, pass) = (get("username").unwrap_or_default(), get("password").unwrap_or_default());
        if let Some(scope) = scope {
            // The form, not a header, names who is logging in: record the claim in case it fails.
            scope.set_user(UserRef::claimed(Some(user.clone()), "password", None));
        }
        let p = auth.basic(&user, &pass, ip).await.map_err(|e| auth_failure(auth, e))?;
        (form, p)
    } else {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map_err(|e| bad_request(format!("malformed query: {e}")))?;
        let p = auth
            .from_header(header_str(&parts.headers, "authorization"), ip, false)
            .await
            .map_err(|e| auth_failure(auth, e))?;
        (params, p)
    };
    if let Some(scope) = scope {
        // Authenticated from here on: a bad scope or service below is a failed token request, not a failed login.
        scope.set_user(principal.audit_user());
    }
    if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
        if !auth.is_own_service(s) {
            return Err(bad_request(format!("unknown service {s:?} (this registry is {:?})", auth.config().service)));
        }
    }
    // `scope` may repeat, and one value may hold several space-separated scopes.
    let wanted = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>())
        .map(|s| parse_request_scope(&s, own_host).map_err(|e| bad_request(e.to_string())))
        .collect::<OciResult<Vec<_>>>()?;
    if wanted.len() > 32 {
        return Err(bad_request("too many scopes (at most 32)".into()));
    }
    let access = auth.access(&principal).await.map_err(|e| auth_failure(auth, e))?;
    let granted: Vec<ResourceAccess> = wanted
        .into_iter()
        .map(|w| {
            let actions = if w.kind == "registry" {
                if principal.is_admin {
                    vec!["*".to_owned()]
                } else {
                    Vec::new()
                }
            } else {
                let repo: RepoName = w.name.parse().expect("validated by parse_request_scope");
                access.granted(&principal, &repo, &w.actions)
            };
            ResourceAccess { actions, ..w }
        })
        .collect();
    let granted_text =
        granted.iter().map(|g| format!("{}:{}:{}", g.kind, g.name, g.actions.join(","))).collect::<Vec<_>>().join(" ");
    let (token, issued_at, expires_in) = auth.issue(&principal, granted);
    let body = json!({
        "token": token,
        "access_token": token,
        "expires_in": expires_in,
        "issued_at": vigil_core::time::rfc3339_ms(issued_at * 1000),
    });
    let resp = response(StatusCode::OK, &[("content-type", "application/json".into())], Body::from(body.to_string()));
    Ok((principal, granted_text, resp))
}
