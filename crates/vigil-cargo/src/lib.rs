//! Hosted Cargo registries: every repository of format `cargo` is a registry at `/cargo/<ns>/<repo>/` with a
//! sparse index, used by cargo as it is (`[registries.NAME] index = "sparse+http://HOST/cargo/<ns>/<repo>/index/"`,
//! `cargo login --registry NAME` with a vigil API token).
//!
//! The index is built from what the content port keeps per version (its index line); publishing checks the
//! metadata, streams the `.crate` file to staging while hashing it and checking its tarball, and commits the
//! version, its file and its event together. Admission, the request's audit event and metrics are the shared
//! dispatch's.

mod api;
mod crate_file;
mod error;
mod index;
mod model;
mod publish;

pub mod names;
pub mod ops;
pub mod route;

/// Entry points for the fuzz targets in `fuzz/`, compiled only there (`--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzz {
    /// The publish body's JSON metadata, as far as it is checked without the store.
    pub fn publish_meta(json: &[u8]) -> bool {
        crate::publish::parse_meta(json).and_then(|(meta, _)| crate::publish::index_deps(&meta)).is_ok()
    }

    /// A `.crate` file, checked as a gzipped tarball of `<name>-<version>/`.
    pub fn crate_file(bytes: &[u8], root: &str) -> bool {
        crate::crate_file::check(bytes, root).is_ok()
    }
}

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use vigil_audit::Target;
use vigil_auth::Authenticator;
use vigil_core::{Format, Operation, RepoName};
use vigil_http::{Caller, Protocol, Refusal, Site};
use vigil_registry::ingest::Ingest;
use vigil_store::ContentStore;

pub use error::CargoError;
use route::{Call, Route};

/// The Cargo protocol's state.
pub struct Cargo {
    content: Arc<dyn ContentStore>,
    /// Stores `.crate` files; its `max_bytes` bounds one.
    ingest: Ingest,
    auth: Arc<Authenticator>,
    site: Site,
}

impl Cargo {
    pub fn new(content: Arc<dyn ContentStore>, ingest: Ingest, auth: Arc<Authenticator>, site: Site) -> Self {
        Cargo { content, ingest, auth, site }
    }
}

/// A JSON answer.
fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    vigil_http::util::response(
        status,
        &[("content-type", "application/json".to_owned())],
        Body::from(value.to_string()),
    )
}

impl Protocol for Cargo {
    type Route = Route;
    type Error = CargoError;
    const PREFIX: &'static str = "/cargo";

    fn operations(&self) -> &'static [Operation] {
        ops::ALL
    }

    fn classify(&self, method: &Method, path: &str, query: Option<&str>) -> (Operation, Result<Route, CargoError>) {
        route::classify(method, path, query)
    }

    fn repository<'a>(&self, route: &'a Route) -> Option<&'a RepoName> {
        Some(&route.repo)
    }

    fn target(&self, route: &Route) -> Target {
        let target = Target::repo(&route.repo);
        match &route.call {
            Call::Config | Call::Publish | Call::Search { .. } => target,
            Call::IndexFile { name } | Call::Owners { name } => target.package(names::key(name), None),
            Call::Download { name, version } | Call::Yank { name, version } => {
                target.package(names::key(name), Some(version.clone()))
            }
        }
    }

    /// The shared refusal, with Cargo's challenge: cargo answers a 401 (even for `config.json`) by retrying
    /// with the registry's token.
    fn refuse(&self, _: &Authenticator, refusal: Refusal, _: Operation, _: &Route, _: &Parts) -> CargoError {
        let mut problem = vigil_http::Problem::from(refusal);
        for (name, value) in &mut problem.headers {
            if *name == "www-authenticate" {
                *value = "Cargo".to_owned();
            }
        }
        CargoError(problem)
    }

    fn unavailable(&self, message: &str) -> CargoError {
        CargoError(vigil_http::Problem::unavailable(message))
    }

    async fn handle(
        self: &Arc<Self>,
        op: Operation,
        route: Route,
        caller: Caller,
        req: Request,
    ) -> Result<Response, CargoError> {
        let Route { repo, call } = route;
        vigil_registry::packages::repository(&self.content, &repo, Format::Cargo).await?;
        let (parts, body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        match (op, call) {
            (ops::CONFIG, Call::Config) => index::config(self, &repo, &parts.headers).await,
            (ops::INDEX_FILE, Call::IndexFile { name }) => index::file(self, &repo, &name, &parts.headers).await,
            (ops::PUBLISH, Call::Publish) => publish::publish(self, &repo, &caller, body).await,
            (ops::DOWNLOAD, Call::Download { name, version }) => {
                api::download(self, &repo, &name, &version, head).await
            }
            (ops::YANK | ops::UNYANK, Call::Yank { name, version }) => {
                api::yank(self, &repo, &name, &version, op == ops::YANK, &caller).await
            }
            (ops::OWNERS, Call::Owners { name }) => api::owners(self, &repo, &name).await,
            (ops::CHANGE_OWNERS, Call::Owners { .. }) => Err(api::change_owners(&repo)),
            (ops::SEARCH, Call::Search { query, per_page }) => api::search(self, &repo, &query, per_page).await,
            (op, call) => Err(CargoError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("operation {op} paired with route {call:?}"),
            )),
        }
    }
}
