//! The Maven protocol over the real embedded stores, without authentication (admission is the shared
//! machinery's, tested with the binary and mvn): deploys, checksums served and checked, POM checks, metadata
//! written from what is stored, the redeploy rule, hostile paths, and that a refused deploy stores nothing.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::Value;
use sha1::Digest as _;
use vigil_core::Format;
use vigil_maven::Maven;
use vigil_testkit::{Resp, Stores};

const BASE: &str = "/maven/acme/java/com/acme/demo";

struct Server {
    app: Router,
    stores: Stores,
}

async fn server() -> Server {
    let stores = Stores::open().await;
    let app = vigil_http::mount(Maven::new(stores.meta.clone(), stores.ingest(4096)), None).router;
    stores.create_repo("acme/java", Format::Maven, false).await;
    stores.create_repo("acme/scratch", Format::Maven, true).await;
    Server { app, stores }
}

impl Server {
    async fn call(&self, method: Method, uri: &str, body: impl Into<Body>) -> Resp {
        vigil_testkit::call(&self.app, method, uri, &[], body).await
    }

    async fn put(&self, uri: &str, body: &str) -> Resp {
        self.call(Method::PUT, uri, body.to_owned()).await
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, Body::empty()).await
    }

    async fn events(&self, kind: &str) -> Vec<Value> {
        self.stores.events(kind).await
    }
}

fn pom(version: &str) -> String {
    format!(
        "<project><modelVersion>4.0.0</modelVersion><groupId>com.acme</groupId><artifactId>demo</artifactId>\
         <version>{version}</version></project>"
    )
}

#[tokio::test]
async fn deploys_are_served_with_their_checksums_and_metadata() {
    let s = server().await;
    assert_eq!(s.put(&format!("{BASE}/1.0/demo-1.0.jar"), "jar one").await.status, StatusCode::CREATED);
    assert_eq!(s.put(&format!("{BASE}/1.0/demo-1.0.pom"), &pom("1.0")).await.status, StatusCode::CREATED);
    let sha1 = hex::encode(sha1::Sha1::digest(b"jar one"));
    let r = s.put(&format!("{BASE}/1.0/demo-1.0.jar.sha1"), &sha1).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = s.put(&format!("{BASE}/1.0/demo-1.0.jar.md5"), &"0".repeat(32)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("checksum mismatch"), "{}", r.text());

    assert_eq!(s.get(&format!("{BASE}/1.0/demo-1.0.jar")).await.body, "jar one");
    assert_eq!(s.get(&format!("{BASE}/1.0/demo-1.0.jar.sha1")).await.text(), sha1);
    assert_eq!(s.get(&format!("{BASE}/1.0/demo-1.0.jar.md5")).await.text(), hex::encode(md5::Md5::digest(b"jar one")));
    let sha512 = hex::encode(sha2::Sha512::digest(b"jar one"));
    assert_eq!(s.get(&format!("{BASE}/1.0/demo-1.0.jar.sha512")).await.text(), sha512);

    for (i, stamp) in ["20261201.100000-1", "20261202.100000-2"].iter().enumerate() {
        let jar = format!("{BASE}/1.1-SNAPSHOT/demo-1.1-{stamp}.jar");
        assert_eq!(s.put(&jar, &format!("snapshot {i}")).await.status, StatusCode::CREATED);
    }
    let snapshot = s.get(&format!("{BASE}/1.1-SNAPSHOT/maven-metadata.xml")).await.text();
    assert!(
        snapshot.contains("<timestamp>20261202.100000</timestamp>")
            && snapshot.contains("<buildNumber>2</buildNumber>"),
        "{snapshot}"
    );
    assert!(snapshot.contains("<value>1.1-20261202.100000-2</value>"), "{snapshot}");
    assert_eq!(
        s.get(&format!("{BASE}/1.1-SNAPSHOT/demo-1.1-SNAPSHOT.jar")).await.text(),
        "snapshot 1",
        "the newest build"
    );

    let artifact = s.get(&format!("{BASE}/maven-metadata.xml")).await.text();
    assert!(
        artifact.contains("<latest>1.1-SNAPSHOT</latest>") && artifact.contains("<release>1.0</release>"),
        "{artifact}"
    );
    let sum = s.get(&format!("{BASE}/maven-metadata.xml.sha1")).await.text();
    assert_eq!(sum, hex::encode(sha1::Sha1::digest(artifact.as_bytes())), "the checksum is of the same bytes");
    let uploaded = "<metadata><groupId>com.acme</groupId><artifactId>demo</artifactId></metadata>";
    assert_eq!(s.put(&format!("{BASE}/maven-metadata.xml"), uploaded).await.status, StatusCode::CREATED);

    let pushes = s.events("push_repo").await;
    assert_eq!(pushes[0]["artifact"], "com.acme:demo@1.0");
    assert_eq!(pushes[0]["registry"], "maven");
}

#[tokio::test]
async fn bad_deploys_are_refused_with_a_reason_and_store_nothing() {
    let s = server().await;
    let cases = [
        (format!("{BASE}/1.0/demo-1.0.pom"), pom("2.0"), "version is 2.0"),
        (format!("{BASE}/1.0/demo-1.0.pom"), "<project><artifactId>".to_owned(), "invalid POM"),
        (format!("{BASE}/1.0/demo-1.0.pom"), "<!DOCTYPE p [<!ENTITY x \"y\">]><project/>".to_owned(), "document type"),
        (format!("{BASE}/1.0/other-1.0.jar"), "x".to_owned(), "not a file of demo 1.0"),
        (format!("{BASE}/1.0/..%2f..%2fdemo-1.0.jar"), "x".to_owned(), "invalid path segment"),
        (
            format!("{BASE}/maven-metadata.xml"),
            "<metadata><groupId>other</groupId></metadata>".to_owned(),
            "groupId is other",
        ),
        (format!("{BASE}/1.0/demo-1.0.jar.sha1"), "0000".to_owned(), "not deployed"),
        (format!("{BASE}/1.0/demo-1.0.jar.sha1"), "not hex".to_owned(), "not a checksum"),
    ];
    for (path, body, expected) in cases {
        let r = s.put(&path, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text());
        assert!(r.text().contains(expected), "wanted {expected:?} in {:?}", r.text());
    }
    let r = s.put(&format!("{BASE}/1.0/demo-1.0.jar"), &"x".repeat(5000)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.get(&format!("{BASE}/maven-metadata.xml")).await.status, StatusCode::NOT_FOUND, "nothing was stored");
    assert!(s.events("push_repo").await.iter().all(|e| e["outcome"] != "success"));
}

#[tokio::test]
async fn releases_are_deployed_once_unless_the_repository_allows_more() {
    let s = server().await;
    let jar = format!("{BASE}/1.0/demo-1.0.jar");
    assert_eq!(s.put(&jar, "one").await.status, StatusCode::CREATED);
    assert_eq!(s.put(&jar, "one").await.status, StatusCode::OK, "the same bytes again");
    let r = s.put(&jar, "two").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("redeploying is refused"), "{}", r.text());
    assert_eq!(s.get(&jar).await.text(), "one");

    let scratch = "/maven/acme/scratch/com/acme/demo/1.0/demo-1.0.jar";
    assert_eq!(s.put(scratch, "one").await.status, StatusCode::CREATED);
    assert_eq!(s.put(scratch, "two").await.status, StatusCode::OK);
    assert_eq!(s.get(scratch).await.text(), "two");
    assert_eq!(s.get(&format!("{scratch}.sha1")).await.text(), hex::encode(sha1::Sha1::digest(b"two")));
    let overwrite =
        s.events("push_repo").await.into_iter().find(|e| e["action"] == "overwrite").expect("an overwrite event");
    assert_eq!(
        overwrite["detail"],
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"one"))),
        "what it replaced"
    );

    assert_eq!(s.call(Method::DELETE, &jar, Body::empty()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&jar).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.get(&format!("{BASE}/maven-metadata.xml")).await.status,
        StatusCode::NOT_FOUND,
        "its version went with it"
    );
}
