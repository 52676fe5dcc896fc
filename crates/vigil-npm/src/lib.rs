//! Hosted npm registries: every repository of format `npm` is a registry at `/npm/<ns>/<repo>/`, used by the
//! npm client as it is (`registry=` or `@scope:registry=` in `.npmrc`).
//!
//! Reads serve packuments (full, or abbreviated for installs), single versions, tarballs, dist-tags and search;
//! writes are `npm publish` (the tarball arrives base64 in the JSON body and is checked against the manifest's
//! `shasum` and `integrity` before anything is stored), `npm deprecate`, `npm dist-tag`, `npm unpublish` (a
//! version or the package; the revision the client read must still be current) and `npm login`, which answers a
//! password with a new API token scoped to the repository. Every write commits with its journal events through
//! the shared ingest and content port; admission, the request's audit event and metrics are the shared
//! dispatch's.

mod error;
mod packument;
mod publish;
mod reads;
mod tags;
mod unpublish;
mod user;

pub mod ops;
pub mod route;

/// Entry points for the fuzz targets in `fuzz/`, compiled only there (`--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzz {
    /// A publish (`npm publish`) or deprecate document sent for package `name`.
    pub fn publish_body(body: &[u8], name: &str) -> bool {
        crate::publish::parse_body(body, name).is_ok()
    }
}

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use vigil_audit::Target;
use vigil_auth::Authenticator;
use vigil_core::{Format, Operation, RepoName};
use vigil_http::util::response;
use vigil_http::{Caller, Protocol, Refusal, Site};
use vigil_registry::ingest::Ingest;
use vigil_store::ContentStore;

pub use error::NpmError;
use error::NpmResult;
use route::{Call, Route};

/// The npm protocol's state.
pub struct Npm {
    content: Arc<dyn ContentStore>,
    /// Stores tarballs; its `max_bytes` bounds a tarball (and so the JSON body that carries it).
    ingest: Ingest,
    auth: Arc<Authenticator>,
    site: Site,
}

/// Bodies without a tarball (dist-tags, logins, a packument sent back by `npm deprecate`) are at most this.
const MAX_METADATA_BODY: usize = 16 * 1024 * 1024;

impl Npm {
    pub fn new(content: Arc<dyn ContentStore>, ingest: Ingest, auth: Arc<Authenticator>, site: Site) -> Self {
        Npm { content, ingest, auth, site }
    }

    /// The registry URL clients use for `repo`, ending in `/` (tarball links are built from it).
    fn registry_url(&self, repo: &RepoName, headers: &HeaderMap) -> String {
        format!("{}/npm/{repo}/", self.site.origin(headers))
    }

    /// The largest body accepted: a tarball's base64 (4/3 of its size) plus its manifest.
    fn max_body(&self) -> usize {
        let tarball = self.ingest.max_bytes.unwrap_or(u64::MAX / 2);
        usize::try_from(tarball.saturating_mul(4) / 3).unwrap_or(usize::MAX).saturating_add(MAX_METADATA_BODY)
    }
}

/// Reads the whole body, refusing one over `limit` with 413.
async fn read_body(body: Body, limit: usize) -> NpmResult<Bytes> {
    Ok(vigil_http::util::read_limited(body, limit).await?)
}

/// A JSON answer.
fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    response(status, &[("content-type", "application/json".to_owned())], Body::from(value.to_string()))
}

impl Protocol for Npm {
    type Route = Route;
    type Error = NpmError;
    const PREFIX: &'static str = "/npm";

    fn operations(&self) -> &'static [Operation] {
        ops::ALL
    }

    fn classify(&self, method: &Method, path: &str, query: Option<&str>) -> (Operation, Result<Route, NpmError>) {
        route::classify(method, path, query)
    }

    fn repository<'a>(&self, route: &'a Route) -> Option<&'a RepoName> {
        Some(&route.repo)
    }

    fn target(&self, route: &Route) -> Target {
        let target = Target::repo(&route.repo);
        match &route.call {
            Call::Tarball { name, file } | Call::TarballRevision { name, file } => {
                target.package(name.clone(), None).path(packument::tarball_path(name, file))
            }
            Call::DistTag { name, tag } => target.package(name.clone(), None).tag(tag),
            call => match call.package() {
                Some(name) => target.package(name, None),
                None => target,
            },
        }
    }

    fn refuse(&self, _: &Authenticator, refusal: Refusal, _: Operation, _: &Route, _: &Parts) -> NpmError {
        NpmError(refusal.into())
    }

    fn unavailable(&self, message: &str) -> NpmError {
        NpmError(vigil_http::Problem::unavailable(message))
    }

    async fn handle(
        self: &Arc<Self>,
        op: Operation,
        route: Route,
        caller: Caller,
        req: Request,
    ) -> Result<Response, NpmError> {
        let Route { repo, call } = route;
        vigil_registry::packages::repository(&self.content, &repo, Format::Npm).await?;
        let registry = self.registry_url(&repo, req.headers());
        let (parts, body) = req.into_parts();
        match (op, call) {
            (ops::PING, Call::Ping) => Ok(json(StatusCode::OK, &serde_json::json!({}))),
            (ops::WHOAMI, Call::Whoami) => user::whoami(&caller),
            (ops::LOGIN, Call::Login { user }) => {
                let body = read_body(body, MAX_METADATA_BODY).await?;
                user::login(self, &repo, &user, &caller, &body).await
            }
            (ops::LOGOUT, Call::Logout { token }) => user::logout(self, &token, &caller, &parts.headers).await,
            (ops::SEARCH, Call::Search { text, size, from }) => {
                reads::search(self, &repo, &registry, &text, size, from).await
            }
            (ops::GET_PACKUMENT, Call::Package { name }) => {
                reads::packument(self, &repo, &name, &registry, &parts.headers).await
            }
            (ops::GET_VERSION, Call::Version { name, spec }) => {
                reads::version(self, &repo, &name, &spec, &registry).await
            }
            (ops::GET_TARBALL, Call::Tarball { name, file }) => {
                reads::tarball(self, &repo, &name, &file, parts.method == Method::HEAD).await
            }
            (ops::PUT_PACKAGE, Call::Package { name }) => {
                let body = read_body(body, self.max_body()).await?;
                publish::put(self, &repo, &name, &caller, &body).await
            }
            (ops::UNPUBLISH_VERSIONS, Call::Revision { name, rev }) => {
                let body = read_body(body, MAX_METADATA_BODY).await?;
                unpublish::versions(self, &repo, &name, &rev, &caller, &body).await
            }
            (ops::UNPUBLISH_PACKAGE, Call::Revision { name, rev }) => {
                unpublish::package(self, &repo, &name, &rev, &caller).await
            }
            (ops::DELETE_TARBALL, Call::TarballRevision { name, file }) => {
                unpublish::tarball(self, &repo, &name, &file, &caller).await
            }
            (ops::LIST_DIST_TAGS, Call::DistTags { name }) => tags::list(self, &repo, &name).await,
            (ops::SET_DIST_TAG, Call::DistTag { name, tag }) => {
                let body = read_body(body, MAX_METADATA_BODY).await?;
                tags::set(self, &repo, &name, &tag, &caller, &body).await
            }
            (ops::DELETE_DIST_TAG, Call::DistTag { name, tag }) => {
                tags::delete(self, &repo, &name, &tag, &caller).await
            }
            (op, call) => Err(NpmError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("operation {op} paired with route {call:?}"),
            )),
        }
    }
}
