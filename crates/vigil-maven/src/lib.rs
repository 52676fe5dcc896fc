//! Hosted Maven repositories: every repository of format `maven` is a repository at `/maven/<ns>/<repo>/` in
//! Maven's layout, used by `mvn deploy` and dependency resolution as they are (a `<repository>` /
//! `<distributionManagement>` URL, a `<server>` in settings.xml with a vigil user and password or API token).
//!
//! Files stream to staging while sha256, sha1, md5 and sha512 are computed, POMs are checked against their
//! coordinates, uploaded checksums must match the stored file, and `maven-metadata.xml` is written by vigil from
//! what is stored. Every change commits with its journal event; admission, the request's audit event and
//! metrics are the shared dispatch's.

mod error;
mod files;
mod metadata;
mod xml;

pub mod ops;
pub mod route;

/// Entry points for the fuzz targets in `fuzz/`, compiled only there (`--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzz {
    /// An uploaded `maven-metadata.xml` for `group:artifact[:version]`.
    pub fn metadata(body: &[u8], group: &str, artifact: &str, version: Option<&str>) -> bool {
        crate::metadata::check_upload(body, group, artifact, version).is_ok()
    }

    /// Any XML document, with the element texts a POM is read for.
    pub fn pom_texts(body: &[u8]) -> bool {
        crate::xml::texts(body, "project", &["project/groupId", "project/parent/groupId", "project/version"]).is_ok()
    }
}

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use vigil_audit::{AuditTarget, Target};
use vigil_auth::Authenticator;
use vigil_core::{Format, Operation, RepoName};
use vigil_http::util::response;
use vigil_http::{Caller, Protocol, Refusal};
use vigil_registry::ingest::Ingest;
use vigil_store::ContentStore;

pub use error::MavenError;
use error::MavenResult;
use route::{Algo, Call, Coords, Route};

/// Uploaded metadata is at most this.
const MAX_METADATA: usize = 4 * 1024 * 1024;

/// The Maven protocol's state.
pub struct Maven {
    content: Arc<dyn ContentStore>,
    /// Stores files; its `max_bytes` bounds one.
    ingest: Ingest,
}

impl Maven {
    pub fn new(content: Arc<dyn ContentStore>, ingest: Ingest) -> Self {
        Maven { content, ingest }
    }
}

/// `GET …/maven-metadata.xml[.sha1|…]`: written from what is stored.
async fn get_metadata(
    maven: &Maven,
    repo: &RepoName,
    group: &str,
    artifact: &str,
    version: Option<&str>,
    checksum: Option<Algo>,
) -> MavenResult<Response> {
    let doc = match version {
        Some(version) => {
            let coords = Coords { group: group.to_owned(), artifact: artifact.to_owned(), version: version.to_owned() };
            metadata::snapshot(maven.content.as_ref(), repo, &coords).await?
        }
        None => metadata::artifact(maven.content.as_ref(), repo, group, artifact).await?,
    };
    let doc = doc.ok_or_else(|| MavenError::not_found(format!("nothing of {group}:{artifact} is in {repo}")))?;
    let (body, content_type) = match checksum {
        Some(algo) => (algo.hex_of(doc.as_bytes()), "text/plain"),
        None => (doc, "application/xml"),
    };
    let mut resp = response(StatusCode::OK, &[("content-type", content_type.to_owned())], Body::from(body));
    let target = Target::repo(repo).package(format!("{group}:{artifact}"), version.map(str::to_owned));
    resp.extensions_mut().insert(AuditTarget(target));
    Ok(resp)
}

/// `PUT …/maven-metadata.xml[.sha1|…]`: checked, then dropped (vigil writes its own).
async fn put_metadata(
    group: &str,
    artifact: &str,
    version: Option<&str>,
    checksum: Option<Algo>,
    body: Body,
) -> MavenResult<Response> {
    let body = vigil_http::util::read_limited(body, MAX_METADATA).await?;
    match checksum {
        Some(_) => {
            files::claimed_sum(&body)?;
        }
        None => metadata::check_upload(&body, group, artifact, version)
            .map_err(|e| MavenError::bad_request(format!("invalid maven-metadata.xml: {e}")))?,
    }
    Ok(response(StatusCode::CREATED, &[], Body::empty()))
}

impl Protocol for Maven {
    type Route = Route;
    type Error = MavenError;
    const PREFIX: &'static str = "/maven";

    fn operations(&self) -> &'static [Operation] {
        ops::ALL
    }

    fn classify(&self, method: &Method, path: &str, _: Option<&str>) -> (Operation, Result<Route, MavenError>) {
        route::classify(method, path)
    }

    fn repository<'a>(&self, route: &'a Route) -> Option<&'a RepoName> {
        Some(&route.repo)
    }

    fn target(&self, route: &Route) -> Target {
        let target = Target::repo(&route.repo);
        match &route.call {
            Call::File { coords, path } | Call::Checksum { coords, path, .. } => {
                target.package(coords.package(), Some(coords.version.clone())).path(path.clone())
            }
            Call::Metadata { group, artifact, version, .. } => {
                target.package(format!("{group}:{artifact}"), version.clone())
            }
        }
    }

    fn refuse(&self, _: &Authenticator, refusal: Refusal, _: Operation, _: &Route, _: &Parts) -> MavenError {
        MavenError(refusal.into())
    }

    fn unavailable(&self, message: &str) -> MavenError {
        MavenError(vigil_http::Problem::unavailable(message))
    }

    async fn handle(
        self: &Arc<Self>,
        op: Operation,
        route: Route,
        caller: Caller,
        req: Request,
    ) -> Result<Response, MavenError> {
        let Route { repo, call } = route;
        let info = vigil_registry::packages::repository(&self.content, &repo, Format::Maven).await?;
        let (parts, body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        match (op, call) {
            (ops::PUT_FILE, Call::File { coords, path }) => {
                files::put(self, &info, &coords, &path, &caller, &parts.headers, body).await
            }
            (ops::GET_FILE, Call::File { coords, path }) => files::get(self, &repo, &coords, &path, head).await,
            (ops::DELETE_FILE, Call::File { coords, path }) => {
                files::delete(self, &repo, &coords, &path, &caller).await
            }
            (ops::GET_CHECKSUM, Call::Checksum { coords, path, algo }) => {
                files::get_checksum(self, &repo, &coords, &path, algo).await
            }
            (ops::PUT_CHECKSUM, Call::Checksum { coords, path, algo }) => {
                files::put_checksum(self, &repo, &coords, &path, algo, body).await
            }
            (ops::GET_METADATA, Call::Metadata { group, artifact, version, checksum }) => {
                get_metadata(self, &repo, &group, &artifact, version.as_deref(), checksum).await
            }
            (ops::PUT_METADATA, Call::Metadata { group, artifact, version, checksum }) => {
                put_metadata(&group, &artifact, version.as_deref(), checksum, body).await
            }
            (op, call) => Err(MavenError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("operation {op} paired with route {call:?}"),
            )),
        }
    }
}
