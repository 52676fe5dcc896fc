//! The OCI Distribution Specification v1.1, served over axum.
//!
//! One catch-all route hands every `/v2` request to [`route::classify`], which yields the [`Operation`] and the
//! parsed arguments; handlers in [`blobs`], [`uploads`], [`manifests`] and [`listing`] do the work through the
//! storage ports. The operation is attached to every response (as an extension) for the layers around this one:
//! metrics now, authorization and the audit record next.

pub mod blobs;
pub mod changefeed;
pub mod error;
pub mod gate;
mod http;
pub mod listing;
pub mod manifest;
pub mod manifests;
pub mod route;
pub mod token;
pub mod uploads;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use vigil_audit::Target;
use vigil_auth::Authenticator;
use vigil_core::{Operation, RepoName};
use vigil_http::{Caller, Mounted, Protocol, Refusal};
use vigil_store::{Applied, BlobStore, JournalEvent, MetadataStore, Mutation, StoreResult};

use crate::error::{OciError, OciResult};
use crate::gate::Admitted;
use crate::route::Route;

/// Registry behaviour that configuration decides.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Externally visible base URL (no trailing slash) for `Location` headers; relative locations when `None`.
    pub public_url: Option<String>,
    /// Largest manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
    /// Largest blob accepted, in bytes; unlimited when `None`.
    pub max_blob_bytes: Option<u64>,
    /// Upload sessions untouched for this long are expired.
    pub upload_expiry: Duration,
    /// The address the server listens on, as clients on this machine reach it (`127.0.0.1:5000`): the registry's
    /// own host for DTR's host-prefixed names when there is no `public_url`.
    pub listen_host: Option<String>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            public_url: None,
            max_manifest_bytes: 4 * 1024 * 1024,
            max_blob_bytes: None,
            upload_expiry: Duration::from_secs(24 * 3600),
            listen_host: None,
        }
    }
}

/// Shared state of the registry handlers.
#[derive(Clone)]
pub struct Registry {
    pub(crate) meta: Arc<dyn MetadataStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) config: Arc<RegistryConfig>,
    pub(crate) uploads: Arc<uploads::UploadStates>,
    /// Access control; `None` serves everyone everything (used only by protocol tests).
    pub(crate) auth: Option<Arc<Authenticator>>,
}

impl Registry {
    pub fn new(meta: Arc<dyn MetadataStore>, blobs: Arc<dyn BlobStore>, config: RegistryConfig) -> Self {
        Registry { meta, blobs, config: Arc::new(config), uploads: Arc::default(), auth: None }
    }

    /// Puts the registry behind authentication and authorization.
    pub fn with_auth(mut self, auth: Arc<Authenticator>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Commits a mutation with its events in a task of its own: once started, a client disconnect cannot stop
    /// it halfway, and the caller learns the outcome if it is still there.
    pub(crate) async fn commit(
        &self,
        m: Mutation,
        events: Vec<Box<dyn JournalEvent>>,
    ) -> StoreResult<(Applied, Vec<u64>)> {
        vigil_registry::commit(&self.meta, m, events).await
    }

    pub(crate) fn location(&self, path: &str) -> String {
        format!("{}{path}", self.config.public_url.as_deref().unwrap_or(""))
    }

    /// The host (and port) of `public_url`: the registry's own name, which DTR clients put in front of
    /// repository names and the changefeed shows in its `GUN`s.
    pub(crate) fn own_host(&self) -> Option<String> {
        vigil_core::url::host(self.config.public_url.as_deref()?).map(str::to_owned)
    }

    /// The host a DTR client may put in front of a repository name (in a token scope or a changefeed path):
    /// `public_url`'s, else the listening address.
    pub(crate) fn name_host(&self) -> Option<String> {
        self.own_host().or_else(|| self.config.listen_host.clone())
    }

    /// Expires upload sessions that were not touched within the configured expiry. Returns how many.
    pub async fn expire_uploads(&self) -> OciResult<usize> {
        uploads::expire(self).await
    }
}

/// The OCI protocol mounted like every format's (`/v2`), its router carrying the token service too.
pub fn mount(registry: Registry) -> Mounted {
    let auth = registry.auth.clone();
    let token = Router::new().route("/auth/token", get(token::token).post(token::token)).with_state(registry.clone());
    let mut mounted = vigil_http::mount(registry, auth);
    mounted.router = mounted.router.merge(token);
    mounted
}

/// The `/v2` router and the token service.
pub fn router(registry: Registry) -> Router {
    mount(registry).router
}

impl Protocol for Registry {
    type Route = Route;
    type Error = OciError;
    const PREFIX: &'static str = "/v2";
    const REGISTRY_TOKENS: bool = true;

    fn operations(&self) -> &'static [Operation] {
        route::OPERATIONS
    }

    fn classify(&self, method: &Method, path: &str, query: Option<&str>) -> (Operation, OciResult<Route>) {
        let classified = route::classify(method, path, query);
        let route = classified.route.and_then(|route| match route {
            Route::Changefeed { name: Some(name) } => {
                Ok(Route::RepoChangefeed { repo: route::resolve_changefeed(&name, self.name_host().as_deref())? })
            }
            route => Ok(route),
        });
        (classified.operation, route)
    }

    fn repository<'a>(&self, route: &'a Route) -> Option<&'a RepoName> {
        route.repo()
    }

    fn target(&self, route: &Route) -> Target {
        route.audit_target()
    }

    fn refuse(&self, auth: &Authenticator, refusal: Refusal, op: Operation, _: &Route, req: &Parts) -> OciError {
        gate::refuse(auth, refusal, op, req)
    }

    fn unavailable(&self, message: &str) -> OciError {
        OciError::unavailable(message)
    }

    fn finish(&self, resp: &mut Response) {
        resp.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    }

    async fn handle(
        self: &Arc<Self>,
        op: Operation,
        route: Route,
        caller: Caller,
        req: Request,
    ) -> OciResult<Response> {
        let (mut parts, body) = req.into_parts();
        let admitted = gate::complete(self.auth.as_deref(), caller, op, &route, &parts).await?;
        parts.extensions.insert(admitted);
        handle(self, op, route, Request::from_parts(parts, body)).await
    }
}

/// What admission attached to a request (present on every request that reached a handler).
pub(crate) fn admitted(req: &Request) -> &Admitted {
    req.extensions().get::<Admitted>().expect("dispatch admits every request before handling it")
}

async fn handle(reg: &Registry, op: Operation, route: Route, req: Request) -> OciResult<Response> {
    match (op, route) {
        (Operation::CheckApiVersion, _) => Ok(axum::Json(serde_json::json!({})).into_response()),
        (Operation::ListCatalog, _) => listing::catalog(reg, admitted(&req), req.uri().query()).await,
        (Operation::ListTags, Route::Tags { repo }) => listing::tags(reg, &repo, req.uri().query()).await,
        (Operation::ReadChangefeed, Route::Changefeed { name: None }) => {
            changefeed::read(reg, admitted(&req), None, req.uri().query()).await
        }
        (Operation::ReadRepoChangefeed, Route::RepoChangefeed { repo }) => {
            changefeed::read(reg, admitted(&req), Some(&repo), req.uri().query()).await
        }
        (Operation::ListReferrers, Route::Referrers { repo, digest }) => {
            listing::referrers(reg, &repo, &digest, req.uri().query()).await
        }
        (Operation::GetManifest | Operation::HeadManifest, Route::Manifest { repo, reference }) => {
            manifests::get(reg, &repo, &reference, op == Operation::HeadManifest).await
        }
        (Operation::PutManifest, Route::Manifest { repo, reference }) => {
            manifests::put(reg, repo, reference, req).await
        }
        (Operation::DeleteManifest | Operation::DeleteTag, Route::Manifest { repo, reference }) => {
            manifests::delete(reg, op, repo, reference, &admitted(&req).scope).await
        }
        (Operation::GetBlob | Operation::HeadBlob, Route::Blob { repo, digest }) => {
            blobs::get(reg, &repo, &digest, req.headers(), op == Operation::HeadBlob).await
        }
        (Operation::DeleteBlob, Route::Blob { repo, digest }) => {
            blobs::delete(reg, repo, digest, &admitted(&req).scope).await
        }
        (Operation::StartUpload | Operation::UploadBlobMonolithic | Operation::MountBlob, Route::Uploads { repo }) => {
            uploads::post(reg, op, repo, req).await
        }
        (Operation::GetUploadStatus, Route::Upload { repo, id }) => uploads::status(reg, &repo, &id).await,
        (Operation::PatchUpload, Route::Upload { repo, id }) => uploads::patch(reg, &repo, &id, req).await,
        (Operation::CompleteUpload, Route::Upload { repo, id }) => uploads::complete(reg, repo, &id, req).await,
        (Operation::CancelUpload, Route::Upload { repo, id }) => uploads::cancel(reg, &repo, &id).await,
        (op, route) => Err(OciError::internal("router", format!("operation {op:?} paired with route {route:?}"))),
    }
}
