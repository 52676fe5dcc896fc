//! The npm protocol over the real embedded stores, without authentication (admission is the shared machinery's,
//! tested with the binary and the npm client): publish and its checks, packuments, tarballs, dist-tags,
//! unpublish with revisions, hostile input, and that a refused write leaves nothing behind.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::Digest as _;
use tower::ServiceExt;
use vigil_auth::jwt::JwtKeys;
use vigil_auth::{AuthConfig, Authenticator};
use vigil_core::{Format, RepoName};
use vigil_http::Site;
use vigil_npm::Npm;
use vigil_registry::ingest::Ingest;
use vigil_store::fs::FsBlobStore;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{ContentChange, JournalStore, MetadataStore, Mutation, RepoSettings};

const MAX_TARBALL: u64 = 4096;

struct Server {
    app: Router,
    meta: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    content_type: String,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let meta = Arc::new(SqliteStore::open(&dir.path().join("vigil.db")).await.unwrap());
    let blobs = Arc::new(FsBlobStore::open(dir.path().join("storage")).unwrap());
    let ingest = Ingest { meta: meta.clone(), blobs, max_bytes: Some(MAX_TARBALL) };
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
    let auth = Arc::new(Authenticator::new(meta.clone(), JwtKeys::from_secret(&[7; 32], "vigil"), config));
    let site = Site { public_url: Some("http://registry.test".into()), tls: false };
    let app = vigil_http::mount(Npm::new(meta.clone(), ingest, auth, site), None).router;
    for (name, format) in [("acme/js", Format::Npm), ("acme/files", Format::Raw)] {
        let repo: RepoName = name.parse().unwrap();
        let create = ContentChange::CreateRepository { repo, format, settings: RepoSettings::default() };
        meta.apply(Mutation::Content(create), Vec::new()).await.unwrap();
    }
    Server { app, meta, _dir: dir }
}

impl Server {
    async fn call(&self, method: Method, uri: &str, accept: Option<&str>, body: impl Into<Body>) -> Resp {
        let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        let resp = self.app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
        let status = resp.status();
        let content_type =
            resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        Resp { status, content_type, body: resp.into_body().collect().await.unwrap().to_bytes() }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, None, Body::empty()).await
    }

    async fn put_json(&self, uri: &str, body: &Value) -> Resp {
        self.call(Method::PUT, uri, None, body.to_string()).await
    }

    /// The journal's events of one kind, parsed.
    async fn events(&self, kind: &str) -> Vec<Value> {
        let records = self.meta.journal(1, 1000).await.unwrap();
        let all = records.iter().map(|r| serde_json::from_slice::<Value>(&r.bytes).unwrap());
        all.filter(|e| e["kind"] == kind).collect()
    }
}

fn integrity(tarball: &[u8]) -> String {
    format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(tarball)))
}

/// The body `npm publish` sends for `name@version` with `tarball` attached.
fn publish_body(name: &str, version: &str, tarball: &[u8]) -> Value {
    let base = name.rsplit('/').next().unwrap();
    let file = format!("{base}-{version}.tgz");
    json!({
        "_id": name,
        "name": name,
        "dist-tags": { "latest": version },
        "versions": { version: {
            "name": name,
            "version": version,
            "description": "a test package",
            "dist": { "integrity": integrity(tarball), "tarball": format!("http://elsewhere/{name}/-/{file}") },
        }},
        "_attachments": { file: {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tarball),
            "length": tarball.len(),
        }},
    })
}

#[tokio::test]
async fn a_publish_is_served_as_packuments_and_its_tarball() {
    let s = server().await;
    let r = s.put_json("/npm/acme/js/@acme%2fhello", &publish_body("@acme/hello", "1.0.0", b"tarball one")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let full = s.get("/npm/acme/js/@acme%2fhello").await;
    assert_eq!((full.status, full.content_type.as_str()), (StatusCode::OK, "application/json"));
    let doc = full.json();
    let tarball = "http://registry.test/npm/acme/js/@acme/hello/-/hello-1.0.0.tgz";
    assert_eq!(doc["versions"]["1.0.0"]["dist"]["tarball"], tarball, "links point here, not where the client said");
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    assert!(doc["_rev"].as_str().is_some_and(|r| r.starts_with("1-")), "{doc}");

    let short =
        s.call(Method::GET, "/npm/acme/js/@acme%2fhello", Some("application/vnd.npm.install-v1+json"), "").await;
    assert_eq!(short.content_type, "application/vnd.npm.install-v1+json");
    let short = short.json();
    assert!(short["versions"]["1.0.0"]["dist"]["integrity"].is_string() && short.get("readme").is_none(), "{short}");

    let r = s.get("/npm/acme/js/@acme/hello/-/hello-1.0.0.tgz").await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &b"tarball one"[..]));
    assert_eq!(s.get("/npm/acme/js/@acme%2fhello/latest").await.json()["version"], "1.0.0");

    let pushes = s.events("push_repo").await;
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0]["artifact"], "@acme/hello@1.0.0");
    assert_eq!(pushes[0]["registry"], "npm");
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"tarball one")));
    assert_eq!(pushes[0]["detail"], digest.as_str());
}

#[tokio::test]
async fn bad_publishes_are_refused_with_a_reason_and_store_nothing() {
    let s = server().await;
    let url = "/npm/acme/js/left-pad";
    let mut wrong = publish_body("left-pad", "1.0.0", b"the real bytes");
    wrong["versions"]["1.0.0"]["dist"]["integrity"] = json!(integrity(b"other bytes"));
    let r = s.put_json(url, &wrong).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("dist.integrity"), "{}", r.error());

    let r = s.call(Method::PUT, url, None, "{\"name\": \"left-pad\", \"versions\": ").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("not valid"), "{}", r.error());

    let r = s.put_json(url, &publish_body("right-pad", "1.0.0", b"x")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a body naming another package");

    let r = s.put_json(url, &publish_body("left-pad", "not-a-version", b"x")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);

    let big = vec![b'a'; MAX_TARBALL as usize + 1];
    let r = s.put_json(url, &publish_body("left-pad", "1.0.0", &big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", r.body);

    for hostile in ["/npm/acme/js/..%2f..%2fetc", "/npm/acme/js/Left-Pad", "/npm/acme/js/.hidden"] {
        let r = s.put_json(hostile, &publish_body("left-pad", "1.0.0", b"x")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{hostile}");
    }

    assert_eq!(s.get(url).await.status, StatusCode::NOT_FOUND, "nothing was stored");
    assert!(s.events("push_repo").await.iter().all(|e| e["outcome"] != "success"));

    let r = s.put_json("/npm/acme/files/left-pad", &publish_body("left-pad", "1.0.0", b"x")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a repository of another format is not an npm registry");
}

#[tokio::test]
async fn a_version_is_published_once() {
    let s = server().await;
    let url = "/npm/acme/js/left-pad";
    assert_eq!(s.put_json(url, &publish_body("left-pad", "1.0.0", b"one")).await.status, StatusCode::CREATED);
    let r = s.put_json(url, &publish_body("left-pad", "1.0.0", b"changed")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.error().contains("1.0.0"), "{}", r.error());
    assert_eq!(&s.get("/npm/acme/js/left-pad/-/left-pad-1.0.0.tgz").await.body[..], b"one");
}

#[tokio::test]
async fn dist_tags_and_unpublish_follow_the_revision() {
    let s = server().await;
    let url = "/npm/acme/js/left-pad";
    for v in ["1.0.0", "1.1.0"] {
        assert_eq!(s.put_json(url, &publish_body("left-pad", v, v.as_bytes())).await.status, StatusCode::CREATED);
    }
    let tag = "/npm/acme/js/-/package/left-pad/dist-tags/stable";
    assert_eq!(s.put_json(tag, &json!("1.0.0")).await.status, StatusCode::OK);
    let tags = s.get("/npm/acme/js/-/package/left-pad/dist-tags").await.json();
    assert_eq!(tags, json!({ "latest": "1.1.0", "stable": "1.0.0" }));
    let r = s.put_json("/npm/acme/js/-/package/left-pad/dist-tags/2.0.0", &json!("1.0.0")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a tag that is a version");
    let r = s.put_json(tag, &json!("9.9.9")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

    // npm unpublish left-pad@1.0.0: the packument written back without it, at the revision it read.
    let mut doc = s.get(url).await.json();
    let rev = doc["_rev"].as_str().unwrap().to_owned();
    doc["versions"].as_object_mut().unwrap().remove("1.0.0");
    doc["dist-tags"].as_object_mut().unwrap().remove("stable");
    let r = s.put_json(&format!("{url}/-rev/0-stale"), &doc).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a stale revision");
    let r = s.put_json(&format!("{url}/-rev/{rev}"), &doc).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let versions = s.get(url).await.json()["versions"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(versions, ["1.1.0"]);
    assert_eq!(s.get("/npm/acme/js/left-pad/-/left-pad-1.0.0.tgz").await.status, StatusCode::NOT_FOUND);

    // Then npm deletes the tarball at the path of its absolute URL, under the registry's own path again.
    let rev = s.get(url).await.json()["_rev"].as_str().unwrap().to_owned();
    let tarball = format!("/npm/acme/js/npm/acme/js/left-pad/-/left-pad-1.0.0.tgz/-rev/{rev}");
    assert_eq!(s.call(Method::DELETE, &tarball, None, "").await.status, StatusCode::OK);

    let deletes = s.events("delete_version").await;
    assert_eq!(deletes.iter().map(|e| e["artifact"].clone()).collect::<Vec<_>>(), [json!("left-pad@1.0.0")]);
    // An unpublished version may be published again (the trail keeps both digests).
    assert_eq!(s.put_json(url, &publish_body("left-pad", "1.0.0", b"again")).await.status, StatusCode::CREATED);

    let rev = s.get(url).await.json()["_rev"].as_str().unwrap().to_owned();
    let r = s.call(Method::DELETE, &format!("{url}/-rev/{rev}"), None, "").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(s.get(url).await.status, StatusCode::NOT_FOUND);
}
