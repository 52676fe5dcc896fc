//! Errors of the raw protocol: a status and `{"error": CODE, "message": text}`, which curl users read as is.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use vigil_audit::AuditReason;
use vigil_registry::ingest::IngestError;
use vigil_store::StoreError;

#[derive(Debug)]
pub struct RawError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub headers: Vec<(&'static str, String)>,
}

pub type RawResult<T> = Result<T, RawError>;

impl RawError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        RawError { status, code, message: message.into(), headers: Vec::new() }
    }

    pub fn bad_path(message: impl Into<String>) -> Self {
        RawError::new(StatusCode::BAD_REQUEST, "PATH_INVALID", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        RawError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn method_not_allowed(method: &Method) -> Self {
        RawError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", format!("{method} is not a raw operation"))
            .with_header("allow", "GET, HEAD, PUT, DELETE".into())
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        RawError::new(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED", message)
    }

    /// 503: the audit record cannot be made durable, so nothing was done.
    pub fn unavailable(why: &str) -> Self {
        RawError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            format!("audit journal unavailable, nothing was changed: {why}"),
        )
    }

    /// A failure in the shared form (a refused admission, a full disk), with raw's code for its status.
    pub fn from_problem(problem: vigil_http::Problem) -> Self {
        let code = match problem.status {
            StatusCode::TOO_MANY_REQUESTS => "TOO_MANY_REQUESTS",
            StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
            StatusCode::FORBIDDEN => "DENIED",
            StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        RawError { status: problem.status, code, message: problem.message, headers: problem.headers }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        RawError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", format!("{context}: {e}"))
    }
}

impl From<StoreError> for RawError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => RawError::not_found(format!("{what} not found")),
            StoreError::Conflict(what) => RawError::new(StatusCode::CONFLICT, "OVERWRITE_REFUSED", what),
            StoreError::PreconditionFailed(what) => RawError::precondition(what),
            StoreError::WrongFormat(what) => RawError::not_found(what),
            StoreError::JournalUnavailable(why) => RawError::unavailable(&why),
            e @ (StoreError::MissingBlobs(_) | StoreError::MissingManifests(_) | StoreError::Backend(_)) => {
                RawError::internal("metadata store", e)
            }
        }
    }
}

impl From<IngestError> for RawError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::TooLarge(_) => RawError::new(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", e.to_string()),
            IngestError::Blobs(ref io) | IngestError::Interrupted(ref io) if vigil_store::blob::is_storage_full(io) => {
                RawError::from_problem(vigil_http::Problem::storage_full(io)).with_code("STORAGE_FULL")
            }
            IngestError::Interrupted(_) => RawError::new(StatusCode::BAD_REQUEST, "UPLOAD_INTERRUPTED", e.to_string()),
            IngestError::DigestMismatch { .. } => {
                RawError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", e.to_string())
            }
            IngestError::Blobs(e) => RawError::internal("blob store", e),
            IngestError::Store(e) => e.into(),
        }
    }
}

impl From<std::io::Error> for RawError {
    fn from(e: std::io::Error) -> Self {
        RawError::internal("blob store", e)
    }
}

impl IntoResponse for RawError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": &self.message });
        let mut resp = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp.extensions_mut().insert(AuditReason { code: Some(self.code.to_owned()), message: self.message });
        resp
    }
}
