//! Admission: authenticates a `/v2` request and decides, from its [`Operation`], whether it may proceed.
//! Answers the way clients expect: 401 with a `WWW-Authenticate` challenge for anonymous callers and for registry
//! tokens whose scope is too small (`error="insufficient_scope"`, so clients fetch a better token), 403 `DENIED`
//! for Basic or API-token callers without the right.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use vigil_audit::RequestScope;
use vigil_auth::{Access, AuthError, Authenticator, Credential, Principal};
use vigil_core::{Action, Operation, RepoName, Requirement};

use crate::error::{ErrorCode, OciError};
use crate::http::{header_str, query_pairs, query_param};
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

pub fn all_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
}

/// The client address: the socket peer, or the forwarded address when the peer is a trusted proxy.
pub fn client_ip(auth: Option<&Authenticator>, req: &Parts) -> IpAddr {
    let peer = req.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    match auth {
        Some(a) => {
            a.client_ip(peer, &all_values(&req.headers, "x-forwarded-for"), &all_values(&req.headers, "forwarded"))
        }
        None => peer,
    }
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

pub async fn admit(
    auth: &Authenticator,
    req: &Parts,
    op: Operation,
    route: &Route,
    scope: Arc<RequestScope>,
) -> Result<Admitted, OciError> {
    let ip = client_ip(Some(auth), req);
    let principal = auth
        .from_header(header_str(&req.headers, "authorization"), ip, true)
        .await
        .map_err(|e| auth_failure(auth, e))?;
    scope.set_user(principal.audit_user());
    let mut admitted = Admitted { principal, client_ip: ip, access: None, mount_allowed: false, scope };
    match op.requirement() {
        Requirement::None => Ok(admitted),
        Requirement::Authenticated => {
            if admitted.principal.is_anonymous() {
                return Err(unauthorized(auth, "authentication required", None, None));
            }
            if op == Operation::ListCatalog {
                admitted.access = Some(auth.access(&admitted.principal).await.map_err(|e| auth_failure(auth, e))?);
            }
            Ok(admitted)
        }
        Requirement::Repository(action) => {
            let repo = route.repo().expect("repository operations have a repository");
            let access = auth.access(&admitted.principal).await.map_err(|e| auth_failure(auth, e))?;
            let p = &admitted.principal;
            let mount_from = (op == Operation::MountBlob)
                .then(|| query_param(&query_pairs(req.uri.query()), "from").and_then(|f| f.parse::<RepoName>().ok()))
                .flatten();
            if !access.allows(p, repo, action) {
                // A mount's challenge names the source too, so clients fetch one token that covers both.
                let scope = match &mount_from {
                    Some(from) => format!("{} {}", scope_for(from, Action::Pull), scope_for(repo, action)),
                    None => scope_for(repo, action),
                };
                return Err(match p.credential {
                    Credential::None => unauthorized(auth, "authentication required", Some(&scope), None),
                    Credential::TemporaryToken => unauthorized(
                        auth,
                        "the token's scope does not cover this request",
                        Some(&scope),
                        Some("insufficient_scope"),
                    ),
                    Credential::Password | Credential::Token => {
                        OciError::new(ErrorCode::Denied, format!("{} may not {} {repo}", p.name, action.as_str()))
                            .with_status(StatusCode::FORBIDDEN)
                    }
                });
            }
            if let Some(from) = &mount_from {
                admitted.mount_allowed = access.allows(p, from, Action::Pull);
                let role_allows = access.role_for(from).is_some_and(|r| r.allows(Action::Pull));
                if !admitted.mount_allowed && role_allows && p.credential == Credential::TemporaryToken {
                    // The caller could read the source but the token was not asked for it: let it re-negotiate.
                    let scope = format!("{} {}", scope_for(from, Action::Pull), scope_for(repo, Action::Push));
                    return Err(unauthorized(
                        auth,
                        "the token does not cover the mount source",
                        Some(&scope),
                        Some("insufficient_scope"),
                    ));
                }
            }
            admitted.access = Some(access);
            Ok(admitted)
        }
    }
}
