//! Quay-compatible log exports (`POST …/exportlogs`) against the running binary, with a real HTTP receiver for the
//! callbacks started by each test: the callback's body field by field, the exported file compared with what
//! `…/logs` pages through and with the events in `audit.jsonl`, the organization and user levels and their
//! filters, Quay's permissions, bad input answered with a clear 400 (and no callback), signed download links that
//! refuse tampering and expire, and callback retries.
//!
//! An export's file holds the matching events as of the request: a test takes its expectation from the audit
//! file after `Env::settle`, right before asking for the export.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};

use super::push_image;
use super::quay_logs::{self, admin, as_user, assert_error, http, keys, logs, seq, ALL_TIME};

/// The same exports told by e-mail (`callback_email`), through an SMTP server the tests run.
#[path = "log_export_mail.rs"]
mod mail;

/// A window holding everything these tests do, and how the server echoes it (an end date covers its whole day).
const ALL_TIME_START: &str = "Wed, 01 Jan 2020 00:00:00 -0000";
const ALL_TIME_END: &str = "Sat, 02 Jan 2100 00:00:00 -0000";
/// How long a test waits for a callback or an event the server owes it.
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------------------------
// The callback receiver

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    at: Instant,
    user_agent: String,
    content_type: String,
    body: Value,
    /// The status the receiver answered.
    answered: u16,
}

#[derive(Default)]
struct Hooks {
    /// Every request, by path, in the order they came.
    calls: Mutex<HashMap<String, Vec<Call>>>,
    /// How many more requests to a path get a 500 (absent: none).
    failures: Mutex<HashMap<String, usize>>,
    /// Paths answered with a 307 to another URL.
    redirects: Mutex<HashMap<String, String>>,
}

/// An HTTP server on 127.0.0.1 that records every request's JSON body and answers 200, or 500 or a redirect as
/// told.
struct Receiver {
    origin: String,
    hooks: Arc<Hooks>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hooks = Arc::new(Hooks::default());
        let app = axum::Router::new().fallback(receive).with_state(hooks.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { origin, hooks }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The next `times` requests to `path` get a 500.
    fn fail(&self, path: &str, times: usize) {
        self.hooks.failures.lock().unwrap().insert(path.to_owned(), times);
    }

    /// Requests to `path` get a 307 to `to`.
    fn redirect(&self, path: &str, to: &str) {
        self.hooks.redirects.lock().unwrap().insert(path.to_owned(), to.to_owned());
    }

    fn calls(&self, path: &str) -> Vec<Call> {
        self.hooks.calls.lock().unwrap().get(path).cloned().unwrap_or_default()
    }

    fn total_calls(&self) -> usize {
        self.hooks.calls.lock().unwrap().values().map(Vec::len).sum()
    }

    /// Waits (at most `PATIENCE`) until `path` got `n` requests.
    async fn wait(&self, path: &str, n: usize) -> Vec<Call> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let calls = self.calls(path);
            if calls.len() >= n {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "{path} got {} of {n} callbacks in {PATIENCE:?}: {calls:?}",
                calls.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    State(hooks): State<Arc<Hooks>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let redirect = hooks.redirects.lock().unwrap().get(&path).cloned();
    let answered = match hooks.failures.lock().unwrap().get_mut(&path) {
        _ if redirect.is_some() => 307,
        Some(left) if *left > 0 => {
            *left -= 1;
            500
        }
        _ => 200,
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let call = Call {
        method: method.to_string(),
        at: Instant::now(),
        user_agent: header("user-agent"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())),
        answered,
    };
    hooks.calls.lock().unwrap().entry(path).or_default().push(call);
    match redirect {
        Some(to) => (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response(),
        None => StatusCode::from_u16(answered).unwrap().into_response(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A server under test

struct Env {
    logs: quay_logs::Env,
    hook: Receiver,
}

/// The data directory, the CLI, users and the audit file are those of `quay_logs.rs`'s environment.
impl std::ops::Deref for Env {
    type Target = quay_logs::Env;

    fn deref(&self) -> &quay_logs::Env {
        &self.logs
    }
}

impl Env {
    /// A receiver, then a server (without the Merkle tree, so event counts are exact) whose callback allowlist is
    /// the receiver's origin and `more_origins`.
    async fn start(more_origins: &[String], envs: &[(&str, &str)]) -> Env {
        let hook = Receiver::start().await;
        let origins: Vec<String> = [hook.origin.clone()].into_iter().chain(more_origins.iter().cloned()).collect();
        let allowlist = serde_json::to_string(&origins).unwrap();
        let all = [&[("VIGIL_AUDIT__EXPORT__CALLBACK_ALLOWLIST", allowlist.as_str())], envs].concat();
        Env { logs: quay_logs::Env::start_with(&all), hook }
    }

    /// Waits (at most `PATIENCE`) for an event in the audit file.
    async fn wait_event(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(ev) = self.events().into_iter().find(|e| pred(e)) {
                return ev;
            }
            assert!(Instant::now() < deadline, "no {what} in the audit file after {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The job's end of export `id`: `export_logs_success` or `export_logs_failure`.
    async fn export_end(&self, id: &str) -> Value {
        self.wait_event(&format!("end of export {id}"), |e| {
            matches!(e["kind"].as_str(), Some("export_logs_success" | "export_logs_failure"))
                && detail(e)["export_id"] == id
        })
        .await
    }

    /// `POST path` with a raw body: the status and the answer.
    async fn post(&self, c: &reqwest::Client, path: &str, body: &str) -> (u16, Value) {
        let r = c.post(self.url(path)).body(body.to_owned()).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Asks for an export calling back the receiver at `hook_path`; returns its id.
    async fn export(&self, c: &reqwest::Client, path: &str, hook_path: &str) -> String {
        let (status, body) = self.post(c, path, &callback(&self.hook.url(hook_path))).await;
        assert_eq!(status, 200, "POST {path}: {body}");
        assert_eq!(keys(&body), ["export_id"], "POST {path}: {body}");
        let id = body["export_id"].as_str().unwrap().to_owned();
        let parsed = uuid::Uuid::parse_str(&id).unwrap_or_else(|e| panic!("export_id {id:?} is not a UUID: {e}"));
        assert_eq!(parsed.to_string(), id, "export_id in its lowercase hyphenated form");
        id
    }

    /// A successful export's end: its one callback (checked against `level`, `(namespace, repository)`), the
    /// downloaded file (checked against the callback) and the detail of its `export_logs_success` event.
    async fn exported(&self, id: &str, hook_path: &str, level: (Value, Value)) -> (Value, Value, Value) {
        let call = self.hook.wait(hook_path, 1).await.remove(0);
        let body = call.body;
        assert_eq!(body["export_id"], id, "{body}");
        assert_eq!(body["status"], "success", "{body}");
        assert_eq!((&body["namespace"], &body["repository"]), (&level.0, &level.1), "{body}");
        let file = download(&body).await;
        assert_eq!(file["export_id"], id);
        let details = json!({
            "start_time": body["start_time"], "end_time": body["end_time"],
            "namespace": level.0, "repository": level.1,
        });
        assert_eq!(file["details"], details, "the file's details and the callback disagree");
        let end = self.export_end(id).await;
        assert_eq!(end["kind"], "export_logs_success", "{end}");
        let d = detail(&end);
        assert_eq!(d["entries"].as_u64(), Some(logs(&file).len() as u64), "{end}");
        assert_eq!(self.hook.calls(hook_path).len(), 1, "one export, one callback");
        (body, file, d)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

fn callback(url: &str) -> String {
    json!({ "callback_url": url }).to_string()
}

/// An event's `detail`, which export events fill with JSON.
fn detail(ev: &Value) -> Value {
    ev["detail"].as_str().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null)
}

/// The seqs of log entries, in order.
fn entry_seqs<'a>(entries: impl IntoIterator<Item = &'a Value>) -> Vec<u64> {
    entries.into_iter().map(|l| l["metadata"]["seq"].as_u64().expect("metadata.seq")).collect()
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Downloads `exported_data_url` of a callback body without credentials.
async fn download(body: &Value) -> Value {
    let link = body["exported_data_url"].as_str().unwrap_or_else(|| panic!("no exported_data_url in {body}"));
    let r = http(None).get(link).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {link}");
    assert_eq!(r.headers()["content-type"], "application/json");
    let id = body["export_id"].as_str().unwrap();
    assert_eq!(r.headers()["content-disposition"].to_str().unwrap(), format!("attachment; filename=\"{id}.json\""));
    let file: Value = serde_json::from_str(&r.text().await.unwrap()).expect("the export is JSON");
    assert_eq!(keys(&file), ["details", "export_id", "logs"], "{file}");
    file
}

/// Every entry of a `…/logs` query, following `next_page` to the end (newest first), and the number of pages.
async fn all_logs(c: &reqwest::Client, url: &str) -> (Vec<Value>, usize) {
    let (mut out, mut pages) = (Vec::new(), 0);
    let mut next: Option<String> = None;
    loop {
        let page_url = match &next {
            Some(token) => format!("{url}&next_page={token}"),
            None => url.to_owned(),
        };
        let r = c.get(&page_url).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {page_url}");
        let page: Value = r.json().await.unwrap();
        out.extend(logs(&page).iter().cloned());
        pages += 1;
        next = page.get("next_page").map(|t| t.as_str().unwrap().to_owned());
        if next.is_none() {
            return (out, pages);
        }
        assert!(pages < 50, "{url}: paging does not end");
    }
}

/// Checks a log entry against the audit event it reports (the full shape is `quay_logs.rs`'s subject; here the
/// entries are also compared whole with `…/logs`).
fn check_entry(entry: &Value, ev: &Value) {
    assert_eq!(keys(entry), ["datetime", "ip", "kind", "metadata", "performer"], "{entry}");
    assert_eq!(entry["metadata"]["seq"], ev["seq"], "{entry}");
    assert_eq!(entry["kind"], ev["kind"], "{entry}\nevent {ev}");
    assert_eq!(entry["ip"], ev["request"]["remote_addr"], "{entry}\nevent {ev}");
    match ev["user"]["kind"].as_str() {
        Some("anonymous") => assert_eq!(entry["performer"], Value::Null, "{entry}"),
        _ => assert_eq!(entry["performer"]["name"], ev["user"]["name"], "{entry}\nevent {ev}"),
    }
    assert_eq!(entry["metadata"].get("namespace"), ev["target"].get("namespace").filter(|n| !n.is_null()));
}

// ---------------------------------------------------------------------------------------------------------------
// 1. A repository's export, end to end

/// An admin exports `acme/app`: the answer is an id; the callback carries Quay's fields and a link that works
/// without credentials; the file holds exactly the repository's events, oldest first, each entry equal to what
/// `…/logs` pages through (newest first); the request and the job's end are recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_export_calls_back_with_a_link_to_every_entry() {
    let env = Env::start(&[], &[]).await;
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    env.add_user("alice");
    env.cli(&["org", "add-member", "acme", "alice", "--role", "write"], "");
    let (c, alice) = (admin(), as_user("alice"));
    push_image(&c, base, "acme/app", "v1", b"app one".to_vec()).await.unwrap();
    push_image(&alice, base, "acme/app", "v2", b"app two".to_vec()).await.unwrap();
    push_image(&c, base, "acme/other", "v1", b"other".to_vec()).await.unwrap();
    push_image(&c, base, "acme/app", "v3", b"app three".to_vec()).await.unwrap();
    for _ in 0..12 {
        assert_eq!(alice.get(env.url("/v2/acme/app/manifests/v2")).send().await.unwrap().status(), 200);
    }
    assert_eq!(c.get(env.url("/v2/acme/app/manifests/nope")).send().await.unwrap().status(), 404);
    let before = env.settle().await;
    let head = before.last().map_or(0, seq);
    let want: Vec<&Value> = before.iter().filter(|e| e["target"]["repository"] == "acme/app").collect();
    assert_eq!(want.len(), 3 * 3 + 12 + 1, "three pushes of three events, 12 pulls and a failed pull");

    let asked = now_secs();
    let path = format!("/api/v1/repository/acme/app/exportlogs?{ALL_TIME}");
    let id = env.export(&c, &path, "/hooks/repo").await;

    // The callback, field by field.
    let calls = env.hook.wait("/hooks/repo", 1).await;
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.content_type, "application/json");
    assert!(call.user_agent.starts_with("vigil/") && call.user_agent.ends_with(" log-export"), "{}", call.user_agent);
    let body = &call.body;
    assert_eq!(
        keys(body),
        ["end_time", "export_id", "exported_data_url", "namespace", "repository", "start_time", "status"],
        "{body}"
    );
    assert_eq!(body["export_id"], id.as_str());
    assert_eq!(body["status"], "success");
    assert_eq!(body["namespace"], "acme");
    assert_eq!(body["repository"], "acme/app");
    assert_eq!(body["start_time"], ALL_TIME_START);
    assert_eq!(body["end_time"], ALL_TIME_END);
    let link = body["exported_data_url"].as_str().unwrap();
    let query = link
        .strip_prefix(&format!("{base}/api/v1/audit/exports/{id}.json?expires="))
        .unwrap_or_else(|| panic!("{link} is not a link to export {id} on {base}"));
    let (expires, signature) = query.split_once("&signature=").unwrap_or_else(|| panic!("{link}"));
    let expires: u64 = expires.parse().unwrap_or_else(|_| panic!("expires in {link}"));
    assert!(expires.abs_diff(asked + 3600) <= 10, "{link} does not expire in an hour (the default)");
    let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).expect("base64url signature");
    assert_eq!(mac.len(), 32, "an HMAC-SHA256");

    // The file, downloaded without credentials.
    let file = download(body).await;
    assert_eq!(file["export_id"], id.as_str());
    assert_eq!(
        file["details"],
        json!({"start_time": ALL_TIME_START, "end_time": ALL_TIME_END, "namespace": "acme", "repository": "acme/app"})
    );
    let entries = logs(&file);
    assert_eq!(entry_seqs(entries), want.iter().map(|e| seq(e)).collect::<Vec<_>>(), "oldest first, all of them");
    for (entry, ev) in entries.iter().zip(&want) {
        check_entry(entry, ev);
    }
    assert!(entries.iter().any(|e| e["performer"]["name"] == "alice" && e["kind"] == "push_repo"));
    assert!(!entries.iter().any(|e| e["metadata"]["repo"] == "other"), "acme/other's events are not acme/app's");
    assert!(std::fs::metadata(env.data().join(format!("exports/{id}.json"))).is_ok(), "the file is on disk");

    // The request, then the job's end, in the audit file.
    let end = env.export_end(&id).await;
    let events = env.events();
    let requests: Vec<&Value> = events.iter().filter(|e| e["kind"] == "export_logs").collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let req = requests[0];
    assert!(seq(req) > head && seq(&end) > seq(req), "request {} and end {} after {head}", seq(req), seq(&end));
    assert_eq!(req["operation"], "ExportAuditLog");
    assert_eq!(req["outcome"], "success");
    assert_eq!(req["user"]["name"], "admin");
    assert_eq!(req["request"]["method"], "POST");
    assert_eq!(req["request"]["path"], path);
    assert_eq!(req["response"]["status"], 200);
    assert_eq!(
        detail(req),
        json!({"export_id": id, "callback_url": env.hook.url("/hooks/repo"), "callback_email": null})
    );
    assert_eq!(end["kind"], "export_logs_success", "{end}");
    assert_eq!(end["operation"], "ExportAuditLog");
    assert_eq!(end["outcome"], "success");
    assert_eq!((&end["user"]["name"], &end["user"]["kind"]), (&json!("admin"), &json!("user")), "the requester");
    assert_eq!((&end["target"]["namespace"], &end["target"]["repository"]), (&json!("acme"), &json!("acme/app")));
    assert_eq!(end["response"]["status"], 200);
    assert_eq!(
        detail(&end),
        json!({
            "export_id": id, "entries": want.len(), "error": null,
            "callback_url": env.hook.url("/hooks/repo"), "callback_status": 200,
            "callback_email": null, "email_status": null,
        })
    );
    assert!(events.iter().all(|e| e["kind"] != "export_logs_failure"));

    // What `…/logs` pages through: the same entries, newest first, and since the request only the export's end
    // (once the query index, which follows the journal, holds that end).
    env.settle().await;
    let (paged, pages) = all_logs(&c, &env.url(&format!("/api/v1/repository/acme/app/logs?{ALL_TIME}"))).await;
    assert!(pages >= 2, "the repository's logs span more than one page");
    let (old, new): (Vec<Value>, Vec<Value>) =
        paged.into_iter().partition(|l| l["metadata"]["seq"].as_u64() <= Some(head));
    assert_eq!(entry_seqs(&new), [seq(&end)], "{new:?}");
    let oldest_first: Vec<Value> = old.into_iter().rev().collect();
    assert_eq!(&oldest_first, entries, "the file's entries differ from `…/logs`'s");
    assert_eq!(env.hook.calls("/hooks/repo").len(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Organization and user levels, filters

/// An export's path and query, its callback's path, its level (`namespace`, `repository`) and which events of the
/// audit file it should hold.
type FilterCase<'a> = (&'a str, &'a str, (Value, Value), &'a dyn Fn(&&Value) -> bool);

/// An organization's export holds exactly its repositories' events; a user's (not an admin) holds only that
/// user's; `performer` and `kind` narrow an export as they narrow `…/logs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_and_user_exports_and_their_filters() {
    let env = Env::start(&[], &[]).await;
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    for u in ["alice", "bob"] {
        env.add_user(u);
        env.cli(&["org", "add-member", "acme", u, "--role", "write"], "");
    }
    let (c, alice, bob) = (admin(), as_user("alice"), as_user("bob"));
    push_image(&alice, base, "acme/app", "v1", b"alice app".to_vec()).await.unwrap();
    push_image(&bob, base, "acme/other", "v1", b"bob other".to_vec()).await.unwrap();
    push_image(&c, base, "elsewhere/app", "v1", b"elsewhere".to_vec()).await.unwrap();
    push_image(&c, base, "acme/app", "v2", b"admin app".to_vec()).await.unwrap();
    for (who, path) in [
        (&bob, "/v2/acme/app/manifests/v1"),
        (&alice, "/v2/acme/other/manifests/v1"),
        (&c, "/v2/acme/app/manifests/v2"),
        (&c, "/v2/elsewhere/app/manifests/v1"),
    ] {
        assert_eq!(who.get(env.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
    let in_acme = |e: &&Value| e["target"]["namespace"] == "acme";
    let by = |name: &'static str| move |e: &&Value| e["user"]["name"] == name && e["user"]["kind"] != "anonymous";
    let org_level = (json!("acme"), Value::Null);

    // The organization: every event of acme's repositories (and of acme itself), none of elsewhere's.
    let before = env.settle().await;
    let want: Vec<u64> = before.iter().filter(in_acme).map(seq).collect();
    let repos: BTreeSet<&str> =
        before.iter().filter(in_acme).filter_map(|e| e["target"]["repository"].as_str()).collect();
    assert_eq!(repos, BTreeSet::from(["acme/app", "acme/other"]));
    let id = env.export(&c, &format!("/api/v1/organization/acme/exportlogs?{ALL_TIME}"), "/org").await;
    let (body, file, _) = env.exported(&id, "/org", org_level.clone()).await;
    assert_eq!((&body["start_time"], &body["end_time"]), (&json!(ALL_TIME_START), &json!(ALL_TIME_END)));
    assert_eq!(entry_seqs(logs(&file)), want);
    for (entry, ev) in logs(&file).iter().zip(before.iter().filter(in_acme)) {
        check_entry(entry, ev);
        assert_eq!(entry["metadata"]["namespace"], "acme", "{entry}");
    }

    // alice's own logs: her events wherever they were, nobody else's, and nothing journaled after she asked (her
    // export's own request included).
    let before = env.settle().await;
    let head = before.last().map_or(0, seq);
    let want: Vec<u64> = before.iter().filter(by("alice")).map(seq).collect();
    assert!(want.len() >= 4, "alice's push and pull: {want:?}");
    let id = env.export(&alice, &format!("/api/v1/user/exportlogs?{ALL_TIME}"), "/alice").await;
    let (_, file, _) = env.exported(&id, "/alice", (Value::Null, Value::Null)).await;
    let got = entry_seqs(logs(&file));
    assert_eq!(got, want, "the events through seq {head}, when the export was asked for");
    let events = env.events();
    for entry in logs(&file) {
        assert_eq!(entry["performer"], json!({"kind": "user", "name": "alice", "is_robot": false}), "{entry}");
        assert_eq!(entry["metadata"]["username"], "alice", "{entry}");
        let ev = events.iter().find(|e| e["seq"] == entry["metadata"]["seq"]).unwrap();
        check_entry(entry, ev);
    }

    // Filters. Each expectation comes from the audit file right before the export.
    let cases: [FilterCase; 4] = [
        ("/api/v1/organization/acme/exportlogs?performer=bob", "/org-bob", org_level.clone(), &|e| {
            in_acme(e) && by("bob")(e)
        }),
        (
            "/api/v1/repository/acme/app/exportlogs?kind=pull_repo",
            "/app-pulls",
            (json!("acme"), json!("acme/app")),
            &|e| e["target"]["repository"] == "acme/app" && e["kind"] == "pull_repo",
        ),
        (
            "/api/v1/organization/acme/exportlogs?performer=alice&kind=push_repo,pull_repo",
            "/org-alice-push-pull",
            org_level.clone(),
            &|e| in_acme(e) && by("alice")(e) && (e["kind"] == "push_repo" || e["kind"] == "pull_repo"),
        ),
        ("/api/v1/organization/acme/exportlogs?performer=nobody", "/org-nobody", org_level.clone(), &|_| false),
    ];
    let mut sizes = Vec::new();
    for (path, hook_path, level, pred) in cases {
        let before = env.settle().await;
        let want: Vec<u64> = before.iter().filter(pred).map(seq).collect();
        let id = env.export(&c, &format!("{path}&{ALL_TIME}"), hook_path).await;
        let (_, file, d) = env.exported(&id, hook_path, level).await;
        assert_eq!(entry_seqs(logs(&file)), want, "{path}");
        assert_eq!(d["entries"], want.len(), "{path}");
        for (entry, ev) in logs(&file).iter().zip(before.iter().filter(pred)) {
            check_entry(entry, ev);
        }
        sizes.push(want.len());
    }
    assert_eq!(
        sizes,
        [4, 2, 2, 0],
        "bob's push (3 events) and pull in acme; 2 pulls of acme/app; alice's push and pull"
    );

    // Your own logs filtered by someone else's name: nothing, as in Quay and `…/logs`.
    let id = env.export(&alice, &format!("/api/v1/user/exportlogs?performer=bob&{ALL_TIME}"), "/alice-bob").await;
    let (_, file, _) = env.exported(&id, "/alice-bob", (Value::Null, Value::Null)).await;
    assert_eq!(logs(&file), &Vec::<Value>::new());
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Permissions

/// Repository exports need admin of the repository, organization exports admin of the organization; anonymous
/// callers get 401. Refusals start no job, call nobody back, and are recorded as denied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_are_those_of_the_logs() {
    let env = Env::start(&[], &[]).await;
    env.cli(&["org", "create", "acme"], "");
    for u in ["carol", "dora", "erin", "frank", "gina"] {
        env.add_user(u);
    }
    env.cli(&["grant", "acme/app", "carol", "--role", "admin"], "");
    env.cli(&["org", "add-member", "acme", "dora", "--role", "admin"], "");
    env.cli(&["grant", "acme/app", "erin", "--role", "write"], "");
    env.cli(&["grant", "acme/app", "gina", "--role", "read"], "");
    push_image(&admin(), env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    env.settle().await;

    let repo = "/api/v1/repository/acme/app/exportlogs";
    let org = "/api/v1/organization/acme/exportlogs";
    let user = "/api/v1/user/exportlogs";
    let cases: &[(&str, Option<&str>, &str, u16)] = &[
        ("anonymous", None, repo, 401),
        ("anonymous", None, org, 401),
        ("anonymous", None, user, 401),
        ("erin", Some("erin"), repo, 403), // write on the repository
        ("erin", Some("erin"), org, 403),
        ("gina", Some("gina"), repo, 403),   // read on the repository
        ("frank", Some("frank"), repo, 403), // no membership
        ("frank", Some("frank"), org, 403),
        ("carol", Some("carol"), org, 403), // admin of one repository only
        ("carol", Some("carol"), repo, 200),
        ("dora", Some("dora"), repo, 200),
        ("dora", Some("dora"), org, 200),
        ("frank", Some("frank"), user, 200), // one's own
    ];
    let mut accepted = Vec::new();
    for (i, (who, name, path, want)) in cases.iter().enumerate() {
        let c = match name {
            Some(n) => as_user(n),
            None => http(None),
        };
        let hook_path = format!("/perm/{i}");
        let (status, body) = env.post(&c, &format!("{path}?{ALL_TIME}"), &callback(&env.hook.url(&hook_path))).await;
        let context = format!("{who} POST {path}");
        match want {
            200 => {
                assert_eq!(status, 200, "{context}: {body}");
                accepted.push((hook_path, body["export_id"].as_str().unwrap().to_owned()));
            }
            401 => assert_error(status, &body, 401, "invalid_token", "", &context),
            _ => assert_error(status, &body, 403, "insufficient_scope", "", &context),
        }
    }
    for (hook_path, id) in &accepted {
        let calls = env.hook.wait(hook_path, 1).await;
        assert_eq!((&calls[0].body["export_id"], &calls[0].body["status"]), (&json!(id), &json!("success")));
        assert_eq!(env.export_end(id).await["kind"], "export_logs_success");
    }
    // The refused exports never ran.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.hook.total_calls(), accepted.len(), "only the accepted exports call back");
    let events = env.events();
    let ends = events.iter().filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("export_logs_"))).count();
    assert_eq!(ends, accepted.len());

    // Each refusal is recorded as denied, under who asked.
    let requests: Vec<&Value> = events.iter().filter(|e| e["kind"] == "export_logs").collect();
    assert_eq!(requests.len(), cases.len(), "{requests:?}");
    for (i, (who, name, path, want)) in cases.iter().enumerate() {
        let ev = requests[i];
        let context = format!("{who} POST {path}: {ev}");
        assert_eq!(ev["request"]["path"], format!("{path}?{ALL_TIME}"), "{context}");
        assert_eq!(ev["response"]["status"], *want, "{context}");
        assert_eq!(ev["outcome"], if *want == 200 { "success" } else { "denied" }, "{context}");
        assert_eq!(ev["operation"], "ExportAuditLog", "{context}");
        match name {
            Some(n) => assert_eq!((&ev["user"]["name"], &ev["user"]["kind"]), (&json!(n), &json!("user")), "{context}"),
            None => assert_eq!(ev["user"]["kind"], "anonymous", "{context}"),
        }
        if *want != 200 {
            assert!(ev["reason"].as_str().is_some_and(|r| !r.is_empty()), "a refusal says why: {context}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Bad input

/// Bad dates, reversed ranges, `next_page`, bad bodies and callback URLs this server may not call are a 400 in
/// the admin API's error shape naming the problem, at every level; none starts a job or calls anybody back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_400_and_calls_nobody() {
    let env = Env::start(&[], &[]).await;
    env.cli(&["org", "create", "acme"], "");
    push_image(&admin(), env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    env.settle().await;
    let good = callback(&env.hook.url("/bad"));
    let port = env.hook.origin.rsplit(':').next().unwrap().to_owned();
    let other_port = if port == "1" { "2".to_owned() } else { "1".to_owned() };

    // A good body with a bad query.
    let queries: &[(&str, &str)] = &[
        ("starttime=13/01/2024", "`starttime` \"13/01/2024\" is not MM/DD/YYYY, YYYY-MM-DD or an RFC 3339 time"),
        ("starttime=yesterday", "`starttime` \"yesterday\""),
        ("endtime=2024-02-30", "`endtime` \"2024-02-30\""),
        ("starttime=01/03/2024&endtime=01/01/2024", "is before `starttime`"),
        ("starttime=2024-01-02T10:00:00Z&endtime=2024-01-02T09:59:59Z", "is before `starttime`"),
        ("next_page=abc", "exports are not paged: `next_page` does not apply"),
        ("next_page=abc&starttime=01/01/2020", "`next_page`"),
        ("kind=push_*", "`kind` \"push_*\" is not a log kind"),
        ("performer=adm*", "performer"),
        ("starttime=01/01/2024&starttime=01/02/2024", "bad query string"),
    ];
    // A good query with a bad body.
    let long = format!("{}/{}", env.hook.origin, "a".repeat(2100));
    let url_body = |u: &str| callback(u);
    let bodies: Vec<(String, String)> = vec![
        (String::new(), "the body must be a JSON object".into()),
        ("callback_url=http://x".into(), "the body must be a JSON object".into()),
        ("[]".into(), "the body must be a JSON object".into()),
        (r#"{"callback_url": 5}"#.into(), "the body must be a JSON object".into()),
        (json!({"callback_url": env.hook.url("/bad"), "notify": true}).to_string(), "unknown field `notify`".into()),
        (r#"{"callback_email": "ops@example.com"}"#.into(), "e-mail is not configured on this server".into()),
        ("{}".into(), "`callback_url` is required".into()),
        (r#"{"callback_url": ""}"#.into(), "`callback_url` is required".into()),
        (r#"{"callback_url": null}"#.into(), "`callback_url` is required".into()),
        (
            url_body("http://169.254.169.254/latest/meta-data/"),
            "origin http://169.254.169.254 is not in this server's audit.export.callback_allowlist".into(),
        ),
        (url_body(&format!("http://127.0.0.1:{other_port}/bad")), "is not in this server's".into()),
        (url_body(&format!("http://localhost:{port}/bad")), "is not in this server's".into()),
        (url_body(&format!("https://127.0.0.1:{port}/bad")), "is not in this server's".into()),
        (url_body(&format!("ftp://127.0.0.1:{port}/bad")), "must be http or https, not \"ftp\"".into()),
        (url_body("file:///etc/passwd"), "must be http or https".into()),
        (url_body(&format!("http://user:secret@127.0.0.1:{port}/bad")), "may not carry credentials".into()),
        (url_body(&format!("http://user@127.0.0.1:{port}/bad")), "may not carry credentials".into()),
        (url_body("not a url"), "is not a URL".into()),
        (url_body(&long), "longer than 2048 bytes".into()),
    ];
    let c = admin();
    let mut asked = 0;
    for level in
        ["/api/v1/repository/acme/app/exportlogs", "/api/v1/organization/acme/exportlogs", "/api/v1/user/exportlogs"]
    {
        for (query, mentions) in queries {
            let (status, body) = env.post(&c, &format!("{level}?{query}"), &good).await;
            assert_error(status, &body, 400, "invalid_request", mentions, &format!("POST {level}?{query}"));
            asked += 1;
        }
        for (body, mentions) in &bodies {
            let (status, answer) = env.post(&c, &format!("{level}?{ALL_TIME}"), body).await;
            assert_error(status, &answer, 400, "invalid_request", mentions, &format!("POST {level} {body:.80}"));
            assert!(!answer.to_string().contains("secret"), "the answer repeats the URL's password: {answer}");
            asked += 1;
        }
    }

    // Nobody was called, nothing was written, and each request was recorded as failed, saying why.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(env.hook.total_calls(), 0);
    let events = env.events();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(!kinds.iter().any(|k| k.starts_with("export_logs_")), "{kinds:?}");
    let requests: Vec<&Value> = events.iter().filter(|e| e["kind"] == "export_logs").collect();
    assert_eq!(requests.len(), asked);
    for ev in requests {
        assert_eq!((&ev["outcome"], &ev["response"]["status"]), (&json!("failed"), &json!(400)), "{ev}");
        assert!(ev["reason"].as_str().is_some_and(|r| !r.is_empty()), "{ev}");
    }
    let files = std::fs::read_dir(env.data().join("exports")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "no export was written");
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Download links

/// A download link works for anyone holding it until it expires (`audit.export.url_ttl`), then answers 410; a
/// link with any part changed is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_links_refuse_tampering_and_expire() {
    let env = Env::start(&[], &[("VIGIL_AUDIT__EXPORT__URL_TTL", "2s")]).await;
    push_image(&admin(), env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    env.settle().await;
    let id = env.export(&admin(), &format!("/api/v1/repository/acme/app/exportlogs?{ALL_TIME}"), "/dl").await;
    let call = env.hook.wait("/dl", 1).await.remove(0);
    let link = call.body["exported_data_url"].as_str().unwrap().to_owned();
    let anon = http(None);
    let get = |url: String| {
        let anon = anon.clone();
        async move {
            let r = anon.get(&url).send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)))
        }
    };
    let (status, file) = get(link.clone()).await;
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["export_id"], id.as_str());
    assert_eq!(logs(&file).len(), 3, "a push's three events");

    let (path, query) = link.split_once('?').unwrap();
    let (expires, signature) = query.strip_prefix("expires=").unwrap().split_once("&signature=").unwrap();
    let expires_at: u64 = expires.parse().unwrap();
    let now = now_secs();
    assert!((now + 1..=now + 3).contains(&expires_at), "expires {expires_at}, now {now}, ttl 2 s");
    let flipped = {
        let mut s: Vec<char> = signature.chars().collect();
        s[5] = if s[5] == 'A' { 'B' } else { 'A' };
        s.into_iter().collect::<String>()
    };
    let base = path.strip_suffix(&format!("{id}.json")).unwrap();
    let other = uuid::Uuid::new_v4();
    let forbidden = "not a download link this server signed";
    let tampered: Vec<(&str, String, u16, &str)> = vec![
        ("a signature character changed", format!("{path}?expires={expires}&signature={flipped}"), 403, forbidden),
        ("the signature cut short", format!("{path}?expires={expires}&signature={}", &signature[..20]), 403, forbidden),
        ("no signature", format!("{path}?expires={expires}"), 403, forbidden),
        ("an empty signature", format!("{path}?expires={expires}&signature="), 403, forbidden),
        ("a signature not base64", format!("{path}?expires={expires}&signature=%21%21%21"), 403, forbidden),
        ("a second later", format!("{path}?expires={}&signature={signature}", expires_at + 1), 403, forbidden),
        ("far later", format!("{path}?expires=99999999999&signature={signature}"), 403, forbidden),
        ("no expiry", format!("{path}?signature={signature}"), 403, forbidden),
        ("another export", format!("{base}{other}.json?{query}"), 403, forbidden),
        ("no query", path.to_owned(), 403, forbidden),
        ("not an id", format!("{base}not-an-id.json?{query}"), 404, "no such export"),
        ("the id in capitals", format!("{base}{}.json?{query}", id.to_uppercase()), 404, "no such export"),
        ("no .json", format!("{base}{id}?{query}"), 404, "no such export"),
        ("a path", format!("{base}..%2Fvigil.db?{query}"), 404, "no such export"),
    ];
    for (what, url, want, mentions) in &tampered {
        let (status, body) = get(url.clone()).await;
        let error_type = if *want == 403 { "insufficient_scope" } else { "not_found" };
        assert_error(status, &body, *want, error_type, mentions, &format!("{what}: GET {url}"));
    }
    // The real link still works, then expires.
    let (status, again) = get(link.clone()).await;
    assert_eq!((status, &again), (200, &file), "the link within its lifetime");
    let wait = Duration::from_millis((expires_at + 1) * 1000 - now_secs() * 1000 + 500);
    tokio::time::sleep(wait).await;
    let (status, body) = get(link.clone()).await;
    assert_eq!(status, 410, "GET after expiry: {body}");
    let message = body["error_message"].as_str().unwrap_or_default();
    assert!(message.starts_with("this download link expired at ") && message.ends_with(" -0000"), "{body}");
    // A forged link is still a forgery after the real one expired.
    let (status, body) = get(tampered[0].1.clone()).await;
    assert_error(status, &body, 403, "insufficient_scope", forbidden, "a changed signature after expiry");
    // The file waits a minute past expiry before it goes (not waited for here).
    assert!(env.data().join(format!("exports/{id}.json")).exists());

    // Every download was recorded, refusals as denied.
    let downloads: Vec<Value> = env
        .events()
        .into_iter()
        .filter(|e| e["request"]["path"].as_str().is_some_and(|p| p.starts_with("/api/v1/audit/exports/")))
        .collect();
    assert_eq!(downloads.len(), tampered.len() + 4, "{downloads:?}");
    for ev in &downloads {
        let status = ev["response"]["status"].as_u64().unwrap();
        let outcome = match status {
            200 => "success",
            403 => "denied",
            _ => "failed",
        };
        assert_eq!(ev["outcome"], outcome, "{ev}");
        assert_eq!(ev["user"]["kind"], "anonymous", "{ev}");
        // The signature makes the link work for whoever holds it: it is not recorded.
        let path = ev["request"]["path"].as_str().unwrap();
        assert!(!path.contains(signature) || signature.is_empty(), "the signature is in the log: {path}");
    }
    assert_eq!(downloads.iter().filter(|e| e["response"]["status"] == 200).count(), 2);
    assert_eq!(downloads.iter().filter(|e| e["response"]["status"] == 410).count(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Callback retries

/// A callback answering 500 is retried after 1 s and 3 s: twice 500 then 200 is a success after three attempts;
/// always 500, a redirect (never followed) or nobody listening is `export_logs_failure` naming the reason. The
/// answer to the request never waits for the callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_retried_and_failures_recorded() {
    // An allowed origin where nobody listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let closed_origin = format!("http://{closed}");
    let env = Env::start(std::slice::from_ref(&closed_origin), &[]).await;
    let c = admin();
    for repo in ["acme/app", "acme/other", "acme/third", "acme/fourth"] {
        push_image(&c, env.base(), repo, "v1", repo.as_bytes().to_vec()).await.unwrap();
    }
    env.settle().await;
    env.hook.fail("/twice", 2);
    env.hook.fail("/always", usize::MAX);
    env.hook.redirect("/moved", &env.hook.url("/moved-here"));

    let asked = Instant::now();
    let twice = env.export(&c, &format!("/api/v1/repository/acme/app/exportlogs?{ALL_TIME}"), "/twice").await;
    let always = env.export(&c, &format!("/api/v1/repository/acme/other/exportlogs?{ALL_TIME}"), "/always").await;
    let nobody_url = format!("{closed_origin}/nobody");
    let (status, body) =
        env.post(&c, &format!("/api/v1/repository/acme/third/exportlogs?{ALL_TIME}"), &callback(&nobody_url)).await;
    assert_eq!(status, 200, "{body}");
    let nobody = body["export_id"].as_str().unwrap().to_owned();
    let moved = env.export(&c, &format!("/api/v1/repository/acme/fourth/exportlogs?{ALL_TIME}"), "/moved").await;
    assert!(asked.elapsed() < Duration::from_secs(3), "the answers waited for the callbacks: {:?}", asked.elapsed());

    // Twice 500, then 200: three attempts, a second and three seconds apart, with the same body.
    let calls = env.hook.wait("/twice", 3).await;
    assert_eq!(calls.iter().map(|c| c.answered).collect::<Vec<_>>(), [500, 500, 200]);
    assert!(calls.iter().all(|c| c.body == calls[0].body), "{calls:?}");
    assert_eq!((&calls[0].body["export_id"], &calls[0].body["status"]), (&json!(twice), &json!("success")));
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(900) && gaps[0] < Duration::from_millis(2500), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(2900) && gaps[1] < Duration::from_millis(4500), "{gaps:?}");
    let end = env.export_end(&twice).await;
    assert_eq!((&end["kind"], &end["outcome"]), (&json!("export_logs_success"), &json!("success")), "{end}");
    let d = detail(&end);
    assert_eq!((&d["callback_status"], &d["error"], &d["entries"]), (&json!(200), &Value::Null, &json!(3)), "{end}");

    // Always 500: three attempts, then the failure, naming the callback's answer.
    let end = env.export_end(&always).await;
    assert_eq!((&end["kind"], &end["outcome"]), (&json!("export_logs_failure"), &json!("failed")), "{end}");
    assert_eq!(end["response"]["status"], 500, "{end}");
    assert_eq!((&end["user"]["name"], &end["target"]["repository"]), (&json!("admin"), &json!("acme/other")));
    let d = detail(&end);
    assert_eq!(d["error"], "the callback answered 500 Internal Server Error (3 attempts)", "{end}");
    assert_eq!((&d["callback_status"], &d["entries"]), (&Value::Null, &json!(3)), "the file was written: {end}");
    assert_eq!(d["callback_url"], env.hook.url("/always"));
    let calls = env.hook.calls("/always");
    assert_eq!(calls.iter().map(|c| c.answered).collect::<Vec<_>>(), [500, 500, 500]);
    // The link it was sent still works: the file is there, the callback just did not take it.
    assert_eq!(logs(&download(&calls[0].body).await).len(), 3);

    // Nobody listening: three attempts that fail to connect.
    let end = env.export_end(&nobody).await;
    assert_eq!(end["kind"], "export_logs_failure", "{end}");
    let d = detail(&end);
    let error = d["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("the callback failed: ") && error.ends_with(" (3 attempts)"), "{end}");
    assert_eq!((&d["callback_status"], &d["callback_url"]), (&Value::Null, &json!(nobody_url)), "{end}");

    // A redirect is not followed (it could lead anywhere): three attempts at the allowed URL, then the failure.
    let end = env.export_end(&moved).await;
    assert_eq!(end["kind"], "export_logs_failure", "{end}");
    assert_eq!(detail(&end)["error"], "the callback answered 307 Temporary Redirect (3 attempts)", "{end}");
    assert_eq!(env.hook.calls("/moved").iter().map(|c| c.answered).collect::<Vec<_>>(), [307, 307, 307]);
    assert!(env.hook.calls("/moved-here").is_empty(), "the redirect was followed");

    // No attempt after the last.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.hook.calls("/always").len(), 3);
    assert_eq!(env.hook.calls("/twice").len(), 3);
    assert_eq!(env.hook.calls("/moved").len(), 3);
    let ends = env.events().into_iter().filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("export_logs_")));
    assert_eq!(ends.count(), 4);
    assert!(asked.elapsed() < Duration::from_secs(15), "{:?}", asked.elapsed());
}
