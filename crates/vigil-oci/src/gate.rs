//! Admission, OCI's part: the shared admission (`vigil_http::admission`) decides from the operation's
//! requirement; this module answers its refusals the way registry clients expect — 401 with a
//! `WWW-Authenticate` challenge for anonymous callers and for registry tokens whose scope is too small
//! (`error="insufficient_scope"`, so clients fetch a better token), 403 `DENIED` for Basic or API-token callers
//! without the right — and adds what only OCI asks: the catalog's view of the caller's roles, and whether a
//! mount may read its source.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::StatusCode;
use vigil_audit::RequestScope;
use vigil_auth::{Access, AuthError, Authenticator, Credential, Principal};
use vigil_core::{Action, Operation, RepoName};
use vigil_http::util::{query_pairs, query_param};
use vigil_http::{Caller, Refusal};

use crate::error::{ErrorCode, OciError};
use crate::route::Route;

/// What admission established about a request, for the handler and the layers around it.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub principal: Principal,
    pub client_ip: IpAddr,
    /// Roles of the caller, when authorization needed them (the catalog filters with it).
    pub access: Option<Access>,
    /// For a mount: whether the caller may read the source repository. A mount the caller may not read from
    /// falls back to an ordinary upload, which reveals nothing about the source.
    pub mount_allowed: bool,
    /// The request's audit scope: handlers draft the events of the changes they commit from it.
    pub scope: Arc<RequestScope>,
}

fn scope_for(repo: &RepoName, action: Action) -> String {
    let actions = match action {
        Action::Pull => "pull",
        Action::Push => "pull,push",
        Action::Delete => "delete",
    };
    format!("repository:{repo}:{actions}")
}

fn unauthorized(auth: &Authenticator, message: &str, scope: Option<&str>, error: Option<&str>) -> OciError {
    OciError::new(ErrorCode::Unauthorized, message).with_header("www-authenticate", auth.challenge(scope, error))
}

/// Maps an authentication failure to the registry's answer.
pub fn auth_failure(auth: &Authenticator, e: AuthError) -> OciError {
    match e {
        AuthError::Throttled => OciError::new(ErrorCode::TooManyRequests, e.to_string()),
        AuthError::Store(m) => OciError::internal("identity store", m),
        AuthError::InvalidToken(_) => unauthorized(auth, &e.to_string(), None, Some("invalid_token")),
        AuthError::BadCredentials | AuthError::Malformed(_) => unauthorized(auth, &e.to_string(), None, None),
    }
}

/// The repository a mount reads from (`?mount=&from=`), when the request is one.
fn mount_source(op: Operation, req: &Parts) -> Option<RepoName> {
    (op == Operation::MountBlob)
        .then(|| query_param(&query_pairs(req.uri.query()), "from").and_then(|f| f.parse::<RepoName>().ok()))
        .flatten()
}

/// A refusal as registry clients expect it.
pub fn refuse(auth: &Authenticator, refusal: Refusal, op: Operation, req: &Parts) -> OciError {
    let message = refusal.message();
    // A mount's challenge names the source too, so clients fetch one token that covers both.
    let scope = |repo: &RepoName, action| match mount_source(op, req) {
        Some(from) => format!("{} {}", scope_for(&from, Action::Pull), scope_for(repo, action)),
        None => scope_for(repo, action),
    };
    match refusal {
        Refusal::Credentials(e) => auth_failure(auth, e),
        Refusal::Anonymous { needs: None } => unauthorized(auth, &message, None, None),
        Refusal::Anonymous { needs: Some((repo, action)) } => {
            unauthorized(auth, &message, Some(&scope(&repo, action)), None)
        }
        Refusal::InsufficientScope { repo, action } => {
            unauthorized(auth, &message, Some(&scope(&repo, action)), Some("insufficient_scope"))
        }
        Refusal::Forbidden { .. } => OciError::new(ErrorCode::Denied, message).with_status(StatusCode::FORBIDDEN),
    }
}

/// Completes an admitted caller with what OCI's handlers need: the roles for the catalog, and for a mount
/// whether the source may be read (a registry token that was not asked for the source re-negotiates).
pub async fn complete(
    auth: Option<&Authenticator>,
    caller: Caller,
    op: Operation,
    route: &Route,
    req: &Parts,
) -> Result<Admitted, OciError> {
    let Caller { principal, client_ip, mut access, scope } = caller;
    let Some(auth) = auth else {
        return Ok(Admitted { principal, client_ip, access, mount_allowed: true, scope });
    };
    if op == Operation::ListCatalog {
        access = Some(auth.access(&principal).await.map_err(|e| auth_failure(auth, e))?);
    }
    let mut mount_allowed = false;
    if let (Some(from), Some(roles), Some(repo)) = (mount_source(op, req), access.as_ref(), route.repo()) {
        mount_allowed = roles.allows(&principal, &from, Action::Pull);
        let role_allows = roles.role_for(&from).is_some_and(|r| r.allows(Action::Pull));
        if !mount_allowed && role_allows && principal.credential == Credential::TemporaryToken {
            let scope = format!("{} {}", scope_for(&from, Action::Pull), scope_for(repo, Action::Push));
            return Err(unauthorized(
                auth,
                "the token does not cover the mount source",
                Some(&scope),
                Some("insufficient_scope"),
            ));
        }
    }
    Ok(Admitted { principal, client_ip, access, mount_allowed, scope })
}
