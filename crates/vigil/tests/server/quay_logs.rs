//! Quay-compatible usage logs (seed 003) against the running binary: `…/logs` and `…/aggregatelogs` for a
//! repository, an organization and the calling user, compared field by field with Quay's shapes and with the
//! events in `audit.jsonl`; paging with `next_page`; the `kind`, `performer` and time-window filters; Quay's
//! permissions; and bad input answered with a clear 400, never a 500.
//!
//! The query index follows the journal asynchronously: after making events, a test waits (bounded) until the
//! server reports it has indexed everything in the audit file (`Env::settle`) before it queries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Value};

use super::{push_image, push_manifest_for, start, Server, ADMIN_PASSWORD, NO_TREE};

/// The user agent of every request these tests send.
const UA: &str = "quay-logs-test/2.0 (vigil)";
/// A window holding everything these tests do.
pub(super) const ALL_TIME: &str = "starttime=01/01/2020&endtime=01/01/2100";

// ---------------------------------------------------------------------------------------------------------------
// A server under test

/// Also the base of `log_export.rs`'s environment.
pub(super) struct Env {
    // Declared before `dir`: the server stops before its data directory goes.
    server: Server,
    dir: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        Env::start_with(&[])
    }

    /// A server without the Merkle tree (so event counts are exact) and with `envs`.
    pub(super) fn start_with(envs: &[(&str, &str)]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path(), &[&[NO_TREE], envs].concat());
        Env { server, dir }
    }

    pub(super) fn data(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn base(&self) -> &str {
        &self.server.base
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    /// Runs a `vigil` command against the data directory; returns its stdout, trimmed.
    pub(super) fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = super::vigil(self.data())
            .env(NO_TREE.0, NO_TREE.1)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub(super) fn add_user(&self, name: &str) {
        self.cli(&["user", "add", name, "--password-stdin"], &format!("{}\n", password(name)));
    }

    /// Every event in `audit.jsonl`, parsed.
    pub(super) fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.data().join("audit.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect()
    }

    /// The events of one repository, oldest first.
    fn repo_events(&self, repo: &str) -> Vec<Value> {
        self.events().into_iter().filter(|e| e["target"]["repository"] == repo).collect()
    }

    /// Waits (at most 5 s) until the query index holds every event in the audit file. The server reports the seq
    /// it has indexed through as the `vigil_audit_indexed_through` gauge. Returns the audit file's events.
    pub(super) async fn settle(&self) -> Vec<Value> {
        // A request that records an event: it also brings rows the CLI appended into the file.
        let r = http(Some(&basic("admin", ADMIN_PASSWORD))).get(self.url("/v2/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let events = self.events();
        let head = events.last().map_or(0, seq);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let metrics = reqwest::get(self.url("/metrics")).await.unwrap().text().await.unwrap();
            let through = metrics
                .lines()
                .find_map(|l| l.strip_prefix("vigil_audit_indexed_through "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0) as u64;
            if through >= head {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "the query index is at seq {through} 5 s after the journal reached {head}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub(super) fn password(user: &str) -> String {
    format!("{user}-password")
}

pub(super) fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

/// A client sending `UA` and, if given, this `Authorization` on every request.
pub(super) fn http(auth: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(a) = auth {
        headers.insert("authorization", a.parse().unwrap());
    }
    reqwest::Client::builder().timeout(Duration::from_secs(30)).user_agent(UA).default_headers(headers).build().unwrap()
}

pub(super) fn as_user(name: &str) -> reqwest::Client {
    http(Some(&basic(name, &password(name))))
}

pub(super) fn admin() -> reqwest::Client {
    http(Some(&basic("admin", ADMIN_PASSWORD)))
}

pub(super) fn seq(ev: &Value) -> u64 {
    ev["seq"].as_u64().expect("seq is a number")
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `url` with one more query parameter.
fn with(url: &str, key: &str, value: &str) -> String {
    format!("{url}{}{key}={}", if url.contains('?') { '&' } else { '?' }, enc(value))
}

async fn get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn ok(c: &reqwest::Client, url: &str) -> Value {
    let (status, body) = get(c, url).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

/// Every page of a logs query, following `next_page` to the end.
async fn pages(c: &reqwest::Client, url: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = match &next {
            Some(token) => ok(c, &with(url, "next_page", token)).await,
            None => ok(c, url).await,
        };
        next = page.get("next_page").map(|t| t.as_str().expect("next_page is a string").to_owned());
        out.push(page);
        if next.is_none() {
            return out;
        }
        assert!(out.len() < 50, "{url}: paging does not end");
    }
}

/// The seqs of a page's entries, in order.
fn seqs(page: &Value) -> Vec<u64> {
    logs(page).iter().map(|l| l["metadata"]["seq"].as_u64().expect("metadata.seq")).collect()
}

pub(super) fn logs(page: &Value) -> &Vec<Value> {
    page["logs"].as_array().unwrap_or_else(|| panic!("no logs array in {page}"))
}

/// The seqs of all entries of all pages, in order.
async fn all_seqs(c: &reqwest::Client, url: &str) -> Vec<u64> {
    pages(c, url).await.iter().flat_map(seqs).collect()
}

fn set(seqs: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
    seqs.into_iter().collect()
}

pub(super) fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> =
        v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

/// Checks an error answer: the status and the admin API's error shape, with a message naming `mentions`.
pub(super) fn assert_error(status: u16, body: &Value, want: u16, error_type: &str, mentions: &str, context: &str) {
    assert_eq!(status, want, "{context}: {body}");
    assert_eq!(keys(body), ["detail", "error_message", "error_type", "status"], "{context}: {body}");
    assert_eq!(body["status"], want, "{context}: {body}");
    assert_eq!(body["error_type"], error_type, "{context}: {body}");
    let message = body["error_message"].as_str().unwrap_or_default();
    assert!(!message.is_empty() && body["detail"] == message, "{context}: {body}");
    assert!(message.contains(mentions), "{context}: the message does not mention {mentions:?}: {body}");
}

// ---------------------------------------------------------------------------------------------------------------
// Dates, computed here independently of the server

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/// 1970-01-01 was a Thursday.
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_lengths(y: i64) -> [i64; 12] {
    [31, if leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
}

/// Days since 1970-01-01 (years from 1970 on).
fn days_of(y: i64, m: i64, d: i64) -> i64 {
    let years: i64 = (1970..y).map(|y| if leap(y) { 366 } else { 365 }).sum();
    years + month_lengths(y)[..(m - 1) as usize].iter().sum::<i64>() + d - 1
}

fn date_of(mut days: i64) -> (i64, i64, i64) {
    let mut y = 1970;
    while days >= if leap(y) { 366 } else { 365 } {
        days -= if leap(y) { 366 } else { 365 };
        y += 1;
    }
    let mut m = 0;
    while days >= month_lengths(y)[m] {
        days -= month_lengths(y)[m];
        m += 1;
    }
    (y, m as i64 + 1, days + 1)
}

/// Seconds since the epoch of an RFC 3339 UTC time as vigil writes it (`2026-11-21T08:35:36.123Z`).
fn secs_of(ts: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| ts[r].parse::<i64>().unwrap();
    assert!(ts.len() >= 20 && ts.ends_with('Z'), "{ts}");
    days_of(n(0..4), n(5..7), n(8..10)) * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// Quay's RFC 2822 form of an instant: `Sat, 21 Nov 2026 08:35:36 -0000`.
fn rfc2822(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = date_of(days);
    let wd = WEEKDAYS[days.rem_euclid(7) as usize];
    format!(
        "{wd}, {d:02} {} {y:04} {:02}:{:02}:{:02} -0000",
        MONTHS[m as usize - 1],
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// The instant of an RFC 2822 time in Quay's form, checking the form (weekday included) on the way.
fn parse_rfc2822(s: &str) -> i64 {
    let parts: Vec<&str> = s.split(' ').collect();
    assert_eq!(parts.len(), 6, "{s:?} is not `Www, DD Mon YYYY HH:MM:SS -0000`");
    assert_eq!(parts[5], "-0000", "{s:?}");
    let month = MONTHS.iter().position(|m| *m == parts[2]).unwrap_or_else(|| panic!("month in {s:?}")) as i64 + 1;
    let (d, y): (i64, i64) = (parts[1].parse().unwrap(), parts[3].parse().unwrap());
    assert_eq!(parts[1].len(), 2, "{s:?}");
    let hms: Vec<i64> = parts[4].split(':').map(|p| p.parse().unwrap()).collect();
    let secs = days_of(y, month, d) * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    assert_eq!(rfc2822(secs), s, "{s:?} is not in Quay's exact form (weekday, padding)");
    secs
}

/// `MM/DD/YYYY` of a day.
fn us_date(days: i64) -> String {
    let (y, m, d) = date_of(days);
    format!("{m:02}/{d:02}/{y:04}")
}

/// RFC 3339 to the second, in UTC or at an offset in minutes.
fn rfc3339(secs: i64, offset_min: i64) -> String {
    let local = secs + offset_min * 60;
    let (y, m, d) = date_of(local.div_euclid(86_400));
    let sod = local.rem_euclid(86_400);
    let zone = match offset_min {
        0 => "Z".to_owned(),
        o => format!("{}{:02}:{:02}", if o < 0 { '-' } else { '+' }, o.abs() / 60, o.abs() % 60),
    };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{zone}", sod / 3600, sod / 60 % 60, sod % 60)
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn date_helpers_agree_with_known_dates() {
    // The examples of seed 003 and the reference.
    assert_eq!(parse_rfc2822("Tue, 18 Jun 2024 18:59:13 -0000"), secs_of("2024-06-18T18:59:13.000Z"));
    assert_eq!(rfc2822(secs_of("2024-01-02T10:11:12.999Z")), "Tue, 02 Jan 2024 10:11:12 -0000");
    assert_eq!(rfc2822(days_of(2024, 6, 19) * 86_400), "Wed, 19 Jun 2024 00:00:00 -0000");
    assert_eq!(us_date(days_of(2024, 2, 29)), "02/29/2024");
    assert_eq!(date_of(days_of(2026, 11, 21)), (2026, 11, 21));
    assert_eq!(rfc3339(secs_of("2024-01-02T00:30:00.000Z"), 60), "2024-01-02T01:30:00+01:00");
    assert_eq!(rfc3339(secs_of("2024-01-02T00:30:00.000Z"), -60), "2024-01-01T23:30:00-01:00");
}

// ---------------------------------------------------------------------------------------------------------------
// Expected entries

/// The performer Quay shows for an event's `user`.
fn performer_of(ev: &Value) -> Value {
    let u = &ev["user"];
    match u["kind"].as_str() {
        None | Some("anonymous") => Value::Null,
        Some("user") => json!({ "kind": "user", "name": u["name"], "is_robot": false }),
        Some("robot") => json!({ "kind": "user", "name": u["name"], "is_robot": true }),
        Some(_) => json!({ "kind": u["kind"], "name": u["name"], "is_robot": false }),
    }
}

/// Checks one log entry against the audit event it reports: Quay's five fields and nothing else, the metadata
/// keys Quay uses for what the event records, vigil's `seq`.
fn check_entry(entry: &Value, ev: &Value) {
    assert_eq!(keys(entry), ["datetime", "ip", "kind", "metadata", "performer"], "{entry}");
    assert_eq!(entry["kind"], ev["kind"], "{entry}");
    assert_eq!(entry["ip"], ev["request"]["remote_addr"], "{entry}");
    let ts = ev["ts"].as_str().unwrap();
    assert_eq!(entry["datetime"], rfc2822(secs_of(ts)), "{entry} for ts {ts}");
    assert_eq!(entry["performer"], performer_of(ev), "{entry}");
    let meta = &entry["metadata"];
    assert_eq!(meta["seq"], ev["seq"], "{entry}");
    let present = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(|s| Value::String(s.to_owned()));
    let repo_short = ev["target"]["repository"].as_str().map(|r| {
        let ns = ev["target"]["namespace"].as_str().unwrap_or_default();
        Value::String(r.strip_prefix(&format!("{ns}/")).unwrap_or(r).to_owned())
    });
    let quay_keys = [
        ("namespace", present(&ev["target"]["namespace"])),
        ("repo", repo_short),
        ("tag", present(&ev["target"]["tag"])),
        ("username", present(&ev["user"]["name"])),
        ("user-agent", present(&ev["request"]["user_agent"])),
    ];
    for (k, want) in quay_keys {
        assert_eq!(meta.get(k), want.as_ref(), "metadata.{k} of {entry}\nevent {ev}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Shapes

/// Pushes by a user and a robot and an anonymous pull, read back through the repository, user and robot logs:
/// every field in Quay's form and equal to the audit event it reports.
#[tokio::test]
async fn logs_have_quays_shapes_field_by_field() {
    let env = Env::start();
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    env.add_user("alice");
    env.cli(&["org", "add-member", "acme", "alice", "--role", "write"], "");
    let robot_token = env.cli(&["robot", "create", "acme", "ci"], "");
    assert!(!robot_token.is_empty() && !robot_token.contains(char::is_whitespace), "{robot_token:?}");
    env.cli(&["grant", "acme/app", "acme+ci", "--role", "write"], "");
    let alice = as_user("alice");
    let robot = http(Some(&basic("acme+ci", &robot_token)));
    let (m1, _) = push_image(&alice, base, "acme/app", "v1", b"alice layer".to_vec()).await.unwrap();
    let (m2, _) = push_image(&robot, base, "acme/app", "ci", b"robot layer".to_vec()).await.unwrap();
    push_image(&alice, base, "acme/deep/app", "v1", b"deep layer".to_vec()).await.unwrap();
    env.cli(&["visibility", "acme/app"], "");
    let r = http(None).get(env.url("/v2/acme/app/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), 200, "anonymous pull of a public repository");
    env.settle().await;

    // Quay's default window: from a day before now to a day after.
    let asked = now_secs();
    let page = ok(&admin(), &env.url("/api/v1/repository/acme/app/logs")).await;
    assert_eq!(keys(&page), ["end_time", "logs", "start_time"], "{page}");
    let start = parse_rfc2822(page["start_time"].as_str().unwrap());
    let end = parse_rfc2822(page["end_time"].as_str().unwrap());
    assert!((start - (asked - 86_400)).abs() <= 5, "start_time {} is not a day before now", page["start_time"]);
    assert!((end - (asked + 86_400)).abs() <= 5, "end_time {} is not a day after now", page["end_time"]);

    // Every event of the repository, newest first, each entry equal to its event.
    let events = env.repo_events("acme/app");
    let want: Vec<u64> = events.iter().rev().map(seq).collect();
    assert_eq!(seqs(&page), want, "{page}");
    for (entry, ev) in logs(&page).iter().zip(events.iter().rev()) {
        check_entry(entry, ev);
    }
    let find = |pred: &dyn Fn(&Value) -> bool| -> (Value, Value) {
        let ev = events.iter().find(|e| pred(e)).unwrap_or_else(|| panic!("no such event in {events:?}")).clone();
        let entry = logs(&page).iter().find(|l| l["metadata"]["seq"] == ev["seq"]).unwrap().clone();
        (entry, ev)
    };

    // Alice's push, in full: Quay's metadata keys, vigil's additions, her performer.
    let (entry, ev) = find(&|e| e["kind"] == "push_repo" && e["user"]["name"] == "alice");
    let md = m1.to_string();
    assert_eq!(
        entry,
        json!({
            "kind": "push_repo",
            "ip": "127.0.0.1",
            "datetime": rfc2822(secs_of(ev["ts"].as_str().unwrap())),
            "metadata": {
                "namespace": "acme", "repo": "app", "tag": "v1", "username": "alice", "user-agent": UA,
                "manifest_digest": md, "seq": ev["seq"], "outcome": "success", "request_id": ev["request"]["id"],
                "detail": md, "status": 201,
            },
            "performer": {"kind": "user", "name": "alice", "is_robot": false},
        })
    );
    // The robot's push: a user performer marked as a robot.
    let (entry, _) = find(&|e| e["kind"] == "push_repo" && e["user"]["name"] == "acme+ci");
    assert_eq!(entry["performer"], json!({"kind": "user", "name": "acme+ci", "is_robot": true}));
    assert_eq!(entry["metadata"]["username"], "acme+ci");
    assert_eq!(entry["metadata"]["tag"], "ci");
    assert_eq!(entry["metadata"]["manifest_digest"], m2.to_string());
    // The anonymous pull: no performer, no username.
    let (entry, _) = find(&|e| e["kind"] == "pull_repo" && e["user"]["kind"] == "anonymous");
    assert_eq!(entry["performer"], Value::Null, "{entry}");
    assert!(entry["metadata"].get("username").is_none(), "{entry}");
    assert_eq!(entry["metadata"]["user-agent"], UA);
    assert_eq!((&entry["metadata"]["namespace"], &entry["metadata"]["repo"]), (&json!("acme"), &json!("app")));

    // A nested repository's `repo` is its name without the namespace.
    let deep = ok(&admin(), &env.url("/api/v1/repository/acme/deep/app/logs?kind=push_repo")).await;
    assert_eq!(logs(&deep).len(), 1, "{deep}");
    assert_eq!(deep["logs"][0]["metadata"]["repo"], "deep/app");
    assert_eq!(deep["logs"][0]["metadata"]["namespace"], "acme");

    // Explicit dates: the window echoed as in seed 003's example; nothing then.
    let old = ok(&admin(), &env.url("/api/v1/repository/acme/app/logs?starttime=01/01/2024&endtime=06/18/2024")).await;
    assert_eq!(
        old,
        json!({"start_time": "Mon, 01 Jan 2024 00:00:00 -0000", "end_time": "Wed, 19 Jun 2024 00:00:00 -0000", "logs": []})
    );

    // Alice's own pushes through her user logs; the robot's through its own, marked as a robot's.
    let mine = ok(&alice, &env.url("/api/v1/user/logs?kind=push_repo")).await;
    let alice_pushes: Vec<u64> = env
        .events()
        .iter()
        .rev()
        .filter(|e| e["kind"] == "push_repo" && e["user"]["name"] == "alice")
        .map(seq)
        .collect();
    assert_eq!(seqs(&mine), alice_pushes);
    assert_eq!(alice_pushes.len(), 2);
    let all = env.events();
    for entry in logs(&mine) {
        check_entry(entry, all.iter().find(|e| e["seq"] == entry["metadata"]["seq"]).unwrap());
    }
    let bot = ok(&robot, &env.url("/api/v1/user/logs")).await;
    assert!(!logs(&bot).is_empty());
    for entry in logs(&bot) {
        assert_eq!(entry["performer"], json!({"kind": "user", "name": "acme+ci", "is_robot": true}), "{entry}");
        check_entry(entry, all.iter().find(|e| e["seq"] == entry["metadata"]["seq"]).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Paging

/// 53 events of one repository page as 20, 20 and 13, newest first, each once, exactly the repository's events;
/// events made while paging do not disturb the pages, and the last page has no `next_page`.
#[tokio::test]
async fn paging_walks_every_event_newest_first_twenty_at_a_time() {
    let env = Env::start();
    let base = env.base();
    let c = admin();
    push_image(&c, base, "acme/app", "v1", b"app layer".to_vec()).await.unwrap();
    push_image(&c, base, "acme/other", "v1", b"other layer".to_vec()).await.unwrap();
    let pull = |n: usize| {
        let c = c.clone();
        let url = env.url("/v2/acme/app/manifests/v1");
        async move {
            for _ in 0..n {
                assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
            }
        }
    };
    pull(50).await;
    env.settle().await;
    let repo_before: Vec<u64> = env.repo_events("acme/app").iter().map(seq).collect();
    assert_eq!(repo_before.len(), 53, "3 push events and 50 pulls");

    let url = env.url(&format!("/api/v1/repository/acme/app/logs?{ALL_TIME}"));
    let first = ok(&c, &url).await;
    assert_eq!(logs(&first).len(), 20);
    let token = first["next_page"].as_str().expect("a next_page after a full page").to_owned();
    assert!(!token.is_empty());

    // New events while paging: later pages continue below the first page, unaffected.
    pull(5).await;
    env.settle().await;
    let second = ok(&c, &with(&url, "next_page", &token)).await;
    assert_eq!(logs(&second).len(), 20);
    let token = second["next_page"].as_str().expect("a next_page after the second full page").to_owned();
    let third = ok(&c, &with(&url, "next_page", &token)).await;
    assert_eq!(logs(&third).len(), 13);
    assert!(third.get("next_page").is_none(), "the last page has no next_page: {third}");
    for page in [&first, &second, &third] {
        assert_eq!(page["start_time"], rfc2822(days_of(2020, 1, 1) * 86_400));
        assert_eq!(page["end_time"], rfc2822(days_of(2100, 1, 2) * 86_400), "01/01/2100 covers its whole day");
    }

    let walked: Vec<u64> = [&first, &second, &third].iter().flat_map(|p| seqs(p)).collect();
    assert!(walked.windows(2).all(|w| w[0] > w[1]), "not strictly newest first: {walked:?}");
    let want: Vec<u64> = repo_before.iter().rev().copied().collect();
    assert_eq!(walked, want, "the pages are not exactly the repository's events");

    // Asked again, the first page starts with the five new pulls.
    let now = env.repo_events("acme/app");
    assert_eq!(now.len(), 58);
    let fresh = ok(&c, &url).await;
    let newest: Vec<u64> = now.iter().rev().take(20).map(seq).collect();
    assert_eq!(seqs(&fresh), newest);

    // A filtered query pages the same way: 55 pulls as 20, 20, 15.
    let pulls = pages(&c, &with(&url, "kind", "pull_repo")).await;
    assert_eq!(pulls.iter().map(|p| logs(p).len()).collect::<Vec<_>>(), [20, 20, 15]);
    let pulled: Vec<u64> = pulls.iter().flat_map(seqs).collect();
    let want: Vec<u64> = now.iter().rev().filter(|e| e["kind"] == "pull_repo").map(seq).collect();
    assert_eq!(pulled, want);
    // And so does an RFC 3339 window.
    let rfc = env.url("/api/v1/repository/acme/app/logs?starttime=2020-01-01T00:00:00Z&endtime=2100-01-01T00:00:00Z");
    assert_eq!(all_seqs(&c, &rfc).await, now.iter().rev().map(seq).collect::<Vec<_>>());
}

/// Quay scripts page without a window (Quay's default, a day either side of now): the token of page one must
/// work for page two although "now" has moved on.
#[tokio::test]
async fn paging_works_with_quays_default_window() {
    let env = Env::start();
    let c = admin();
    push_image(&c, env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    for _ in 0..25 {
        assert_eq!(c.get(env.url("/v2/acme/app/manifests/v1")).send().await.unwrap().status(), 200);
    }
    env.settle().await;
    let url = env.url("/api/v1/repository/acme/app/logs");
    let first = ok(&c, &url).await;
    let token = first["next_page"].as_str().expect("a next_page").to_owned();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, second) = get(&c, &with(&url, "next_page", &token)).await;
    assert_eq!(status, 200, "page 2 of the default window: {second}");
    assert_eq!(logs(&second).len(), 8);
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Filters

/// `kind`, `performer` (repository, organization and user levels) and time windows in both forms, each compared
/// with the events in the audit file.
#[tokio::test]
async fn filters_by_kind_performer_and_time() {
    let env = Env::start();
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    for u in ["alice", "bob"] {
        env.add_user(u);
        env.cli(&["org", "add-member", "acme", u, "--role", "write"], "");
    }
    let (alice, bob) = (as_user("alice"), as_user("bob"));
    push_image(&alice, base, "acme/app", "v1", b"alice layer".to_vec()).await.unwrap();
    push_image(&bob, base, "acme/app", "v2", b"bob layer".to_vec()).await.unwrap();
    push_image(&bob, base, "acme/other", "v1", b"bob other layer".to_vec()).await.unwrap();
    assert_eq!(bob.get(env.url("/v2/acme/app/manifests/v1")).send().await.unwrap().status(), 200);
    assert_eq!(alice.get(env.url("/v2/acme/app/manifests/v2")).send().await.unwrap().status(), 200);
    assert_eq!(alice.get(env.url("/v2/acme/other/manifests/v1")).send().await.unwrap().status(), 200);
    env.settle().await;
    let events = env.events();
    let expect =
        |pred: &dyn Fn(&Value) -> bool| -> Vec<u64> { events.iter().rev().filter(|e| pred(e)).map(seq).collect() };
    let c = admin();
    let repo = env.url(&format!("/api/v1/repository/acme/app/logs?{ALL_TIME}"));
    let org = env.url(&format!("/api/v1/organization/acme/logs?{ALL_TIME}"));
    let in_app = |e: &Value| e["target"]["repository"] == "acme/app";
    let in_acme = |e: &Value| e["target"]["namespace"] == "acme";
    let by = |name: &'static str| move |e: &Value| e["user"]["name"] == name;

    // kind: one, several, with a trailing comma and spaces.
    let pushes = expect(&|e| in_app(e) && e["kind"] == "push_repo");
    assert_eq!(pushes.len(), 2);
    assert_eq!(all_seqs(&c, &with(&repo, "kind", "push_repo")).await, pushes);
    let push_pull = expect(&|e| in_app(e) && (e["kind"] == "push_repo" || e["kind"] == "pull_repo"));
    assert_eq!(push_pull.len(), 4);
    assert_eq!(all_seqs(&c, &with(&repo, "kind", "push_repo,pull_repo")).await, push_pull);
    assert_eq!(all_seqs(&c, &with(&repo, "kind", " pull_repo , push_repo,")).await, push_pull);
    assert_eq!(all_seqs(&c, &with(&repo, "kind", "no_such_kind")).await, Vec::<u64>::new());
    for page in pages(&c, &with(&repo, "kind", "push_repo,pull_repo")).await {
        assert!(logs(&page).iter().all(|l| l["kind"] == "push_repo" || l["kind"] == "pull_repo"), "{page}");
    }

    // performer on a repository and on an organization.
    let alice_in_app = expect(&|e| in_app(e) && by("alice")(e));
    assert_eq!(alice_in_app.len(), 4, "3 push events and a pull");
    assert_eq!(all_seqs(&c, &with(&repo, "performer", "alice")).await, alice_in_app);
    let bob_in_acme = expect(&|e| in_acme(e) && by("bob")(e));
    assert_eq!(bob_in_acme.len(), 7, "6 push events and a pull");
    let got = pages(&c, &with(&org, "performer", "bob")).await;
    assert_eq!(got.iter().flat_map(seqs).collect::<Vec<_>>(), bob_in_acme);
    for entry in got.iter().flat_map(|p| logs(p).clone()) {
        assert_eq!(entry["performer"]["name"], "bob", "{entry}");
    }
    let both = all_seqs(&c, &with(&with(&org, "performer", "alice"), "kind", "pull_repo")).await;
    assert_eq!(both, expect(&|e| in_acme(e) && by("alice")(e) && e["kind"] == "pull_repo"));
    assert_eq!(all_seqs(&c, &with(&org, "performer", "nobody")).await, Vec::<u64>::new());

    // performer on the user level: oneself is the same as no filter; anyone else is nothing.
    let head = env.events().last().map_or(0, seq);
    let own = |e: &Value| by("alice")(e) && seq(e) <= head;
    let user = env.url(&format!("/api/v1/user/logs?{ALL_TIME}"));
    let mine: Vec<u64> = all_seqs(&alice, &user).await.into_iter().filter(|s| *s <= head).collect();
    let want: Vec<u64> = env.events().iter().rev().filter(|e| own(e)).map(seq).collect();
    assert_eq!(mine, want);
    let mine_filtered: Vec<u64> =
        all_seqs(&alice, &with(&user, "performer", "alice")).await.into_iter().filter(|s| *s <= head).collect();
    assert_eq!(mine_filtered, want);
    assert_eq!(all_seqs(&alice, &with(&user, "performer", "bob")).await, Vec::<u64>::new());

    // Time windows. The day of alice's push, in MM/DD/YYYY: that day includes it; the day before and the day
    // after do not.
    let push = events.iter().find(|e| e["kind"] == "push_repo" && by("alice")(e)).unwrap();
    let ts = push["ts"].as_str().unwrap();
    let (push_secs, push_seq) = (secs_of(ts), seq(push));
    let day = push_secs.div_euclid(86_400);
    let pushes_in = |start: String, end: String| {
        let url = env.url(&format!("/api/v1/repository/acme/app/logs?kind=push_repo&starttime={start}&endtime={end}"));
        let c = c.clone();
        async move {
            let page = ok(&c, &url).await;
            (seqs(&page).contains(&push_seq), page)
        }
    };
    let (found, page) = pushes_in(us_date(day), us_date(day)).await;
    assert!(found, "{ts} not in its own day: {page}");
    assert_eq!(page["start_time"], rfc2822(day * 86_400));
    assert_eq!(page["end_time"], rfc2822((day + 1) * 86_400), "an end date covers its whole day");
    let (found, page) = pushes_in(us_date(day - 1), us_date(day - 1)).await;
    assert!(!found, "yesterday only: {page}");
    let (found, page) = pushes_in(us_date(day + 1), us_date(day + 1)).await;
    assert!(!found, "tomorrow only: {page}");
    let (found, _) = pushes_in(us_date(day - 1), us_date(day)).await;
    assert!(found, "yesterday to today");

    // RFC 3339 to the second: the start is inclusive, the end exclusive; offsets are honoured.
    let (found, page) = pushes_in(rfc3339(push_secs, 0), rfc3339(push_secs + 1, 0)).await;
    assert!(found, "the push's own second, {ts}: {page}");
    assert_eq!(page["start_time"], rfc2822(push_secs));
    assert_eq!(page["end_time"], rfc2822(push_secs + 1));
    let (found, _) = pushes_in(enc(&rfc3339(push_secs, 90)), enc(&rfc3339(push_secs + 1, -330))).await;
    assert!(found, "the same second written at other offsets");
    let (found, page) = pushes_in(rfc3339(push_secs - 3600, 0), rfc3339(push_secs, 0)).await;
    assert!(!found, "a window ending at the start of the push's second excludes it ({ts}): {page}");
    let (found, _) = pushes_in(rfc3339(push_secs + 1, 0), rfc3339(push_secs + 3600, 0)).await;
    assert!(!found, "a window starting after the push excludes it ({ts})");
}

/// `performer=alice` (and alice's own user logs) should hold alice's actions only. Requests that failed to
/// authenticate but claimed the name `alice` are recorded under that name (`user.kind` anonymous) and come back
/// with `performer: null`.
#[tokio::test]
async fn performer_means_who_acted_not_who_was_claimed() {
    let env = Env::start();
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    env.add_user("alice");
    env.cli(&["org", "add-member", "acme", "alice", "--role", "write"], "");
    push_image(&as_user("alice"), base, "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    // Someone else, with alice's name and a wrong password.
    let mallory = http(Some(&basic("alice", "not-alices-password")));
    assert_eq!(mallory.get(env.url("/v2/acme/app/manifests/v1")).send().await.unwrap().status(), 401);
    env.settle().await;
    let repo = ok(&admin(), &env.url("/api/v1/repository/acme/app/logs?performer=alice")).await;
    let user = ok(&as_user("alice"), &env.url("/api/v1/user/logs")).await;
    for (what, page) in [("repository logs, performer=alice", &repo), ("alice's user logs", &user)] {
        for entry in logs(page) {
            assert_eq!(entry["performer"]["name"], "alice", "{what} hold an entry alice did not perform: {entry}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Aggregates

/// Expected aggregate rows `(datetime of the day, kind) -> count` of some events.
fn aggregate_of<'a>(events: impl IntoIterator<Item = &'a Value>) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for e in events {
        let day = secs_of(e["ts"].as_str().unwrap()).div_euclid(86_400) * 86_400;
        *out.entry((rfc2822(day), e["kind"].as_str().unwrap().to_owned())).or_insert(0) += 1;
    }
    out
}

fn rows(body: &Value) -> BTreeMap<(String, String), u64> {
    assert_eq!(keys(body), ["aggregated"], "{body}");
    let mut out = BTreeMap::new();
    for row in body["aggregated"].as_array().unwrap() {
        assert_eq!(keys(row), ["count", "datetime", "kind"], "{row}");
        let day = row["datetime"].as_str().unwrap();
        assert_eq!(parse_rfc2822(day) % 86_400, 0, "not a day: {row}");
        let key = (day.to_owned(), row["kind"].as_str().unwrap().to_owned());
        assert!(out.insert(key, row["count"].as_u64().unwrap()).is_none(), "one row per kind per day: {body}");
    }
    out
}

/// One row per kind per day, counting exactly the events of each kind in the audit file, at the repository,
/// organization and user levels; windows longer than Quay's 31 days are accepted; the counts agree with the
/// entries `…/logs` pages through.
#[tokio::test]
async fn aggregates_count_each_kind_per_day() {
    let env = Env::start();
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    env.add_user("alice");
    env.cli(&["org", "add-member", "acme", "alice", "--role", "write"], "");
    let (c, alice) = (admin(), as_user("alice"));
    push_image(&c, base, "acme/app", "v1", b"layer one".to_vec()).await.unwrap();
    let (_, layer) = push_image(&alice, base, "acme/app", "v2", b"layer two".to_vec()).await.unwrap();
    push_manifest_for(&alice, base, "acme/app", "v3", &layer, b"layer two".len()).await.unwrap();
    for _ in 0..7 {
        assert_eq!(c.get(env.url("/v2/acme/app/manifests/v1")).send().await.unwrap().status(), 200);
    }
    assert_eq!(alice.get(env.url("/v2/acme/app/manifests/v2")).send().await.unwrap().status(), 200);
    assert_eq!(c.delete(env.url("/v2/acme/app/manifests/v3")).send().await.unwrap().status(), 202);
    push_image(&alice, base, "acme/other", "v1", b"other".to_vec()).await.unwrap();
    push_image(&c, base, "elsewhere/app", "v1", b"elsewhere".to_vec()).await.unwrap();
    env.settle().await;
    let events = env.events();

    // Repository: since 01/01/2020 (far more than 31 days), and Quay's default window.
    let app_events: Vec<&Value> = events.iter().filter(|e| e["target"]["repository"] == "acme/app").collect();
    let want = aggregate_of(app_events.iter().copied());
    assert!(want.len() >= 4, "{want:?}");
    assert_eq!(want.iter().find(|((_, k), _)| k == "pull_repo").map(|(_, n)| *n), Some(8));
    let long = ok(&c, &env.url("/api/v1/repository/acme/app/aggregatelogs?starttime=01/01/2020")).await;
    assert_eq!(rows(&long), want);
    assert_eq!(rows(&ok(&c, &env.url("/api/v1/repository/acme/app/aggregatelogs")).await), want);
    // The same counts as the entries the logs page through.
    let listed = all_seqs(&c, &env.url("/api/v1/repository/acme/app/logs?starttime=01/01/2020")).await;
    assert_eq!(listed.len() as u64, want.values().sum::<u64>());

    // Filters apply to aggregates too.
    let pulls = ok(&c, &env.url("/api/v1/repository/acme/app/aggregatelogs?starttime=01/01/2020&kind=pull_repo")).await;
    assert_eq!(rows(&pulls), aggregate_of(app_events.iter().copied().filter(|e| e["kind"] == "pull_repo")));
    let by_alice = ok(&c, &env.url("/api/v1/repository/acme/app/aggregatelogs?performer=alice")).await;
    assert_eq!(rows(&by_alice), aggregate_of(app_events.iter().copied().filter(|e| e["user"]["name"] == "alice")));

    // Organization.
    let acme = ok(&c, &env.url("/api/v1/organization/acme/aggregatelogs?starttime=01/01/2020")).await;
    assert_eq!(rows(&acme), aggregate_of(events.iter().filter(|e| e["target"]["namespace"] == "acme")));

    // User: alice's pushes and pulls, wherever they were.
    let kinds = |e: &&Value| ["push_repo", "pull_repo", "push_blob"].contains(&e["kind"].as_str().unwrap_or_default());
    let mine = ok(&alice, &env.url("/api/v1/user/aggregatelogs?kind=push_repo,pull_repo,push_blob")).await;
    let want_mine = aggregate_of(events.iter().filter(|e| e["user"]["name"] == "alice").filter(kinds));
    assert_eq!(want_mine.values().sum::<u64>(), 9, "{want_mine:?}");
    assert_eq!(rows(&mine), want_mine);

    // Windows without the events: nothing.
    // (The day before the first event: right even if the test runs across midnight.)
    let first_day = secs_of(events[0]["ts"].as_str().unwrap()).div_euclid(86_400);
    let yesterday = us_date(first_day - 1);
    let empty = ok(
        &c,
        &env.url(&format!("/api/v1/repository/acme/app/aggregatelogs?starttime={yesterday}&endtime={yesterday}")),
    )
    .await;
    assert_eq!(empty, json!({"aggregated": []}));
    let empty =
        ok(&c, &env.url("/api/v1/organization/acme/aggregatelogs?starttime=01/01/2020&endtime=12/31/2020")).await;
    assert_eq!(empty, json!({"aggregated": []}));
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Permissions

/// Repository logs need admin of the repository, organization logs admin of the organization, user logs are the
/// caller's own; anonymous callers and wrong passwords get 401; API tokens work as Bearer.
#[tokio::test]
async fn permissions_are_quays() {
    let env = Env::start();
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    for u in ["alice", "bob", "carol", "dora", "erin"] {
        env.add_user(u);
    }
    env.cli(&["org", "add-member", "acme", "alice", "--role", "write"], "");
    env.cli(&["org", "add-member", "acme", "bob", "--role", "write"], "");
    env.cli(&["grant", "acme/app", "carol", "--role", "admin"], ""); // admin of one repository only
    env.cli(&["org", "add-member", "acme", "dora", "--role", "admin"], "");
    env.cli(&["grant", "acme/app", "erin", "--role", "write"], ""); // write on the repository only
    let robot_token = env.cli(&["robot", "create", "acme", "ci"], "");
    env.cli(&["grant", "acme/app", "acme+ci", "--role", "write"], "");
    let (alice, bob, carol, dora, erin) =
        (as_user("alice"), as_user("bob"), as_user("carol"), as_user("dora"), as_user("erin"));
    let robot = http(Some(&basic("acme+ci", &robot_token)));
    push_image(&alice, base, "acme/app", "a", b"alice".to_vec()).await.unwrap();
    push_image(&bob, base, "acme/app", "b", b"bob".to_vec()).await.unwrap();
    push_image(&bob, base, "acme/other", "b", b"bob other".to_vec()).await.unwrap();
    push_image(&robot, base, "acme/app", "ci", b"robot".to_vec()).await.unwrap();
    env.settle().await;

    let anon = http(None);
    // Not alice or bob: failed logins are recorded under the name claimed (see
    // `performer_means_who_acted_not_who_was_claimed`), and their user logs are checked below.
    let wrong = http(Some(&basic("erin", "wrong-password")));
    let ghost = http(Some(&basic("ghost", "ghost-password")));
    let bad_bearer = http(Some("Bearer vgt_0000000000000000_not-a-token"));
    let dora_token = env.cli(&["token", "create", "--user", "dora"], "");
    let alice_token = env.cli(&["token", "create", "--user", "alice"], "");
    let scoped_token = env.cli(&["token", "create", "--user", "dora", "--scope", "acme/app:pull"], "");
    let dora_bearer = http(Some(&format!("Bearer {dora_token}")));
    let alice_bearer = http(Some(&format!("Bearer {alice_token}")));
    let scoped_bearer = http(Some(&format!("Bearer {scoped_token}")));

    let expect = |who: &'static str, c: reqwest::Client, path: &'static str, want: u16| {
        let url = env.url(path);
        async move {
            let (status, body) = get(&c, &url).await;
            match want {
                200 => assert_eq!(status, 200, "{who} GET {path}: {body}"),
                401 => assert_error(status, &body, 401, "invalid_token", "", &format!("{who} GET {path}")),
                403 => assert_error(status, &body, 403, "insufficient_scope", "", &format!("{who} GET {path}")),
                _ => unreachable!(),
            }
        }
    };
    let admin = admin();
    for suffix in ["logs", "aggregatelogs"] {
        let (repo, other, org, user): (&'static str, &'static str, &'static str, &'static str) = match suffix {
            "logs" => (
                "/api/v1/repository/acme/app/logs",
                "/api/v1/repository/acme/other/logs",
                "/api/v1/organization/acme/logs",
                "/api/v1/user/logs",
            ),
            _ => (
                "/api/v1/repository/acme/app/aggregatelogs",
                "/api/v1/repository/acme/other/aggregatelogs",
                "/api/v1/organization/acme/aggregatelogs",
                "/api/v1/user/aggregatelogs",
            ),
        };
        // Repository logs: admin of the repository (directly, through the organization, or global).
        expect("anonymous", anon.clone(), repo, 401).await;
        expect("a wrong password", wrong.clone(), repo, 401).await;
        expect("an unknown user", ghost.clone(), repo, 401).await;
        expect("an unknown bearer token", bad_bearer.clone(), repo, 401).await;
        expect("alice (org write)", alice.clone(), repo, 403).await;
        expect("erin (repo write)", erin.clone(), repo, 403).await;
        expect("the robot (repo write)", robot.clone(), repo, 403).await;
        expect("carol (repo admin)", carol.clone(), repo, 200).await;
        expect("carol (repo admin) on another repository", carol.clone(), other, 403).await;
        expect("dora (org admin)", dora.clone(), repo, 200).await;
        expect("dora (org admin) on another repository", dora.clone(), other, 200).await;
        expect("the global admin", admin.clone(), repo, 200).await;
        expect("dora's API token", dora_bearer.clone(), repo, 200).await;
        expect("alice's API token", alice_bearer.clone(), repo, 403).await;
        expect("a token scoped to pulls", scoped_bearer.clone(), repo, 403).await;
        // Organization logs: admin of the organization.
        expect("anonymous", anon.clone(), org, 401).await;
        expect("a wrong password", wrong.clone(), org, 401).await;
        expect("alice (org write)", alice.clone(), org, 403).await;
        expect("carol (admin of one repository)", carol.clone(), org, 403).await;
        expect("erin (no membership)", erin.clone(), org, 403).await;
        expect("dora (org admin)", dora.clone(), org, 200).await;
        expect("the global admin", admin.clone(), org, 200).await;
        expect("dora's API token", dora_bearer.clone(), org, 200).await;
        // User logs: anyone authenticated, for themselves.
        expect("anonymous", anon.clone(), user, 401).await;
        expect("a wrong password", wrong.clone(), user, 401).await;
        expect("an unknown bearer token", bad_bearer.clone(), user, 401).await;
        expect("erin", erin.clone(), user, 200).await;
        expect("alice's API token", alice_bearer.clone(), user, 200).await;
    }

    // User logs are the caller's own: alice's never hold bob's events, and the reverse.
    let events = env.events();
    let url = env.url(&format!("/api/v1/user/logs?{ALL_TIME}"));
    for (name, c) in [("alice", &alice), ("bob", &bob), ("alice", &alice_bearer), ("acme+ci", &robot)] {
        let got = pages(c, &url).await;
        let entries: Vec<&Value> = got.iter().flat_map(logs).collect();
        assert!(entries.iter().any(|e| e["kind"] == "push_repo"), "{name}'s own push is missing");
        for entry in entries {
            assert_eq!(entry["performer"]["name"], name, "{name}'s user logs hold {entry}");
            assert_eq!(entry["metadata"]["username"], name, "{name}'s user logs hold {entry}");
        }
        let theirs: BTreeSet<u64> = set(events.iter().filter(|e| e["user"]["name"] != name).map(seq));
        let got = set(got.iter().flat_map(seqs));
        assert!(got.is_disjoint(&theirs), "{name}'s user logs hold others' events {:?}", got.intersection(&theirs));
    }
    // What alice's and bob's user logs show of acme/app is exactly their own part of the repository's logs.
    let repo_all = set(all_seqs(&admin, &env.url(&format!("/api/v1/repository/acme/app/logs?{ALL_TIME}"))).await);
    for (name, c) in [("alice", &alice), ("bob", &bob)] {
        let own: BTreeSet<u64> = set(pages(c, &url).await.iter().flat_map(|p| {
            logs(p)
                .iter()
                .filter(|l| l["metadata"]["repo"] == "app")
                .map(|l| l["metadata"]["seq"].as_u64().unwrap())
                .collect::<Vec<_>>()
        }));
        let want = set(events
            .iter()
            .filter(|e| e["target"]["repository"] == "acme/app" && e["user"]["name"] == name)
            .map(seq));
        assert_eq!(own, want, "{name}");
        assert!(own.is_subset(&repo_all));
    }
}

/// Organization logs need admin of the organization: admin of one repository that happens to be called `x` is
/// not that.
#[tokio::test]
async fn admin_of_a_repository_named_x_is_not_admin_of_the_organization() {
    let env = Env::start();
    env.cli(&["org", "create", "acme"], "");
    env.add_user("carol");
    env.cli(&["grant", "acme/x", "carol", "--role", "admin"], "");
    push_image(&admin(), env.base(), "acme/secret", "v1", b"secret".to_vec()).await.unwrap();
    env.settle().await;
    let carol = as_user("carol");
    assert_eq!(get(&carol, &env.url("/api/v1/repository/acme/x/logs")).await.0, 200, "carol administers acme/x");
    let (status, body) = get(&carol, &env.url("/api/v1/organization/acme/logs")).await;
    assert_error(status, &body, 403, "insufficient_scope", "", "carol, admin of acme/x only, reading acme's logs");
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Bad input

/// An empty parameter is an absent one (as `…/logs` treats an empty `next_page`, and both treat empty dates,
/// `kind` and `performer`): a client that always sends every parameter must not get a 400 from aggregates.
#[tokio::test]
async fn an_empty_next_page_is_absent_for_aggregates_too() {
    let env = Env::start();
    env.cli(&["org", "create", "acme"], "");
    push_image(&admin(), env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    env.settle().await;
    for path in [
        "/api/v1/repository/acme/app/aggregatelogs",
        "/api/v1/organization/acme/aggregatelogs",
        "/api/v1/user/aggregatelogs",
    ] {
        // Each call is itself an `admin_read` event of the caller's, so compare the other kinds.
        let without_reads = |v: &Value| -> Vec<Value> {
            v["aggregated"].as_array().unwrap().iter().filter(|r| r["kind"] != "admin_read").cloned().collect()
        };
        let plain = ok(&admin(), &env.url(path)).await;
        let (status, body) = get(&admin(), &env.url(&format!("{path}?next_page="))).await;
        assert_eq!((status, without_reads(&body)), (200, without_reads(&plain)), "GET {path}?next_page=");
    }
}

/// Bad dates, reversed ranges, forged, edited and replayed `next_page` tokens and `kind` injections are a 400 in
/// the admin API's error shape with a message naming the parameter, at every level; odd but valid input is
/// answered; nothing is a 500.
#[tokio::test]
async fn bad_input_is_a_clear_400_and_nothing_is_a_500() {
    let env = Env::start();
    let base = env.base();
    env.cli(&["org", "create", "acme"], "");
    let c = admin();
    push_image(&c, base, "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    push_image(&c, base, "acme/other", "v1", b"other".to_vec()).await.unwrap();
    for _ in 0..25 {
        assert_eq!(c.get(env.url("/v2/acme/app/manifests/v1")).send().await.unwrap().status(), 200);
    }
    env.settle().await;

    let levels = [
        "/api/v1/repository/acme/app/logs",
        "/api/v1/repository/acme/app/aggregatelogs",
        "/api/v1/organization/acme/logs",
        "/api/v1/organization/acme/aggregatelogs",
        "/api/v1/user/logs",
        "/api/v1/user/aggregatelogs",
    ];
    let bad: &[(&str, &str)] = &[
        ("starttime=13/01/2024", "13/01/2024"),
        ("starttime=2024-13-02", "2024-13-02"),
        ("starttime=yesterday", "yesterday"),
        ("starttime=02/30/2024", "starttime"),
        ("starttime=1/2/2024", "starttime"),
        ("starttime=01-02-2024", "starttime"),
        ("starttime=2024-01-02T25:00:00Z", "starttime"),
        ("starttime=2024-01-02T10:00:00", "starttime"),
        ("starttime=1704190272", "starttime"),
        ("starttime=%FF%FE", "starttime"),
        ("endtime=13/01/2024", "endtime"),
        ("endtime=2024-02-30", "endtime"),
        ("endtime=yesterday", "endtime"),
        ("endtime=tomorrow&starttime=01/01/2024", "endtime"),
        ("starttime=01/03/2024&endtime=01/01/2024", "before"),
        ("starttime=2024-01-02T10:00:00Z&endtime=2024-01-02T09:59:59Z", "before"),
        ("starttime=2024-01-02T10:00:00%2B01:00&endtime=2024-01-02T08:59:59Z", "before"),
        ("kind=push_repo%27%20OR%201%3D1%20--", "kind"),
        ("kind=push_repo%27)%3B%20DROP%20TABLE%20audit_index%3B--", "kind"),
        ("kind=*", "kind"),
        ("kind=push_*", "kind"),
        ("kind=PUSH_REPO", "kind"),
        ("kind=push_repo,pull-repo", "kind"),
        ("kind=push_repo%00", "kind"),
        ("kind=a&kind=b", "kind"),
        ("starttime=01/01/2024&starttime=01/02/2024", "starttime"),
    ];
    for path in levels {
        for (query, mentions) in bad {
            let url = env.url(&format!("{path}?{query}"));
            let (status, body) = get(&c, &url).await;
            assert_error(status, &body, 400, "invalid_request", mentions, &format!("GET {path}?{query}"));
        }
        // Tokens that no server issued.
        for token in ["x", "x.y", "NDI.", "!!.!!", "MTg.AAAA", &"A".repeat(5000)] {
            let (status, body) = get(&c, &with(&env.url(path), "next_page", token)).await;
            assert_error(
                status,
                &body,
                400,
                "invalid_request",
                "next_page",
                &format!("GET {path} next_page={token:.20}"),
            );
        }
    }

    // A real token works with its own query only.
    let query = format!("/api/v1/repository/acme/app/logs?{ALL_TIME}");
    let first = ok(&c, &env.url(&query)).await;
    let token = first["next_page"].as_str().unwrap().to_owned();
    let second = ok(&c, &with(&env.url(&query), "next_page", &token)).await;
    assert_eq!(logs(&second).len(), 8);
    let (cursor, mac) = token.split_once('.').expect("cursor.mac");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let before: u64 = String::from_utf8(b64.decode(cursor).unwrap()).unwrap().parse().unwrap();
    assert_eq!(before, *seqs(&first).last().unwrap());
    let mut tampered: Vec<(String, String)> = Vec::new();
    // One character of the MAC changed, at each end and in the middle.
    for i in [0, mac.len() / 2, mac.len() - 2] {
        let mut m: Vec<char> = mac.chars().collect();
        m[i] = if m[i] == 'A' { 'B' } else { 'A' };
        tampered
            .push((format!("MAC character {i} changed"), format!("{cursor}.{}", m.into_iter().collect::<String>())));
    }
    // The cursor moved with the MAC kept: a page further down, or back up to the top.
    for forged in [before - 10, before + 5, u64::MAX] {
        tampered.push((format!("cursor {forged}"), format!("{}.{mac}", b64.encode(forged.to_string()))));
    }
    tampered.push(("MAC dropped".into(), cursor.to_owned()));
    tampered.push(("truncated".into(), token[..token.len() - 1].to_owned()));
    tampered.push(("extended".into(), format!("{token}A")));
    for (what, t) in &tampered {
        let (status, body) = get(&c, &with(&env.url(&query), "next_page", t)).await;
        assert_error(status, &body, 400, "invalid_request", "next_page", &format!("next_page {what}"));
    }
    // The real token replayed against other queries.
    for other in [
        "/api/v1/repository/acme/other/logs?starttime=01/01/2020&endtime=01/01/2100",
        "/api/v1/repository/acme/app/logs?starttime=01/02/2020&endtime=01/01/2100",
        "/api/v1/repository/acme/app/logs?starttime=01/01/2020&endtime=01/01/2100&kind=pull_repo",
        "/api/v1/repository/acme/app/logs?starttime=01/01/2020&endtime=01/01/2100&performer=admin",
        "/api/v1/repository/acme/app/logs?starttime=2020-01-01T00:00:00Z&endtime=2100-01-01T00:00:00Z",
        "/api/v1/organization/acme/logs?starttime=01/01/2020&endtime=01/01/2100",
        "/api/v1/user/logs?starttime=01/01/2020&endtime=01/01/2100",
    ] {
        let (status, body) = get(&c, &with(&env.url(other), "next_page", &token)).await;
        assert_error(status, &body, 400, "invalid_request", "next_page", &format!("token replayed on {other}"));
    }
    // Aggregates are not paged.
    let (status, body) =
        get(&c, &with(&env.url("/api/v1/repository/acme/app/aggregatelogs"), "next_page", &token)).await;
    assert_error(status, &body, 400, "invalid_request", "next_page", "aggregatelogs with next_page");

    // Injection through `performer` is only a name that matches nobody.
    for performer in ["' OR 1=1 --", "admin' --", "admin\" OR \"1\"=\"1", "%", "admin%", "\u{0}"] {
        let page =
            ok(&c, &with(&env.url(&format!("/api/v1/repository/acme/app/logs?{ALL_TIME}")), "performer", performer))
                .await;
        assert!(logs(&page).is_empty(), "performer {performer:?}: {page}");
    }

    // Odd but valid: answered, not a 500.
    let odd = [
        "starttime=01/01/0001&endtime=12/31/9999",
        "starttime=0001-01-01T00:00:00Z&endtime=9999-12-31T23:59:59.999999999-23:59",
        "starttime=02/29/2024&endtime=02/29/2024",
        "starttime=2024-01-02T10:00:00Z&endtime=2024-01-02T10:00:00Z",
        "starttime=&endtime=&kind=&performer=",
        "kind=,,,",
        "unknown=1",
    ];
    for path in levels {
        for query in odd {
            let (status, body) = get(&c, &env.url(&format!("{path}?{query}"))).await;
            assert_eq!(status, 200, "GET {path}?{query}: {body}");
        }
        if path.ends_with("/logs") {
            let (status, body) = get(&c, &env.url(&format!("{path}?next_page="))).await;
            assert_eq!(status, 200, "GET {path}?next_page=: {body}");
        }
        // Long values: a 400 or an answer, never a 500 (past 8 KiB the whole target is refused with 414).
        for query in [
            format!("kind={}", "a".repeat(5_000)),
            format!("performer={}", "a".repeat(5_000)),
            format!("kind={}", "a".repeat(20_000)),
        ] {
            let (status, body) = get(&c, &env.url(&format!("{path}?{query}"))).await;
            assert!(matches!(status, 200 | 400 | 414), "GET {path}?{:.40}…: {status} {body}", query);
        }
    }
    // Names that are not names.
    for path in
        ["/api/v1/organization/%2A/logs", "/api/v1/repository/acme/%2A/logs", "/api/v1/repository/ACME/app/logs"]
    {
        let (status, body) = get(&c, &env.url(path)).await;
        assert_error(status, &body, 400, "invalid_request", "", path);
    }
    for path in ["/api/v1/repository/acme/logs", "/api/v1/repository/acme/app/exportlogz"] {
        let (status, body) = get(&c, &env.url(path)).await;
        assert_error(status, &body, 404, "not_found", "", path);
    }
    // Every request above was recorded, and none failed on the server's side.
    let failures: Vec<Value> =
        env.events().into_iter().filter(|e| e["response"]["status"].as_u64() >= Some(500)).collect();
    assert!(failures.is_empty(), "{failures:?}");
}
