//! A failure as a status and words for the person at the client, before a protocol renders it in its own error
//! format (npm's `{"error"}`, Cargo's `{"errors":[{"detail"}]}`, a reason phrase for twine and Maven). The
//! mapping from store and ingest failures to statuses is the same for every package format, so it lives here once.

use axum::http::StatusCode;
use axum::response::Response;
use vigil_auth::AuthError;
use vigil_registry::ingest::IngestError;
use vigil_store::StoreError;

use crate::admission::Refusal;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Problem { status, message: message.into(), headers: Vec::new() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT, message)
    }

    pub fn unavailable(why: &str) -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the audit journal cannot record this request, so it was not carried out: {why}"),
        )
    }

    /// 503 with `Retry-After`: the disk is full, so nothing was stored; clients retry.
    pub fn storage_full(e: &std::io::Error) -> Self {
        tracing::error!(error = %e, "a write failed: the storage is full");
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the registry's storage is full; nothing was stored, retry later")
            .with_header("retry-after", vigil_store::blob::STORAGE_FULL_RETRY_SECS.to_string())
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{context}; the server log has the details"))
    }

    /// The failure as clients that show the status line read it (twine, pip, Maven): the message as the reason
    /// phrase and as a plain-text body, with the audit reason attached.
    pub fn into_text_response(self) -> Response {
        let mut resp = Response::new(axum::body::Body::from(format!("{}\n", self.message)));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert("content-type", axum::http::HeaderValue::from_static("text/plain; charset=utf-8"));
        for (name, value) in &self.headers {
            if let Ok(v) = axum::http::HeaderValue::from_str(value) {
                resp.headers_mut().insert(*name, v);
            }
        }
        self.set_reason(&mut resp);
        resp.extensions_mut().insert(vigil_audit::AuditReason { code: None, message: self.message });
        resp
    }

    /// Sets the HTTP/1 reason phrase to the message (twine and Maven show the reason phrase, not the body), when
    /// it is short printable ASCII; the status line keeps its canonical phrase otherwise.
    pub fn set_reason(&self, resp: &mut Response) {
        let phrase: String = self.message.chars().take(200).collect();
        if phrase.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
            if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(phrase) {
                resp.extensions_mut().insert(reason);
            }
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Problem::not_found(format!("{what} not found")),
            StoreError::Conflict(what) => Problem::conflict(what),
            StoreError::PreconditionFailed(what) => Problem::new(StatusCode::PRECONDITION_FAILED, what),
            StoreError::WrongFormat(what) => Problem::not_found(what),
            StoreError::JournalUnavailable(why) => Problem::unavailable(&why),
            e @ (StoreError::MissingBlobs(_) | StoreError::MissingManifests(_) | StoreError::Backend(_)) => {
                Problem::internal("storage failed", e)
            }
        }
    }
}

/// A blob store read or write failing (a full disk included).
impl From<std::io::Error> for Problem {
    fn from(e: std::io::Error) -> Self {
        IngestError::Blobs(e).into()
    }
}

impl From<vigil_registry::packages::LookupError> for Problem {
    fn from(e: vigil_registry::packages::LookupError) -> Self {
        match e {
            vigil_registry::packages::LookupError::Missing(message) => Problem::not_found(message),
            vigil_registry::packages::LookupError::Store(e) => e.into(),
        }
    }
}

impl From<IngestError> for Problem {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::TooLarge(max) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the file exceeds the limit of {max} bytes"))
            }
            e @ IngestError::DigestMismatch { .. } => Problem::bad_request(e.to_string()),
            IngestError::Blobs(e) | IngestError::Interrupted(e) if vigil_store::blob::is_storage_full(&e) => {
                Problem::storage_full(&e)
            }
            IngestError::Interrupted(e) => Problem::bad_request(format!("the upload was interrupted: {e}")),
            IngestError::Blobs(e) => Problem::internal("the blob store failed", e),
            IngestError::Store(e) => e.into(),
        }
    }
}

/// A refused admission as every package client understands it: 401 with a Basic challenge (npm, pip, twine,
/// Maven, cargo and curl answer it with credentials; an API token works as a bearer token too), 403 for a caller
/// without the right, 429 while logins are throttled.
impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.message();
        match refusal {
            Refusal::Credentials(AuthError::Throttled) => Problem::new(StatusCode::TOO_MANY_REQUESTS, message),
            Refusal::Credentials(AuthError::Store(e)) => Problem::internal("checking the credentials failed", e),
            Refusal::Credentials(_) | Refusal::Anonymous { .. } | Refusal::InsufficientScope { .. } => {
                Problem::new(StatusCode::UNAUTHORIZED, message)
                    .with_header("www-authenticate", r#"Basic realm="vigil", charset="UTF-8""#.to_owned())
            }
            Refusal::Forbidden { .. } => Problem::new(StatusCode::FORBIDDEN, message),
        }
    }
}
