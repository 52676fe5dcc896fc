//! The native audit event (schema 3) and its canonical bytes.
//!
//! An [`EventDraft`] is everything about an event except the two facts only the journal can assign: its sequence
//! number and its commit time. The journal writer calls [`JournalEvent::encode`] inside the committing transaction;
//! the bytes it returns are the event's canonical form, stored, served, written to native-format sinks and hashed
//! into the Merkle tree unchanged. Field order is fixed by [`Wire`]; `docs/audit-event.md` is the reference.

use std::sync::Arc;

use serde::Serialize;
use vigil_core::{Format, Operation, RepoName};
use vigil_store::JournalEvent;

use crate::scope::RequestScope;

/// Version of the native event schema written by this build. 3 added `target.format`, `package`, `version` and
/// `path`; lines of schema 2 keep their bytes (the journal never rewrites an entry), so they stay verifiable.
pub const SCHEMA: u32 = 3;

/// Longest text kept in a bounded field, in bytes; longer values are cut and listed in `truncated`.
const MAX_PATH: usize = 2048;
const MAX_SHORT: usize = 512;
const MAX_TEXT: usize = 4096;
/// `detail` of a configuration event holds the whole effective configuration.
const MAX_DETAIL: usize = 16 * 1024;

/// Where the work came from (NORA's `actor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An HTTP request.
    Api,
    /// A `vigil` command.
    Cli,
    /// Background work of the server (garbage collection, retention).
    Scheduler,
    /// The server itself (first-start bootstrap, configuration loaded).
    System,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Api => "api",
            Origin::Cli => "cli",
            Origin::Scheduler => "scheduler",
            Origin::System => "system",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Refused for lack of identity or rights (401, 403).
    Denied,
    /// Anything else that did not succeed (4xx, 5xx).
    Failed,
    /// A `received` event: the request has not been processed yet.
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
            Outcome::Pending => "pending",
        }
    }

    pub fn from_status(status: u16) -> Self {
        match status {
            0..=399 => Outcome::Success,
            401 | 403 => Outcome::Denied,
            _ => Outcome::Failed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the request is processed (two-stage logging only).
    Received,
    Complete,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Received => "received",
            Stage::Complete => "complete",
        }
    }
}

/// Who: by stable id as well as name. Never a secret; a token by its id only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRef {
    pub id: Option<String>,
    pub name: String,
    /// `user`, `robot`, `anonymous`, `system`.
    pub kind: &'static str,
    /// `password`, `token`, `temporary_token`, `none`.
    pub credential: &'static str,
    pub token_id: Option<String>,
}

impl UserRef {
    pub fn anonymous() -> Self {
        UserRef { id: None, name: String::new(), kind: "anonymous", credential: "none", token_id: None }
    }

    /// A system actor (`cli`, `scheduler`, `system`) named by what it is.
    pub fn system(name: impl Into<String>) -> Self {
        UserRef { id: None, name: name.into(), kind: "system", credential: "none", token_id: None }
    }

    /// A `vigil` command, named by the operating-system user that ran it.
    pub fn cli() -> Self {
        UserRef::system(std::env::var("USER").unwrap_or_else(|_| "cli".into()))
    }

    /// Someone who presented credentials that did not authenticate: the name (or token id) they claimed.
    pub fn claimed(name: Option<String>, credential: &'static str, token_id: Option<String>) -> Self {
        UserRef { id: None, name: name.unwrap_or_default(), kind: "anonymous", credential, token_id }
    }
}

/// The HTTP request an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestInfo {
    /// The server's own id for the request, always generated (and answered as `X-Request-Id`).
    pub id: String,
    /// The `X-Request-Id` the client sent, if well-formed: kept for correlation, never trusted as the event's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub remote_addr: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseInfo {
    pub status: u16,
    /// Body length sent (or, before sending, about to be sent), when known.
    pub bytes: Option<u64>,
    /// The protocol error code, when the request failed.
    pub error: Option<String>,
}

/// What the operation was about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The repository's format (`oci`, `raw`, ...): the operation's, unless a handler says otherwise.
    pub format: Option<&'static str>,
    pub namespace: Option<String>,
    pub repository: Option<String>,
    /// A package of a package format (npm, PyPI, Maven, Cargo).
    pub package: Option<String>,
    pub version: Option<String>,
    /// A file's path inside the repository (raw files, a package's files).
    pub path: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<u64>,
}

impl Target {
    pub fn repo(repo: &RepoName) -> Self {
        Target {
            namespace: Some(repo.namespace().to_owned()),
            repository: Some(repo.as_str().to_owned()),
            ..Target::default()
        }
    }

    pub fn tag(mut self, tag: impl ToString) -> Self {
        self.tag = Some(tag.to_string());
        self
    }

    pub fn digest(mut self, digest: impl ToString) -> Self {
        self.digest = Some(digest.to_string());
        self
    }

    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    pub fn media_type(mut self, media_type: &str) -> Self {
        self.media_type = Some(media_type.to_owned());
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn package(mut self, package: impl Into<String>, version: Option<String>) -> Self {
        self.package = Some(package.into());
        self.version = version;
        self
    }

    /// Fills what `self` lacks from `other` (handler details win over what the route alone knew).
    pub fn or(self, other: Target) -> Target {
        Target {
            format: self.format.or(other.format),
            namespace: self.namespace.or(other.namespace),
            repository: self.repository.or(other.repository),
            package: self.package.or(other.package),
            version: self.version.or(other.version),
            path: self.path.or(other.path),
            tag: self.tag.or(other.tag),
            digest: self.digest.or(other.digest),
            media_type: self.media_type.or(other.media_type),
            size: self.size.or(other.size),
        }
    }

    fn is_empty(&self) -> bool {
        *self == Target::default()
    }
}

/// An event waiting for its sequence number.
#[derive(Clone)]
pub struct EventDraft {
    pub id: String,
    pub origin: Origin,
    pub operation: Operation,
    /// Overrides the operation's NORA action (`overwrite` for a push that replaced content).
    pub action: Option<&'static str>,
    /// Overrides the operation's Quay kind (identity changes, logins).
    pub kind: Option<&'static str>,
    /// Overrides the artifact derived from `target` (identity changes name their subject).
    pub artifact: Option<String>,
    pub detail: Option<String>,
    pub stage: Stage,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub user: UserRef,
    pub request: Option<Arc<RequestInfo>>,
    pub response: Option<ResponseInfo>,
    pub target: Target,
    pub node: Arc<str>,
    /// The request this event belongs to, told when the event commits (so it is not recorded twice).
    pub(crate) scope: Option<Arc<RequestScope>>,
}

impl std::fmt::Debug for EventDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventDraft").field("operation", &self.operation).field("id", &self.id).finish_non_exhaustive()
    }
}

/// The host name recorded in `node` unless configured.
pub fn default_node() -> Arc<str> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "vigil".to_owned())
        .into()
}

impl EventDraft {
    /// An event of work that no request carries (CLI, scheduler, system).
    pub fn background(origin: Origin, operation: Operation, user: UserRef, node: Arc<str>) -> Self {
        EventDraft {
            id: uuid::Uuid::new_v4().to_string(),
            origin,
            operation,
            action: None,
            kind: None,
            artifact: None,
            detail: None,
            stage: Stage::Complete,
            outcome: Outcome::Success,
            reason: None,
            user,
            request: None,
            response: None,
            target: Target::default(),
            node,
            scope: None,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    pub fn action(mut self, action: &'static str) -> Self {
        self.action = Some(action);
        self
    }

    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = Some(kind);
        self
    }

    pub fn artifact(mut self, artifact: impl Into<String>) -> Self {
        self.artifact = Some(artifact.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The response the request is about to get (drafted before a change commits).
    pub fn status(mut self, status: u16) -> Self {
        self.outcome = Outcome::from_status(status);
        self.response = Some(ResponseInfo { status, bytes: Some(0), error: None });
        self
    }

    pub fn boxed(self) -> Box<dyn JournalEvent> {
        Box::new(self)
    }

    /// NORA's `action`, from the operation's description; the API version check with credentials is a login.
    pub(crate) fn nora_action(&self) -> &'static str {
        if let Some(action) = self.action {
            return action;
        }
        match self.operation {
            Operation::CheckApiVersion if self.presented_credentials() => "login",
            op => op.describe().action,
        }
    }

    fn presented_credentials(&self) -> bool {
        matches!(self.user.credential, "password" | "token")
    }

    /// Quay's log kind where Quay has one, vigil's own otherwise (listed in `docs/audit-event.md`).
    fn quay_kind(&self) -> &'static str {
        if let Some(k) = self.kind {
            return k;
        }
        let authenticated = self.user.kind != "anonymous";
        if self.stage == Stage::Complete && self.presented_credentials() {
            // Credentials that did not authenticate are a failed login, whatever the request was for; a login
            // endpoint that authenticated the caller and answered is a successful one. (A `received` event
            // precedes authentication, so it is neither.)
            if !authenticated && self.outcome == Outcome::Denied {
                return "login_failure";
            }
            if matches!(self.operation, Operation::CheckApiVersion | Operation::IssueToken)
                && authenticated
                && self.outcome == Outcome::Success
            {
                return "login_success";
            }
        }
        self.operation.describe().kind
    }

    /// NORA's `registry`: the operation's format (`docker` for OCI), `vigil` for vigil's own APIs and work. A
    /// request nothing recognised still belongs to the protocol its path names.
    fn registry(&self) -> &'static str {
        match self.operation.describe().format {
            Some(format) => format.registry(),
            None if self.operation == Operation::Unknown => {
                self.request.as_ref().and_then(|r| format_of_path(&r.path)).map_or("vigil", Format::registry)
            }
            None => "vigil",
        }
    }

    /// `package@version` (or the package) for a package format, `name:tag`, `name@digest`, `name/path` for a
    /// file, the repository, or a bare digest (garbage collection).
    fn derived_artifact(&self) -> String {
        let t = &self.target;
        let repo = t.repository.as_deref().unwrap_or_default();
        match (&t.package, &t.version) {
            (Some(p), Some(v)) => return format!("{p}@{v}"),
            (Some(p), None) => return p.clone(),
            _ => {}
        }
        if let Some(path) = &t.path {
            return format!("{repo}/{path}");
        }
        match (&t.tag, &t.digest) {
            (Some(tag), _) if !repo.is_empty() => format!("{repo}:{tag}"),
            (None, Some(d)) if repo.is_empty() => d.clone(),
            (_, Some(d)) => format!("{repo}@{d}"),
            _ => repo.to_owned(),
        }
    }
}

/// The format whose URL prefix `path` is under: `/v2` for OCI, `/<format>/` for the others (`/raw/...`).
fn format_of_path(path: &str) -> Option<Format> {
    if path == "/v2" || path.starts_with("/v2/") {
        return Some(Format::Oci);
    }
    let first = path.strip_prefix('/')?.split(['/', '?']).next()?;
    first.parse::<Format>().ok().filter(|f| *f != Format::Oci)
}

/// The serialized event. Field order here is the canonical order.
#[derive(Serialize)]
struct Wire<'a> {
    ts: String,
    action: &'a str,
    actor: &'a str,
    artifact: &'a str,
    registry: &'a str,
    detail: &'a str,
    seq: u64,
    id: &'a str,
    schema: u32,
    kind: &'a str,
    operation: &'a str,
    stage: &'a str,
    outcome: &'a str,
    reason: Option<&'a str>,
    user: &'a UserRef,
    request: Option<&'a RequestInfo>,
    response: Option<&'a ResponseInfo>,
    target: Option<&'a Target>,
    node: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    truncated: Vec<&'static str>,
}

/// Cuts `s` to at most `max` bytes on a character boundary, noting `field` when it did.
fn bounded(s: &str, max: usize, field: &'static str, truncated: &mut Vec<&'static str>) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    truncated.push(field);
    s[..end].to_owned()
}

fn bounded_opt(s: &Option<String>, max: usize, field: &'static str, t: &mut Vec<&'static str>) -> Option<String> {
    s.as_deref().map(|v| bounded(v, max, field, t))
}

impl JournalEvent for EventDraft {
    fn encode(&self, seq: u64, ts_ms: i64) -> Vec<u8> {
        let mut cut = Vec::new();
        let artifact = bounded(
            &self.artifact.clone().unwrap_or_else(|| self.derived_artifact()),
            MAX_SHORT * 2,
            "artifact",
            &mut cut,
        );
        let detail_source = self.detail.clone().or_else(|| self.target.digest.clone()).unwrap_or_default();
        let detail = bounded(&detail_source, MAX_DETAIL, "detail", &mut cut);
        let reason = bounded_opt(&self.reason, MAX_TEXT, "reason", &mut cut);
        let request = self.request.as_ref().map(|r| RequestInfo {
            id: r.id.clone(),
            client_id: r.client_id.clone(),
            method: bounded(&r.method, 32, "request.method", &mut cut),
            path: bounded(&r.path, MAX_PATH, "request.path", &mut cut),
            host: bounded_opt(&r.host, MAX_SHORT, "request.host", &mut cut),
            remote_addr: r.remote_addr.clone(),
            user_agent: bounded_opt(&r.user_agent, MAX_SHORT, "request.user_agent", &mut cut),
        });
        let response = self.response.as_ref().map(|r| ResponseInfo {
            status: r.status,
            bytes: r.bytes,
            error: bounded_opt(&r.error, MAX_SHORT, "response.error", &mut cut),
        });
        let user = UserRef { name: bounded(&self.user.name, MAX_SHORT, "user.name", &mut cut), ..self.user.clone() };
        let target = Target {
            media_type: bounded_opt(&self.target.media_type, MAX_SHORT, "target.media_type", &mut cut),
            path: bounded_opt(&self.target.path, MAX_PATH, "target.path", &mut cut),
            package: bounded_opt(&self.target.package, MAX_SHORT, "target.package", &mut cut),
            version: bounded_opt(&self.target.version, MAX_SHORT, "target.version", &mut cut),
            ..self.target.clone()
        };
        // A target names its format: the handler's, else the operation's.
        let target = match (target.is_empty(), self.operation.describe().format) {
            (false, Some(f)) if target.format.is_none() => Target { format: Some(f.as_str()), ..target },
            _ => target,
        };
        let wire = Wire {
            ts: vigil_core::time::rfc3339_ms(ts_ms),
            action: self.nora_action(),
            actor: self.origin.as_str(),
            artifact: &artifact,
            registry: self.registry(),
            detail: &detail,
            seq,
            id: &self.id,
            schema: SCHEMA,
            kind: self.quay_kind(),
            operation: self.operation.name(),
            stage: self.stage.as_str(),
            outcome: self.outcome.as_str(),
            reason: reason.as_deref(),
            user: &user,
            request: request.as_ref(),
            response: response.as_ref(),
            target: (!target.is_empty()).then_some(&target),
            node: &self.node,
            truncated: cut,
        };
        serde_json::to_vec(&wire).expect("the event always serializes")
    }

    fn committed(&self, seq: u64) {
        if let Some(scope) = &self.scope {
            scope.mark_journaled(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(op: Operation) -> EventDraft {
        EventDraft::background(Origin::Api, op, UserRef::anonymous(), "node-1".into())
    }

    fn parse(d: &EventDraft) -> serde_json::Value {
        serde_json::from_slice(&d.encode(7, 0)).unwrap()
    }

    #[test]
    fn nora_fields_come_first_and_keep_their_meaning() {
        let repo: RepoName = "acme/app".parse().unwrap();
        let d = draft(Operation::GetManifest).target(Target::repo(&repo).tag("v1").digest("sha256:ab"));
        let bytes = d.encode(7, 0);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with(r#"{"ts":"1970-01-01T00:00:00.000Z","action":"pull","actor":"api","artifact":"acme/app:v1","registry":"docker","detail":"sha256:ab","seq":7,"#), "{text}");
        let v = parse(&d);
        assert_eq!(v["kind"], "pull_repo");
        assert_eq!(v["target"]["namespace"], "acme");
        assert_eq!(v["schema"], SCHEMA);
    }

    #[test]
    fn artifacts_per_target() {
        let repo: RepoName = "a/b".parse().unwrap();
        assert_eq!(
            parse(&draft(Operation::GetBlob).target(Target::repo(&repo).digest("sha256:1")))["artifact"],
            "a/b@sha256:1"
        );
        assert_eq!(parse(&draft(Operation::ListTags).target(Target::repo(&repo)))["artifact"], "a/b");
        let tarball = Target::repo(&repo).package("left-pad", Some("1.3.0".into())).path("left-pad/-/x.tgz");
        assert_eq!(parse(&draft(Operation::GetBlob).target(tarball))["artifact"], "left-pad@1.3.0");
        let packument = Target::repo(&repo).package("left-pad", None);
        assert_eq!(parse(&draft(Operation::GetBlob).target(packument))["artifact"], "left-pad");
        assert_eq!(
            parse(&draft(Operation::CollectBlob).target(Target::default().digest("sha256:2")))["artifact"],
            "sha256:2"
        );
        assert_eq!(parse(&draft(Operation::ListCatalog))["target"], serde_json::Value::Null);
    }

    #[test]
    fn unknown_requests_belong_to_the_protocol_their_path_names() {
        let at = |path: &str| {
            let mut d = draft(Operation::Unknown);
            d.request = Some(Arc::new(RequestInfo {
                id: "r".into(),
                client_id: None,
                method: "POST".into(),
                path: path.into(),
                host: None,
                remote_addr: None,
                user_agent: None,
            }));
            parse(&d)["registry"].as_str().unwrap().to_owned()
        };
        assert_eq!(at("/v2/a/b/x"), "docker");
        assert_eq!(at("/raw/acme/files/x"), "raw");
        assert_eq!(at("/oci/x"), "vigil", "OCI's prefix is /v2");
        assert_eq!(at("/rawish/x"), "vigil");
        assert_eq!(at("/etc/passwd"), "vigil");
    }

    #[test]
    fn logins_use_quay_kinds() {
        let mut d = draft(Operation::IssueToken);
        d.user = UserRef::claimed(Some("bob".into()), "password", None);
        d = d.status(401);
        let v = parse(&d);
        assert_eq!(
            (v["kind"].as_str(), v["outcome"].as_str(), v["action"].as_str()),
            (Some("login_failure"), Some("denied"), Some("token_issue"))
        );
        d = d.status(200);
        assert_eq!(parse(&d)["kind"], "token_issue", "a claim that was not authenticated is no successful login");
        d.user = UserRef { id: Some("u1".into()), kind: "user", ..d.user.clone() };
        assert_eq!(parse(&d)["kind"], "login_success");
        d = d.status(400);
        assert_eq!(parse(&d)["kind"], "token_issue", "authenticated, but the token request itself was bad");
        d.stage = Stage::Received;
        d.outcome = Outcome::Pending;
        d.user = UserRef::claimed(Some("bob".into()), "password", None);
        assert_eq!(parse(&d)["kind"], "token_issue", "received events precede authentication");
    }

    #[test]
    fn long_fields_are_cut_on_char_boundaries_and_said_so() {
        let mut d = draft(Operation::Unknown);
        d.request = Some(Arc::new(RequestInfo {
            id: "r".into(),
            client_id: None,
            method: "GET".into(),
            path: format!("/{}", "é".repeat(40_000)),
            host: None,
            remote_addr: None,
            user_agent: Some("x".repeat(100_000)),
        }));
        d.reason = Some("y".repeat(1_000_000));
        let bytes = d.encode(1, 0);
        assert!(bytes.len() < 64 * 1024, "{}", bytes.len());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let cut: Vec<_> = v["truncated"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert_eq!(cut, ["reason", "request.path", "request.user_agent"]);
    }
}
