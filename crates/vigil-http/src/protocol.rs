//! The [`Protocol`] trait and the one dispatch every protocol runs through.
//!
//! A format crate says how its requests are classified, which repository each names, how a refusal and its
//! errors look on its wire, and how each operation is handled; [`mount`] does the rest the same way for every
//! format: one catch-all route under the protocol's prefix, classification into exactly one [`Operation`],
//! admission from that operation's requirement before any handler runs, and the response labelled with the
//! operation and what the route said about the target, for the audit layer and metrics.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use vigil_audit::{AuditTarget, RequestScope, Target};
use vigil_auth::Authenticator;
use vigil_core::{Operation, RepoName};

use crate::admission::{self, Caller, Refusal};

/// One format's wire protocol.
pub trait Protocol: Send + Sync + 'static {
    /// A classified request's arguments (repository, path, ...).
    type Route: Send + Sync + 'static;
    /// An error answered in the protocol's own format.
    type Error: IntoResponse + Send;

    /// The URL prefix the protocol serves, without a trailing slash (`/raw`).
    const PREFIX: &'static str;
    /// Whether the Docker token service's registry tokens authenticate here (besides Basic and API tokens).
    const REGISTRY_TOKENS: bool = false;

    /// Every operation the protocol can classify a request into (for the audit layer's classifier and tests).
    fn operations(&self) -> &'static [Operation];

    /// The one classification of a request under [`Protocol::PREFIX`]: always an operation (malformed requests
    /// too, with the operation they intended), and the route or the error to answer.
    fn classify(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
    ) -> (Operation, Result<Self::Route, Self::Error>);

    /// The repository a route names (admission checks repository rights on it).
    fn repository<'a>(&self, route: &'a Self::Route) -> Option<&'a RepoName>;

    /// What the route alone says about the target; the handler's own [`AuditTarget`] fills in the rest.
    fn target(&self, route: &Self::Route) -> Target;

    /// A refused request, answered as the protocol's clients expect (a challenge they can answer, a 403); the
    /// operation, route and request head are there for what the challenge must name.
    fn refuse(
        &self,
        auth: &Authenticator,
        refusal: Refusal,
        op: Operation,
        route: &Self::Route,
        req: &Parts,
    ) -> Self::Error;

    /// Headers every response of the protocol carries (OCI's API version), added after the handler.
    fn finish(&self, _resp: &mut Response) {}

    /// 503: the request's audit record cannot be made durable, so nothing was done (answered by the audit layer).
    fn unavailable(&self, message: &str) -> Self::Error;

    /// Handles an admitted request.
    fn handle(
        self: &Arc<Self>,
        op: Operation,
        route: Self::Route,
        caller: Caller,
        req: Request,
    ) -> impl Future<Output = Result<Response, Self::Error>> + Send;
}

/// A protocol ready to be merged into the application, with what the audit layer needs to classify its requests
/// before they reach it.
pub struct Mounted {
    pub prefix: &'static str,
    pub router: Router,
    pub front: Front,
}

/// What the audit layer asks of a protocol before and around its handlers: the operation of a request, and the
/// 503 in the protocol's format.
#[derive(Clone)]
pub struct Front {
    pub prefix: &'static str,
    pub classify: Arc<vigil_audit::layer::Classifier>,
    pub unavailable: Arc<dyn Fn(&str) -> Response + Send + Sync>,
    pub operations: &'static [Operation],
}

impl Front {
    /// Whether `path` belongs to this protocol.
    pub fn serves(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

struct Shared<P> {
    protocol: Arc<P>,
    auth: Option<Arc<Authenticator>>,
}

/// Mounts `protocol` under its prefix, behind authentication (`None`: everyone may do everything, for protocol
/// tests only).
pub fn mount<P: Protocol>(protocol: P, auth: Option<Arc<Authenticator>>) -> Mounted {
    let protocol = Arc::new(protocol);
    let shared = Arc::new(Shared { protocol: protocol.clone(), auth });
    let router = Router::new()
        .route(P::PREFIX, any(dispatch::<P>))
        .route(&format!("{}/", P::PREFIX), any(dispatch::<P>))
        .route(&format!("{}/{{*rest}}", P::PREFIX), any(dispatch::<P>))
        .with_state(shared);
    let operations = protocol.operations();
    let p = protocol.clone();
    let classify = Arc::new(move |m: &Method, path: &str, q: Option<&str>| p.classify(m, path, q).0);
    let unavailable = Arc::new(move |message: &str| protocol.unavailable(message).into_response());
    let front = Front { prefix: P::PREFIX, classify, unavailable, operations };
    Mounted { prefix: P::PREFIX, router, front }
}

async fn dispatch<P: Protocol>(State(shared): State<Arc<Shared<P>>>, req: Request) -> Response {
    let p = &shared.protocol;
    // Admission reads only the head; the body (which is not `Sync`) stays aside until the handler runs.
    let (parts, body) = req.into_parts();
    let (operation, route) = p.classify(&parts.method, parts.uri.path(), parts.uri.query());
    let scope = RequestScope::of(&parts);
    let mut route_target = None;
    let result = async {
        let route = route?;
        route_target = Some(p.target(&route));
        let caller = match &shared.auth {
            Some(auth) => {
                let refuse = |r| p.refuse(auth, r, operation, &route, &parts);
                let mut caller =
                    admission::authenticate(auth, &parts, scope, P::REGISTRY_TOKENS).await.map_err(refuse)?;
                admission::authorize(auth, &mut caller, operation, p.repository(&route)).await.map_err(refuse)?;
                caller
            }
            None => admission::unauthenticated(&parts, scope),
        };
        p.handle(operation, route, caller, Request::from_parts(parts, body)).await
    }
    .await;
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    p.finish(&mut resp);
    resp.extensions_mut().insert(operation);
    if let Some(from_route) = route_target {
        let from_handler = resp.extensions_mut().remove::<AuditTarget>().unwrap_or_default().0;
        resp.extensions_mut().insert(AuditTarget(from_handler.or(from_route)));
    }
    resp
}
