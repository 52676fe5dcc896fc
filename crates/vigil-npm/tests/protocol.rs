//! The npm protocol over the real embedded stores, without authentication (admission is the shared machinery's,
//! tested with the binary and the npm client): publish and its checks, packuments, tarballs, dist-tags,
//! unpublish with revisions, hostile input, and that a refused write leaves nothing behind.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest as _;
use vigil_core::Format;
use vigil_http::Site;
use vigil_npm::Npm;
use vigil_testkit::{Resp, Stores};

const MAX_TARBALL: u64 = 4096;

struct Server {
    app: Router,
    stores: Stores,
}

trait NpmResp {
    fn error(&self) -> String;
}

impl NpmResp for Resp {
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

async fn server() -> Server {
    let stores = Stores::open().await;
    let site = Site { public_url: Some("http://registry.test".into()), tls: false };
    let npm = Npm::new(stores.meta.clone(), stores.ingest(MAX_TARBALL), stores.authenticator(), site);
    let app = vigil_http::mount(npm, None).router;
    stores.create_repo("acme/js", Format::Npm, false).await;
    stores.create_repo("acme/files", Format::Raw, false).await;
    Server { app, stores }
}

impl Server {
    async fn call(&self, method: Method, uri: &str, accept: Option<&str>, body: impl Into<Body>) -> Resp {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(accept.map(|a| ("accept", a)));
        vigil_testkit::call(&self.app, method, uri, &headers, body).await
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, None, Body::empty()).await
    }

    async fn put_json(&self, uri: &str, body: &Value) -> Resp {
        self.call(Method::PUT, uri, None, body.to_string()).await
    }

    async fn events(&self, kind: &str) -> Vec<Value> {
        self.stores.events(kind).await
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
    assert_eq!((full.status, full.header("content-type")), (StatusCode::OK, "application/json"));
    let doc = full.json();
    let tarball = "http://registry.test/npm/acme/js/@acme/hello/-/hello-1.0.0.tgz";
    assert_eq!(doc["versions"]["1.0.0"]["dist"]["tarball"], tarball, "links point here, not where the client said");
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    assert!(doc["_rev"].as_str().is_some_and(|r| r.starts_with("1-")), "{doc}");

    let short =
        s.call(Method::GET, "/npm/acme/js/@acme%2fhello", Some("application/vnd.npm.install-v1+json"), "").await;
    assert_eq!(short.header("content-type"), "application/vnd.npm.install-v1+json");
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
