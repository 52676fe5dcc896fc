//! What the audit layer knows about one request while it is being handled, and the details handlers attach.
//!
//! The layer puts an `Arc<RequestScope>` into the request's extensions. Authentication tells it who the caller is
//! ([`RequestScope::set_user`]); a handler that commits a state change drafts the change's event from it
//! ([`RequestScope::draft`]) so the event commits with the change, and the scope learns that it did. Handlers
//! attach what only they know (the manifest digest a tag resolved to, the size sent) as response extensions
//! ([`AuditTarget`], [`AuditReason`]).

use std::sync::{Arc, Mutex, OnceLock};

use vigil_core::Operation;

use crate::event::{EventDraft, Origin, RequestInfo, Target, UserRef};

pub struct RequestScope {
    pub request: Arc<RequestInfo>,
    node: Arc<str>,
    user: Mutex<Option<UserRef>>,
    journaled: OnceLock<u64>,
}

impl std::fmt::Debug for RequestScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestScope").field("request", &self.request.id).finish_non_exhaustive()
    }
}

impl RequestScope {
    pub fn new(request: RequestInfo, node: Arc<str>) -> Arc<Self> {
        Arc::new(RequestScope { request: Arc::new(request), node, user: Mutex::new(None), journaled: OnceLock::new() })
    }

    /// A scope for a request that did not pass the audit layer (routers under test without it). Events drafted
    /// from it still commit with their changes; nothing else about the request is recorded.
    pub fn detached(method: &str, path: &str) -> Arc<Self> {
        let info = RequestInfo {
            id: uuid::Uuid::new_v4().simple().to_string(),
            client_id: None,
            method: method.to_owned(),
            path: path.to_owned(),
            host: None,
            remote_addr: None,
            user_agent: None,
        };
        RequestScope::new(info, "detached".into())
    }

    /// The scope the audit layer attached to a request, or a detached one.
    pub fn of(parts: &axum::http::request::Parts) -> Arc<Self> {
        parts
            .extensions
            .get::<Arc<RequestScope>>()
            .cloned()
            .unwrap_or_else(|| RequestScope::detached(parts.method.as_str(), parts.uri.path()))
    }

    /// The authenticated caller.
    pub fn set_user(&self, user: UserRef) {
        *self.user.lock().expect("scope lock") = Some(user);
    }

    pub fn user(&self) -> Option<UserRef> {
        self.user.lock().expect("scope lock").clone()
    }

    /// An event of this request, for a handler to commit together with the change it makes.
    pub fn draft(self: &Arc<Self>, operation: Operation) -> EventDraft {
        let user = self.user().unwrap_or_else(UserRef::anonymous);
        let mut draft = EventDraft::background(Origin::Api, operation, user, self.node.clone());
        draft.request = Some(self.request.clone());
        draft.scope = Some(self.clone());
        draft
    }

    pub(crate) fn mark_journaled(&self, seq: u64) {
        let _ = self.journaled.set(seq);
    }

    /// The sequence number of this request's event, if a handler already committed it with a change.
    pub fn journaled(&self) -> Option<u64> {
        self.journaled.get().copied()
    }
}

/// Response extension: what the request was about, as far as the handler knows it.
#[derive(Debug, Clone, Default)]
pub struct AuditTarget(pub Target);

/// Response extension: why a request failed or was refused, in words (never a secret).
#[derive(Debug, Clone)]
pub struct AuditReason {
    pub code: Option<String>,
    pub message: String,
}

/// Response extension: who the caller turned out to be.
#[derive(Debug, Clone)]
pub struct AuditUser(pub UserRef);

/// Response extension: overrides the event kind (an identity change answered without committing, for example).
#[derive(Debug, Clone, Copy)]
pub struct AuditKind(pub &'static str);

/// Response extension: `detail` of the event (for instance the scopes a token was granted).
#[derive(Debug, Clone)]
pub struct AuditDetail(pub String);
