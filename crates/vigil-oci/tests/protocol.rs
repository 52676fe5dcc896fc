//! Protocol tests for every endpoint, modelled on the OCI distribution-spec conformance suite's four workflows
//! (pull, push, content discovery, content management) plus the error cases. They run the real router over
//! the real embedded stores in a temporary directory.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vigil_core::{Algorithm, Digest};
use vigil_oci::{Registry, RegistryConfig};
use vigil_store::fs::FsBlobStore;
use vigil_store::sqlite::SqliteStore;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

struct Reg {
    app: Router,
    registry: Registry,
    dir: tempfile::TempDir,
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
    fn error_code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap().to_owned()
    }
}

async fn open(dir: tempfile::TempDir, config: RegistryConfig) -> Reg {
    let meta = SqliteStore::open(&dir.path().join("vigil.db")).await.unwrap();
    let blobs = FsBlobStore::open(dir.path().join("storage")).unwrap();
    let registry = Registry::new(Arc::new(meta), Arc::new(blobs), config);
    Reg { app: vigil_oci::router(registry.clone()), registry, dir }
}

async fn registry() -> Reg {
    open(tempfile::tempdir().unwrap(), RegistryConfig::default()).await
}

impl Reg {
    async fn call(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp { status, headers, body }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, &[], Body::empty()).await
    }

    /// Monolithic push (POST then PUT, the conformance suite's first push flavour).
    async fn push_blob(&self, repo: &str, data: &[u8]) -> Digest {
        let digest = Digest::sha256_of(data);
        let r = self.call(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let loc = r.header("location").to_owned();
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = self
            .call(
                Method::PUT,
                &format!("{loc}{sep}digest={digest}"),
                &[("content-type", "application/octet-stream")],
                data.to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.header("docker-content-digest"), digest.to_string());
        digest
    }

    async fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, body: &str) -> Resp {
        self.call(
            Method::PUT,
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("content-type", media_type)],
            body.to_owned(),
        )
        .await
    }

    /// Pushes config + one layer + manifest under `tag`; returns (manifest body, manifest digest, layer digest).
    async fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> (String, Digest, Digest) {
        let config = self.push_blob(repo, b"{}").await;
        let layer_digest = self.push_blob(repo, layer).await;
        let manifest = image_manifest(&config, 2, &[(&layer_digest, layer.len())], None);
        let r = self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        (manifest.clone(), Digest::sha256_of(manifest.as_bytes()), layer_digest)
    }
}

fn image_manifest(config: &Digest, config_size: usize, layers: &[(&Digest, usize)], extra: Option<&str>) -> String {
    let layers: Vec<Value> = layers
        .iter()
        .map(
            |(d, s)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": s}),
        )
        .collect();
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size},
        "layers": layers,
    });
    if let Some(extra) = extra {
        let extra: Value = serde_json::from_str(extra).unwrap();
        m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    }
    m.to_string()
}

// ---- pull ----

#[tokio::test]
async fn api_version_check() {
    let reg = registry().await;
    let r = reg.get("/v2/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("docker-distribution-api-version"), "registry/2.0");
}

#[tokio::test]
async fn pull_manifests_and_blobs() {
    let reg = registry().await;
    let (manifest, mdigest, layer) = reg.push_image("pull/test", "v1", b"layer bytes").await;
    for reference in ["v1".to_owned(), mdigest.to_string()] {
        let r = reg.get(&format!("/v2/pull/test/manifests/{reference}")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), OCI_MANIFEST);
        assert_eq!(r.header("docker-content-digest"), mdigest.to_string());
        assert_eq!(r.body, manifest.as_bytes());
        let h = reg.call(Method::HEAD, &format!("/v2/pull/test/manifests/{reference}"), &[], Body::empty()).await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.header("content-length"), manifest.len().to_string());
        assert!(h.body.is_empty());
    }
    let r = reg.get(&format!("/v2/pull/test/blobs/{layer}")).await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &b"layer bytes"[..]));
    assert_eq!(r.header("docker-content-digest"), layer.to_string());
    let h = reg.call(Method::HEAD, &format!("/v2/pull/test/blobs/{layer}"), &[], Body::empty()).await;
    assert_eq!((h.status, h.header("content-length")), (StatusCode::OK, "11"));

    // Unknown content: the spec's 404s with the spec's codes.
    let missing = Digest::sha256_of(b"nope");
    assert_eq!(reg.get(&format!("/v2/pull/test/manifests/{missing}")).await.error_code(), "MANIFEST_UNKNOWN");
    assert_eq!(reg.get("/v2/pull/test/manifests/nope").await.status, StatusCode::NOT_FOUND);
    let h = reg.call(Method::HEAD, "/v2/pull/test/manifests/nope", &[], Body::empty()).await;
    assert_eq!(h.status, StatusCode::NOT_FOUND);
    let r = reg.get(&format!("/v2/pull/test/blobs/{missing}")).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::NOT_FOUND, "BLOB_UNKNOWN"));
}

#[tokio::test]
async fn blob_ranges() {
    let reg = registry().await;
    let d = reg.push_blob("r/x", b"0123456789").await;
    let get = |range: &'static str| {
        let uri = format!("/v2/r/x/blobs/{d}");
        let reg = &reg;
        async move { reg.call(Method::GET, &uri, &[("range", range)], Body::empty()).await }
    };
    let r = get("bytes=2-5").await;
    assert_eq!(
        (r.status, &r.body[..], r.header("content-range")),
        (StatusCode::PARTIAL_CONTENT, &b"2345"[..], "bytes 2-5/10")
    );
    let r = get("bytes=-3").await;
    assert_eq!(&r.body[..], b"789");
    let r = get("bytes=7-").await;
    assert_eq!(&r.body[..], b"789");
    let r = get("bytes=10-").await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("content-range"), "bytes */10");
}

#[tokio::test]
async fn blobs_are_served_only_through_repositories_that_hold_them() {
    let reg = registry().await;
    let d = reg.push_blob("team-a/secret", b"private layer").await;
    for method in [Method::GET, Method::HEAD] {
        let r = reg.call(method, &format!("/v2/team-b/app/blobs/{d}"), &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    // A manifest in another repository cannot reference it either.
    let config = reg.push_blob("team-b/app", b"{}").await;
    let m = image_manifest(&config, 2, &[(&d, 13)], None);
    let r = reg.put_manifest("team-b/app", "v1", OCI_MANIFEST, &m).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"));
}

// ---- push ----

#[tokio::test]
async fn monolithic_post_with_digest() {
    let reg = registry().await;
    let data = b"single post";
    let d = Digest::sha256_of(data);
    let r = reg.call(Method::POST, &format!("/v2/p/blobs/uploads/?digest={d}"), &[], data.to_vec()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("location"), format!("/v2/p/blobs/{d}"));
    assert_eq!(reg.get(&format!("/v2/p/blobs/{d}")).await.body, &data[..]);
    // Wrong digest: rejected, and nothing becomes visible.
    let wrong = Digest::sha256_of(b"other");
    let r = reg.call(Method::POST, &format!("/v2/p/blobs/uploads/?digest={wrong}"), &[], data.to_vec()).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    assert_eq!(reg.get(&format!("/v2/p/blobs/{wrong}")).await.status, StatusCode::NOT_FOUND);
    let uploads = std::fs::read_dir(reg.dir.path().join("storage/uploads")).unwrap().count();
    assert_eq!(uploads, 0, "a failed monolithic upload leaves no staging file");
}

#[tokio::test]
async fn chunked_upload_with_status_and_out_of_order_chunks() {
    let reg = registry().await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256_of(&data);
    let r = reg.call(Method::POST, "/v2/c/h/blobs/uploads/", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(!r.header("docker-upload-uuid").is_empty());
    let mut loc = r.header("location").to_owned();
    let chunks = [&data[..100_000], &data[100_000..250_000], &data[250_000..]];
    let mut offset = 0usize;
    for chunk in chunks.iter().take(2) {
        let range = format!("{}-{}", offset, offset + chunk.len() - 1);
        let len = chunk.len().to_string();
        let r = reg
            .call(
                Method::PATCH,
                &loc,
                &[("content-range", &range), ("content-length", &len), ("content-type", "application/octet-stream")],
                chunk.to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        offset += chunk.len();
        assert_eq!(r.header("range"), format!("0-{}", offset - 1));
        loc = r.header("location").to_owned();
    }
    // Status of the session.
    let r = reg.get(&loc).await;
    assert_eq!((r.status, r.header("range")), (StatusCode::NO_CONTENT, "0-249999"));
    // Re-sending the first chunk is out of order: 416, and the stored bytes are unchanged.
    let r = reg.call(Method::PATCH, &loc, &[("content-range", "0-99999")], data[..100_000].to_vec()).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("range"), "0-249999");
    // The last chunk comes with the PUT.
    let range = format!("250000-{}", data.len() - 1);
    let r = reg
        .call(Method::PUT, &format!("{loc}?digest={d}"), &[("content-range", &range)], data[250_000..].to_vec())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(reg.get(&format!("/v2/c/h/blobs/{d}")).await.body, data);
    // The session is gone after completion.
    assert_eq!(reg.get(&loc).await.error_code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn streamed_patch_without_content_range_and_sha512() {
    let reg = registry().await;
    let data = b"streamed in two parts";
    let d512 = Digest::of(Algorithm::Sha512, data);
    let r = reg.call(Method::POST, "/v2/s/blobs/uploads/", &[], Body::empty()).await;
    let loc = r.header("location").to_owned();
    reg.call(Method::PATCH, &loc, &[], data[..5].to_vec()).await;
    let r = reg.call(Method::PATCH, &loc, &[], data[5..].to_vec()).await;
    assert_eq!(r.header("range"), format!("0-{}", data.len() - 1));
    let r = reg.call(Method::PUT, &format!("{loc}?digest={d512}"), &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(reg.get(&format!("/v2/s/blobs/{d512}")).await.body, &data[..]);
}

#[tokio::test]
async fn empty_blob_and_cancelled_upload() {
    let reg = registry().await;
    let d = reg.push_blob("e", b"").await;
    let r = reg.get(&format!("/v2/e/blobs/{d}")).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    let r = reg.call(Method::POST, "/v2/e/blobs/uploads/", &[], Body::empty()).await;
    let loc = r.header("location").to_owned();
    let r = reg.call(Method::DELETE, &loc, &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = reg.call(Method::PATCH, &loc, &[], b"x".to_vec()).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN"));
}

#[tokio::test]
async fn upload_session_errors() {
    let reg = registry().await;
    let r = reg.call(Method::POST, "/v2/u/blobs/uploads/", &[], Body::empty()).await;
    let loc = r.header("location").to_owned();
    let id = r.header("docker-upload-uuid").to_owned();
    // Another repository cannot use the session.
    let r = reg.call(Method::PATCH, &format!("/v2/other/blobs/uploads/{id}"), &[], b"x".to_vec()).await;
    assert_eq!(r.error_code(), "BLOB_UPLOAD_UNKNOWN");
    // Unknown and malformed session ids.
    for bad in ["00000000-0000-0000-0000-000000000000", "..", "%2e%2e%2fetc"] {
        let r = reg.call(Method::PATCH, &format!("/v2/u/blobs/uploads/{bad}"), &[], b"x".to_vec()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
    // PUT without a digest, and with a wrong one.
    let r = reg.call(Method::PUT, &loc, &[], b"abc".to_vec()).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    let r = reg.call(Method::PUT, &format!("{loc}?digest=sha256:{}", "0".repeat(64)), &[], Body::empty()).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    let r = reg.call(Method::PUT, &format!("{loc}?digest=md5:abcdef"), &[], Body::empty()).await;
    assert_eq!(r.error_code(), "DIGEST_INVALID");
    // A PUT refused for its digest parameter stored nothing; the session is still usable.
    assert_eq!(reg.get(&loc).await.header("range"), "0-0");
    let d = Digest::sha256_of(b"abc");
    let r = reg.call(Method::PUT, &format!("{loc}?digest={d}"), &[], b"abc".to_vec()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn cross_repository_mount() {
    let reg = registry().await;
    let d = reg.push_blob("src/repo", b"shared layer").await;
    let r = reg
        .call(Method::POST, &format!("/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo"), &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("location"), format!("/v2/dst/repo/blobs/{d}"));
    assert_eq!(reg.get(&format!("/v2/dst/repo/blobs/{d}")).await.body, &b"shared layer"[..]);
    // Not mountable (source lacks it, or no source given): falls back to an upload session.
    let other = Digest::sha256_of(b"elsewhere");
    for q in [format!("mount={other}&from=src/repo"), format!("mount={d}")] {
        let r = reg.call(Method::POST, &format!("/v2/third/blobs/uploads/?{q}"), &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{q}");
        assert!(r.header("location").starts_with("/v2/third/blobs/uploads/"));
    }
    let r = reg.call(Method::POST, &format!("/v2/third/blobs/uploads/?mount={d}&from=BAD"), &[], Body::empty()).await;
    assert_eq!(r.error_code(), "NAME_INVALID");
}

#[tokio::test]
async fn manifest_put_validation() {
    let reg = registry().await;
    let config = reg.push_blob("m", b"{}").await;
    let layer = reg.push_blob("m", b"L").await;
    let good = image_manifest(&config, 2, &[(&layer, 1)], None);
    // Docker schema 2 and an OCI manifest without a mediaType field are accepted.
    let docker = good.replace(OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json");
    let r = reg.put_manifest("m", "docker", "application/vnd.docker.distribution.manifest.v2+json", &docker).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        reg.get("/v2/m/manifests/docker").await.header("content-type"),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    // PUT by digest must match the body.
    let d = Digest::sha256_of(good.as_bytes());
    let r = reg.put_manifest("m", &d.to_string(), OCI_MANIFEST, &good).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = reg.put_manifest("m", &Digest::sha256_of(b"x").to_string(), OCI_MANIFEST, &good).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    // Missing layer, malformed JSON, mismatched media type, unsupported type.
    let missing = image_manifest(&config, 2, &[(&Digest::sha256_of(b"absent"), 6)], None);
    assert_eq!(reg.put_manifest("m", "t", OCI_MANIFEST, &missing).await.error_code(), "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(reg.put_manifest("m", "t", OCI_MANIFEST, "{not json").await.error_code(), "MANIFEST_INVALID");
    // A manifest nesting deeper than any client parses (in a field serde would ignore) is refused, not stored.
    let deep =
        image_manifest(&config, 2, &[], Some(&format!(r#"{{"x-nested":{}{}}}"#, "[".repeat(100), "]".repeat(100))));
    let r = reg.put_manifest("m", "t", OCI_MANIFEST, &deep).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID"));
    assert_eq!(reg.put_manifest("m", "t", OCI_INDEX, &good).await.error_code(), "MANIFEST_INVALID");
    assert_eq!(
        reg.put_manifest("m", "t", "text/plain", r#"{"schemaVersion":2}"#).await.error_code(),
        "MANIFEST_INVALID"
    );
    // Nothing was half-written by the failures.
    assert_eq!(reg.get("/v2/m/manifests/t").await.status, StatusCode::NOT_FOUND);
    // Bad tags.
    let r = reg.put_manifest("m", "-bad", OCI_MANIFEST, &good).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn manifest_size_cap() {
    let config = RegistryConfig { max_manifest_bytes: 1024, ..RegistryConfig::default() };
    let reg = open(tempfile::tempdir().unwrap(), config).await;
    let c = reg.push_blob("big", b"{}").await;
    let big = image_manifest(&c, 2, &[], Some(&format!(r#"{{"annotations":{{"pad":"{}"}}}}"#, "x".repeat(2000))));
    let r = reg.put_manifest("big", "v1", OCI_MANIFEST, &big).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID"));
}

#[tokio::test]
async fn image_index_requires_children_in_repository() {
    let reg = registry().await;
    let (m, d, _) = reg.push_image("idx", "amd64", b"l").await;
    let index = |digest: &Digest| {
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": m.len()}]}).to_string()
    };
    let r = reg.put_manifest("idx", "multi", OCI_INDEX, &index(&d)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(reg.get("/v2/idx/manifests/multi").await.header("content-type"), OCI_INDEX);
    let r = reg.put_manifest("idx", "broken", OCI_INDEX, &index(&Digest::sha256_of(b"no"))).await;
    assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
}

// ---- content discovery ----

#[tokio::test]
async fn tags_list_pagination() {
    let reg = registry().await;
    let (m, _, _) = reg.push_image("tags/repo", "a", b"l").await;
    for t in ["d", "b", "c", "e"] {
        assert_eq!(reg.put_manifest("tags/repo", t, OCI_MANIFEST, &m).await.status, StatusCode::CREATED);
    }
    let r = reg.get("/v2/tags/repo/tags/list").await;
    assert_eq!(r.json(), json!({"name": "tags/repo", "tags": ["a", "b", "c", "d", "e"]}));
    assert_eq!(r.header("link"), "");
    let r = reg.get("/v2/tags/repo/tags/list?n=2").await;
    assert_eq!(r.json()["tags"], json!(["a", "b"]));
    assert_eq!(r.header("link"), "</v2/tags/repo/tags/list?n=2&last=b>; rel=\"next\"");
    let r = reg.get("/v2/tags/repo/tags/list?n=2&last=b").await;
    assert_eq!(r.json()["tags"], json!(["c", "d"]));
    let r = reg.get("/v2/tags/repo/tags/list?n=2&last=d").await;
    assert_eq!((r.json()["tags"].clone(), r.header("link")), (json!(["e"]), ""));
    let r = reg.get("/v2/tags/repo/tags/list?n=0").await;
    assert_eq!(r.json()["tags"], json!([]));
    assert_eq!(reg.get("/v2/tags/repo/tags/list?n=-1").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(reg.get("/v2/nope/tags/list").await.error_code(), "NAME_UNKNOWN");
}

#[tokio::test]
async fn catalog_pagination() {
    let reg = registry().await;
    for repo in ["c/one", "a/one", "b/one"] {
        reg.push_blob(repo, b"x").await;
    }
    assert_eq!(reg.get("/v2/_catalog").await.json(), json!({"repositories": ["a/one", "b/one", "c/one"]}));
    let r = reg.get("/v2/_catalog?n=1&last=a/one").await;
    assert_eq!(r.json(), json!({"repositories": ["b/one"]}));
    assert_eq!(r.header("link"), "</v2/_catalog?n=1&last=b%2Fone>; rel=\"next\"");
}

#[tokio::test]
async fn referrers_api() {
    let reg = registry().await;
    let (_, subject, _) = reg.push_image("ref/app", "v1", b"app layer").await;
    let empty_config = reg.push_blob("ref/app", b"{}").await;
    let sig_layer = reg.push_blob("ref/app", b"signature").await;
    let referrer = |artifact_type: &str| {
        image_manifest(
            &empty_config,
            2,
            &[(&sig_layer, 9)],
            Some(&format!(
                r#"{{"artifactType":"{artifact_type}","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":1}},"annotations":{{"org.example":"yes"}}}}"#
            )),
        )
    };
    let sbom = referrer("application/spdx+json");
    let r = reg.put_manifest("ref/app", &Digest::sha256_of(sbom.as_bytes()).to_string(), OCI_MANIFEST, &sbom).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("oci-subject"), subject.to_string());
    let sig = referrer("application/vnd.example.sig");
    reg.put_manifest("ref/app", "sig", OCI_MANIFEST, &sig).await;

    let r = reg.get(&format!("/v2/ref/app/referrers/{subject}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), OCI_INDEX);
    let list = r.json();
    assert_eq!(list["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(list["manifests"][0]["artifactType"], "application/spdx+json");
    assert_eq!(list["manifests"][0]["digest"], Digest::sha256_of(sbom.as_bytes()).to_string());
    assert_eq!(list["manifests"][0]["size"], sbom.len());
    assert_eq!(list["manifests"][0]["annotations"]["org.example"], "yes");

    let r = reg.get(&format!("/v2/ref/app/referrers/{subject}?artifactType=application/vnd.example.sig")).await;
    assert_eq!(r.header("oci-filters-applied"), "artifactType");
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 1);

    // A subject that does not exist (yet) is allowed, and its referrers list is empty but 200.
    let ghost = Digest::sha256_of(b"not pushed yet");
    let early = image_manifest(
        &empty_config,
        2,
        &[],
        Some(&format!(r#"{{"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{ghost}","size":1}}}}"#)),
    );
    assert_eq!(reg.put_manifest("ref/app", "early", OCI_MANIFEST, &early).await.status, StatusCode::CREATED);
    assert_eq!(
        reg.get(&format!("/v2/ref/app/referrers/{ghost}")).await.json()["manifests"].as_array().unwrap().len(),
        1
    );
    let none = reg.get(&format!("/v2/ref/app/referrers/{}", Digest::sha256_of(b"none"))).await;
    assert_eq!((none.status, none.json()["manifests"].clone()), (StatusCode::OK, json!([])));
    assert_eq!(reg.get("/v2/ref/app/referrers/sha256:bad").await.error_code(), "DIGEST_INVALID");
}

// ---- content management ----

#[tokio::test]
async fn deletes() {
    let reg = registry().await;
    let (m, d, layer) = reg.push_image("del/app", "v1", b"l").await;
    reg.put_manifest("del/app", "v2", OCI_MANIFEST, &m).await;
    // Delete a tag: the manifest stays reachable by digest and by its other tag.
    let r = reg.call(Method::DELETE, "/v2/del/app/manifests/v1", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(reg.get("/v2/del/app/manifests/v1").await.status, StatusCode::NOT_FOUND);
    assert_eq!(reg.get("/v2/del/app/manifests/v2").await.status, StatusCode::OK);
    // Delete the manifest: every tag goes with it.
    let r = reg.call(Method::DELETE, &format!("/v2/del/app/manifests/{d}"), &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(reg.get(&format!("/v2/del/app/manifests/{d}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(reg.get("/v2/del/app/manifests/v2").await.status, StatusCode::NOT_FOUND);
    assert_eq!(reg.get("/v2/del/app/tags/list").await.json()["tags"], json!([]));
    // Delete a blob.
    let r = reg.call(Method::DELETE, &format!("/v2/del/app/blobs/{layer}"), &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(reg.get(&format!("/v2/del/app/blobs/{layer}")).await.status, StatusCode::NOT_FOUND);
    // Deleting what is not there.
    let r = reg.call(Method::DELETE, &format!("/v2/del/app/blobs/{layer}"), &[], Body::empty()).await;
    assert_eq!(r.error_code(), "BLOB_UNKNOWN");
    let r = reg.call(Method::DELETE, &format!("/v2/del/app/manifests/{d}"), &[], Body::empty()).await;
    assert_eq!(r.error_code(), "MANIFEST_UNKNOWN");
    let r = reg.call(Method::DELETE, "/v2/del/app/manifests/v9", &[], Body::empty()).await;
    assert_eq!(r.error_code(), "MANIFEST_UNKNOWN");
}

// ---- bad input ----

#[tokio::test]
async fn manifest_put_by_digest_sets_every_tag_parameter() {
    let reg = registry().await;
    let config = reg.push_blob("tagged/app", b"{}").await;
    let manifest = image_manifest(&config, 2, &[], None);
    let digest = Digest::sha256_of(manifest.as_bytes());
    let uri = format!("/v2/tagged/app/manifests/{digest}?tag=v1&tag=latest&tag=v1");
    let r = reg.call(Method::PUT, &uri, &[("content-type", OCI_MANIFEST)], manifest.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let oci_tags: Vec<&str> = r.headers.get_all("oci-tag").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(oci_tags, ["v1", "latest"], "one OCI-Tag per distinct tag set");
    for tag in ["v1", "latest"] {
        let got = reg.get(&format!("/v2/tagged/app/manifests/{tag}")).await;
        assert_eq!((got.status, got.header("docker-content-digest")), (StatusCode::OK, digest.to_string().as_str()));
    }
    assert_eq!(reg.get("/v2/tagged/app/tags/list").await.json()["tags"], json!(["latest", "v1"]));
    // A PUT by digest without `tag` sets none and answers none.
    let plain = reg
        .call(
            Method::PUT,
            &format!("/v2/tagged/app/manifests/{digest}"),
            &[("content-type", OCI_MANIFEST)],
            manifest.clone(),
        )
        .await;
    assert_eq!((plain.status, plain.headers.get("oci-tag")), (StatusCode::CREATED, None));
    // Bad tags are refused before anything is stored; `tag` beside a tag reference is refused.
    let other = image_manifest(&config, 2, &[], Some(r#"{"annotations": {"n": "2"}}"#));
    let other_digest = Digest::sha256_of(other.as_bytes());
    for query in ["tag=ok&tag=-bad", "tag=", &"tag=t&".repeat(33)] {
        let uri = format!("/v2/tagged/app/manifests/{other_digest}?{query}");
        let r = reg.call(Method::PUT, &uri, &[("content-type", OCI_MANIFEST)], other.clone()).await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "TAG_INVALID"), "{query}");
    }
    assert_eq!(reg.get(&format!("/v2/tagged/app/manifests/{other_digest}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(reg.get("/v2/tagged/app/manifests/ok").await.status, StatusCode::NOT_FOUND);
    let r = reg.call(Method::PUT, "/v2/tagged/app/manifests/v2?tag=v3", &[("content-type", OCI_MANIFEST)], other).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "TAG_INVALID"));
}

#[tokio::test]
async fn malformed_requests_get_spec_errors() {
    let reg = registry().await;
    let cases: &[(Method, &str, StatusCode, &str)] = &[
        (Method::GET, "/v2/Upper/manifests/v1", StatusCode::BAD_REQUEST, "NAME_INVALID"),
        (Method::GET, "/v2/a/../b/manifests/v1", StatusCode::BAD_REQUEST, "NAME_INVALID"),
        (Method::GET, "/v2/a/%2e%2e/b/manifests/v1", StatusCode::BAD_REQUEST, "NAME_INVALID"),
        (Method::GET, "/v2/a/blobs/sha256:abc", StatusCode::BAD_REQUEST, "DIGEST_INVALID"),
        (Method::GET, "/v2/a/blobs/sha1:abc", StatusCode::BAD_REQUEST, "DIGEST_INVALID"),
        (Method::GET, "/v2/a/blobs/notadigest", StatusCode::BAD_REQUEST, "DIGEST_INVALID"),
        (Method::POST, "/v2/a/manifests/v1", StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED"),
        (Method::GET, "/v2/a/unknown/thing", StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        // A reference that cannot name a manifest: reads are 404 MANIFEST_UNKNOWN (the v1.1.1 conformance suite's
        // `.INVALID_MANIFEST_NAME`), a PUT with one stays 400.
        (Method::GET, "/v2/a/manifests/.INVALID_MANIFEST_NAME", StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        (Method::HEAD, "/v2/a/manifests/.INVALID_MANIFEST_NAME", StatusCode::NOT_FOUND, ""),
        (Method::GET, "/v2/a/manifests/sha256:abc", StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        (Method::PUT, "/v2/a/manifests/.INVALID_MANIFEST_NAME", StatusCode::BAD_REQUEST, "TAG_INVALID"),
    ];
    for (method, uri, status, code) in cases {
        let r = reg.call(method.clone(), uri, &[], Body::empty()).await;
        if *method == Method::HEAD {
            assert_eq!((r.status, r.body.len()), (*status, 0), "{method} {uri}");
            continue;
        }
        assert_eq!((r.status, r.error_code()), (*status, code.to_string()), "{method} {uri}");
        assert!(r.json()["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let long = format!("/v2/{}/manifests/v1", "a".repeat(300));
    assert_eq!(reg.get(&long).await.error_code(), "NAME_INVALID");
}

// ---- durability and concurrency ----

#[tokio::test]
async fn upload_sessions_survive_a_restart() {
    let reg = registry().await;
    let r = reg.call(Method::POST, "/v2/restart/blobs/uploads/", &[], Body::empty()).await;
    let loc = r.header("location").to_owned();
    reg.call(Method::PATCH, &loc, &[("content-range", "0-4")], b"hello".to_vec()).await;
    let dir = reg.dir;
    drop(reg.app);
    drop(reg.registry);
    // A new process: no in-memory hash state, same data directory.
    let reg = open(dir, RegistryConfig::default()).await;
    assert_eq!(reg.get(&loc).await.header("range"), "0-4");
    reg.call(Method::PATCH, &loc, &[("content-range", "5-10")], b" world".to_vec()).await;
    let d = Digest::sha256_of(b"hello world");
    let r = reg.call(Method::PUT, &format!("{loc}?digest={d}"), &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn expired_upload_sessions_are_swept() {
    let config = RegistryConfig { upload_expiry: std::time::Duration::from_millis(1), ..RegistryConfig::default() };
    let reg = open(tempfile::tempdir().unwrap(), config).await;
    let r = reg.call(Method::POST, "/v2/exp/blobs/uploads/", &[], Body::empty()).await;
    let loc = r.header("location").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(reg.registry.expire_uploads().await.unwrap(), 1);
    assert_eq!(reg.get(&loc).await.error_code(), "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(std::fs::read_dir(reg.dir.path().join("storage/uploads")).unwrap().count(), 0);
}

#[tokio::test]
async fn concurrent_pushes_of_the_same_blob_and_tag() {
    let reg = Arc::new(registry().await);
    let config = reg.push_blob("conc", b"{}").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let reg = reg.clone();
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let layer = reg.push_blob("conc", b"same layer from everyone").await;
            let m = image_manifest(&config, 2, &[(&layer, 24)], Some(&format!(r#"{{"annotations":{{"i":"{i}"}}}}"#)));
            let r = reg.put_manifest("conc", "latest", OCI_MANIFEST, &m).await;
            assert_eq!(r.status, StatusCode::CREATED);
            Digest::sha256_of(m.as_bytes())
        }));
    }
    let mut digests = Vec::new();
    for t in tasks {
        digests.push(t.await.unwrap());
    }
    let r = reg.get("/v2/conc/manifests/latest").await;
    assert!(digests.iter().any(|d| d.to_string() == r.header("docker-content-digest")));
    assert_eq!(
        reg.get(&format!("/v2/conc/blobs/{}", Digest::sha256_of(b"same layer from everyone"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn changes_are_journaled_with_gapless_sequence_numbers() {
    let reg = registry().await;
    let (_, d, _) = reg.push_image("j/app", "v1", b"l").await;
    let r = reg.call(Method::DELETE, &format!("/v2/j/app/manifests/{d}"), &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let meta = SqliteStore::open(&reg.dir.path().join("vigil.db")).await.unwrap();
    let records = vigil_store::JournalStore::journal(&meta, 1, 100).await.unwrap();
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>());
    let ops: Vec<String> = records
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.bytes).unwrap()["operation"].as_str().unwrap().to_owned())
        .collect();
    // Opening an upload session is a change too: its event commits with it.
    assert_eq!(
        ops,
        ["StartUpload", "CompleteUpload", "StartUpload", "CompleteUpload", "PutManifest", "DeleteManifest"]
    );
    let put: Value = serde_json::from_slice(&records[4].bytes).unwrap();
    assert_eq!(put["artifact"], "j/app:v1");
    assert_eq!(put["target"]["digest"], d.to_string());
}
