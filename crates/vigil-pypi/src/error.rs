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

/// Every shared failure (store, ingest, lookup, refusal, a `Problem` itself) becomes this protocol's error the
/// same way.
impl<E: Into<Problem>> From<E> for PypiError {
    fn from(e: E) -> Self {
        PypiError(e.into())
    }
}

impl IntoResponse for PypiError {
    fn into_response(self) -> Response {
        self.0.into_text_response()
    }
}
