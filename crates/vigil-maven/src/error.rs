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

/// Every shared failure (store, ingest, lookup, refusal, a `Problem` itself) becomes this protocol's error the
/// same way.
impl<E: Into<Problem>> From<E> for MavenError {
    fn from(e: E) -> Self {
        MavenError(e.into())
    }
}

impl IntoResponse for MavenError {
    fn into_response(self) -> Response {
        self.0.into_text_response()
    }
}
