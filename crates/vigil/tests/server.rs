//! End-to-end tests of the `vigil` binary: configuration errors, health and metrics, garbage collection while
//! the server runs, TLS, and crash safety under kill -9.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vigil_core::Digest;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ADMIN_PASSWORD: &str = "server-test-admin";

fn vigil(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VIGIL_DATA_DIR", data)
        .env("VIGIL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .current_dir(data);
    cmd
}

/// Starts `vigil serve` on an ephemeral port and waits for its "listening" line.
fn start(data: &Path, envs: &[(&str, &str)]) -> Server {
    let mut cmd = vigil(data);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).envs(envs.iter().copied()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn vigil");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("vigil exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("vigil listening on ") {
            break url.trim().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

/// The Merkle tree off. Tests that count or compare events exactly use it: the tree's own `audit_checkpoint`
/// events would interleave at times of its choosing (`server/audit_integrity.rs` tests the tree, sinks included).
const NO_TREE: (&str, &str) = ("VIGIL_AUDIT__TLOG__ENABLED", "false");

/// `vigil` and `start` with [`NO_TREE`].
mod without_tree {
    use std::path::Path;
    use std::process::Command;

    use super::{Server, NO_TREE};

    pub fn vigil(data: &Path) -> Command {
        let mut cmd = super::vigil(data);
        cmd.env(NO_TREE.0, NO_TREE.1);
        cmd
    }

    pub fn start(data: &Path, envs: &[(&str, &str)]) -> Server {
        super::start(data, &[envs, &[NO_TREE]].concat())
    }
}

/// A client that authenticates as the global admin on every request.
fn client() -> reqwest::Client {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Basic {basic}").parse().unwrap());
    reqwest::Client::builder().timeout(Duration::from_secs(30)).default_headers(headers).build().unwrap()
}

async fn push_blob(c: &reqwest::Client, base: &str, repo: &str, data: Vec<u8>) -> reqwest::Result<Digest> {
    let d = Digest::sha256_of(&data);
    let r = c.post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}")).body(data).send().await?;
    let status = r.status();
    assert_eq!(status, 201, "{}", r.text().await.unwrap_or_default());
    Ok(d)
}

async fn push_image(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    layer: Vec<u8>,
) -> reqwest::Result<(Digest, Digest)> {
    let len = layer.len();
    let layer = push_blob(c, base, repo, layer).await?;
    let manifest = push_manifest_for(c, base, repo, tag, &layer, len).await?;
    Ok((manifest, layer))
}

/// A client trickling its headers is disconnected after `http.header_read_timeout_secs`, and at most
/// `http.max_connections` connections are served at once: the next waits until one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[("VIGIL_HTTP__MAX_CONNECTIONS", "2"), ("VIGIL_HTTP__HEADER_READ_TIMEOUT_SECS", "1")]);
    let addr = s.base.trim_start_matches("http://").to_owned();

    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 512];
    // Closed by the server (possibly after a 408): reading ends rather than waiting for the test's timeout.
    let mut closed = false;
    for _ in 0..4 {
        match slow.read(&mut buf) {
            Ok(0) => closed = true,
            Ok(_) => continue,
            // The test's own timeout: the server kept the connection.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            // Reset by the server.
            Err(_) => closed = true,
        }
        break;
    }
    assert!(closed, "a connection that never finished its headers was left open");

    let capped = tempfile::tempdir().unwrap();
    let s = start(capped.path(), &[("VIGIL_HTTP__MAX_CONNECTIONS", "2")]);
    let addr = s.base.trim_start_matches("http://").to_owned();
    let held: Vec<_> = (0..2).map(|_| std::net::TcpStream::connect(&addr).unwrap()).collect();
    let quick = reqwest::Client::builder().timeout(Duration::from_millis(1500)).build().unwrap();
    assert!(quick.get(format!("{}/health", s.base)).send().await.is_err(), "a third connection is not served");
    drop(held);
    let r = client().get(format!("{}/health", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "served once the others closed");
}

/// A full disk refuses writes with 503 and `Retry-After` (clients retry) instead of blaming the upload, keeps
/// nothing of them, and serves again once there is room. The blob store sits on a 1 MiB tmpfs (mounting one
/// needs root, as the test machines run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_asks_clients_to_retry() {
    struct Mounted(std::path::PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    std::fs::create_dir(&storage).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&storage).status();
    assert!(mounted.is_ok_and(|s| s.success()), "mounting a tmpfs for the full-disk test needs root");
    let _unmount = Mounted(storage);
    let mut s = start(dir.path(), &[]);
    let c = client();

    let big = vec![7u8; 2 * 1024 * 1024];
    let d = Digest::sha256_of(&big);
    let r = c.post(format!("{}/v2/full/app/blobs/uploads/?digest={d}", s.base)).body(big.clone()).send().await.unwrap();
    assert_eq!(r.status(), 503, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["retry-after"], "60");
    assert!(r.text().await.unwrap().contains("storage is full"));

    let out = vigil(dir.path()).args(["repo", "create", "full/files", "--format", "raw"]).output().unwrap();
    assert!(out.status.success());
    let r = c.put(format!("{}/raw/full/files/big.bin", s.base)).body(big).send().await.unwrap();
    assert_eq!(
        (r.status(), r.headers()["retry-after"].to_str().unwrap()),
        (reqwest::StatusCode::SERVICE_UNAVAILABLE, "60")
    );

    // Nothing of the refused writes is kept: a small blob fits again.
    push_blob(&c, &s.base, "full/app", b"small".to_vec()).await.unwrap();
    s.child.kill().unwrap();
    s.child.wait().unwrap();
}

/// Below `storage.min_free_bytes` (here: more than any disk has) new content is refused with 503 and recorded,
/// `/ready` says why, and reads go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_storage_watermark_new_content_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[("VIGIL_STORAGE__MIN_FREE_BYTES", "1152921504606846976")]);
    let c = client();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let why = loop {
        let r = reqwest::get(format!("{}/ready", s.base)).await.unwrap();
        if r.status() == 503 {
            break r.text().await.unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "/ready never reported the watermark");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(why.contains("storage.min_free_bytes"), "{why}");
    let d = Digest::sha256_of(b"layer");
    let r =
        c.post(format!("{}/v2/low/app/blobs/uploads/?digest={d}", s.base)).body(&b"layer"[..]).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("storage.min_free_bytes"));
    assert_eq!(c.get(format!("{}/v2/_catalog", s.base)).send().await.unwrap().status(), 200, "reads go on");

    let events: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["kind"] == "storage_low"), "the crossing is an event");
    let refused = events.iter().find(|e| e["kind"] == "push_blob").expect("the refused push is recorded");
    assert_eq!((refused["outcome"].as_str(), refused["response"]["status"].as_u64()), (Some("failed"), Some(503)));
}

/// Requests without credentials beyond their network's rate get 429 and are not journaled one by one; one
/// `rate_limited` event counts them exactly. Requests with credentials are not limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_floods_are_limited_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("VIGIL_HTTP__ANONYMOUS_REQUESTS_PER_SEC", "1"), ("VIGIL_HTTP__ANONYMOUS_BURST", "5"), NO_TREE];
    let s = start(dir.path(), &envs);
    let anon = reqwest::Client::new();
    let mut refused = 0;
    for _ in 0..40 {
        let r = anon.get(format!("{}/v2/", s.base)).send().await.unwrap();
        match r.status().as_u16() {
            401 => {}
            429 => {
                assert_eq!(r.headers()["retry-after"], "1");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // How many depends on the machine's speed (1 per second refills); the accounting below is exact either way.
    assert!(refused > 0, "none of 40 refused at 1/s with a burst of 5");
    for _ in 0..10 {
        assert_eq!(client().get(format!("{}/v2/", s.base)).send().await.unwrap().status(), 200, "credentials pass");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let summary = loop {
        let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        if let Some(e) = events.iter().find(|e| e["kind"] == "rate_limited") {
            let anonymous =
                events.iter().filter(|e| e["request"]["path"] == "/v2/" && e["user"]["kind"] == "anonymous").count();
            assert_eq!(anonymous, 40 - refused, "admitted requests are journaled, refused ones are not");
            break e.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no rate_limited event");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(summary["artifact"], "127.0.0.1");
    assert!(summary["detail"].as_str().unwrap().starts_with(&format!("{refused} requests")), "{summary}");
}

/// A request target or header block over vigil's limits (below hyper's own) is refused with 414 / 431 and
/// recorded like any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[NO_TREE]);
    let c = client();
    let long = format!("{}/v2/acme/app/tags/list?n=1&pad={}", s.base, "x".repeat(9000));
    assert_eq!(c.get(&long).send().await.unwrap().status(), 414);
    let r = c.get(format!("{}/v2/", s.base)).header("x-padding", "y".repeat(70_000)).send().await.unwrap();
    assert_eq!(r.status(), 431);
    // The next request brings the events into the file (best-effort reads may still be queued before it).
    assert_eq!(c.get(format!("{}/v2/", s.base)).send().await.unwrap().status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        let statuses: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter_map(|e| e["response"]["status"].as_u64())
            .collect();
        if statuses.contains(&414) && statuses.contains(&431) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the refusals were not recorded: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Requests hyper refuses itself, before any handler runs (a malformed request line, a head with more than 100
/// headers, a URI over 64 KiB), are answered 400 / 431 / 414 and counted: one `http_refused` event per network
/// and status records how many.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_refuses_are_summarised() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[NO_TREE]);
    let addr = s.base.strip_prefix("http://").unwrap().to_owned();
    let send = |raw: Vec<u8>| {
        let addr = addr.clone();
        async move {
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            conn.write_all(&raw).await.unwrap();
            let mut answer = Vec::new();
            // hyper answers and closes the connection.
            let _ = conn.read_to_end(&mut answer).await;
            String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
        }
    };
    for _ in 0..2 {
        assert_eq!(send(b"GARBAGE\r\n\r\n".to_vec()).await, "HTTP/1.1 400 Bad Request");
    }
    let headers: String = (0..101).map(|i| format!("x-h{i}: v\r\n")).collect();
    let many = format!("GET /v2/ HTTP/1.1\r\nhost: x\r\n{headers}\r\n");
    assert_eq!(send(many.into_bytes()).await, "HTTP/1.1 431 Request Header Fields Too Large");
    let long = format!("GET /v2/{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    assert_eq!(send(long.into_bytes()).await, "HTTP/1.1 414 URI Too Long");

    // Summaries are written every 10 s (these may fall into two intervals: the counts add up either way).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        let mut counted = std::collections::BTreeMap::new();
        for e in text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()) {
            if e["kind"] == "http_refused" {
                assert_eq!(e["artifact"], "127.0.0.1", "{e}");
                let count: u64 = e["detail"].as_str().unwrap().split(' ').next().unwrap().parse().unwrap();
                *counted.entry(e["response"]["status"].as_u64().unwrap()).or_insert(0) += count;
            }
        }
        if counted.values().sum::<u64>() >= 4 {
            assert_eq!(counted, [(400, 2), (414, 1), (431, 1)].into(), "refusals by status");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "http_refused events missing: {counted:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(reqwest::get(format!("{}/health", s.base)).await.unwrap().status(), 200, "the server goes on");
}

/// The data directory is made private however it was created: it holds the keys and the database.
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = vigil(&data).args(["user", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn invalid_configuration_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = vigil(dir.path()).args(["serve"]).env("VIGIL_REGISTRY__MAX_MANIFEST_SIZE", "5").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `max_manifest_size`"), "{err}");
    std::fs::write(dir.path().join("vigil.toml"), "listen = 5\n").unwrap();
    let out = vigil(dir.path()).args(["serve"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid configuration"));
}

#[tokio::test]
async fn health_metrics_and_request_ids_of_operations() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[]);
    let c = client();
    assert_eq!(c.get(format!("{}/health", s.base)).send().await.unwrap().text().await.unwrap(), "ok");
    push_image(&c, &s.base, "metrics/app", "v1", b"layer".to_vec()).await.unwrap();
    let r = c.get(format!("{}/v2/metrics/app/manifests/v1", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let m = c.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(m.contains(r#"vigil_http_requests_total{operation="GetManifest",status="200"} 1"#), "{m}");
    assert!(m.contains(r#"vigil_http_requests_total{operation="PutManifest",status="201"} 1"#));
    assert!(m.contains("vigil_http_request_duration_seconds_bucket"));
    // Every front door is counted under the operation the audit log names it by, not `Unknown`.
    for path in ["/api/v1/openapi.json", "/audit/checkpoint", "/no/such/path"] {
        c.get(format!("{}{path}", s.base)).send().await.unwrap();
    }
    c.post(format!("{}/api/v1/organization/", s.base))
        .json(&serde_json::json!({"name": "metricsorg"}))
        .send()
        .await
        .unwrap();
    let m = c.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    let count = |op: &str| -> u64 {
        let prefix = format!("vigil_http_requests_total{{operation=\"{op}\",");
        m.lines().filter(|l| l.starts_with(&prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum()
    };
    assert_eq!(count("Health"), 1, "{m}");
    assert_eq!(count("Metrics"), 1, "{m}");
    assert_eq!(count("AdminRead"), 1, "{m}");
    assert_eq!(count("AdminChange"), 1, "{m}");
    assert_eq!(count("ReadTree"), 1, "{m}");
    assert_eq!(count("Unknown"), 1, "only the path that names nothing: {m}");
    assert!(m.contains("vigil_http_request_bytes_total"));
}

#[tokio::test]
async fn gc_removes_unreferenced_blobs_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("VIGIL_REGISTRY__UPLOAD_EXPIRY_SECS", "1"), ("VIGIL_GC__GRACE_SECS", "2")];
    let s = start(dir.path(), &envs);
    let c = client();
    let (_, kept_layer) = push_image(&c, &s.base, "gc/app", "v1", b"kept".to_vec()).await.unwrap();
    let orphan = push_blob(&c, &s.base, "gc/app", b"orphan".to_vec()).await.unwrap();
    // Within the grace period nothing goes.
    let out = vigil(dir.path()).args(["gc"]).envs(envs).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 0 blob(s)"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let out = vigil(dir.path()).args(["gc", "--dry-run"]).envs(envs).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&orphan.to_string()));
    let out = vigil(dir.path()).args(["gc"]).envs(envs).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 1 blob(s), 6 byte(s)"), "{out:?}");
    let get = |d: &Digest| c.get(format!("{}/v2/gc/app/blobs/{d}", s.base)).send();
    assert_eq!(get(&orphan).await.unwrap().status(), 404);
    assert_eq!(get(&kept_layer).await.unwrap().bytes().await.unwrap(), &b"kept"[..]);
    // The same digest can be pushed again after collection.
    push_blob(&c, &s.base, "gc/app", b"orphan".to_vec()).await.unwrap();
    assert_eq!(get(&orphan).await.unwrap().bytes().await.unwrap(), &b"orphan"[..]);
}

#[tokio::test]
async fn serves_https_with_a_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    let s =
        start(dir.path(), &[("VIGIL_TLS__CERT", cert.to_str().unwrap()), ("VIGIL_TLS__KEY", key.to_str().unwrap())]);
    assert!(s.base.starts_with("https://"));
    // HTTP/2 by ALPN, as curl offers it.
    let out = Command::new("curl")
        .args(["-s", "-i", "--http2", "--cacert"])
        .arg(&cert)
        .arg(format!("{}/v2/", s.base))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/2 401"), "{text}");
    assert!(text.contains("docker-distribution-api-version: registry/2.0"), "{text}");
}

/// Kill -9 the server while clients push, restart it, and check that every acknowledged blob and manifest is
/// intact and that no partial blob is visible anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_pushes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged: Vec<(String, Digest, Vec<u8>)> = Vec::new();
    let mut manifests: Vec<(String, Digest)> = Vec::new();
    for round in 0..2u8 {
        let mut s = start(dir.path(), &[]);
        let c = client();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for w in 0..6u8 {
            let (c, base, tx) = (c.clone(), s.base.clone(), tx.clone());
            tokio::spawn(async move {
                for i in 0..200u32 {
                    // Blobs of 64 KiB to 2 MiB, chunked for odd workers.
                    let size = 65_536 * (1 + (i as usize * 7 + w as usize) % 32);
                    let data: Vec<u8> =
                        (0..size).map(|b| (b as u32 ^ i ^ (w as u32) << 8 ^ (round as u32) << 16) as u8).collect();
                    let repo = format!("crash/w{w}");
                    let pushed = if w % 2 == 0 {
                        push_blob(&c, &base, &repo, data.clone()).await
                    } else {
                        chunked(&c, &base, &repo, &data).await
                    };
                    let Ok(d) = pushed else { return };
                    let tag = format!("r{round}-{i}");
                    let m = push_manifest_for(&c, &base, &repo, &tag, &d, data.len()).await;
                    if tx.send((repo, d, data, m.ok().map(|m| (tag, m)))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Let some pushes be acknowledged, then pull the plug.
        for _ in 0..12 {
            let (repo, d, data, m) = rx.recv().await.expect("pushes acknowledged");
            if let Some((tag, md)) = m {
                manifests.push((format!("{repo}:{tag}"), md));
            }
            acknowledged.push((repo, d, data));
        }
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        while let Ok((repo, d, data, m)) = rx.try_recv() {
            if let Some((tag, md)) = m {
                manifests.push((format!("{repo}:{tag}"), md));
            }
            acknowledged.push((repo, d, data));
        }
    }
    let s = start(dir.path(), &[]);
    let c = client();
    for (repo, d, data) in &acknowledged {
        let r = c.get(format!("{}/v2/{repo}/blobs/{d}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged blob {d} in {repo} lost");
        let body = r.bytes().await.unwrap();
        assert!(body == data[..], "acknowledged blob {d} corrupted");
    }
    for (reference, md) in &manifests {
        let (repo, tag) = reference.split_once(':').unwrap();
        let r = c.get(format!("{}/v2/{repo}/manifests/{tag}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged manifest {reference} lost");
        assert_eq!(r.headers()["docker-content-digest"].to_str().unwrap(), md.to_string());
    }
    // No visible blob is partial: every committed file hashes to its name.
    let mut checked = 0;
    for entry in walk(&dir.path().join("storage/blobs/sha256")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert_eq!(Digest::sha256_of(&bytes).hex(), entry.file_name().unwrap().to_str().unwrap());
        checked += 1;
    }
    assert!(checked >= acknowledged.len().min(1));
    assert!(acknowledged.len() >= 24, "the test pushed too little to mean anything");
}

async fn chunked(c: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> reqwest::Result<Digest> {
    let d = Digest::sha256_of(data);
    let r = c.post(format!("{base}/v2/{repo}/blobs/uploads/")).send().await?;
    let mut loc = format!("{base}{}", r.headers()["location"].to_str().unwrap());
    let mut offset = 0;
    for chunk in data.chunks(256 * 1024) {
        let r = c
            .patch(&loc)
            .header("content-range", format!("{}-{}", offset, offset + chunk.len() - 1))
            .body(chunk.to_vec())
            .send()
            .await?;
        assert_eq!(r.status(), 202);
        loc = format!("{base}{}", r.headers()["location"].to_str().unwrap());
        offset += chunk.len();
    }
    let r = c.put(format!("{loc}?digest={d}")).send().await?;
    assert_eq!(r.status(), 201);
    Ok(d)
}

async fn push_manifest_for(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    layer: &Digest,
    size: usize,
) -> reqwest::Result<Digest> {
    let config = push_blob(c, base, repo, b"{}".to_vec()).await?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": size}],
    })
    .to_string();
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    Ok(Digest::sha256_of(manifest.as_bytes()))
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[path = "server/authz.rs"]
mod authz;

#[path = "server/namespaces.rs"]
mod namespaces;

#[path = "server/audit_events.rs"]
mod audit_events;

#[path = "server/audit_sinks.rs"]
mod audit_sinks;

#[path = "server/audit_integrity.rs"]
mod audit_integrity;

#[path = "server/changefeed.rs"]
mod changefeed;

#[path = "server/quay_logs.rs"]
mod quay_logs;

#[path = "server/audit_query.rs"]
mod audit_query;

/// Quay's log exports: callbacks to a receiver the tests run, signed download links, retries.
#[path = "server/log_export.rs"]
mod log_export;
