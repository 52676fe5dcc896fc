//! Admission, format-neutral: who the caller is (credentials → [`Principal`], told to the request's audit
//! scope) and whether the operation's [`Requirement`] lets them in. A protocol turns a [`Refusal`] into its own
//! answer (a challenge its client understands, a 403 in its error format).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use vigil_audit::RequestScope;
use vigil_auth::{Access, AuthError, Authenticator, Credential, Principal};
use vigil_core::{Action, Operation, RepoName, Requirement};

use crate::util::{all_values, header_str};

/// Who a request comes from, once admitted.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub client_ip: IpAddr,
    /// Roles of the caller, when authorization needed them.
    pub access: Option<Access>,
    /// The request's audit scope: handlers draft the events of the changes they commit from it.
    pub scope: Arc<RequestScope>,
}

/// Why a request was not admitted.
#[derive(Debug)]
pub enum Refusal {
    /// The credentials presented did not authenticate (or could not be checked).
    Credentials(AuthError),
    /// No credentials, and the operation needs some: a right on a repository, when it names one.
    Anonymous { needs: Option<(RepoName, Action)> },
    /// A registry token whose scope does not cover the request: the client should fetch a better one.
    InsufficientScope { repo: RepoName, action: Action },
    /// An authenticated caller without the right.
    Forbidden { who: String, repo: RepoName, action: Action },
}

impl Refusal {
    /// Words for the person at the client (never a secret).
    pub fn message(&self) -> String {
        match self {
            Refusal::Credentials(e) => e.to_string(),
            Refusal::Anonymous { .. } => "authentication required".to_owned(),
            Refusal::InsufficientScope { .. } => "the token's scope does not cover this request".to_owned(),
            Refusal::Forbidden { who, repo, action } => format!("{who} may not {} {repo}", action.as_str()),
        }
    }
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

/// Authenticates the request's `Authorization` (Basic, a bearer or bare API token, and registry tokens when
/// `registry_tokens`) and tells the audit scope who it is.
pub async fn authenticate(
    auth: &Authenticator,
    req: &Parts,
    scope: Arc<RequestScope>,
    registry_tokens: bool,
) -> Result<Caller, Refusal> {
    let ip = client_ip(Some(auth), req);
    let principal = auth
        .from_header(header_str(&req.headers, "authorization"), ip, registry_tokens)
        .await
        .map_err(Refusal::Credentials)?;
    scope.set_user(principal.audit_user());
    Ok(Caller { principal, client_ip: ip, access: None, scope })
}

/// Decides `op`'s requirement for `caller`; `repo` is the repository the request names (required for a
/// repository requirement). Repository denials do not depend on whether the repository exists.
pub async fn authorize(
    auth: &Authenticator,
    caller: &mut Caller,
    op: Operation,
    repo: Option<&RepoName>,
) -> Result<(), Refusal> {
    match op.requirement() {
        Requirement::None => Ok(()),
        Requirement::Authenticated if caller.principal.is_anonymous() => Err(Refusal::Anonymous { needs: None }),
        Requirement::Authenticated => Ok(()),
        Requirement::Repository(action) => {
            // A protocol that classified a repository operation without its repository is a bug: refuse (500),
            // never let it through.
            let Some(repo) = repo else {
                return Err(Refusal::Credentials(AuthError::Store(format!(
                    "{op} was classified without a repository"
                ))));
            };
            let access = auth.access(&caller.principal).await.map_err(Refusal::Credentials)?;
            let p = &caller.principal;
            if !access.allows(p, repo, action) {
                return Err(match p.credential {
                    Credential::None => Refusal::Anonymous { needs: Some((repo.clone(), action)) },
                    Credential::TemporaryToken => Refusal::InsufficientScope { repo: repo.clone(), action },
                    Credential::Password | Credential::Token => {
                        Refusal::Forbidden { who: p.name.clone(), repo: repo.clone(), action }
                    }
                });
            }
            caller.access = Some(access);
            Ok(())
        }
    }
}

/// An admitted caller for routers run without authentication (protocol tests): everyone may do everything.
pub fn unauthenticated(req: &Parts, scope: Arc<RequestScope>) -> Caller {
    Caller { principal: Principal::anonymous(), client_ip: client_ip(None, req), access: None, scope }
}
