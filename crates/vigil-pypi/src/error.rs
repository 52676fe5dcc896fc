//! Errors as twine and pip show them: the message is the HTTP reason phrase (twine prints
//! `HTTPError: 400 Bad Request … <reason>`; pip the status line) and the plain-text body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_http::Problem;

#[derive(Debug)]
pub struct PypiError(pub Problem);

pub type PypiResult<T> = Result<T, PypiError>;

impl PypiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PypiError(Problem::new(status, message))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        PypiError(Problem::bad_request(message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        PypiError(Problem::not_found(message))
    }
}

impl From<Problem> for PypiError {
    fn from(p: Problem) -> Self {
        PypiError(p)
    }
}

impl From<vigil_store::StoreError> for PypiError {
    fn from(e: vigil_store::StoreError) -> Self {
        PypiError(e.into())
    }
}

impl From<vigil_registry::ingest::IngestError> for PypiError {
    fn from(e: vigil_registry::ingest::IngestError) -> Self {
        PypiError(e.into())
    }
}

impl From<vigil_registry::packages::LookupError> for PypiError {
    fn from(e: vigil_registry::packages::LookupError) -> Self {
        match e {
            vigil_registry::packages::LookupError::Missing(message) => PypiError::not_found(message),
            vigil_registry::packages::LookupError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for PypiError {
    fn into_response(self) -> Response {
        self.0.into_text_response()
    }
}
