//! Hosted Python package indexes: every repository of format `pypi` is an index at `/pypi/<ns>/<repo>/`, used by
//! twine and pip as they are (`twine upload --repository-url http://HOST/pypi/<ns>/<repo>/`,
//! `pip install --index-url http://HOST/pypi/<ns>/<repo>/simple/`).
//!
//! Uploads are the legacy upload API's multipart form, streamed to staging while hashed and stored only when
//! the release's name, version, file name and digests agree; the simple API serves PEP 503 HTML and PEP 691 JSON
//! by content negotiation; releases are yanked per PEP 592. Every write commits with its journal events through
//! the shared ingest and content port; admission, the request's audit event and metrics are the shared
//! dispatch's.

mod error;
pub mod release;
mod simple;
mod upload;

pub mod yank;

pub mod names;
pub mod ops;
pub mod route;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use vigil_audit::Target;
use vigil_auth::Authenticator;
use vigil_core::{Format, Operation, RepoName};
use vigil_http::{Caller, Protocol, Refusal};
use vigil_registry::ingest::Ingest;
use vigil_store::ContentStore;

pub use error::PypiError;
use route::{Call, Route};

/// A yank's body (`{"reason": …}`) is at most this.
const MAX_YANK_BODY: usize = 16 * 1024;

/// The PyPI protocol's state.
pub struct Pypi {
    content: Arc<dyn ContentStore>,
    /// Stores distribution files; its `max_bytes` bounds one.
    ingest: Ingest,
}

impl Pypi {
    pub fn new(content: Arc<dyn ContentStore>, ingest: Ingest) -> Self {
        Pypi { content, ingest }
    }
}

impl Protocol for Pypi {
    type Route = Route;
    type Error = PypiError;
    const PREFIX: &'static str = "/pypi";

    fn operations(&self) -> &'static [Operation] {
        ops::ALL
    }

    fn classify(&self, method: &Method, path: &str, _: Option<&str>) -> (Operation, Result<Route, PypiError>) {
        route::classify(method, path)
    }

    fn repository<'a>(&self, route: &'a Route) -> Option<&'a RepoName> {
        Some(&route.repo)
    }

    fn target(&self, route: &Route) -> Target {
        let target = Target::repo(&route.repo);
        match &route.call {
            Call::Upload | Call::Projects { .. } => target,
            Call::Project { given, .. } => target.package(names::normalize(given), None),
            Call::File { project, version, file } => {
                target.package(project.clone(), Some(version.clone())).path(release::file_path(project, version, file))
            }
            Call::Yank { project, version } => target.package(project.clone(), Some(version.clone())),
        }
    }

    fn refuse(&self, _: &Authenticator, refusal: Refusal, _: Operation, _: &Route, _: &Parts) -> PypiError {
        PypiError(refusal.into())
    }

    fn unavailable(&self, message: &str) -> PypiError {
        PypiError(vigil_http::Problem::unavailable(message))
    }

    async fn handle(
        self: &Arc<Self>,
        op: Operation,
        route: Route,
        caller: Caller,
        req: Request,
    ) -> Result<Response, PypiError> {
        let Route { repo, call } = route;
        vigil_registry::packages::repository(&self.content, &repo, Format::Pypi).await?;
        let (parts, body) = req.into_parts();
        match (op, call) {
            (ops::UPLOAD, Call::Upload) => upload::upload(self, &repo, &caller, &parts.headers, body).await,
            (ops::LIST_PROJECTS, Call::Projects { slash: false }) => {
                Ok(redirect(&format!("{}/", parts.uri.path().rsplit('/').next().unwrap_or("simple"))))
            }
            (ops::LIST_PROJECTS, Call::Projects { slash: true }) => simple::projects(self, &repo, &parts.headers).await,
            (ops::PROJECT_PAGE, Call::Project { given, slash }) => {
                simple::project(self, &repo, &given, slash, &parts.headers).await
            }
            (ops::DOWNLOAD, Call::File { project, version, file }) => {
                let path = release::file_path(&project, &version, &file);
                let missing = || PypiError::not_found(format!("{path} is not in {repo}"));
                let asset = self.content.asset(&repo, &path).await?.ok_or_else(missing)?;
                let head = parts.method == Method::HEAD;
                Ok(vigil_http::download::asset(&self.ingest.blobs, &repo, asset, head).await?)
            }
            (ops::YANK | ops::UNYANK, Call::Yank { project, version }) => {
                let body = vigil_http::util::read_limited(body, MAX_YANK_BODY).await?;
                yank::set(self, &repo, &project, &version, op == ops::YANK, &caller, &body).await
            }
            (op, call) => Err(PypiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("operation {op} paired with route {call:?}"),
            )),
        }
    }
}

/// 301 to a relative location.
fn redirect(location: &str) -> Response {
    vigil_http::util::response(
        StatusCode::MOVED_PERMANENTLY,
        &[("location", location.to_owned())],
        axum::body::Body::empty(),
    )
}
