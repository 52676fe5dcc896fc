//! What the protocol crates' tests share: the real embedded stores (SQLite, blob files) in a temporary directory,
//! repositories of a format, an authenticator over the same store, requests sent to a router in process, and the
//! journal's events read back. Only tests depend on it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vigil_auth::jwt::JwtKeys;
use vigil_auth::{AuthConfig, Authenticator};
use vigil_core::{Format, RepoName};
use vigil_registry::ingest::Ingest;
use vigil_store::fs::FsBlobStore;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{ContentChange, JournalStore, MetadataStore, Mutation, RepoSettings};

/// Stores in a temporary directory that lives as long as this does.
pub struct Stores {
    pub meta: Arc<SqliteStore>,
    pub blobs: Arc<FsBlobStore>,
    _dir: tempfile::TempDir,
}

impl Stores {
    pub async fn open() -> Stores {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(SqliteStore::open(&dir.path().join("vigil.db")).await.unwrap());
        let blobs = Arc::new(FsBlobStore::open(dir.path().join("storage")).unwrap());
        Stores { meta, blobs, _dir: dir }
    }

    /// Ingest into these stores, files bounded at `max_bytes`.
    pub fn ingest(&self, max_bytes: u64) -> Ingest {
        Ingest { meta: self.meta.clone(), blobs: self.blobs.clone(), max_bytes: Some(max_bytes) }
    }

    /// An authenticator over these stores (for protocols that log in or mint tokens).
    pub fn authenticator(&self) -> Arc<Authenticator> {
        let config = AuthConfig {
            service: "vigil".into(),
            service_aliases: Vec::new(),
            realm: "http://127.0.0.1/auth/token".into(),
            token_ttl: Duration::from_secs(300),
            trusted_proxies: Default::default(),
            throttle_window: Duration::from_secs(60),
            max_failures_per_user: 10,
            max_failures_per_ip: 10,
        };
        Arc::new(Authenticator::new(self.meta.clone(), JwtKeys::from_secret(&[7; 32], "vigil"), config))
    }

    pub async fn create_repo(&self, name: &str, format: Format, allow_overwrite: bool) {
        let repo: RepoName = name.parse().unwrap();
        let create = ContentChange::CreateRepository { repo, format, settings: RepoSettings { allow_overwrite } };
        self.meta.apply(Mutation::Content(create), Vec::new()).await.unwrap();
    }

    /// The journal's events of one kind, parsed, in order.
    pub async fn events(&self, kind: &str) -> Vec<Value> {
        let records = self.meta.journal(1, 10_000).await.unwrap();
        let all = records.iter().map(|r| serde_json::from_slice::<Value>(&r.bytes).unwrap());
        all.filter(|e| e["kind"] == kind).collect()
    }
}

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request to `app`.
pub async fn call(app: &Router, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    Resp { status, headers, body: resp.into_body().collect().await.unwrap().to_bytes() }
}
