//! Raw files: any bytes at any path of a raw repository, under `/raw/<ns>/<repo>/<path>`.
//!
//! `PUT` streams the body into the blob store while hashing it (and checks `X-Checksum-Sha256`,
//! `X-Checksum-Sha512` or `Content-Digest` when sent), `GET`/`HEAD` serve it with ranges and its digest as the
//! `ETag`, `DELETE` removes it, and `GET` on a folder (a path ending in `/`) lists it. `If-Match` and
//! `If-None-Match` make writes conditional (412); a repository that refuses overwrites answers 409 to a `PUT`
//! that would replace different content. Everything else — admission, the audit event, committing in a task,
//! ingest, metrics labels — is the shared machinery's: this crate is the protocol only.

mod error;
mod files;
mod listing;
pub mod ops;
pub mod route;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use vigil_audit::Target;
use vigil_auth::Authenticator;
use vigil_core::{Operation, RepoName};
use vigil_http::{Caller, Protocol, Refusal};
use vigil_registry::ingest::Ingest;
use vigil_store::ContentStore;

pub use error::RawError;
use route::Route;

/// The raw protocol's state.
pub struct Raw {
    content: Arc<dyn ContentStore>,
    ingest: Ingest,
}

impl Raw {
    /// Raw files over the content port, stored through `ingest` (whose `max_bytes` bounds a file).
    pub fn new(content: Arc<dyn ContentStore>, ingest: Ingest) -> Self {
        Raw { content, ingest }
    }
}

impl Protocol for Raw {
    type Route = Route;
    type Error = RawError;
    const PREFIX: &'static str = "/raw";

    fn operations(&self) -> &'static [Operation] {
        ops::ALL
    }

    fn classify(&self, method: &Method, path: &str, _query: Option<&str>) -> (Operation, Result<Route, RawError>) {
        route::classify(method, path)
    }

    fn repository<'a>(&self, route: &'a Route) -> Option<&'a RepoName> {
        Some(route.repo())
    }

    fn target(&self, route: &Route) -> Target {
        match route {
            Route::File { repo, path } => Target::repo(repo).path(path.clone()),
            Route::Folder { repo, path } if path.is_empty() => Target::repo(repo),
            Route::Folder { repo, path } => Target::repo(repo).path(path.clone()),
        }
    }

    fn refuse(&self, _: &Authenticator, refusal: Refusal, _: Operation, _: &Route, _: &Parts) -> RawError {
        RawError::from_problem(vigil_http::Problem::from(refusal))
    }

    fn unavailable(&self, message: &str) -> RawError {
        RawError::unavailable(message)
    }

    async fn handle(
        self: &Arc<Self>,
        op: Operation,
        route: Route,
        caller: Caller,
        req: Request,
    ) -> Result<Response, RawError> {
        let repo = route.repo().clone();
        let info = self.raw_repository(&repo).await?;
        match (op, route) {
            (ops::LIST_FOLDER, Route::Folder { path, .. }) => listing::list(self, &repo, &path).await,
            (ops::GET_FILE | ops::HEAD_FILE, Route::File { path, .. }) => {
                files::get(self, &repo, &path, req.headers(), op == ops::HEAD_FILE).await
            }
            (ops::PUT_FILE, Route::File { path, .. }) => files::put(self, &info, path, &caller, req).await,
            (ops::DELETE_FILE, Route::File { path, .. }) => {
                files::delete(self, repo, path, &caller, req.headers()).await
            }
            (op, route) => Err(RawError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                format!("operation {op} paired with route {route:?}"),
            )),
        }
    }
}

impl Raw {
    /// The repository, which must exist and hold raw files (checked after admission, so a denial never tells
    /// whether it exists).
    async fn raw_repository(&self, repo: &RepoName) -> Result<vigil_store::RepositoryInfo, RawError> {
        match self.content.repository(repo).await? {
            Some(info) if info.format == vigil_core::Format::Raw => Ok(info),
            Some(info) => Err(RawError::not_found(format!("{repo} is a {} repository, not a raw one", info.format))),
            None => Err(RawError::not_found(format!(
                "no raw repository {repo} (create it with `vigil repo create {repo} --format raw`)"
            ))),
        }
    }
}
