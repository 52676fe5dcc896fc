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

impl From<Problem> for CargoError {
    fn from(p: Problem) -> Self {
        CargoError(p)
    }
}

impl From<vigil_store::StoreError> for CargoError {
    fn from(e: vigil_store::StoreError) -> Self {
        CargoError(e.into())
    }
}

impl From<vigil_registry::ingest::IngestError> for CargoError {
    fn from(e: vigil_registry::ingest::IngestError) -> Self {
        CargoError(e.into())
    }
}

impl From<vigil_registry::packages::LookupError> for CargoError {
    fn from(e: vigil_registry::packages::LookupError) -> Self {
        match e {
            vigil_registry::packages::LookupError::Missing(message) => CargoError::not_found(message),
            vigil_registry::packages::LookupError::Store(e) => e.into(),
        }
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
