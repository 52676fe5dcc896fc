//! The raw protocol over the real embedded stores, without authentication (admission is the shared machinery's,
//! tested with the binary): files, ranges, conditional requests, the overwrite rule, digests, listings, hostile
//! paths, and the journal events the changes commit with.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vigil_core::{Digest, Format, RepoName};
use vigil_raw::Raw;
use vigil_registry::ingest::Ingest;
use vigil_store::fs::FsBlobStore;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{ContentChange, JournalStore, MetadataStore, Mutation, RepoSettings};

struct Server {
    app: Router,
    meta: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
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
    let ingest = Ingest { meta: meta.clone(), blobs, max_bytes: Some(1024 * 1024) };
    let app = vigil_http::mount(Raw::new(meta.clone(), ingest), None).router;
    for (name, allow_overwrite, format) in
        [("acme/files", false, Format::Raw), ("acme/open", true, Format::Raw), ("acme/app", false, Format::Oci)]
    {
        let repo: RepoName = name.parse().unwrap();
        let settings = RepoSettings { allow_overwrite };
        let create = ContentChange::CreateRepository { repo, format, settings };
        meta.apply(Mutation::Content(create), Vec::new()).await.unwrap();
    }
    Server { app, meta, _dir: dir }
}

impl Server {
    async fn call(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        Resp { status, headers, body: resp.into_body().collect().await.unwrap().to_bytes() }
    }

    async fn put(&self, uri: &str, headers: &[(&str, &str)], body: &'static str) -> Resp {
        self.call(Method::PUT, uri, headers, body).await
    }

    async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> Resp {
        self.call(Method::GET, uri, headers, Body::empty()).await
    }

    /// The journal's events, parsed.
    async fn events(&self) -> Vec<Value> {
        let records = self.meta.journal(1, 1000).await.unwrap();
        records.iter().map(|r| serde_json::from_slice(&r.bytes).unwrap()).collect()
    }
}

fn etag(content: &str) -> String {
    format!("\"{}\"", Digest::sha256_of(content.as_bytes()))
}

#[tokio::test]
async fn files_are_written_read_in_ranges_and_deleted() {
    let s = server().await;
    let r = s.put("/raw/acme/files/docs/readme.txt", &[("content-type", "text/plain")], "hello, raw").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.header("etag"), etag("hello, raw"));
    assert_eq!(r.json()["size"], 10);

    let r = s.get("/raw/acme/files/docs/readme.txt", &[]).await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &b"hello, raw"[..]));
    assert_eq!(r.header("content-type"), "text/plain");
    assert_eq!(r.header("etag"), etag("hello, raw"));
    assert_eq!(r.header("accept-ranges"), "bytes");
    assert!(r.header("last-modified").ends_with(" GMT"), "{}", r.header("last-modified"));

    let r = s.get("/raw/acme/files/docs/readme.txt", &[("range", "bytes=7-")]).await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::PARTIAL_CONTENT, &b"raw"[..]));
    assert_eq!(r.header("content-range"), "bytes 7-9/10");
    let r = s.get("/raw/acme/files/docs/readme.txt", &[("range", "bytes=-4")]).await;
    assert_eq!(&r.body[..], b" raw", "the last four bytes");
    let r = s.get("/raw/acme/files/docs/readme.txt", &[("range", "bytes=10-")]).await;
    assert_eq!((r.status, r.header("content-range")), (StatusCode::RANGE_NOT_SATISFIABLE, "bytes */10"));

    let r = s.call(Method::HEAD, "/raw/acme/files/docs/readme.txt", &[("range", "bytes=0-1")], Body::empty()).await;
    assert_eq!((r.status, r.header("content-length"), r.body.len()), (StatusCode::OK, "10", 0));

    let r = s.get("/raw/acme/files/docs/readme.txt", &[("if-none-match", &etag("hello, raw"))]).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::NOT_MODIFIED, 0));
    let r = s.get("/raw/acme/files/docs/readme.txt", &[("if-match", "\"sha256:00\"")]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);

    let r =
        s.call(Method::DELETE, "/raw/acme/files/docs/readme.txt", &[("if-match", &etag("other"))], Body::empty()).await;
    assert_eq!((r.status, r.error()), (StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED".into()));
    let r = s.call(Method::DELETE, "/raw/acme/files/docs/readme.txt", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get("/raw/acme/files/docs/readme.txt", &[]).await.status, StatusCode::NOT_FOUND);
    let r = s.call(Method::DELETE, "/raw/acme/files/docs/readme.txt", &[], Body::empty()).await;
    assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "NOT_FOUND".into()));
}

#[tokio::test]
async fn overwrites_follow_the_repository_setting_and_conditions() {
    let s = server().await;
    assert_eq!(s.put("/raw/acme/files/a.bin", &[], "one").await.status, StatusCode::CREATED);
    let r = s.put("/raw/acme/files/a.bin", &[], "two").await;
    assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, "OVERWRITE_REFUSED".into()));
    assert_eq!(&s.get("/raw/acme/files/a.bin", &[]).await.body[..], b"one");
    assert_eq!(
        s.put("/raw/acme/files/a.bin", &[], "one").await.status,
        StatusCode::OK,
        "the same content again is no overwrite"
    );

    assert_eq!(s.put("/raw/acme/open/a.bin", &[("if-none-match", "*")], "one").await.status, StatusCode::CREATED);
    let r = s.put("/raw/acme/open/a.bin", &[("if-none-match", "*")], "two").await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = s.put("/raw/acme/open/a.bin", &[("if-match", &etag("nope"))], "two").await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = s.put("/raw/acme/open/a.bin", &[("if-match", &etag("one"))], "two").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&s.get("/raw/acme/open/a.bin", &[]).await.body[..], b"two");
    let r = s.put("/raw/acme/open/new.bin", &[("if-match", "*")], "x").await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "If-Match: * needs an existing file");

    let events = s.events().await;
    let pushes: Vec<_> = events.iter().filter(|e| e["operation"] == "PutRawFile").collect();
    assert_eq!(pushes.len(), 4, "only the writes that were stored commit events: {pushes:#?}");
    let overwrite = pushes.iter().find(|e| e["action"] == "overwrite").expect("an overwrite event");
    assert_eq!(overwrite["detail"], Digest::sha256_of(b"one").to_string(), "detail names the replaced content");
    assert_eq!(overwrite["registry"], "raw");
    assert_eq!(overwrite["artifact"], "acme/open/a.bin");
    let t = &overwrite["target"];
    assert_eq!(
        (t["format"].as_str(), t["namespace"].as_str(), t["repository"].as_str()),
        (Some("raw"), Some("acme"), Some("acme/open"))
    );
    assert_eq!((t["path"].as_str(), t["size"].as_u64()), (Some("a.bin"), Some(3)));
    assert_eq!(t["digest"], Digest::sha256_of(b"two").to_string());
    assert_eq!(overwrite["response"]["status"], 200);
    assert_eq!(pushes.iter().filter(|e| e["action"] == "push").count(), 3);
}

#[tokio::test]
async fn claimed_digests_and_limits_are_checked_and_nothing_is_left() {
    let s = server().await;
    let sha = Digest::sha256_of(b"content");
    let r = s.put("/raw/acme/files/ok", &[("x-checksum-sha256", sha.hex())], "content").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = s.put("/raw/acme/files/bad", &[("x-checksum-sha256", Digest::sha256_of(b"x").hex())], "content").await;
    assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID".into()));
    assert_eq!(s.get("/raw/acme/files/bad", &[]).await.status, StatusCode::NOT_FOUND);
    let mut h = vigil_core::Hasher::new(vigil_core::Algorithm::Sha512);
    h.update(b"content");
    let sha512 = h.finish();
    assert_eq!(
        s.put("/raw/acme/files/ok512", &[("x-checksum-sha512", sha512.hex())], "content").await.status,
        StatusCode::CREATED
    );
    // RFC 9530: sha-256 of "content" in base64.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(sha.hex()).unwrap());
    let header = format!("sha-256=:{b64}:");
    assert_eq!(
        s.put("/raw/acme/files/cd", &[("content-digest", &header)], "content").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.put("/raw/acme/files/cd2", &[("content-digest", &header)], "other").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.put("/raw/acme/files/cd3", &[("content-digest", "sha-256=nonsense")], "x").await.status,
        StatusCode::BAD_REQUEST
    );

    let big = Body::from(vec![b'x'; 1024 * 1024 + 1]);
    let r = s.call(Method::PUT, "/raw/acme/files/big", &[], big).await;
    assert_eq!((r.status, r.error()), (StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE".into()));
    // Nothing half-written: no staging session left behind by the refusals.
    assert!(s.meta.stale_uploads(i64::MAX).await.unwrap().is_empty());
}

#[tokio::test]
async fn folders_list_their_files_and_subfolders() {
    let s = server().await;
    for p in ["docs/a.txt", "docs/b.txt", "docs/sub/c.txt", "docs/sub/deeper/d.txt", "docs0", "top.txt"] {
        assert_eq!(s.put(&format!("/raw/acme/files/{p}"), &[], "x").await.status, StatusCode::CREATED);
    }
    let r = s.get("/raw/acme/files/docs/", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let entries: Vec<(String, String)> = r.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["type"].as_str().unwrap().to_owned()))
        .collect();
    let want = [("a.txt", "file"), ("b.txt", "file"), ("sub/", "folder")];
    assert_eq!(entries, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let root = s.get("/raw/acme/files/", &[]).await.json();
    let names: Vec<_> =
        root["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["docs/", "docs0", "top.txt"]);
    assert_eq!(s.get("/raw/acme/files/nothing/", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/raw/acme/open/", &[]).await.json()["entries"], serde_json::json!([]));
}

#[tokio::test]
async fn hostile_paths_and_other_formats_are_refused() {
    let s = server().await;
    for bad in ["/raw/acme/files/a/../b", "/raw/acme/files/a%2Fb", "/raw/acme/files/a%00b", "/raw/acme/files/%2e%2e/x"]
    {
        let r = s.put(bad, &[], "x").await;
        assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, "PATH_INVALID".into()), "{bad}");
    }
    let r = s.put("/raw/acme/app/file", &[], "x").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "an OCI repository holds no raw files");
    assert!(r.json()["message"].as_str().unwrap().contains("oci repository"));
    let r = s.put("/raw/acme/missing/file", &[], "x").await;
    assert!(r.json()["message"].as_str().unwrap().contains("vigil repo create acme/missing --format raw"));
    let r = s.call(Method::POST, "/raw/acme/files/x", &[], Body::empty()).await;
    assert_eq!((r.status, r.header("allow")), (StatusCode::METHOD_NOT_ALLOWED, "GET, HEAD, PUT, DELETE"));
    let r = s.call(Method::DELETE, "/raw/acme/files/dir/", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
