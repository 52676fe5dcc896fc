//! Errors as Cargo shows them: a status and `{"errors": [{"detail": text}]}`, which cargo prints as
//! `the remote server responded with an error (status 409 Conflict): <detail>`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vigil_audit::AuditReason;
use vigil_http::Problem;

#[derive(Debug)]
pub struct CargoError(pub Problem);

pub type CargoResult<T> = Result<T, CargoError>;

impl CargoError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        CargoError(Problem::new(status, message))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        CargoError(Problem::bad_request(message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        CargoError(Problem::not_found(message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        CargoError(Problem::conflict(message))
    }
}

/// Every shared failure (store, ingest, lookup, refusal, a `Problem` itself) becomes this protocol's error the
/// same way.
impl<E: Into<Problem>> From<E> for CargoError {
    fn from(e: E) -> Self {
        CargoError(e.into())
    }
}

impl IntoResponse for CargoError {
    fn into_response(self) -> Response {
        let Problem { status, message, headers } = self.0;
        let body = serde_json::json!({ "errors": [{ "detail": &message }] });
        let mut resp = (status, axum::Json(body)).into_response();
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp.extensions_mut().insert(AuditReason { code: None, message });
        resp
    }
}
