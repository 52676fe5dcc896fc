//! Audit events of every operation, checked field by field against the running binary.
//!
//! Every test starts its own server in a temporary directory, performs operations and compares the events they
//! appended to `audit.jsonl` with the complete events expected. Only what differs from run to run (`ts`, `id`,
//! `node`, `seq`) is left out of the comparison, after its form is checked; sequence numbers are checked for
//! continuity, and the file byte for byte against the journal.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_core::Digest;

use super::without_tree::{start, vigil};
use super::{push_blob, push_image, Server, ADMIN_PASSWORD};

/// The user agent of every request the tests send.
const UA: &str = "vigil-audit-test/1.0";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Top-level fields of a native event, in their canonical order.
const WIRE_ORDER: &[&str] = &[
    "ts",
    "action",
    "actor",
    "artifact",
    "registry",
    "detail",
    "seq",
    "id",
    "schema",
    "kind",
    "operation",
    "stage",
    "outcome",
    "reason",
    "user",
    "request",
    "response",
    "target",
    "node",
];

// ---------------------------------------------------------------------------------------------------------------
// A server under test and its audit trail

struct Env {
    // Declared before `dir`: the server stops before its data directory goes.
    server: Server,
    dir: tempfile::TempDir,
    /// Basic admin credentials and `UA` on every request.
    admin: reqwest::Client,
    /// `UA` only.
    anon: reqwest::Client,
    /// `127.0.0.1:<port>`, as `Host` carries it.
    host: String,
}

impl Env {
    fn start(envs: &[(&str, &str)]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path(), envs);
        let host = server.base.trim_start_matches("http://").to_owned();
        Env { server, dir, admin: http(Some(&basic("admin", ADMIN_PASSWORD))), anon: http(None), host }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    /// Every event in `audit.jsonl`, parsed.
    fn events(&self) -> Vec<Value> {
        file_lines(self.data()).iter().map(|l| serde_json::from_slice(l).expect("every line is JSON")).collect()
    }

    /// The sequence number of the last event in the file.
    fn head(&self) -> u64 {
        self.events().last().map_or(0, seq)
    }

    /// The events appended to the file after `after`.
    fn since(&self, after: u64) -> Vec<Value> {
        self.events().into_iter().filter(|e| seq(e) > after).collect()
    }

    /// The one event appended after `after` (fails if there are more or none).
    fn one_since(&self, after: u64) -> Value {
        let mut evs = self.since(after);
        assert_eq!(evs.len(), 1, "expected exactly one new event, got {}", pretty(&json!(evs)));
        evs.remove(0)
    }

    /// The events appended after `after`, once there are at least `n` (events recorded after the response, such as
    /// a two-stage `complete`, may take a moment).
    async fn wait_since(&self, after: u64, n: usize) -> Vec<Value> {
        for _ in 0..100 {
            let evs = self.since(after);
            if evs.len() >= n {
                return evs;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.since(after)
    }

    /// Sends `req`; returns the response and the one event it appended.
    async fn exchange(&self, req: reqwest::RequestBuilder) -> (reqwest::Response, Value) {
        let mark = self.head();
        let r = req.send().await.unwrap();
        (r, self.one_since(mark))
    }

    /// The `request` object recorded for a request this test sent (`id` the server's, as it answered).
    fn request(&self, method: &str, path: &str, id: &str) -> Value {
        json!({
            "id": id, "method": method, "path": path, "host": self.host, "remote_addr": "127.0.0.1",
            "user_agent": UA,
        })
    }

    /// An account's stable id, from `vigil user list` (which records nothing).
    fn account_id(&self, name: &str) -> String {
        let out = cli(self.data(), &["user", "list"], None);
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}\t")))
            .and_then(|rest| rest.split('\t').next())
            .unwrap_or_else(|| panic!("{name} not in {out}"))
            .to_owned()
    }

    /// A journal row appended by another process reaches `audit.jsonl` with the server's next write: make one.
    async fn flush_cli_events(&self) {
        let r = self.admin.get(self.url("/v2/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
}

fn http(auth: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(a) = auth {
        headers.insert("authorization", a.parse().unwrap());
    }
    reqwest::Client::builder().timeout(Duration::from_secs(30)).user_agent(UA).default_headers(headers).build().unwrap()
}

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

/// The request id the server answered with.
fn rid(r: &reqwest::Response) -> String {
    r.headers()["x-request-id"].to_str().unwrap().to_owned()
}

fn seq(ev: &Value) -> u64 {
    ev["seq"].as_u64().expect("seq is a number")
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// The raw lines of `audit.jsonl` (without their newlines).
fn file_lines(data: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(data.join("audit.jsonl")).unwrap_or_default();
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "audit.jsonl ends mid-line");
    bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

/// Every journal row `(seq, event bytes)`, read with SQLite directly.
fn journal(data: &Path) -> Vec<(u64, Vec<u8>)> {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  for s, e in c.execute('SELECT seq, event FROM journal ORDER BY seq'):\n\
                  \x20   print(s, (e if isinstance(e, bytes) else e.encode()).hex())\n";
    let out = Command::new("python3").arg("-c").arg(script).arg(data.join("vigil.db")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (s, hex) = l.split_once(' ').unwrap();
            let bytes = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            (s.parse().unwrap(), bytes)
        })
        .collect()
}

/// The journal's events after `after`, parsed.
fn journal_since(data: &Path, after: u64) -> Vec<Value> {
    journal(data).into_iter().filter(|(s, _)| *s > after).map(|(_, b)| serde_json::from_slice(&b).unwrap()).collect()
}

/// The file holds exactly the journal: sequence numbers 1..n without gaps, each line the row's bytes.
fn assert_file_is_the_journal(data: &Path) {
    let rows = journal(data);
    let lines = file_lines(data);
    assert_eq!(lines.len(), rows.len(), "audit.jsonl and the journal hold different numbers of events");
    for (i, ((s, bytes), line)) in rows.iter().zip(&lines).enumerate() {
        assert_eq!(*s, i as u64 + 1, "journal sequence numbers have a gap");
        assert_eq!(line, bytes, "line {} differs from journal row {s}", i + 1);
        let ev: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(seq(&ev), *s, "line {} carries another seq", i + 1);
    }
}

/// Runs a `vigil` command against the data directory and returns its stdout.
fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    cli_env(data, args, stdin, &[])
}

fn cli_env(data: &Path, args: &[&str], stdin: Option<&str>, envs: &[(&str, &str)]) -> String {
    let mut child = vigil(data)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Sends a request target exactly as given (clients normalise `..` away) and returns the status and request id.
async fn raw_get(env: &Env, target: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(&env.host).await.unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nhost: {}\r\nuser-agent: {UA}\r\nconnection: close\r\n\r\n", env.host);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let id = text.lines().find_map(|l| l.strip_prefix("x-request-id: ")).expect("x-request-id answered");
    (status, id.trim().to_owned())
}

// ---------------------------------------------------------------------------------------------------------------
// Expected events

/// Replaces fields of `base` by those of `fields`; every field named must exist in `base` (no typos).
fn overlay(mut base: Value, fields: Value) -> Value {
    let obj = base.as_object_mut().unwrap();
    for (k, v) in fields.as_object().expect("fields are an object") {
        assert!(obj.contains_key(k), "no field {k:?} in an event");
        obj.insert(k.clone(), v.clone());
    }
    base
}

/// An event without its per-run fields (`ts`, `seq`, `id`, `node`), at the usual values; `fields` overrides.
fn event(fields: Value) -> Value {
    let base = json!({
        "action": null, "actor": "api", "artifact": "", "registry": "docker", "detail": "", "schema": 3,
        "kind": null, "operation": null, "stage": "complete", "outcome": "success", "reason": null,
        "user": null, "request": null, "response": null, "target": null,
    });
    overlay(base, fields)
}

fn user(id: Option<&str>, name: &str, kind: &str, credential: &str, token_id: Option<&str>) -> Value {
    json!({ "id": id, "name": name, "kind": kind, "credential": credential, "token_id": token_id })
}

fn password_user(id: &str, name: &str) -> Value {
    user(Some(id), name, "user", "password", None)
}

fn anonymous() -> Value {
    user(None, "", "anonymous", "none", None)
}

/// Someone whose credentials did not authenticate, by the name they claimed.
fn claimed(name: &str) -> Value {
    user(None, name, "anonymous", "password", None)
}

fn system(name: &str) -> Value {
    user(None, name, "system", "none", None)
}

fn response(status: u16, bytes: impl Into<Value>, error: Option<&str>) -> Value {
    json!({ "status": status, "bytes": bytes.into(), "error": error })
}

/// The target of an OCI repository; `fields` sets the tag, digest, media type or size (or `format: null`, for
/// vigil's own operations on a repository).
/// The target of a change to a namespace's own account (a user, an organization, a robot).
fn namespace_target(ns: &str) -> Value {
    target(&format!("{ns}/x"), json!({"format": null, "repository": null}))
}

fn target(repo: &str, fields: Value) -> Value {
    let ns = repo.split('/').next().unwrap();
    let base = json!({
        "format": "oci", "namespace": ns, "repository": repo, "package": null, "version": null, "path": null,
        "tag": null, "digest": null, "media_type": null, "size": null,
    });
    overlay(base, fields)
}

/// Compares an event with what was expected: the per-run fields by form, everything else exactly.
fn check(got: &Value, want: &Value) {
    let mut g = got.clone();
    let o = g.as_object_mut().expect("an event is an object");
    let ts = o.remove("ts").unwrap_or_default();
    let ts = ts.as_str().unwrap_or_default();
    assert!(ts.len() == 24 && ts.as_bytes()[10] == b'T' && ts.ends_with('Z'), "ts {ts:?} in {got}");
    let id = o.remove("id").unwrap_or_default();
    let id = id.as_str().unwrap_or_default();
    assert!(id.len() == 36 && id.bytes().filter(|b| *b == b'-').count() == 4, "id {id:?} in {got}");
    let node = o.remove("node").unwrap_or_default();
    assert!(node.as_str().is_some_and(|n| !n.is_empty()), "node {node} in {got}");
    assert!(o.remove("seq").is_some_and(|s| s.as_u64().is_some_and(|s| s > 0)), "seq in {got}");
    assert!(g == *want, "event differs\n got: {}\nwant: {}", pretty(&g), pretty(want));
}

/// The manifest of one layer and the `{}` config, as `push_manifest_for` writes it.
fn manifest_json(config: &Digest, layer: &Digest, size: usize) -> String {
    json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": size}],
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up

/// The first start records the audit configuration, the configuration loaded and then the bootstrap admin, in that
/// order and by the `system` actor; a restart records only the configuration, and a changed `[audit]` section its
/// change again. Lines follow the canonical field order.
#[tokio::test]
async fn start_up_records_configuration_and_the_bootstrap_admin() {
    let mut env = Env::start(&[]);
    let evs = env.events();
    assert_eq!(evs.len(), 3, "{}", pretty(&json!(evs)));
    assert_eq!(evs.iter().map(seq).collect::<Vec<_>>(), [1, 2, 3]);

    let audit_detail = evs[0]["detail"].as_str().unwrap().to_owned();
    let audit: Value = serde_json::from_str(&audit_detail).unwrap();
    assert_eq!((audit["mode"].as_str(), audit["delivery_guarantee"].as_str()), (Some("file"), Some("enforced")));
    assert_eq!(audit["stages"], json!(["complete"]));
    let config_change = |detail: &str| {
        event(json!({
            "action": "config", "actor": "system", "artifact": "audit", "registry": "vigil", "detail": detail,
            "kind": "audit_config_change", "operation": "LoadConfig", "user": system("system"),
        }))
    };
    check(&evs[0], &config_change(&audit_detail));

    let config_detail = evs[1]["detail"].as_str().unwrap().to_owned();
    let config: Value = serde_json::from_str(&config_detail).unwrap();
    assert_eq!(config["data_dir"].as_str(), env.data().to_str());
    assert_eq!(config["listen"], "127.0.0.1:0");
    assert_eq!(config["audit"], audit);
    let config_loaded = |detail: &str| {
        event(json!({
            "action": "config", "actor": "system", "artifact": "config", "registry": "vigil", "detail": detail,
            "kind": "config_loaded", "operation": "LoadConfig", "user": system("system"),
        }))
    };
    check(&evs[1], &config_loaded(&config_detail));

    check(
        &evs[2],
        &event(json!({
            "action": "admin", "actor": "system", "artifact": "admin", "registry": "vigil", "detail": "global admin",
            "kind": "user_create", "operation": "AdminChange", "user": system("system"), "target": namespace_target("admin"),
        })),
    );
    for line in file_lines(env.data()) {
        assert_wire_order(&String::from_utf8(line).unwrap());
    }

    // A restart with the same configuration: the configuration only (the admin exists, [audit] is unchanged).
    env.server.child.kill().unwrap();
    env.server.child.wait().unwrap();
    env.server = start(env.data(), &[]);
    let evs = env.since(3);
    assert_eq!(evs.len(), 1, "{}", pretty(&json!(evs)));
    check(&evs[0], &config_loaded(&config_detail));

    // A changed [audit] section is recorded as such, before the configuration loaded.
    env.server.child.kill().unwrap();
    env.server.child.wait().unwrap();
    env.server = start(env.data(), &[("VIGIL_AUDIT__RELAX_READS", "true")]);
    let evs = env.since(4);
    assert_eq!(evs.len(), 2, "{}", pretty(&json!(evs)));
    let changed = evs[0]["detail"].as_str().unwrap().to_owned();
    assert_eq!(serde_json::from_str::<Value>(&changed).unwrap()["relax_reads"], true);
    check(&evs[0], &config_change(&changed));
    assert_eq!(
        serde_json::from_str::<Value>(evs[1]["detail"].as_str().unwrap()).unwrap()["audit"]["relax_reads"],
        true
    );
    check(&evs[1], &config_loaded(evs[1]["detail"].as_str().unwrap()));
    assert_file_is_the_journal(env.data());
}

/// The top-level fields of `line` appear in the canonical order (`truncated`, when present, last).
fn assert_wire_order(line: &str) {
    assert!(line.starts_with("{\"ts\":\""), "{line}");
    let mut last = 0;
    for field in WIRE_ORDER {
        // The first occurrence of a name is the top-level one: nested objects come after it.
        let at = line.find(&format!("\"{field}\":")).unwrap_or_else(|| panic!("no {field} in {line}"));
        assert!(at >= last, "{field} out of order in {line}");
        last = at;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Pull side

/// Reads record one event each with what was served: manifests by tag and by digest (with digest, media type and
/// size), HEADs with 0 bytes sent, blobs, tag lists, the catalog, referrers and the API version check.
#[tokio::test]
async fn pull_side_records_what_was_served() {
    let env = Env::start(&[]);
    let admin = password_user(&env.account_id("admin"), "admin");
    let layer_bytes = b"pull layer".to_vec();
    let (manifest, layer) =
        push_image(&env.admin, &env.server.base, "acme/app", "v1", layer_bytes.clone()).await.unwrap();
    let md = manifest.to_string();

    // GET by tag.
    let path = "/v2/acme/app/manifests/v1";
    let (r, ev) = env.exchange(env.admin.get(env.url(path))).await;
    let id = rid(&r);
    let content = r.bytes().await.unwrap();
    assert_eq!(Digest::sha256_of(&content), manifest);
    let size = content.len() as u64;
    let by_digest = target("acme/app", json!({"digest": md, "media_type": OCI_MANIFEST, "size": size}));
    let tagged_target = overlay(by_digest.clone(), json!({"tag": "v1"}));
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": "acme/app:v1", "detail": md, "kind": "pull_repo", "operation": "GetManifest",
            "user": admin, "request": env.request("GET", path, &id), "response": response(200, size, None),
            "target": tagged_target,
        })),
    );

    // GET by digest.
    let path = format!("/v2/acme/app/manifests/{md}");
    let (r, ev) = env.exchange(env.admin.get(env.url(&path))).await;
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": format!("acme/app@{md}"), "detail": md, "kind": "pull_repo",
            "operation": "GetManifest", "user": admin, "request": env.request("GET", &path, &rid(&r)),
            "response": response(200, size, None), "target": by_digest,
        })),
    );

    // HEAD manifest: nothing sent.
    let path = "/v2/acme/app/manifests/v1";
    let (r, ev) = env.exchange(env.admin.head(env.url(path))).await;
    assert_eq!(r.headers()["content-length"], size.to_string().as_str());
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": "acme/app:v1", "detail": md, "kind": "head_manifest",
            "operation": "HeadManifest", "user": admin, "request": env.request("HEAD", path, &rid(&r)),
            "response": response(200, 0, None), "target": tagged_target,
        })),
    );

    // GET and HEAD blob.
    let ld = layer.to_string();
    let blob_size = layer_bytes.len() as u64;
    let path = format!("/v2/acme/app/blobs/{ld}");
    let blob_target = target("acme/app", json!({"digest": ld, "size": blob_size}));
    let (r, ev) = env.exchange(env.admin.get(env.url(&path))).await;
    let id = rid(&r);
    assert_eq!(r.bytes().await.unwrap(), &layer_bytes[..]);
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": format!("acme/app@{ld}"), "detail": ld, "kind": "pull_blob",
            "operation": "GetBlob", "user": admin, "request": env.request("GET", &path, &id),
            "response": response(200, blob_size, None), "target": blob_target,
        })),
    );
    let (r, ev) = env.exchange(env.admin.head(env.url(&path))).await;
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": format!("acme/app@{ld}"), "detail": ld, "kind": "head_blob",
            "operation": "HeadBlob", "user": admin, "request": env.request("HEAD", &path, &rid(&r)),
            "response": response(200, 0, None), "target": blob_target,
        })),
    );

    // Listings: tags, catalog, referrers.
    let path = "/v2/acme/app/tags/list";
    let (r, ev) = env.exchange(env.admin.get(env.url(path))).await;
    let id = rid(&r);
    let body = r.bytes().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "list", "artifact": "acme/app", "kind": "list_tags", "operation": "ListTags", "user": admin,
            "request": env.request("GET", path, &id), "response": response(200, body.len(), None),
            "target": target("acme/app", json!({})),
        })),
    );
    let path = "/v2/_catalog";
    let (r, ev) = env.exchange(env.admin.get(env.url(path))).await;
    let id = rid(&r);
    let body = r.bytes().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "list", "kind": "list_catalog", "operation": "ListCatalog", "user": admin,
            "request": env.request("GET", path, &id), "response": response(200, body.len(), None),
        })),
    );
    let path = format!("/v2/acme/app/referrers/{md}");
    let (r, ev) = env.exchange(env.admin.get(env.url(&path))).await;
    let id = rid(&r);
    let body = r.bytes().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "list", "artifact": format!("acme/app@{md}"), "detail": md, "kind": "list_referrers",
            "operation": "ListReferrers", "user": admin, "request": env.request("GET", &path, &id),
            "response": response(200, body.len(), None), "target": target("acme/app", json!({"digest": md})),
        })),
    );

    // The API version check with credentials is a login.
    let (r, ev) = env.exchange(env.admin.get(env.url("/v2/"))).await;
    check(
        &ev,
        &event(json!({
            "action": "login", "kind": "login_success", "operation": "CheckApiVersion", "user": admin,
            "request": env.request("GET", "/v2/", &rid(&r)), "response": response(200, 2, None),
        })),
    );
    assert_file_is_the_journal(env.data());
}

// ---------------------------------------------------------------------------------------------------------------
// Push side

/// Monolithic and chunked uploads, status, mounts, manifest puts and cancels each record one event; the manifest
/// PUT answers with the event's sequence number.
#[tokio::test]
async fn push_side_records_each_step() {
    let env = Env::start(&[]);
    let admin = password_user(&env.account_id("admin"), "admin");
    let uploads = "/v2/acme/app/blobs/uploads/";

    // Monolithic: POST ?digest= with the blob.
    let mono = b"monolithic".to_vec();
    let md = Digest::sha256_of(&mono).to_string();
    let path = format!("{uploads}?digest={md}");
    let (r, ev) = env.exchange(env.admin.post(env.url(&path)).body(mono.clone())).await;
    assert_eq!(r.status(), 201);
    check(
        &ev,
        &event(json!({
            "action": "push", "artifact": format!("acme/app@{md}"), "detail": md, "kind": "push_blob",
            "operation": "UploadBlobMonolithic", "user": admin, "request": env.request("POST", &path, &rid(&r)),
            "response": response(201, 0, None),
            "target": target("acme/app", json!({"digest": md, "size": mono.len()})),
        })),
    );

    // Chunked: start, one chunk, status, complete.
    let (r, ev) = env.exchange(env.admin.post(env.url(uploads))).await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let repo_target = target("acme/app", json!({}));
    check(
        &ev,
        &event(json!({
            "action": "upload", "artifact": "acme/app", "kind": "start_upload", "operation": "StartUpload",
            "user": admin, "request": env.request("POST", uploads, &rid(&r)), "response": response(202, 0, None),
            "target": repo_target,
        })),
    );
    let chunk = b"chunk one".to_vec();
    let req = env.admin.patch(env.url(&location)).header("content-range", format!("0-{}", chunk.len() - 1));
    let (r, ev) = env.exchange(req.body(chunk.clone())).await;
    assert_eq!(r.status(), 202);
    check(
        &ev,
        &event(json!({
            "action": "upload", "artifact": "acme/app", "kind": "upload_chunk", "operation": "PatchUpload",
            "user": admin, "request": env.request("PATCH", &location, &rid(&r)), "response": response(202, 0, None),
            "target": repo_target,
        })),
    );
    let (r, ev) = env.exchange(env.admin.get(env.url(&location))).await;
    assert_eq!(r.status(), 204);
    check(
        &ev,
        &event(json!({
            "action": "upload", "artifact": "acme/app", "kind": "upload_status", "operation": "GetUploadStatus",
            "user": admin, "request": env.request("GET", &location, &rid(&r)), "response": response(204, 0, None),
            "target": repo_target,
        })),
    );
    let cd = Digest::sha256_of(&chunk).to_string();
    let path = format!("{location}?digest={cd}");
    let (r, ev) = env.exchange(env.admin.put(env.url(&path))).await;
    assert_eq!(r.status(), 201);
    check(
        &ev,
        &event(json!({
            "action": "push", "artifact": format!("acme/app@{cd}"), "detail": cd, "kind": "push_blob",
            "operation": "CompleteUpload", "user": admin, "request": env.request("PUT", &path, &rid(&r)),
            "response": response(201, 0, None),
            "target": target("acme/app", json!({"digest": cd, "size": chunk.len()})),
        })),
    );

    // Mount into another repository.
    let path = format!("/v2/acme/other/blobs/uploads/?mount={md}&from=acme/app");
    let (r, ev) = env.exchange(env.admin.post(env.url(&path))).await;
    assert_eq!(r.status(), 201);
    check(
        &ev,
        &event(json!({
            "action": "push", "artifact": format!("acme/other@{md}"), "detail": md, "kind": "mount_blob",
            "operation": "MountBlob", "user": admin, "request": env.request("POST", &path, &rid(&r)),
            "response": response(201, 0, None), "target": target("acme/other", json!({"digest": md})),
        })),
    );

    // Manifest PUT by tag, answered with the event's seq.
    let config = push_blob(&env.admin, &env.server.base, "acme/app", b"{}".to_vec()).await.unwrap();
    let manifest = manifest_json(&config, &Digest::sha256_of(&chunk), chunk.len());
    let digest = Digest::sha256_of(manifest.as_bytes()).to_string();
    let path = "/v2/acme/app/manifests/v1";
    let req = env.admin.put(env.url(path)).header("content-type", OCI_MANIFEST).body(manifest.clone());
    let (r, ev) = env.exchange(req).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["vigil-audit-seq"].to_str().unwrap(), seq(&ev).to_string());
    check(
        &ev,
        &event(json!({
            "action": "push", "artifact": "acme/app:v1", "detail": digest, "kind": "push_repo",
            "operation": "PutManifest", "user": admin, "request": env.request("PUT", path, &rid(&r)),
            "response": response(201, 0, None),
            "target": target("acme/app", json!({
                "tag": "v1", "digest": digest, "media_type": OCI_MANIFEST, "size": manifest.len(),
            })),
        })),
    );

    // Cancel an upload session.
    let r = env.admin.post(env.url(uploads)).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (r, ev) = env.exchange(env.admin.delete(env.url(&location))).await;
    assert_eq!(r.status(), 204);
    check(
        &ev,
        &event(json!({
            "action": "upload", "artifact": "acme/app", "kind": "cancel_upload", "operation": "CancelUpload",
            "user": admin, "request": env.request("DELETE", &location, &rid(&r)), "response": response(204, 0, None),
            "target": repo_target,
        })),
    );
    assert_file_is_the_journal(env.data());
}

/// A manifest PUT naming a blob the repository lacks fails with one `failed` event (the change's own event is
/// rolled back with it, leaving no gap in the sequence).
#[tokio::test]
async fn manifest_put_with_a_missing_blob_is_one_failed_event() {
    let env = Env::start(&[]);
    let admin = password_user(&env.account_id("admin"), "admin");
    let config = push_blob(&env.admin, &env.server.base, "acme/app", b"{}".to_vec()).await.unwrap();
    let missing = Digest::sha256_of(b"never pushed");
    let manifest = manifest_json(&config, &missing, 12);
    let path = "/v2/acme/app/manifests/broken";
    let req = env.admin.put(env.url(path)).header("content-type", OCI_MANIFEST).body(manifest);
    let (r, ev) = env.exchange(req).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("vigil-audit-seq").is_none());
    let id = rid(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");
    let sent = serde_json::to_vec(&body).unwrap().len();
    check(
        &ev,
        &event(json!({
            "action": "push", "artifact": "acme/app:broken", "kind": "push_repo", "operation": "PutManifest",
            "outcome": "failed", "reason": "manifest references unknown blobs", "user": admin,
            "request": env.request("PUT", path, &id), "response": response(400, sent, Some("MANIFEST_BLOB_UNKNOWN")),
            "target": target("acme/app", json!({"tag": "broken"})),
        })),
    );
    assert_file_is_the_journal(env.data());
}

// ---------------------------------------------------------------------------------------------------------------
// Deletes

/// Deleting a tag, a manifest and a blob each commit one event with what was deleted; deleting what is not there
/// is one failed event.
#[tokio::test]
async fn deletes_record_what_was_deleted() {
    let env = Env::start(&[]);
    let admin = password_user(&env.account_id("admin"), "admin");
    let (manifest, layer) =
        push_image(&env.admin, &env.server.base, "acme/app", "v1", b"doomed".to_vec()).await.unwrap();
    let (md, ld) = (manifest.to_string(), layer.to_string());

    let path = "/v2/acme/app/manifests/v1";
    let (r, ev) = env.exchange(env.admin.delete(env.url(path))).await;
    assert_eq!(r.status(), 202);
    check(
        &ev,
        &event(json!({
            "action": "delete", "artifact": "acme/app:v1", "kind": "delete_tag", "operation": "DeleteTag",
            "user": admin, "request": env.request("DELETE", path, &rid(&r)), "response": response(202, 0, None),
            "target": target("acme/app", json!({"tag": "v1"})),
        })),
    );

    let path = format!("/v2/acme/app/manifests/{md}");
    let (r, ev) = env.exchange(env.admin.delete(env.url(&path))).await;
    assert_eq!(r.status(), 202);
    check(
        &ev,
        &event(json!({
            "action": "delete", "artifact": format!("acme/app@{md}"), "detail": md, "kind": "delete_manifest",
            "operation": "DeleteManifest", "user": admin, "request": env.request("DELETE", &path, &rid(&r)),
            "response": response(202, 0, None), "target": target("acme/app", json!({"digest": md})),
        })),
    );

    let path = format!("/v2/acme/app/blobs/{ld}");
    let (r, ev) = env.exchange(env.admin.delete(env.url(&path))).await;
    assert_eq!(r.status(), 202);
    check(
        &ev,
        &event(json!({
            "action": "delete", "artifact": format!("acme/app@{ld}"), "detail": ld, "kind": "delete_blob",
            "operation": "DeleteBlob", "user": admin, "request": env.request("DELETE", &path, &rid(&r)),
            "response": response(202, 0, None), "target": target("acme/app", json!({"digest": ld})),
        })),
    );

    // The tag is gone now: one failed event, nothing committed.
    let path = "/v2/acme/app/manifests/v1";
    let (r, ev) = env.exchange(env.admin.delete(env.url(path))).await;
    assert_eq!(r.status(), 404);
    let id = rid(&r);
    let body = r.bytes().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "delete", "artifact": "acme/app:v1", "kind": "delete_tag", "operation": "DeleteTag",
            "outcome": "failed", "reason": "manifest v1 is not in acme/app", "user": admin,
            "request": env.request("DELETE", path, &id), "response": response(404, body.len(), Some("MANIFEST_UNKNOWN")),
            "target": target("acme/app", json!({"tag": "v1"})),
        })),
    );
    assert_file_is_the_journal(env.data());
}

// ---------------------------------------------------------------------------------------------------------------
// Denials and failures

/// Anonymous callers are denied with 401 as anonymous; a wrong password is a failed login by the claimed name
/// that never records the password; a user without rights is denied with 403 under their own identity.
#[tokio::test]
async fn denials_record_who_was_refused_and_why() {
    let env = Env::start(&[]);
    push_image(&env.admin, &env.server.base, "acme/app", "v1", b"secret layer".to_vec()).await.unwrap();
    let path = "/v2/acme/app/manifests/v1";
    let tagged = target("acme/app", json!({"tag": "v1"}));

    // Anonymous.
    let (r, ev) = env.exchange(env.anon.get(env.url(path))).await;
    assert_eq!(r.status(), 401);
    let id = rid(&r);
    let body = r.bytes().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": "acme/app:v1", "kind": "pull_repo", "operation": "GetManifest",
            "outcome": "denied", "reason": "authentication required", "user": anonymous(),
            "request": env.request("GET", path, &id), "response": response(401, body.len(), Some("UNAUTHORIZED")),
            "target": tagged,
        })),
    );

    // A wrong password.
    let wrong = "not-the-admin-password";
    let (r, ev) = env.exchange(env.anon.get(env.url(path)).header("authorization", basic("admin", wrong))).await;
    assert_eq!(r.status(), 401);
    let id = rid(&r);
    let body = r.bytes().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": "acme/app:v1", "kind": "login_failure", "operation": "GetManifest",
            "outcome": "denied", "reason": "invalid username or password", "user": claimed("admin"),
            "request": env.request("GET", path, &id), "response": response(401, body.len(), Some("UNAUTHORIZED")),
            "target": tagged,
        })),
    );
    let line = serde_json::to_string(&ev).unwrap();
    let encoded = basic("admin", wrong);
    assert!(!line.contains(wrong) && !line.contains(encoded.trim_start_matches("Basic ")), "{line}");

    // A user without rights on the repository.
    cli(env.data(), &["user", "add", "bob", "--password-stdin"], Some("bob-password\n"));
    env.flush_cli_events().await;
    let bob = password_user(&env.account_id("bob"), "bob");
    let (r, ev) = env.exchange(env.anon.get(env.url(path)).header("authorization", basic("bob", "bob-password"))).await;
    assert_eq!(r.status(), 403);
    let id = rid(&r);
    let body = r.bytes().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "pull", "artifact": "acme/app:v1", "kind": "pull_repo", "operation": "GetManifest",
            "outcome": "denied", "reason": "bob may not pull acme/app", "user": bob,
            "request": env.request("GET", path, &id), "response": response(403, body.len(), Some("DENIED")),
            "target": tagged,
        })),
    );
    assert!(!file_lines(env.data()).iter().any(|l| String::from_utf8_lossy(l).contains("bob-password")));
    assert_file_is_the_journal(env.data());
}

/// Paths that name nothing are `Unknown` (404, in vigil's or the registry's format), a known endpoint with a
/// method it does not take is `Unknown` with 405, and a malformed digest fails with 400 `DIGEST_INVALID` under
/// the operation it attempted.
#[tokio::test]
async fn unknown_paths_and_malformed_requests_are_recorded() {
    let env = Env::start(&[]);

    // Outside /v2: vigil's own 404.
    let (r, ev) = env.exchange(env.anon.get(env.url("/foo"))).await;
    assert_eq!(r.status(), 404);
    check(
        &ev,
        &event(json!({
            "action": "unknown", "registry": "vigil", "kind": "unknown_request", "operation": "Unknown",
            "outcome": "failed", "user": anonymous(), "request": env.request("GET", "/foo", &rid(&r)),
            "response": response(404, "not found".len(), None),
        })),
    );

    // Inside /v2, sent exactly as written.
    let mark = env.head();
    let (status, id) = raw_get(&env, "/v2/nope/../x").await;
    assert_eq!(status, 404);
    let ev = env.one_since(mark);
    let sent =
        json!({"errors": [{"code": "NAME_UNKNOWN", "message": "no such endpoint: /v2/nope/../x", "detail": null}]});
    check(
        &ev,
        &event(json!({
            "action": "unknown", "kind": "unknown_request", "operation": "Unknown", "outcome": "failed",
            "reason": "no such endpoint: /v2/nope/../x", "user": anonymous(),
            "request": env.request("GET", "/v2/nope/../x", &id),
            "response": response(404, serde_json::to_vec(&sent).unwrap().len(), Some("NAME_UNKNOWN")),
        })),
    );

    // A method the endpoint does not take.
    let path = "/v2/acme/app/manifests/v1";
    let (r, ev) = env.exchange(env.anon.post(env.url(path))).await;
    assert_eq!(r.status(), 405);
    let id = rid(&r);
    let body: Value = r.json().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "unknown", "kind": "unknown_request", "operation": "Unknown", "outcome": "failed",
            "reason": "method POST is not supported here", "user": anonymous(),
            "request": env.request("POST", path, &id),
            "response": response(405, serde_json::to_vec(&body).unwrap().len(), Some("UNSUPPORTED")),
        })),
    );

    // A malformed digest.
    let path = "/v2/acme/app/blobs/sha256:zz";
    let (r, ev) = env.exchange(env.anon.get(env.url(path))).await;
    assert_eq!(r.status(), 400);
    let id = rid(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DIGEST_INVALID");
    check(
        &ev,
        &event(json!({
            "action": "pull", "kind": "pull_blob", "operation": "GetBlob", "outcome": "failed",
            "reason": body["errors"][0]["message"], "user": anonymous(), "request": env.request("GET", path, &id),
            "response": response(400, serde_json::to_vec(&body).unwrap().len(), Some("DIGEST_INVALID")),
        })),
    );
    assert_file_is_the_journal(env.data());
}

// ---------------------------------------------------------------------------------------------------------------
// Token service

/// The token service records logins (with the scopes granted), failed logins by the claimed name and anonymous
/// token requests; no token or secret reaches the trail; requests with a registry token are recorded as
/// `temporary_token`, with the API token's id when one stands behind it.
#[tokio::test]
async fn token_service_records_logins_without_secrets() {
    let env = Env::start(&[]);
    let admin_id = env.account_id("admin");
    let admin = password_user(&admin_id, "admin");
    push_image(&env.admin, &env.server.base, "acme/app", "v1", b"token layer".to_vec()).await.unwrap();
    let token_path = "/auth/token?service=vigil&scope=repository:acme/app:pull,push";
    let json_len = |v: &Value| serde_json::to_vec(v).unwrap().len();

    // Basic admin credentials: a successful login with the scope granted.
    let (r, ev) = env.exchange(env.admin.get(env.url(token_path))).await;
    assert_eq!(r.status(), 200);
    let id = rid(&r);
    let body = r.text().await.unwrap();
    let jwt = serde_json::from_str::<Value>(&body).unwrap()["token"].as_str().unwrap().to_owned();
    check(
        &ev,
        &event(json!({
            "action": "token_issue", "detail": "repository:acme/app:pull,push", "kind": "login_success",
            "operation": "IssueToken", "user": admin, "request": env.request("GET", token_path, &id),
            "response": response(200, body.len(), None),
        })),
    );

    // Bad credentials: a failed login by the name claimed.
    let req = env.anon.get(env.url(token_path)).header("authorization", basic("admin", "wrong-password"));
    let (r, ev) = env.exchange(req).await;
    assert_eq!(r.status(), 401);
    let id = rid(&r);
    let body: Value = r.json().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "token_issue", "kind": "login_failure", "operation": "IssueToken", "outcome": "denied",
            "reason": "invalid username or password", "user": claimed("admin"),
            "request": env.request("GET", token_path, &id), "response": response(401, json_len(&body), Some("UNAUTHORIZED")),
        })),
    );

    // The OAuth2 password grant: the form names who failed.
    let form = "grant_type=password&username=admin&password=form-secret-password&service=vigil";
    let req = env.anon.post(env.url("/auth/token")).header("content-type", "application/x-www-form-urlencoded");
    let (r, ev) = env.exchange(req.body(form)).await;
    assert_eq!(r.status(), 401);
    let id = rid(&r);
    let body: Value = r.json().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "token_issue", "kind": "login_failure", "operation": "IssueToken", "outcome": "denied",
            "reason": "invalid username or password", "user": claimed("admin"),
            "request": env.request("POST", "/auth/token", &id),
            "response": response(401, json_len(&body), Some("UNAUTHORIZED")),
        })),
    );

    // Anonymous: a token request, not a login; secrets in the query are redacted.
    let path = "/auth/token?service=vigil&scope=repository:acme/app:pull&password=query-secret";
    let (r, ev) = env.exchange(env.anon.get(env.url(path))).await;
    assert_eq!(r.status(), 200);
    let id = rid(&r);
    let body = r.text().await.unwrap();
    let recorded = "/auth/token?service=vigil&scope=repository:acme/app:pull&password=REDACTED";
    check(
        &ev,
        &event(json!({
            "action": "token_issue", "detail": "repository:acme/app:", "kind": "token_issue",
            "operation": "IssueToken", "user": anonymous(), "request": env.request("GET", recorded, &id),
            "response": response(200, body.len(), None),
        })),
    );

    // A request with the registry token.
    let path = "/v2/acme/app/manifests/v1";
    let (r, ev) = env.exchange(env.anon.get(env.url(path)).bearer_auth(&jwt)).await;
    assert_eq!(r.status(), 200);
    let id = rid(&r);
    let size = r.bytes().await.unwrap().len();
    assert_eq!(ev["user"], user(Some(&admin_id), "admin", "user", "temporary_token", None));
    assert_eq!((ev["kind"].as_str(), ev["outcome"].as_str()), (Some("pull_repo"), Some("success")));
    assert_eq!(ev["request"], env.request("GET", path, &id));
    assert_eq!(ev["response"], response(200, size, None));

    // An API token: a login by token, and registry tokens from it carry its id.
    let api_token = cli(env.data(), &["token", "create", "--user", "admin"], None);
    let token_id = api_token.split('_').nth(1).unwrap().to_owned();
    env.flush_cli_events().await;
    let req = env.anon.get(env.url(token_path)).header("authorization", basic("admin", &api_token));
    let (r, ev) = env.exchange(req).await;
    assert_eq!(r.status(), 200);
    let id = rid(&r);
    let body = r.text().await.unwrap();
    let jwt2 = serde_json::from_str::<Value>(&body).unwrap()["token"].as_str().unwrap().to_owned();
    check(
        &ev,
        &event(json!({
            "action": "token_issue", "detail": "repository:acme/app:pull,push", "kind": "login_success",
            "operation": "IssueToken", "user": user(Some(&admin_id), "admin", "user", "token", Some(&token_id)),
            "request": env.request("GET", token_path, &id), "response": response(200, body.len(), None),
        })),
    );
    let (r, ev) = env.exchange(env.anon.get(env.url(path)).bearer_auth(&jwt2)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(ev["user"], user(Some(&admin_id), "admin", "user", "temporary_token", Some(&token_id)));

    // No secret anywhere in the trail.
    let secret_part = api_token.rsplit('_').next().unwrap().to_owned();
    for line in file_lines(env.data()) {
        let line = String::from_utf8(line).unwrap();
        for secret in [
            jwt.as_str(),
            jwt2.as_str(),
            secret_part.as_str(),
            "form-secret-password",
            "query-secret",
            "wrong-password",
        ] {
            assert!(!line.contains(secret), "{secret} recorded in {line}");
        }
        let signature = jwt.rsplit('.').next().unwrap();
        assert!(!line.contains(signature), "a JWT signature recorded in {line}");
    }
    assert_file_is_the_journal(env.data());
}

/// A token request whose credentials are right but whose scope or service is not is a failed token request by the
/// authenticated user, not a failed login by an unauthenticated one (which would also count against brute-force
/// alerts built on `login_failure`).
#[tokio::test]
async fn token_requests_with_valid_credentials_and_a_bad_scope_are_not_failed_logins() {
    let env = Env::start(&[]);
    let admin_id = env.account_id("admin");
    for path in ["/auth/token?service=vigil&scope=bogus", "/auth/token?service=other"] {
        let (r, ev) = env.exchange(env.admin.get(env.url(path))).await;
        assert_eq!(r.status(), 400);
        assert_eq!(ev["user"], password_user(&admin_id, "admin"), "{ev}");
        assert_ne!(ev["kind"], "login_failure", "{ev}");
        assert_eq!((ev["outcome"].as_str(), ev["response"]["status"].as_u64()), (Some("failed"), Some(400)));
    }
}

/// A recorded `request` object with the client's `X-Request-Id` beside the server's id.
fn with_client_id(mut request: Value, client_id: &str) -> Value {
    request["client_id"] = json!(client_id);
    request
}

// ---------------------------------------------------------------------------------------------------------------
// Request ids

/// Every request gets the server's own id (answered as `X-Request-Id` and recorded as `request.id`); a well-formed
/// incoming `X-Request-Id` is kept beside it as `request.client_id`, never as the event's id, so correlation
/// cannot be spoofed; a malformed one is dropped.
#[tokio::test]
async fn request_ids_are_the_servers_and_client_ids_are_kept_beside_them() {
    let env = Env::start(&[]);
    let send = |id: Option<String>| {
        let req = env.admin.get(env.url("/v2/"));
        env.exchange(match id {
            Some(id) => req.header("x-request-id", id),
            None => req,
        })
    };
    let mut generated = Vec::new();
    for (sent, kept) in [
        (Some("req-42.a:b_c".to_owned()), true),
        (Some("a".repeat(128)), true),
        (Some("x".repeat(200)), false),
        (Some("has space".to_owned()), false),
        (Some("quote\"d".to_owned()), false),
        (None, false),
    ] {
        let (r, ev) = send(sent.clone()).await;
        let id = rid(&r);
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "generated id {id:?}");
        assert_eq!(ev["request"]["id"], id.as_str());
        match (kept, sent) {
            (true, Some(sent)) => assert_eq!(ev["request"]["client_id"], sent.as_str()),
            _ => assert!(ev["request"].get("client_id").is_none(), "{ev}"),
        }
        generated.push(id);
    }
    generated.sort();
    generated.dedup();
    assert_eq!(generated.len(), 6, "generated ids repeat");
    // Probes are answered with an id but not recorded.
    let mark = env.head();
    for probe in ["/health", "/ready", "/metrics"] {
        let r = env.anon.get(env.url(probe)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{probe}");
        assert!(r.headers().contains_key("x-request-id"));
    }
    assert_eq!(env.since(mark).len(), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Admin API

/// An admin API change records exactly one event, committed with the change, carrying the caller by stable id and
/// the request; reads are `AdminRead`; refusals are denied under the caller's identity.
#[tokio::test]
async fn admin_api_records_one_event_per_request() {
    let env = Env::start(&[]);
    let api = "/api/v1/superuser/users/";

    // A read.
    let (r, ev) = env.exchange(env.admin.get(env.url("/api/v1/user/")).header("x-request-id", "read-1")).await;
    assert_eq!(r.status(), 200);
    let read_id = rid(&r);
    let body = r.text().await.unwrap();
    let admin_id = serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(admin_id, env.account_id("admin"));
    let admin = password_user(&admin_id, "admin");
    check(
        &ev,
        &event(json!({
            "action": "admin_read", "registry": "vigil", "kind": "admin_read", "operation": "AdminRead",
            "user": admin, "request": with_client_id(env.request("GET", "/api/v1/user/", &read_id), "read-1"),
            "response": response(200, body.len(), None),
        })),
    );

    // A change: one event, committed with it.
    let req = env.admin.post(env.url(api)).header("x-request-id", "create-dana");
    let (r, ev) = env.exchange(req.json(&json!({"username": "dana", "password": "dana-password"}))).await;
    assert_eq!(r.status(), 201);
    let create_id = rid(&r);
    assert_ne!(create_id, "create-dana", "the server's own id, not the client's");
    let dana_id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let mut got = ev.clone();
    // Checked on its own below (see `admin_api_change_events_record_the_response`).
    got["response"] = Value::Null;
    check(
        &got,
        &event(json!({
            "action": "admin", "artifact": "dana", "registry": "vigil", "kind": "user_create",
            "operation": "AdminChange", "user": admin, "target": namespace_target("dana"),
            "request": with_client_id(env.request("POST", api, &create_id), "create-dana"),
        })),
    );
    assert!(!serde_json::to_string(&ev).unwrap().contains("dana-password"));

    // Refused: dana is not a global admin.
    let req = env.anon.post(env.url(api)).header("authorization", basic("dana", "dana-password"));
    let (r, ev) = env.exchange(req.json(&json!({"username": "eve", "password": "eve-password"}))).await;
    assert_eq!(r.status(), 403);
    let id = rid(&r);
    let body = r.text().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "admin", "registry": "vigil", "kind": "admin_change", "operation": "AdminChange",
            "outcome": "denied", "reason": "you are not allowed to do this", "user": password_user(&dana_id, "dana"),
            "request": env.request("POST", api, &id), "response": response(403, body.len(), Some("insufficient_scope")),
        })),
    );

    // Anonymous.
    let (r, ev) = env.exchange(env.anon.get(env.url("/api/v1/user/"))).await;
    assert_eq!(r.status(), 401);
    let id = rid(&r);
    let body = r.text().await.unwrap();
    check(
        &ev,
        &event(json!({
            "action": "admin_read", "registry": "vigil", "kind": "admin_read", "operation": "AdminRead",
            "outcome": "denied", "reason": "authentication required", "user": anonymous(),
            "request": env.request("GET", "/api/v1/user/", &id),
            "response": response(401, body.len(), Some("invalid_token")),
        })),
    );

    // A change that fails inside the directory (the user exists) is one failed event.
    let req = env.admin.post(env.url(api)).header("x-request-id", "create-dana-again");
    let (r, ev) = env.exchange(req.json(&json!({"username": "dana", "password": "dana-password"}))).await;
    assert_eq!(r.status(), 409);
    assert_eq!((ev["kind"].as_str(), ev["outcome"].as_str()), (Some("admin_change"), Some("failed")));
    assert_eq!(ev["response"]["status"], 409);
    assert_eq!(ev["request"]["client_id"], "create-dana-again");
    assert_file_is_the_journal(env.data());
}

/// Every event of an HTTP request says how it was answered: an admin API change committed with its event
/// records the status it answered with, like registry changes do.
#[tokio::test]
async fn admin_api_change_events_record_the_response() {
    let env = Env::start(&[]);
    let req = env.admin.post(env.url("/api/v1/superuser/users/"));
    let (r, ev) = env.exchange(req.json(&json!({"username": "dana", "password": "dana-password"}))).await;
    assert_eq!(r.status(), 201);
    assert_eq!(ev["response"]["status"], 201, "{ev}");
    assert_eq!(ev["outcome"], "success");
}

// ---------------------------------------------------------------------------------------------------------------
// Work outside requests: the CLI and garbage collection

/// Identity changes made with `vigil` while the server runs are journaled by the `cli` actor as a system user with
/// no request, and reach the server's file (before the next request's event) byte for byte.
#[tokio::test]
async fn cli_changes_are_recorded_by_the_cli_actor() {
    let env = Env::start(&[]);
    let mark = env.head();
    cli(env.data(), &["user", "add", "carol", "--password-stdin"], Some("carol-password\n"));
    cli(env.data(), &["grant", "acme/app", "carol", "--role", "read"], None);
    let evs = journal_since(env.data(), mark);
    assert_eq!(evs.len(), 2, "{}", pretty(&json!(evs)));
    let cli_event = |kind: &str, artifact: &str, detail: &str, target: Value| {
        event(json!({
            "action": "admin", "actor": "cli", "artifact": artifact, "registry": "vigil", "detail": detail,
            "kind": kind, "operation": "AdminChange", "user": system("cli"), "target": target,
        }))
    };
    check(&evs[0], &cli_event("user_create", "carol", "", namespace_target("carol")));
    check(
        &evs[1],
        &cli_event("change_repo_permission", "acme/app", "carol as read", target("acme/app", json!({"format": null}))),
    );

    env.flush_cli_events().await;
    let in_file = env.since(mark);
    assert_eq!(in_file.len(), 3);
    assert_eq!(&in_file[..2], &evs[..]);
    assert_eq!(in_file[2]["operation"], "CheckApiVersion");
    assert!(!file_lines(env.data()).iter().any(|l| String::from_utf8_lossy(l).contains("carol-password")));
    assert_file_is_the_journal(env.data());
}

/// `vigil gc` records one `gc_blob` event per blob it removes, by the `cli` actor, naming the digest and size.
#[tokio::test]
async fn gc_records_one_event_per_collected_blob() {
    let envs = [("VIGIL_REGISTRY__UPLOAD_EXPIRY_SECS", "1"), ("VIGIL_GC__GRACE_SECS", "2")];
    let env = Env::start(&envs);
    let layer_bytes = b"collected layer".to_vec();
    let (manifest, layer) =
        push_image(&env.admin, &env.server.base, "gc/app", "v1", layer_bytes.clone()).await.unwrap();
    let r = env.admin.delete(env.url(&format!("/v2/gc/app/manifests/{manifest}"))).send().await.unwrap();
    assert_eq!(r.status(), 202);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mark = env.head();
    let out = cli_env(env.data(), &["gc"], None, &envs);
    assert!(out.contains("removed 2 blob(s)"), "{out}");

    let config = Digest::sha256_of(b"{}");
    let mut evs = journal_since(env.data(), mark);
    assert_eq!(evs.len(), 2, "{}", pretty(&json!(evs)));
    evs.sort_by_key(|e| e["detail"].as_str().unwrap().to_owned());
    let mut want = [(layer.to_string(), layer_bytes.len()), (config.to_string(), 2)];
    want.sort();
    for (ev, (digest, size)) in evs.iter().zip(&want) {
        check(
            ev,
            &event(json!({
                "action": "delete", "actor": "cli", "artifact": digest, "detail": digest, "kind": "gc_blob",
                "operation": "CollectBlob", "user": system("cli"), "registry": "vigil",
                "target": {"format": null, "namespace": null, "repository": null, "package": null, "version": null,
                           "path": null, "tag": null, "digest": digest, "media_type": null, "size": size},
            })),
        );
    }
    env.flush_cli_events().await;
    assert_eq!(env.since(mark).len(), 3);
    assert_file_is_the_journal(env.data());
}

/// The server's own garbage collection records its `gc_blob` events by the `scheduler` actor, as user `gc`.
#[tokio::test]
async fn scheduled_gc_records_events_by_the_scheduler() {
    let envs =
        [("VIGIL_REGISTRY__UPLOAD_EXPIRY_SECS", "1"), ("VIGIL_GC__GRACE_SECS", "2"), ("VIGIL_GC__INTERVAL_SECS", "1")];
    let env = Env::start(&envs);
    let orphan = b"scheduled orphan".to_vec();
    let digest = push_blob(&env.admin, &env.server.base, "gc/app", orphan.clone()).await.unwrap().to_string();
    let mark = env.head();
    let mut collected = Vec::new();
    for _ in 0..100 {
        collected = env.since(mark);
        if !collected.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(collected.len(), 1, "{}", pretty(&json!(collected)));
    check(
        &collected[0],
        &event(json!({
            "action": "delete", "actor": "scheduler", "artifact": digest, "detail": digest, "kind": "gc_blob",
            "operation": "CollectBlob", "user": system("gc"), "registry": "vigil",
            "target": {"format": null, "namespace": null, "repository": null, "package": null, "version": null,
                       "path": null, "tag": null, "digest": digest, "media_type": null, "size": orphan.len()},
        })),
    );
    assert_file_is_the_journal(env.data());
}

// ---------------------------------------------------------------------------------------------------------------
// Client addresses and two-stage logging

/// `remote_addr` is the socket peer: a forwarded address is believed only from a configured trusted proxy.
#[tokio::test]
async fn client_addresses_come_from_the_peer_unless_it_is_a_trusted_proxy() {
    let env = Env::start(&[]);
    let (_, ev) = env.exchange(env.admin.get(env.url("/v2/")).header("x-forwarded-for", "10.9.9.9")).await;
    assert_eq!(ev["request"]["remote_addr"], "127.0.0.1", "an untrusted peer's X-Forwarded-For was believed");
    drop(env);

    let env = Env::start(&[("VIGIL_AUTH__TRUSTED_PROXIES", r#"["127.0.0.1"]"#)]);
    let (_, ev) = env.exchange(env.admin.get(env.url("/v2/")).header("x-forwarded-for", "10.9.9.9")).await;
    assert_eq!(ev["request"]["remote_addr"], "10.9.9.9");
    let (_, ev) = env.exchange(env.admin.get(env.url("/v2/"))).await;
    assert_eq!(ev["request"]["remote_addr"], "127.0.0.1");
}

/// With two-stage logging every request is journaled as `received` (pending, by whoever it claims to be) before it
/// is processed, then as `complete` (for a successful read possibly once the body is sent), both with the same
/// request id.
#[tokio::test]
async fn two_stage_logging_records_received_then_complete() {
    let env = Env::start(&[("VIGIL_AUDIT__STAGES", r#"["received", "complete"]"#)]);
    let admin = password_user(&env.account_id("admin"), "admin");
    let (manifest, _) = push_image(&env.admin, &env.server.base, "two/app", "v1", b"two".to_vec()).await.unwrap();
    let md = manifest.to_string();
    let path = "/v2/two/app/manifests/v1";
    let mark = env.head();
    let r = env.admin.get(env.url(path)).send().await.unwrap();
    let id = rid(&r);
    let size = r.bytes().await.unwrap().len();
    let evs = env.wait_since(mark, 2).await;
    assert_eq!(evs.len(), 2, "{}", pretty(&json!(evs)));
    assert_eq!(seq(&evs[1]), seq(&evs[0]) + 1);
    check(
        &evs[0],
        &event(json!({
            "action": "pull", "kind": "pull_repo", "operation": "GetManifest", "stage": "received",
            "outcome": "pending", "user": claimed("admin"), "request": env.request("GET", path, &id),
        })),
    );
    check(
        &evs[1],
        &event(json!({
            "action": "pull", "artifact": "two/app:v1", "detail": md, "kind": "pull_repo", "operation": "GetManifest",
            "user": admin, "request": env.request("GET", path, &id), "response": response(200, size, None),
            "target": target("two/app", json!({"tag": "v1", "digest": md, "media_type": OCI_MANIFEST, "size": size})),
        })),
    );
    // A change commits its own `complete` event after the `received` one.
    let r = env.admin.delete(env.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let evs = env.wait_since(mark + 2, 2).await;
    let stages: Vec<_> = evs.iter().map(|e| (e["stage"].as_str().unwrap(), e["kind"].as_str().unwrap())).collect();
    assert_eq!(stages, [("received", "delete_tag"), ("complete", "delete_tag")]);
    assert_eq!(evs[0]["request"]["id"], evs[1]["request"]["id"]);
    assert_file_is_the_journal(env.data());
}

/// A `received` event is pending: nothing has failed yet, so a login on its way in is not a failed login.
#[tokio::test]
async fn two_stage_received_events_of_logins_are_not_failed_logins() {
    let env = Env::start(&[("VIGIL_AUDIT__STAGES", r#"["received", "complete"]"#)]);
    for path in ["/v2/", "/auth/token?service=vigil"] {
        let mark = env.head();
        let r = env.admin.get(env.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let evs = env.wait_since(mark, 2).await;
        assert_eq!((evs[0]["stage"].as_str(), evs[0]["outcome"].as_str()), (Some("received"), Some("pending")));
        assert_ne!(evs[0]["kind"], "login_failure", "{}", evs[0]);
        assert_eq!(evs[1]["kind"], "login_success", "{}", evs[1]);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The trail as a whole

/// After a mix of successes, failures, denials, rolled-back changes and CLI changes, the file and the journal
/// hold the same events, numbered 1..n without gaps, each in canonical field order, every request event with
/// the client's address, and no password anywhere.
#[tokio::test]
async fn file_and_journal_are_gapless_and_identical() {
    let env = Env::start(&[]);
    push_image(&env.admin, &env.server.base, "mix/app", "v1", b"mix".to_vec()).await.unwrap();
    let config = Digest::sha256_of(b"{}");
    let broken = manifest_json(&config, &Digest::sha256_of(b"absent"), 6);
    let r = env
        .admin
        .put(env.url("/v2/mix/app/manifests/broken"))
        .header("content-type", OCI_MANIFEST)
        .body(broken)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    cli(env.data(), &["user", "add", "mallory", "--password-stdin"], Some("mallory-password\n"));
    let mallory = basic("mallory", "mallory-password");
    for (req, status) in [
        (env.anon.get(env.url("/v2/mix/app/manifests/v1")), 401),
        (env.anon.get(env.url("/v2/mix/app/manifests/v1")).header("authorization", &mallory), 403),
        (env.admin.delete(env.url("/v2/mix/app/manifests/v1")), 202),
        (env.admin.delete(env.url("/v2/mix/app/manifests/v1")), 404),
        (env.admin.get(env.url("/v2/_catalog")), 200),
    ] {
        assert_eq!(req.send().await.unwrap().status(), status);
    }
    cli(env.data(), &["org", "create", "mixers"], None);
    env.flush_cli_events().await;

    assert_file_is_the_journal(env.data());
    let lines = file_lines(env.data());
    assert!(lines.len() >= 15, "only {} events", lines.len());
    for line in &lines {
        let text = String::from_utf8(line.clone()).unwrap();
        assert_wire_order(&text);
        assert!(!text.contains(ADMIN_PASSWORD) && !text.contains("mallory-password"), "{text}");
        let ev: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ev["schema"], 3);
        assert_eq!(ev["stage"], "complete");
        if ev["actor"] == "api" {
            assert_eq!(ev["request"]["remote_addr"], "127.0.0.1", "{text}");
            assert!(ev["response"]["status"].is_u64(), "{text}");
        } else {
            assert!(ev["request"].is_null() && ev["response"].is_null(), "{text}");
        }
    }
}

/// A 100 KB user agent is cut: the line stays under 64 KiB and says which field was truncated.
#[tokio::test]
async fn long_user_agents_are_truncated() {
    let env = Env::start(&[]);
    let ua = "x".repeat(50_000); // under the 64 KiB header limit, far over the field's 512
    let (r, ev) = env.exchange(env.admin.get(env.url("/v2/")).header("user-agent", &ua)).await;
    assert_eq!(r.status(), 200);
    let line = file_lines(env.data()).pop().unwrap();
    assert!(line.len() < 64 * 1024, "line of {} bytes", line.len());
    assert_eq!(ev["truncated"], json!(["request.user_agent"]));
    let kept = ev["request"]["user_agent"].as_str().unwrap();
    assert!(kept.len() <= 512 && ua.starts_with(kept) && !kept.is_empty(), "{}", kept.len());
    assert_file_is_the_journal(env.data());
}
