//! The spec's error format: `{"errors":[{"code","message","detail"}]}` with the spec's status codes.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use vigil_audit::AuditReason;
use vigil_store::StoreError;

/// Error codes of the OCI distribution spec, plus the few that the reference registry adds and clients know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// Not in the spec's table but used by the reference registry for bad tags.
    TagInvalid,
    /// Reference registry: bad `n` in pagination.
    PaginationNumberInvalid,
    /// Reference registry: a `Range`/`Content-Range` that cannot be satisfied.
    RangeInvalid,
    /// Notary: a bad `change_id` or `records` on the changefeed.
    InvalidParameters,
    /// Reference registry: the service cannot take the request now (here: its audit record cannot be made
    /// durable, so it is refused rather than served unrecorded).
    Unavailable,
    /// Anything on our side (storage failure).
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::TagInvalid => "TAG_INVALID",
            ErrorCode::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            ErrorCode::RangeInvalid => "RANGE_INVALID",
            ErrorCode::InvalidParameters => "INVALID_PARAMETERS",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Unknown => "UNKNOWN",
        }
    }

    /// The status the spec pairs with the code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BlobUnknown
            | ErrorCode::BlobUploadUnknown
            | ErrorCode::ManifestUnknown
            | ErrorCode::NameUnknown => StatusCode::NOT_FOUND,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Denied => StatusCode::FORBIDDEN,
            ErrorCode::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error answered in the spec's JSON format.
#[derive(Debug)]
pub struct OciError {
    pub code: ErrorCode,
    pub status: StatusCode,
    pub message: String,
    pub detail: Value,
    /// Extra headers, e.g. `Range` on a 416 so the client can resume.
    pub headers: Vec<(&'static str, String)>,
}

impl OciError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        OciError { code, status: code.status(), message: message.into(), detail: Value::Null, headers: Vec::new() }
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 503 with `Retry-After`: the disk is full, so the write was refused and nothing was stored; clients retry.
    /// The shared answer (`Problem::storage_full`) with OCI's code.
    pub fn storage_full(e: &std::io::Error) -> Self {
        let problem = vigil_http::Problem::storage_full(e);
        let mut error = OciError::new(ErrorCode::Unavailable, problem.message);
        error.headers = problem.headers;
        error
    }

    /// 503: the request's audit record cannot be made durable, so nothing was done.
    pub fn unavailable(why: &str) -> Self {
        OciError::new(ErrorCode::Unavailable, format!("audit journal unavailable, nothing was changed: {why}"))
    }

    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        OciError::new(ErrorCode::Unknown, format!("{context}: {e}"))
    }
}

impl From<StoreError> for OciError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::MissingBlobs(d) => {
                OciError::new(ErrorCode::ManifestBlobUnknown, "manifest references unknown blobs")
                    .with_detail(json!({ "blobs": d.iter().map(|d| d.to_string()).collect::<Vec<_>>() }))
            }
            StoreError::MissingManifests(d) => {
                OciError::new(ErrorCode::ManifestBlobUnknown, "manifest references unknown manifests")
                    .with_detail(json!({ "manifests": d.iter().map(|d| d.to_string()).collect::<Vec<_>>() }))
            }
            StoreError::NotFound(what) => OciError::new(ErrorCode::Unknown, format!("{what} not found")),
            StoreError::Conflict(what) | StoreError::PreconditionFailed(what) => {
                OciError::new(ErrorCode::Unknown, what)
            }
            StoreError::WrongFormat(what) => OciError::new(ErrorCode::NameInvalid, what),
            StoreError::Backend(e) => OciError::internal("metadata store", e),
            StoreError::JournalUnavailable(e) => OciError::unavailable(&e),
        }
    }
}

impl From<std::io::Error> for OciError {
    fn from(e: std::io::Error) -> Self {
        if vigil_store::blob::is_storage_full(&e) {
            return OciError::storage_full(&e);
        }
        OciError::internal("blob store", e)
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let body =
            json!({ "errors": [{ "code": self.code.as_str(), "message": &self.message, "detail": self.detail }] });
        let mut resp = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp.extensions_mut().insert(self.code);
        resp.extensions_mut().insert(AuditReason { code: Some(self.code.as_str().to_owned()), message: self.message });
        resp
    }
}

pub type OciResult<T> = Result<T, OciError>;
