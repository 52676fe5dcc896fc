//! Errors as Maven shows them: `status code: 409, reason phrase: <message>`, so the message is the reason
//! phrase (and the plain-text body).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_http::Problem;

#[derive(Debug)]
pub struct MavenError(pub Problem);

pub type MavenResult<T> = Result<T, MavenError>;

impl MavenError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        MavenError(Problem::new(status, message))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        MavenError(Problem::bad_request(message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        MavenError(Problem::not_found(message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        MavenError(Problem::conflict(message))
    }
}

impl From<Problem> for MavenError {
    fn from(p: Problem) -> Self {
        MavenError(p)
    }
}

impl From<vigil_store::StoreError> for MavenError {
    fn from(e: vigil_store::StoreError) -> Self {
        MavenError(e.into())
    }
}

impl From<vigil_registry::ingest::IngestError> for MavenError {
    fn from(e: vigil_registry::ingest::IngestError) -> Self {
        MavenError(e.into())
    }
}

impl From<vigil_registry::packages::LookupError> for MavenError {
    fn from(e: vigil_registry::packages::LookupError) -> Self {
        match e {
            vigil_registry::packages::LookupError::Missing(message) => MavenError::not_found(message),
            vigil_registry::packages::LookupError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for MavenError {
    fn into_response(self) -> Response {
        self.0.into_text_response()
    }
}
