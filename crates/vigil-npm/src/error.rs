//! Errors as npm shows them: a status and `{"error": text}`, which npm prints after the status line
//! (`npm error 409 Conflict - PUT http://… - <text>`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vigil_audit::AuditReason;
use vigil_http::Problem;

#[derive(Debug)]
pub struct NpmError(pub Problem);

pub type NpmResult<T> = Result<T, NpmError>;

impl NpmError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        NpmError(Problem::new(status, message))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        NpmError(Problem::bad_request(message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        NpmError(Problem::not_found(message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        NpmError(Problem::conflict(message))
    }

    /// 401 with the Basic challenge npm answers with credentials (it never asks for a one-time password here).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        NpmError(
            Problem::new(StatusCode::UNAUTHORIZED, message)
                .with_header("www-authenticate", r#"Basic realm="vigil", charset="UTF-8""#.to_owned()),
        )
    }
}

/// Every shared failure (store, ingest, lookup, refusal, a `Problem` itself) becomes this protocol's error the
/// same way.
impl<E: Into<Problem>> From<E> for NpmError {
    fn from(e: E) -> Self {
        NpmError(e.into())
    }
}

impl IntoResponse for NpmError {
    fn into_response(self) -> Response {
        let Problem { status, message, headers } = self.0;
        let mut resp = (status, axum::Json(serde_json::json!({ "error": &message }))).into_response();
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp.extensions_mut().insert(AuditReason { code: None, message });
        resp
    }
}
