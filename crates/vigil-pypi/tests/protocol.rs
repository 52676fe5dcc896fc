//! The PyPI protocol over the real embedded stores, without authentication (admission is the shared
//! machinery's, tested with the binary and the real clients): uploads and their checks, the simple index in both
//! forms, downloads, yanking, hostile input, and that a refused upload leaves nothing behind.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::Router;
use blake2::digest::consts::U32;
use blake2::Digest as _;
use serde_json::Value;
use vigil_core::Format;
use vigil_pypi::Pypi;
use vigil_testkit::{Resp, Stores};

const MAX_FILE: u64 = 4096;
const BOUNDARY: &str = "vigil-test-boundary";
const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// A form field and a file part (name, bytes).
type Field<'a> = (&'a str, &'a str);
type File<'a> = (&'a str, &'a [u8]);

struct Server {
    app: Router,
    stores: Stores,
}

async fn server() -> Server {
    let stores = Stores::open().await;
    let app = vigil_http::mount(Pypi::new(stores.meta.clone(), stores.ingest(MAX_FILE)), None).router;
    stores.create_repo("acme/py", Format::Pypi, false).await;
    stores.create_repo("acme/js", Format::Npm, false).await;
    Server { app, stores }
}

impl Server {
    async fn call(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Resp {
        vigil_testkit::call(&self.app, method, uri, headers, body).await
    }

    async fn get(&self, uri: &str, accept: &str) -> Resp {
        self.call(Method::GET, uri, &[("accept", accept)], Body::empty()).await
    }

    async fn upload(&self, fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Resp {
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.call(Method::POST, "/pypi/acme/py/", &[("content-type", &content_type)], form(fields, file)).await
    }

    async fn events(&self, kind: &str) -> Vec<Value> {
        self.stores.events(kind).await
    }
}

/// A multipart body as twine writes it: the fields, then the file as `content`.
fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    body
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn blake2(bytes: &[u8]) -> String {
    hex::encode(blake2::Blake2b::<U32>::digest(bytes))
}

/// The fields twine sends for `name` `version` with the file's digests.
fn fields<'a>(name: &'a str, version: &'a str, sha: &'a str, blake: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("metadata_version", "2.1"),
        ("name", name),
        ("version", version),
        ("filetype", "sdist"),
        ("pyversion", "source"),
        ("summary", "a <b>demo</b>"),
        ("requires_python", ">=3.8"),
        ("sha256_digest", sha),
        ("blake2_256_digest", blake),
    ]
}

#[tokio::test]
async fn an_upload_is_listed_in_both_forms_and_downloaded() {
    let s = server().await;
    let file = b"an sdist".as_slice();
    let (sha, blake) = (sha256(file), blake2(file));
    let r = s.upload(&fields("Demo.Pkg", "1.0.0", &sha, &blake), Some(("Demo.Pkg-1.0.0.tar.gz", file))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let page = s.get("/pypi/acme/py/simple/demo-pkg/", JSON).await;
    assert_eq!(page.header("content-type"), JSON);
    let doc = page.json();
    assert_eq!(doc["name"], "demo-pkg");
    assert_eq!(doc["versions"], serde_json::json!(["1.0.0"]));
    let entry = &doc["files"][0];
    assert_eq!(entry["hashes"]["sha256"], sha.as_str());
    assert_eq!((entry["requires-python"].as_str(), entry["yanked"].as_bool()), (Some(">=3.8"), Some(false)));
    assert_eq!(entry["url"], "../../files/demo-pkg/1.0.0/Demo.Pkg-1.0.0.tar.gz");

    let html = s.get("/pypi/acme/py/simple/demo-pkg/", "text/html").await;
    assert!(html.header("content-type").starts_with("text/html"), "{}", html.header("content-type"));
    let expected = format!(
        "href=\"../../files/demo-pkg/1.0.0/Demo.Pkg-1.0.0.tar.gz#sha256={sha}\" data-requires-python=\"&gt;=3.8\""
    );
    assert!(html.text().contains(&expected), "{}", html.text());

    let r = s.get("/pypi/acme/py/simple/Demo_Pkg/", "text/html").await;
    assert_eq!((r.status, r.header("location")), (StatusCode::MOVED_PERMANENTLY, "../demo-pkg/"));
    let r = s.get("/pypi/acme/py/simple", "text/html").await;
    assert_eq!((r.status, r.header("location")), (StatusCode::MOVED_PERMANENTLY, "simple/"));
    assert_eq!(s.get("/pypi/acme/py/simple/", JSON).await.json()["projects"][0]["name"], "demo-pkg");
    assert_eq!(s.get("/pypi/acme/py/simple/", "application/xml").await.status, StatusCode::NOT_ACCEPTABLE);

    let r = s.get("/pypi/acme/py/files/demo-pkg/1.0.0/Demo.Pkg-1.0.0.tar.gz", "*/*").await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, file));

    let pushes = s.events("push_repo").await;
    assert_eq!(pushes.len(), 1);
    assert_eq!(
        (pushes[0]["artifact"].as_str(), pushes[0]["registry"].as_str()),
        (Some("demo-pkg@1.0.0"), Some("pypi"))
    );
    assert_eq!(pushes[0]["detail"], format!("sha256:{sha}"));

    // The same file again is accepted as there; another file under its name is refused.
    let r = s.upload(&fields("Demo.Pkg", "1.0.0", &sha, &blake), Some(("Demo.Pkg-1.0.0.tar.gz", file))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let other = b"another sdist".as_slice();
    let (sha2, blake2) = (sha256(other), blake2(other));
    let r = s.upload(&fields("Demo.Pkg", "1.0.0", &sha2, &blake2), Some(("Demo.Pkg-1.0.0.tar.gz", other))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("File already exists"), "{}", r.text());
    let r = s.get("/pypi/acme/py/files/demo-pkg/1.0.0/Demo.Pkg-1.0.0.tar.gz", "*/*").await;
    assert_eq!(&r.body[..], file, "the first file stays");
}

#[tokio::test]
async fn bad_uploads_are_refused_with_a_reason_and_store_nothing() {
    let s = server().await;
    let file = b"an sdist".as_slice();
    let (sha, blake) = (sha256(file), blake2(file));
    let wrong = sha256(b"other");
    let name = "demo-1.0.tar.gz";
    let cases: Vec<(Vec<Field>, Option<File>, &str)> = vec![
        (fields("demo", "1.0", &wrong, &blake), Some((name, file)), "sha256_digest"),
        (fields("demo", "1.0", &sha, &wrong), Some((name, file)), "blake2_256_digest"),
        (fields("demo", "1.0", &sha, &blake)[..9].to_vec(), Some((name, file)), "sha256_digest or blake2_256_digest"),
        (fields("demo", "one", &sha, &blake), Some((name, file)), "PEP 440"),
        (fields("-demo", "1.0", &sha, &blake), Some((name, file)), "invalid project name"),
        (fields("demo", "1.0", &sha, &blake), Some(("other-1.0.tar.gz", file)), "not a distribution of demo"),
        (fields("demo", "1.0", &sha, &blake), Some(("../demo-1.0.tar.gz", file)), "invalid file name"),
        (fields("demo", "1.0", &sha, &blake), Some(("demo-1.0.exe", file)), "not a distribution"),
        (fields("demo", "1.0", &sha, &blake), None, "no file"),
        (fields("demo", "1.0", &sha, &blake)[1..].to_vec(), Some((name, file)), ":action"),
    ];
    for (fields, file, expected) in cases {
        let r = s.upload(&fields, file).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{expected}: {}", r.text());
        assert!(r.text().contains(expected), "wanted {expected:?} in {:?}", r.text());
    }
    let big = vec![b'x'; MAX_FILE as usize + 1];
    let r = s.upload(&fields("demo", "1.0", &sha256(&big), &blake2(&big)), Some((name, &big))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());

    let r = s.call(Method::POST, "/pypi/acme/py/", &[("content-type", "application/json")], "{}").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not multipart");
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let r = s
        .call(Method::POST, "/pypi/acme/py/", &[("content-type", &content_type)], "--vigil-test-boundary\r\ngarbage")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a broken form: {}", r.text());

    assert_eq!(s.get("/pypi/acme/py/simple/demo/", JSON).await.status, StatusCode::NOT_FOUND, "nothing was stored");
    assert!(s.events("push_repo").await.iter().all(|e| e["outcome"] != "success"));
    let r = s.get("/pypi/acme/js/simple/", JSON).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a repository of another format is not an index");
}

#[tokio::test]
async fn yanked_releases_are_marked_and_can_be_restored() {
    let s = server().await;
    for (version, file) in [("1.0", b"one".as_slice()), ("1.1", b"two".as_slice())] {
        let filename = format!("demo-{version}.tar.gz");
        let r = s.upload(&fields("demo", version, &sha256(file), &blake2(file)), Some((&filename, file))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let r = s.call(Method::POST, "/pypi/acme/py/-/yank/demo/1.1", &[], r#"{"reason":"<script>broken</script>"}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let doc = s.get("/pypi/acme/py/simple/demo/", JSON).await.json();
    let yanked: Vec<Value> = doc["files"].as_array().unwrap().iter().map(|f| f["yanked"].clone()).collect();
    assert_eq!(yanked, [serde_json::json!(false), serde_json::json!("<script>broken</script>")]);
    let html = s.get("/pypi/acme/py/simple/demo/", "text/html").await.text();
    assert!(html.contains("data-yanked=\"&lt;script&gt;broken&lt;/script&gt;\""), "{html}");
    assert_eq!(s.events("yank_version").await[0]["artifact"], "demo@1.1");

    assert_eq!(s.call(Method::DELETE, "/pypi/acme/py/-/yank/demo/1.1", &[], "").await.status, StatusCode::OK);
    let doc = s.get("/pypi/acme/py/simple/demo/", JSON).await.json();
    assert_eq!(doc["files"][1]["yanked"], false);
    assert_eq!(s.call(Method::POST, "/pypi/acme/py/-/yank/demo/9.9", &[], "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.call(Method::POST, "/pypi/acme/py/-/yank/demo/1.1", &[], "not json").await.status,
        StatusCode::BAD_REQUEST
    );
}
