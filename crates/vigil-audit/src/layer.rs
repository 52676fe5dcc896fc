//! The one emission point for HTTP: a middleware around every route that records one event per request from the
//! operation, the resolved identity and the outcome.
//!
//! Order of work for a request: take or make its request id; classify it; (two-stage logging) journal a
//! `received` event before anything else happens; run the handler; unless the handler already committed this
//! request's event together with a state change, journal the `complete` event from what the response carries;
//! only then let the response go. If the event cannot be made durable under `enforced`, the client gets 503 in
//! the protocol's own error format instead of the response.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{request::Parts, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use vigil_core::Operation;

use crate::counted::CountedBody;
use crate::event::{EventDraft, Outcome, RequestInfo, ResponseInfo, Stage, UserRef};
use crate::recorder::Recorder;
use crate::scope::{AuditDetail, AuditKind, AuditReason, AuditTarget, AuditUser, RequestScope};

pub type Classifier = dyn Fn(&Method, &str, Option<&str>) -> Operation + Send + Sync;
pub type ClientAddr = dyn Fn(&Parts) -> Option<IpAddr> + Send + Sync;
/// Builds the 503 answer in the protocol's own format, from the request path and a message.
pub type UnavailableResponse = dyn Fn(&str, &str) -> Response + Send + Sync;

pub struct HttpAudit {
    pub recorder: Arc<Recorder>,
    pub classify: Box<Classifier>,
    pub client_addr: Box<ClientAddr>,
    pub unavailable: Box<UnavailableResponse>,
    /// Below its watermark, requests that store content are refused (503, recorded) before they reach a protocol.
    pub storage: Option<Arc<vigil_store::watermark::Watermark>>,
    /// Requests without credentials beyond their network's rate are answered 429 and counted, not journaled one
    /// by one (`ratelimit::summarize` records the counts).
    pub anonymous_limit: Option<Arc<crate::ratelimit::RateLimit>>,
}

/// Whether an operation stores new content (so a nearly full disk refuses it); deletes and reads go on.
fn stores_content(operation: Operation) -> bool {
    let d = operation.describe();
    d.mutates && matches!(d.action, "push" | "upload" | "overwrite")
}

/// Query parameters whose values are secrets and never recorded.
/// (`signature` signs log-export download links, which work for whoever holds them.)
const SECRET_PARAMS: &[&str] = &["password", "refresh_token", "access_token", "token", "client_secret", "signature"];

/// A well-formed request id: at most 128 characters of `[A-Za-z0-9._:-]`.
pub fn valid_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The path with its query, secret parameter values replaced by `REDACTED`.
fn recorded_path(path: &str, query: Option<&str>) -> String {
    let Some(q) = query else { return path.to_owned() };
    let redacted: Vec<String> = q
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            if SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
                format!("{name}=REDACTED")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", redacted.join("&"))
}

/// Who the caller claimed to be when authentication did not establish it (a failed login): the Basic user name
/// or an API token's id. Never the secret.
fn claimed_user(headers: &HeaderMap) -> UserRef {
    let Some(value) = header(headers, "authorization") else { return UserRef::anonymous() };
    if let Some(id) = api_token_id(value.trim()) {
        // A bare API token (Cargo's form).
        return UserRef::claimed(None, "token", Some(id));
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value.as_str(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok();
        let text = decoded.and_then(|d| String::from_utf8(d).ok()).unwrap_or_default();
        let Some((name, secret)) = text.split_once(':') else { return UserRef::claimed(None, "password", None) };
        // Clients send API tokens as the Basic password: record which token (its id, never the secret).
        if let Some(id) = api_token_id(secret) {
            return UserRef::claimed(Some(name.to_owned()), "token", Some(id));
        }
        return UserRef::claimed(Some(name.to_owned()), "password", None);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        if let Some(id) = api_token_id(rest.trim()) {
            return UserRef::claimed(None, "token", Some(id));
        }
        return UserRef::claimed(None, "temporary_token", None);
    }
    UserRef::claimed(None, "none", None)
}

/// The id part of something shaped like an API token (`vgt_<id>_<secret>`).
fn api_token_id(s: &str) -> Option<String> {
    let (id, secret) = s.strip_prefix("vgt_")?.split_once('_')?;
    let ok = !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty();
    ok.then(|| id.to_owned())
}

fn body_len(resp: &Response) -> Option<u64> {
    resp.headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or_else(|| axum::body::HttpBody::size_hint(resp.body()).exact())
}

pub async fn middleware(State(audit): State<Arc<HttpAudit>>, req: Request, next: Next) -> Response {
    // The server's own id, always: a client's `X-Request-Id` is kept beside it, so correlation cannot be spoofed.
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let client_id = header(req.headers(), "x-request-id").filter(|id| valid_request_id(id));
    let operation = (audit.classify)(req.method(), req.uri().path(), req.uri().query());
    if operation.is_probe() {
        return finish(next.run(req).await, operation, &request_id);
    }
    let (mut parts, body) = req.into_parts();
    if let (Some(limit), false) = (&audit.anonymous_limit, parts.headers.contains_key("authorization")) {
        if (audit.client_addr)(&parts).is_some_and(|ip| !limit.admit(ip)) {
            return finish(too_many_requests(), operation, &request_id);
        }
    }
    let info = RequestInfo {
        id: request_id.clone(),
        client_id,
        method: parts.method.to_string(),
        path: recorded_path(parts.uri.path(), parts.uri.query()),
        host: header(&parts.headers, "host"),
        remote_addr: (audit.client_addr)(&parts).map(|ip| ip.to_string()),
        user_agent: header(&parts.headers, "user-agent"),
    };
    let scope = RequestScope::new(info, audit.recorder.node());
    let claimed = claimed_user(&parts.headers);
    parts.extensions.insert(scope.clone());
    let path = parts.uri.path().to_owned();
    let method = parts.method.clone();

    if audit.recorder.two_stage() {
        let mut received = scope.draft(operation);
        received.scope = None;
        received.stage = Stage::Received;
        received.outcome = Outcome::Pending;
        received.user = claimed.clone();
        if let Err(e) = audit.recorder.record(received).await {
            return finish((audit.unavailable)(&path, &e.to_string()), operation, &request_id);
        }
    }

    let low =
        audit.storage.as_ref().filter(|_| stores_content(operation)).and_then(|w| w.low().map(|free| w.describe(free)));
    let resp = if let Some(refusal) = oversized_head(&parts) {
        refusal
    } else if let Some(why) = low {
        (audit.unavailable)(&path, &why)
    } else {
        next.run(Request::from_parts(parts, body)).await
    };
    if scope.journaled().is_some() {
        return finish(resp, operation, &request_id);
    }
    let mut draft = complete_event(&scope, operation, claimed, &resp);
    if method == Method::HEAD {
        if let Some(r) = draft.response.as_mut() {
            r.bytes = Some(0);
        }
    }
    if audit.recorder.two_stage() && resp.status().is_success() && method != Method::HEAD {
        // The `received` event is already durable; `complete` says what was actually sent, once it was.
        return finish(count_then_record(resp, draft, audit.recorder.clone()), operation, &request_id);
    }
    match audit.recorder.record(draft).await {
        Ok(_) => finish(resp, operation, &request_id),
        Err(e) => {
            tracing::error!(error = %e, request_id, "refusing a request whose audit event cannot be made durable");
            finish((audit.unavailable)(&path, &e.to_string()), operation, &request_id)
        }
    }
}

/// The longest request target and header block served. Hyper refuses far larger ones itself (and those leave no
/// event); between these limits and hyper's, the refusal is answered here and recorded like any request.
const MAX_URI: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// 414 or 431 for a request whose target or headers are over the limits.
fn oversized_head(parts: &Parts) -> Option<Response> {
    let uri = parts.uri.path().len() + parts.uri.query().map_or(0, |q| q.len() + 1);
    let headers: usize = parts.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    let (status, message) = if uri > MAX_URI {
        (axum::http::StatusCode::URI_TOO_LONG, format!("the request target is longer than {MAX_URI} bytes"))
    } else if headers > MAX_HEADER_BYTES {
        let status = axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        (status, format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"))
    } else {
        return None;
    };
    let mut resp = Response::new(Body::from(format!("{message}\n")));
    *resp.status_mut() = status;
    resp.extensions_mut().insert(AuditReason { code: None, message });
    Some(resp)
}

/// 429 for a request without credentials over its network's rate.
fn too_many_requests() -> Response {
    let mut resp = Response::new(Body::from(
        "too many requests without credentials from this network; retry later, or authenticate\n",
    ));
    *resp.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    resp.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
    resp
}

/// The `complete` event of a request from what its response carries.
fn complete_event(scope: &Arc<RequestScope>, classified: Operation, claimed: UserRef, resp: &Response) -> EventDraft {
    let ext = resp.extensions();
    let operation = ext.get::<Operation>().copied().unwrap_or(classified);
    let mut draft = scope.draft(operation);
    draft.scope = None;
    draft.user = ext.get::<AuditUser>().map(|u| u.0.clone()).or_else(|| scope.user()).unwrap_or(claimed);
    if let Some(AuditTarget(t)) = ext.get::<AuditTarget>() {
        draft.target = t.clone();
    }
    if let Some(AuditDetail(d)) = ext.get::<AuditDetail>() {
        draft.detail = Some(d.clone());
    }
    if let Some(AuditKind(k)) = ext.get::<AuditKind>() {
        draft.kind = Some(k);
    }
    let status = resp.status().as_u16();
    draft.outcome = Outcome::from_status(status);
    let reason = ext.get::<AuditReason>();
    draft.reason = reason.map(|r| r.message.clone());
    draft.response = Some(ResponseInfo { status, bytes: body_len(resp), error: reason.and_then(|r| r.code.clone()) });
    draft
}

/// Wraps the body so the `complete` event is recorded when the body ends (or the client goes away), with the
/// bytes actually sent; a body cut short is recorded as `failed` with the reason.
fn count_then_record(resp: Response, mut draft: EventDraft, recorder: Arc<Recorder>) -> Response {
    let (parts, body) = resp.into_parts();
    let counted = CountedBody::new(body, move |sent, complete| {
        if let Some(r) = draft.response.as_mut() {
            r.bytes = Some(sent);
        }
        if !complete {
            draft.outcome = Outcome::Failed;
            draft.reason = Some("the response body was cut short (client disconnected or read error)".into());
        }
        // The response is gone by now: nothing to refuse, so a failure is counted and logged by the recorder.
        tokio::spawn(async move {
            if recorder.record(draft).await.is_err() {
                metrics::counter!("vigil_audit_events_dropped_total").increment(1);
            }
        });
    });
    Response::from_parts(parts, Body::new(counted))
}

/// Every response leaves with its request id and its operation: the handler's, or else this layer's
/// classification, so the layers outside (metrics) name `/api/v1`, `/audit` and probe requests as the audit log does.
fn finish(mut resp: Response, operation: Operation, id: &str) -> Response {
    if resp.extensions().get::<Operation>().is_none() {
        resp.extensions_mut().insert(operation);
    }
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked() {
        assert!(valid_request_id("abc-123.x:y_z"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id(&"a".repeat(129)));
        assert!(valid_request_id(&"a".repeat(128)));
        assert!(!valid_request_id("a b") && !valid_request_id("a\"b") && !valid_request_id("é"));
    }

    #[test]
    fn secrets_in_queries_are_redacted() {
        assert_eq!(
            recorded_path("/auth/token", Some("service=x&password=hunter2&scope=repository:a:pull")),
            "/auth/token?service=x&password=REDACTED&scope=repository:a:pull"
        );
        assert_eq!(recorded_path("/v2/", None), "/v2/");
    }

    #[test]
    fn claimed_users_never_carry_secrets() {
        let mut h = HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode("bob:s3cret");
        h.insert("authorization", format!("Basic {basic}").parse().unwrap());
        let u = claimed_user(&h);
        assert_eq!((u.name.as_str(), u.credential), ("bob", "password"));
        h.insert("authorization", "Bearer vgt_0123456789abcdef_secretpart".parse().unwrap());
        let u = claimed_user(&h);
        assert_eq!(u.token_id.as_deref(), Some("0123456789abcdef"));
        assert!(!format!("{u:?}").contains("secretpart"));
        h.insert("authorization", "vgt_0123456789abcdef_secretpart".parse().unwrap());
        let u = claimed_user(&h);
        assert_eq!((u.credential, u.token_id.as_deref()), ("token", Some("0123456789abcdef")));
        assert!(!format!("{u:?}").contains("secretpart"));
        let basic = base64::engine::general_purpose::STANDARD.encode("bob:vgt_00ff_secretpart");
        h.insert("authorization", format!("Basic {basic}").parse().unwrap());
        let u = claimed_user(&h);
        assert_eq!((u.name.as_str(), u.credential, u.token_id.as_deref()), ("bob", "token", Some("00ff")));
        assert!(!format!("{u:?}").contains("secretpart"));
    }
}
