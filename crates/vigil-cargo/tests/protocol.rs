//! The Cargo protocol over the real embedded stores, without authentication (admission is the shared
//! machinery's, tested with the binary and cargo itself): publishing and its checks, the sparse index, downloads,
//! yanking, search, hostile input, and that a refused publish leaves nothing behind.

use std::io::Write;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use sha2::Digest as _;
use vigil_cargo::Cargo;
use vigil_core::Format;
use vigil_http::Site;
use vigil_testkit::{Resp, Stores};

const MAX_CRATE: u64 = 64 * 1024;

struct Server {
    app: Router,
    stores: Stores,
}

trait CargoResp {
    fn detail(&self) -> String;
}

impl CargoResp for Resp {
    fn detail(&self) -> String {
        self.json()["errors"][0]["detail"].as_str().unwrap_or_default().to_owned()
    }
}

async fn server() -> Server {
    let stores = Stores::open().await;
    let site = Site { public_url: Some("http://registry.test".into()), tls: false };
    let cargo = Cargo::new(stores.meta.clone(), stores.ingest(MAX_CRATE), stores.authenticator(), site);
    let app = vigil_http::mount(cargo, None).router;
    stores.create_repo("acme/rs", Format::Cargo, false).await;
    stores.create_repo("acme/js", Format::Npm, false).await;
    Server { app, stores }
}

impl Server {
    async fn call(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Resp {
        vigil_testkit::call(&self.app, method, uri, headers, body).await
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, &[], Body::empty()).await
    }

    async fn publish(&self, meta: &Value, file: &[u8]) -> Resp {
        self.call(Method::PUT, "/cargo/acme/rs/api/v1/crates/new", &[], frame(meta, file)).await
    }

    async fn events(&self, kind: &str) -> Vec<Value> {
        self.stores.events(kind).await
    }
}

/// cargo's publish body: u32 length, JSON, u32 length, the `.crate` file.
fn frame(meta: &Value, file: &[u8]) -> Vec<u8> {
    let json = meta.to_string();
    let mut body = Vec::new();
    body.extend((json.len() as u32).to_le_bytes());
    body.extend(json.as_bytes());
    body.extend((file.len() as u32).to_le_bytes());
    body.extend(file);
    body
}

/// A `.crate` file holding `files` (path, content); paths are written raw, so hostile ones can be built.
fn crate_file(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, content.as_bytes()).unwrap();
    }
    let mut gz = builder.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

fn good_crate(name: &str, vers: &str) -> Vec<u8> {
    let root = format!("{name}-{vers}");
    crate_file(&[(&format!("{root}/Cargo.toml"), "[package]"), (&format!("{root}/src/lib.rs"), "")])
}

fn metadata(name: &str, vers: &str, deps: Value) -> Value {
    json!({
        "name": name, "vers": vers, "deps": deps, "description": "a test crate", "license": "MIT",
        "features": { "default": ["std"], "std": [], "extra": ["dep:serde"] }, "authors": [], "links": null,
    })
}

#[tokio::test]
async fn a_publish_is_indexed_downloaded_and_searched() {
    let s = server().await;
    let file = good_crate("demo-a", "0.1.0");
    let r = s.publish(&metadata("demo-a", "0.1.0", json!([])), &file).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let dep = json!([{ "name": "demo-a", "version_req": "^0.1", "features": [], "optional": false,
        "default_features": true, "target": null, "kind": "normal", "registry": null, "explicit_name_in_toml": "a" }]);
    let r = s.publish(&metadata("demo_b", "0.2.0", dep), &good_crate("demo_b", "0.2.0")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let config = s.get("/cargo/acme/rs/index/config.json").await.json();
    assert_eq!(
        config,
        json!({ "dl": "http://registry.test/cargo/acme/rs/api/v1/crates", "api": "http://registry.test/cargo/acme/rs", "auth-required": true })
    );
    let index = s.get("/cargo/acme/rs/index/de/mo/demo-a").await;
    let line: Value = serde_json::from_str(index.text().lines().next().unwrap()).unwrap();
    assert_eq!(line["cksum"], hex::encode(sha2::Sha256::digest(&file)));
    assert_eq!(
        (line["name"].as_str(), line["vers"].as_str(), line["yanked"].as_bool()),
        (Some("demo-a"), Some("0.1.0"), Some(false))
    );
    assert_eq!((line["v"].as_u64(), &line["features2"]), (Some(2), &json!({ "extra": ["dep:serde"] })));
    let again = s
        .call(
            Method::GET,
            "/cargo/acme/rs/index/de/mo/demo-a",
            &[("if-none-match", index.header("etag"))],
            Body::empty(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    let b: Value = serde_json::from_str(s.get("/cargo/acme/rs/index/de/mo/demo_b").await.text().trim()).unwrap();
    assert_eq!(
        b["deps"][0],
        json!({ "name": "a", "package": "demo-a", "req": "^0.1", "features": [], "optional": false,
        "default_features": true, "target": null, "kind": "normal", "registry": null })
    );
    assert_eq!(
        s.get("/cargo/acme/rs/index/de/mo/demo-b").await.status,
        StatusCode::NOT_FOUND,
        "spelled as published only"
    );

    let r = s.get("/cargo/acme/rs/api/v1/crates/demo-a/0.1.0/download").await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &file[..]));
    let found = s.get("/cargo/acme/rs/api/v1/crates?q=demo&per_page=1").await.json();
    assert_eq!((found["crates"][0]["name"].as_str(), found["meta"]["total"].as_u64()), (Some("demo-a"), Some(2)));
    let owners = s.get("/cargo/acme/rs/api/v1/crates/demo-a/owners").await.json();
    assert!(owners["users"][0]["login"].is_string(), "the publisher (anonymous here: no admission in this test)");

    let pushes = s.events("push_repo").await;
    assert_eq!(
        pushes.iter().map(|e| e["artifact"].as_str().unwrap()).collect::<Vec<_>>(),
        ["demo-a@0.1.0", "demo-b@0.2.0"]
    );
    assert_eq!(pushes[0]["registry"], "cargo");
}

#[tokio::test]
async fn bad_publishes_are_refused_with_a_reason_and_store_nothing() {
    let s = server().await;
    let ok = good_crate("demo", "1.0.0");
    let missing_dep = json!([{ "name": "elsewhere", "version_req": "1", "kind": "normal", "registry": null }]);
    let bad_req =
        json!([{ "name": "x", "version_req": "not a req", "kind": "normal", "registry": "sparse+http://other/" }]);
    let cases: Vec<(Value, Vec<u8>, &str)> = vec![
        (metadata("demo", "1.0", json!([])), ok.clone(), "invalid version"),
        (metadata("1demo", "1.0.0", json!([])), ok.clone(), "start with a letter"),
        (metadata("demo", "1.0.0", missing_dep), ok.clone(), "elsewhere is not in acme/rs"),
        (metadata("demo", "1.0.0", bad_req), ok.clone(), "invalid version requirement"),
        (metadata("demo", "1.0.0", json!([])), good_crate("other", "1.0.0"), "outside demo-1.0.0/"),
        (metadata("demo", "1.0.0", json!([])), crate_file(&[("demo-1.0.0/../../etc/x", "")]), "outside"),
        (metadata("demo", "1.0.0", json!([])), crate_file(&[("/etc/passwd", "")]), "outside"),
        (
            metadata("demo", "1.0.0", json!([])),
            crate_file(&[("demo-1.0.0/src/lib.rs", "")]),
            "no demo-1.0.0/Cargo.toml",
        ),
        (metadata("demo", "1.0.0", json!([])), b"plain bytes".to_vec(), "not a gzipped tarball"),
    ];
    for (meta, file, expected) in cases {
        let r = s.publish(&meta, &file).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{expected}: {}", r.text());
        assert!(r.detail().contains(expected), "wanted {expected:?} in {:?}", r.detail());
    }
    let r = s.call(Method::PUT, "/cargo/acme/rs/api/v1/crates/new", &[], "{\"x\"").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "JSON read as a frame claims a huge length: {}", r.text());
    let r = s.call(Method::PUT, "/cargo/acme/rs/api/v1/crates/new", &[], &b"\x05\0\0\0ab"[..]).await;
    assert!(r.detail().contains("ends inside the metadata"), "{}", r.text());
    let mut truncated = frame(&metadata("demo", "1.0.0", json!([])), &ok);
    truncated.truncate(truncated.len() - 10);
    let r = s.call(Method::PUT, "/cargo/acme/rs/api/v1/crates/new", &[], truncated).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let big = vec![0u8; MAX_CRATE as usize + 1];
    assert_eq!(s.publish(&metadata("demo", "1.0.0", json!([])), &big).await.status, StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(s.get("/cargo/acme/rs/index/de/mo/demo").await.status, StatusCode::NOT_FOUND, "nothing was stored");
    assert!(s.events("push_repo").await.iter().all(|e| e["outcome"] != "success"));
    assert_eq!(s.get("/cargo/acme/js/index/config.json").await.status, StatusCode::NOT_FOUND, "another format");

    assert_eq!(s.publish(&metadata("demo", "1.0.0", json!([])), &ok).await.status, StatusCode::OK);
    let r = s.publish(&metadata("demo", "1.0.0+build", json!([])), &good_crate("demo", "1.0.0+build")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "the same version with other build metadata: {}", r.text());
    let r = s.publish(&metadata("Demo", "2.0.0", json!([])), &good_crate("Demo", "2.0.0")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "another spelling of a published name");
}

#[tokio::test]
async fn yanks_mark_the_index_line_and_can_be_undone() {
    let s = server().await;
    assert_eq!(
        s.publish(&metadata("demo", "1.0.0", json!([])), &good_crate("demo", "1.0.0")).await.status,
        StatusCode::OK
    );
    let yank = "/cargo/acme/rs/api/v1/crates/demo/1.0.0/yank";
    assert_eq!(s.call(Method::DELETE, yank, &[], Body::empty()).await.json(), json!({ "ok": true }));
    let line: Value = serde_json::from_str(s.get("/cargo/acme/rs/index/de/mo/demo").await.text().trim()).unwrap();
    assert_eq!(line["yanked"], true);
    assert_eq!(s.get("/cargo/acme/rs/api/v1/crates/demo/1.0.0/download").await.status, StatusCode::OK, "still there");
    let unyank = "/cargo/acme/rs/api/v1/crates/demo/1.0.0/unyank";
    assert_eq!(s.call(Method::PUT, unyank, &[], Body::empty()).await.status, StatusCode::OK);
    let line: Value = serde_json::from_str(s.get("/cargo/acme/rs/index/de/mo/demo").await.text().trim()).unwrap();
    assert_eq!(line["yanked"], false);
    assert_eq!(s.events("yank_version").await[0]["artifact"], "demo@1.0.0");
    let r = s.call(Method::DELETE, "/cargo/acme/rs/api/v1/crates/demo/9.0.0/yank", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s.call(Method::PUT, "/cargo/acme/rs/api/v1/crates/demo/owners", &[], "{\"users\":[\"bob\"]}").await;
    assert!(r.detail().contains("grants"), "{}", r.detail());
}
