//! vigil's audit query API (`/api/v1/audit/events`, `/aggregate`, `/stream`) against the running binary, checked
//! against the audit file (`audit.jsonl`, one native event per line, byte-identical to the journal): every filter
//! in both orders with cursor paging, NDJSON and CSV exports past the page cap, aggregates, the live SSE tail and
//! its resumption, who may read what, and bad input.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::stream::{BoxStream, StreamExt};
use serde_json::Value;
use vigil_core::time::{parse_rfc3339, rfc3339_ms};

use super::{client, push_blob, push_image, start, vigil, Server, ADMIN_PASSWORD};

const EVENTS: &str = "/api/v1/audit/events";
const AGGREGATE: &str = "/api/v1/audit/aggregate";
const STREAM: &str = "/api/v1/audit/stream";
const CSV_HEADER: &str =
    "seq,ts,kind,action,operation,outcome,status,user,repository,tag,digest,remote_addr,request_id";

/// A server whose clients (all on 127.0.0.1) may name their address in `X-Forwarded-For`.
fn start_q(d: &Path) -> Server {
    start(d, &[super::NO_TREE, ("VIGIL_AUTH__TRUSTED_PROXIES", r#"["127.0.0.1"]"#)])
}

/// One line of the audit file: its seq, its exact text and the event it holds.
#[derive(Debug, Clone)]
struct Line {
    seq: u64,
    text: String,
    ev: Value,
}

impl Line {
    /// A text field by path, as the index holds it: `None` when absent, null or empty.
    fn get(&self, path: &[&str]) -> Option<&str> {
        let mut v = &self.ev;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().filter(|s| !s.is_empty())
    }

    fn kind(&self) -> &str {
        self.get(&["kind"]).unwrap_or_default()
    }

    /// Who acted: the user's name, except for an anonymous request's claimed name (a failed login's).
    fn user(&self) -> Option<&str> {
        self.get(&["user", "name"]).filter(|_| self.ev["user"]["kind"] != "anonymous")
    }

    fn repo(&self) -> Option<&str> {
        self.get(&["target", "repository"])
    }

    fn namespace(&self) -> Option<&str> {
        self.get(&["target", "namespace"])
    }

    fn ts_ms(&self) -> i64 {
        parse_rfc3339(self.ev["ts"].as_str().unwrap()).unwrap()
    }
}

/// Every complete line of the audit file (the journal, as the tests see it).
fn journal(d: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    let lines: Vec<Line> = text
        .split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .map(|l| {
            let ev: Value = serde_json::from_str(l).unwrap();
            Line { seq: ev["seq"].as_u64().unwrap(), text: l.to_owned(), ev }
        })
        .collect();
    // The ground truth is only worth something if it is the whole journal: seqs 1, 2, 3, ...
    assert!(lines.iter().enumerate().all(|(i, l)| l.seq == i as u64 + 1), "audit.jsonl has holes or is out of order");
    lines
}

fn by_seq(d: &Path) -> HashMap<u64, Line> {
    journal(d).into_iter().map(|l| (l.seq, l)).collect()
}

/// `*` globs, as the index matches them (the tests use no other wildcard).
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            s.starts_with(head) && (head.len()..=s.len()).any(|i| s.is_char_boundary(i) && glob(rest, &s[i..]))
        }
    }
}

fn basic(user: &str, password: &str) -> reqwest::Client {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Basic {b}").parse().unwrap());
    reqwest::Client::builder().timeout(Duration::from_secs(30)).default_headers(h).build().unwrap()
}

/// The admin without a request timeout, for streams that stay open.
fn streaming_admin() -> reqwest::Client {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Basic {b}").parse().unwrap());
    reqwest::Client::builder().default_headers(h).build().unwrap()
}

fn cli(d: &Path, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = vigil(d).args(args).stdin(std::process::Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "vigil {args:?}");
}

/// Events the CLI (another process) committed reach the audit file with the server's next write: make one.
async fn flush_cli_events(c: &reqwest::Client, base: &str) {
    assert_eq!(c.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
}

async fn get_json(c: &reqwest::Client, url: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let r = c.get(url).query(query).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Waits (bounded) until the query index holds everything the audit file holds now; returns the file's last seq.
async fn settle(c: &reqwest::Client, base: &str, d: &Path) -> u64 {
    let head = journal(d).last().map_or(0, |l| l.seq);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, v) = get_json(c, &format!("{base}{EVENTS}"), &[("limit", "1")]).await;
        assert_eq!(status, 200, "{v}");
        if v["events"][0]["seq"].as_u64().unwrap_or(0) >= head {
            return head;
        }
        assert!(Instant::now() < deadline, "the query index never reached seq {head}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The admin API's error shape, with the status and type expected.
fn assert_api_error(status: u16, body: &Value, want: u16, context: &str) {
    assert_eq!(status, want, "{context}: {body}");
    let kind = match want {
        400 => "invalid_request",
        401 => "invalid_token",
        403 => "insufficient_scope",
        _ => unreachable!(),
    };
    assert_eq!(body["status"], want, "{context}: {body}");
    assert_eq!(body["error_type"], kind, "{context}: {body}");
    assert!(body["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{context}: {body}");
    assert_eq!(body["detail"], body["error_message"], "{context}: {body}");
}

type Pred<'a> = Box<dyn Fn(&Line) -> bool + 'a>;
/// Query parameters.
type Params<'a> = Vec<(&'a str, &'a str)>;

/// Pages through `query` with `limit=7`, newest first (the default) and then with `order=asc`, and checks: pages of
/// at most 7 (full ones while a cursor follows), in strict order across pages (so no seq twice), every event exactly
/// its line of the audit file and matching `want`, and the seqs up to `head` exactly those of the file's lines that
/// `want` matches. Returns those seqs, oldest first.
async fn check_filter(
    c: &reqwest::Client,
    base: &str,
    d: &Path,
    query: &[(&str, &str)],
    head: u64,
    want: &Pred<'_>,
) -> Vec<u64> {
    let expected: Vec<u64> = journal(d).iter().filter(|l| l.seq <= head && want(l)).map(|l| l.seq).collect();
    for ascending in [false, true] {
        let mut seqs: Vec<u64> = Vec::new();
        let mut events: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        for round in 0.. {
            assert!(round < 300, "{query:?}: paging never ends");
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("limit", "7"));
            if ascending {
                q.push(("order", "asc"));
            }
            if let Some(t) = &cursor {
                q.push(("cursor", t));
            }
            let (status, page) = get_json(c, &format!("{base}{EVENTS}"), &q).await;
            assert_eq!(status, 200, "{q:?}: {page}");
            let list = page["events"].as_array().unwrap();
            assert!(list.len() <= 7, "{q:?}: {} events", list.len());
            let next = page["next_cursor"].as_str().map(str::to_owned);
            assert!(next.is_none() || list.len() == 7, "{q:?}: a short page with a cursor");
            assert!(next.is_some() || page["next_cursor"].is_null(), "{q:?}: {page}");
            for e in list {
                seqs.push(e["seq"].as_u64().unwrap());
                events.push(e.clone());
            }
            // Forwards, the query's own events keep arriving: stop once past the snapshot.
            match next {
                Some(t) if !(ascending && seqs.last().is_some_and(|s| *s > head)) => cursor = Some(t),
                _ => break,
            }
        }
        let ordered = seqs.windows(2).all(|w| if ascending { w[0] < w[1] } else { w[0] > w[1] });
        assert!(ordered, "{query:?} ascending={ascending}: not in strict order across pages: {seqs:?}");
        let lines = by_seq(d);
        for e in &events {
            let seq = e["seq"].as_u64().unwrap();
            let line = lines.get(&seq).unwrap_or_else(|| panic!("{query:?}: seq {seq} is not in the audit file"));
            assert_eq!(e, &line.ev, "{query:?}: event {seq} differs from its line");
            assert!(want(line), "{query:?}: event {seq} does not match the filter: {}", line.text);
        }
        let mut got: Vec<u64> = seqs.into_iter().filter(|s| *s <= head).collect();
        if !ascending {
            got.reverse();
        }
        assert_eq!(got, expected, "{query:?} ascending={ascending}");
    }
    expected
}

fn push_line(l: &Line, repo: &str) -> bool {
    l.kind() == "push_blob" && l.repo() == Some(repo)
}

/// Filters against the audit file: kinds, repository (exact and wildcards), namespace, user, outcome, status,
/// request id, remote address, a time window (one bound with a UTC offset), combinations; cursor paging both ways.
#[tokio::test]
async fn every_filter_matches_the_audit_file_across_pages_in_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_q(d);
    let (c, base) = (client(), s.base.as_str());
    cli(d, &["user", "add", "bob", "--password-stdin"], "bob-password\n");
    flush_cli_events(&c, base).await;

    for repo in ["acme/app", "acme/web", "acmex/app", "other/app"] {
        push_image(&c, base, repo, "v1", format!("layer of {repo}").into_bytes()).await.unwrap();
    }
    let bob = basic("bob", "bob-password");
    assert_eq!(bob.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
    let denied = bob.get(format!("{base}/v2/acme/app/manifests/v1")).send().await.unwrap().status();
    assert!(denied == 401 || denied == 403 || denied == 404, "{denied}");
    let r = bob.get(format!("{base}/v2/")).header("x-forwarded-for", "198.51.100.4").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mallory = basic("mallory", "not-the-password");
    for _ in 0..2 {
        assert_eq!(mallory.get(format!("{base}/v2/")).send().await.unwrap().status(), 401);
    }
    let anonymous = reqwest::Client::new();
    assert_eq!(anonymous.get(format!("{base}/v2/acme/app/tags/list")).send().await.unwrap().status(), 401);
    let r = c.get(format!("{base}/v2/acme/app/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The server's id for the request, as it answered it.
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(request_id.len(), 32);
    for _ in 0..2 {
        let r = c
            .get(format!("{base}/v2/acme/web/tags/list"))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let head = settle(&c, base, d).await;

    // A window over the middle third: `from` inclusive as written in the file, `to` exclusive, at UTC+01:00.
    let lines = journal(d);
    let a = &lines[lines.len() / 3];
    let from_ms = a.ts_ms();
    let b = lines[2 * lines.len() / 3..].iter().find(|l| l.ts_ms() > from_ms).unwrap_or_else(|| lines.last().unwrap());
    let to_ms = b.ts_ms();
    let from = a.ev["ts"].as_str().unwrap().to_owned();
    let to = format!("{}+01:00", rfc3339_ms(to_ms + 3_600_000).strip_suffix('Z').unwrap());
    assert_eq!(parse_rfc3339(&to), Some(to_ms));

    let rid = request_id.as_str();
    let cases: Vec<(Params, Pred)> = vec![
        (vec![], Box::new(|_| true)),
        (vec![("kind", "push_repo")], Box::new(|l| l.kind() == "push_repo")),
        (vec![("kind", "push_blob, push_repo")], Box::new(|l| ["push_blob", "push_repo"].contains(&l.kind()))),
        (vec![("repository", "acme/app")], Box::new(|l| l.repo() == Some("acme/app"))),
        (vec![("repository", "acme/*")], Box::new(|l| l.repo().is_some_and(|r| glob("acme/*", r)))),
        (vec![("repository", "*/app")], Box::new(|l| l.repo().is_some_and(|r| glob("*/app", r)))),
        (vec![("namespace", "acme")], Box::new(|l| l.namespace() == Some("acme"))),
        (vec![("namespace", "acme*")], Box::new(|l| l.namespace().is_some_and(|n| glob("acme*", n)))),
        (vec![("user", "bob")], Box::new(|l| l.user() == Some("bob"))),
        (vec![("outcome", "denied")], Box::new(|l| l.get(&["outcome"]) == Some("denied"))),
        (vec![("status", "401")], Box::new(|l| l.ev["response"]["status"] == 401)),
        (vec![("request_id", rid)], Box::new(|l| l.get(&["request", "id"]) == Some(rid))),
        (vec![("remote_addr", "203.0.113.9")], Box::new(|l| l.get(&["request", "remote_addr"]) == Some("203.0.113.9"))),
        (vec![("from", &from), ("to", &to)], Box::new(|l| (from_ms..to_ms).contains(&l.ts_ms()))),
        (
            vec![("namespace", "acme"), ("kind", "push_repo"), ("outcome", "success"), ("operation", "PutManifest")],
            Box::new(|l| {
                l.namespace() == Some("acme")
                    && l.kind() == "push_repo"
                    && l.get(&["outcome"]) == Some("success")
                    && l.get(&["operation"]) == Some("PutManifest")
            }),
        ),
        (
            vec![("action", "login"), ("outcome", "denied,failed"), ("status", "401")],
            Box::new(|l| {
                l.get(&["action"]) == Some("login")
                    && ["denied", "failed"].contains(&l.get(&["outcome"]).unwrap_or_default())
                    && l.ev["response"]["status"] == 401
            }),
        ),
    ];
    let mut found = HashMap::new();
    for (query, want) in &cases {
        let seqs = check_filter(&c, base, d, query, head, want).await;
        assert!(!seqs.is_empty(), "{query:?} matches nothing: the check proves nothing");
        found.insert(format!("{query:?}"), seqs.len());
    }
    let count = |q: &[(&str, &str)]| found[&format!("{q:?}")];
    assert_eq!(count(&[("kind", "push_repo")]), 4);
    assert_eq!(count(&[("request_id", rid)]), 1);
    assert_eq!(count(&[("remote_addr", "203.0.113.9")]), 2);
    assert!(count(&[("status", "401")]) >= 3);
    assert!(count(&[("user", "bob")]) >= 3);
    assert_eq!(count(&[("action", "login"), ("outcome", "denied,failed"), ("status", "401")]), 2);
    // A failed login's claimed name is not who acted: `user=mallory` finds nothing.
    let (status, v) = get_json(&c, &format!("{base}{EVENTS}"), &[("user", "mallory")]).await;
    assert_eq!((status, &v["events"]), (200, &serde_json::json!([])));
    assert!(count(&[("repository", "acme/*")]) < count(&[("namespace", "acme*")]), "acme/* must not match acmex");

    // Newest first is the default: the same page as `order=desc`.
    let url = format!("{base}{EVENTS}");
    let (_, default) = get_json(&c, &url, &[("kind", "push_repo"), ("limit", "3")]).await;
    let (_, desc) = get_json(&c, &url, &[("kind", "push_repo"), ("limit", "3"), ("order", "desc")]).await;
    assert_eq!(default["events"], desc["events"]);
    let seqs: Vec<u64> = default["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.len() == 3 && seqs[0] > seqs[1] && seqs[1] > seqs[2], "{seqs:?}");
    drop(s);
}

/// Expected CSV fields of one event (`seq,ts,kind,action,operation,outcome,status,user,repository,tag,digest,
/// remote_addr,request_id`).
fn csv_fields(ev: &Value) -> Vec<String> {
    let f = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    vec![
        f(&ev["seq"]),
        f(&ev["ts"]),
        f(&ev["kind"]),
        f(&ev["action"]),
        f(&ev["operation"]),
        f(&ev["outcome"]),
        f(&ev["response"]["status"]),
        f(&ev["user"]["name"]),
        f(&ev["target"]["repository"]),
        f(&ev["target"]["tag"]),
        f(&ev["target"]["digest"]),
        f(&ev["request"]["remote_addr"]),
        f(&ev["request"]["id"]),
    ]
}

/// Rows of a CSV text as Python's `csv` module reads them.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    use std::io::Write;
    let script = "import csv, io, json, sys\n\
                  rows = list(csv.reader(io.TextIOWrapper(sys.stdin.buffer, encoding='utf-8', newline='')))\n\
                  print(json.dumps(rows))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    let text = text.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn export(c: &reqwest::Client, base: &str, accept: &str, query: &[(&str, &str)]) -> String {
    let r = c.get(format!("{base}{EVENTS}")).query(query).header("accept", accept).send().await.unwrap();
    assert_eq!(r.status(), 200, "{query:?}");
    let media = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(media.starts_with(accept), "{media}");
    r.text().await.unwrap()
}

/// NDJSON and CSV exports: the whole result, oldest first, past the 1000-event page cap; NDJSON lines are the
/// audit file's lines byte for byte; CSV quotes what needs quoting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_stream_every_match_oldest_first_without_a_cap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_q(d);
    let (c, base) = (client(), s.base.as_str());
    push_image(&c, base, "csv/app", "v1.0", b"csv layer".to_vec()).await.unwrap();
    // A claimed user name with a comma, quotes and a newline ends up in the CSV `user` column of the failure.
    let evil_name = "ev,il \"q\"\nx";
    assert_eq!(basic(evil_name, "wrong-password").get(format!("{base}/v2/")).send().await.unwrap().status(), 401);
    // 1100 cheap events: API version checks by the admin, from four tasks at once.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, url) = (c.clone(), format!("{base}/v2/"));
        tasks.push(tokio::spawn(async move {
            for _ in 0..275 {
                assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let head = settle(&c, base, d).await;
    let lines = journal(d);
    let successes: Vec<&str> = lines.iter().filter(|l| l.kind() == "login_success").map(|l| l.text.as_str()).collect();
    assert!(successes.len() >= 1100, "{}", successes.len());

    // NDJSON of one kind: exactly the file's lines of that kind, oldest first, all of them.
    let body = export(&c, base, "application/x-ndjson", &[("kind", "login_success")]).await;
    assert!(body.ends_with('\n'));
    let got: Vec<&str> = body.lines().collect();
    assert_eq!(got.len(), successes.len());
    assert!(got == successes, "the NDJSON export differs from the audit file");
    // An export is the whole result, oldest first, whatever page size or order the query names.
    let paged =
        export(&c, base, "application/x-ndjson", &[("kind", "login_success"), ("limit", "5"), ("order", "desc")]);
    assert!(paged.await.lines().eq(successes.iter().copied()), "an export honoured `limit` or `order`");
    // Everything: each line is its line of the file; up to the snapshot, exactly the file.
    let body = export(&c, base, "application/x-ndjson", &[]).await;
    let file = by_seq(d);
    let mut seqs = Vec::new();
    for line in body.lines() {
        let seq = serde_json::from_str::<Value>(line).unwrap()["seq"].as_u64().unwrap();
        assert_eq!(line, file[&seq].text, "seq {seq}");
        seqs.push(seq);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "not oldest first");
    assert_eq!(seqs.iter().filter(|s| **s <= head).count() as u64, head);
    // Pages, by contrast, are capped: 100 by default, at most 1000, with a cursor to go on.
    let url = format!("{base}{EVENTS}");
    for (limit, n) in [(None, 100), (Some("1000"), 1000)] {
        let q: Vec<(&str, &str)> = [("kind", "login_success")].into_iter().chain(limit.map(|l| ("limit", l))).collect();
        let (status, page) = get_json(&c, &url, &q).await;
        assert_eq!(status, 200);
        assert_eq!(page["events"].as_array().unwrap().len(), n);
        assert!(page["next_cursor"].is_string());
    }

    // CSV: the header, one row per event, fields quoted where needed.
    let csv = export(&c, base, "text/csv", &[("kind", "login_success")]).await;
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some(CSV_HEADER));
    assert_eq!(rows.count(), successes.len());
    let csv = export(&c, base, "text/csv", &[]).await;
    assert!(csv.contains(",\"ev,il \"\"q\"\"\nx\","), "the evil user name is not quoted as CSV quotes");
    let rows = parse_csv(&csv);
    assert_eq!(rows[0].join(","), CSV_HEADER);
    let file = by_seq(d);
    let mut seen = 0;
    for row in &rows[1..] {
        let seq: u64 = row[0].parse().unwrap();
        assert_eq!(row, &csv_fields(&file[&seq].ev), "CSV row of seq {seq}");
        seen += usize::from(seq <= head);
    }
    assert_eq!(seen as u64, head);
    // The rows that matter for quoting and for targets round-trip through a real CSV reader.
    let evil: Vec<&Vec<String>> = rows.iter().filter(|r| r[7] == evil_name).collect();
    assert_eq!(evil.len(), 1);
    assert_eq!(evil[0][2], "login_failure");
    let tagged: Vec<&Vec<String>> = rows.iter().filter(|r| r[8] == "csv/app" && r[9] == "v1.0").collect();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0][2], "push_repo");
    assert!(tagged[0][10].starts_with("sha256:"));
    // A filtered CSV export: header and just those rows.
    let csv = export(&c, base, "text/csv", &[("repository", "csv/app")]).await;
    let rows = parse_csv(&csv);
    let want: Vec<Vec<String>> =
        journal(d).iter().filter(|l| l.repo() == Some("csv/app")).map(|l| csv_fields(&l.ev)).collect();
    assert_eq!(want.len(), 3, "two blobs and a manifest");
    assert_eq!(rows[1..], want[..]);
    drop(s);
}

/// Aggregates: counts per kind, per day and kind (also the default), per hour and user, per outcome, per
/// repository of a namespace, per day; all equal to the audit file's; bad `group_by` is a 400.
#[tokio::test]
async fn aggregates_count_what_the_audit_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_q(d);
    let (c, base) = (client(), s.base.as_str());
    for repo in ["acme/app", "acme/web", "other/app"] {
        push_image(&c, base, repo, "v1", format!("layer of {repo}").into_bytes()).await.unwrap();
    }
    for who in ["mallory", "mallory", "trudy"] {
        assert_eq!(basic(who, "wrong-password").get(format!("{base}/v2/")).send().await.unwrap().status(), 401);
    }
    assert_eq!(reqwest::Client::new().get(format!("{base}/v2/acme/app/tags/list")).send().await.unwrap().status(), 401);
    for _ in 0..3 {
        assert_eq!(c.get(format!("{base}/v2/acme/app/manifests/v1")).send().await.unwrap().status(), 200);
    }
    // Everything so far, and nothing the queries below add: `to` just after the last seeded event.
    let to_ms = journal(d).last().unwrap().ts_ms() + 1;
    tokio::time::sleep(Duration::from_millis(30)).await;
    settle(&c, base, d).await;
    let to = rfc3339_ms(to_ms);
    let lines: Vec<Line> = journal(d).into_iter().filter(|l| l.ts_ms() < to_ms).collect();

    type Key = fn(&Line) -> Option<String>;
    let day: Key = |l| Some(rfc3339_ms(l.ts_ms() - l.ts_ms().rem_euclid(86_400_000)));
    let hour: Key = |l| Some(rfc3339_ms(l.ts_ms() - l.ts_ms().rem_euclid(3_600_000)));
    let none: Key = |_| None;
    let kind: Key = |l| Some(l.kind().to_owned());
    let user: Key = |l| l.user().map(str::to_owned);
    let outcome: Key = |l| l.get(&["outcome"]).map(str::to_owned);
    let repo: Key = |l| l.repo().map(str::to_owned);
    let acme = |l: &Line| l.namespace() == Some("acme");
    // group_by, a filter, the time bucket and the key of an event.
    type Case = (Option<&'static str>, Option<(&'static str, &'static str)>, Key, Key);
    let cases: Vec<Case> = vec![
        (Some("kind"), None, none, kind),
        (Some("day,kind"), None, day, kind),
        (None, None, day, kind),
        (Some("hour,user"), None, hour, user),
        (Some("user,hour"), None, hour, user),
        (Some("outcome"), None, none, outcome),
        (Some("repository"), Some(("namespace", "acme")), none, repo),
        (Some("day"), None, day, none),
    ];
    for (group_by, filter, bucket, key) in cases {
        let mut q = vec![("to", to.as_str())];
        q.extend(group_by.map(|g| ("group_by", g)));
        q.extend(filter);
        let (status, v) = get_json(&c, &format!("{base}{AGGREGATE}"), &q).await;
        assert_eq!(status, 200, "{q:?}: {v}");
        let got: Vec<(Option<String>, Option<String>, u64)> = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let text = |v: &Value| v.as_str().map(str::to_owned);
                (text(&g["bucket"]), text(&g["key"]), g["count"].as_u64().unwrap())
            })
            .collect();
        let mut want: BTreeMap<(Option<String>, Option<String>), u64> = BTreeMap::new();
        for l in lines.iter().filter(|l| filter.is_none() || acme(l)) {
            *want.entry((bucket(l), key(l))).or_default() += 1;
        }
        let want: Vec<(Option<String>, Option<String>, u64)> = want.into_iter().map(|((b, k), n)| (b, k, n)).collect();
        assert_eq!(got, want, "{q:?}");
    }
    // Spot checks of the data itself, so the comparison above is about something: the admin's pushes and pulls;
    // failed logins have no performer (the names they claimed are nobody's).
    let aggregate = |q: Vec<(&'static str, String)>| {
        let (c, url) = (c.clone(), format!("{base}{AGGREGATE}"));
        async move { c.get(url).query(&q).send().await.unwrap().json::<Value>().await.unwrap()["groups"].clone() }
    };
    let q = |group_by: &'static str, kind: &'static str| {
        vec![("to", to.clone()), ("group_by", group_by.to_owned()), ("kind", kind.to_owned())]
    };
    let group = |key: Value, count: u64| serde_json::json!([{"bucket": null, "key": key, "count": count}]);
    assert_eq!(aggregate(q("user", "push_repo")).await, group("admin".into(), 3));
    assert_eq!(aggregate(q("user", "pull_repo")).await, group("admin".into(), 3));
    assert_eq!(aggregate(q("user", "login_failure")).await, group(Value::Null, 3));

    // Empty is the default (`day,kind`), as every empty parameter of this API is unset.
    let (status, body) = get_json(&c, &format!("{base}{AGGREGATE}"), &[("group_by", "")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["groups"].as_array().unwrap().iter().all(|g| g["bucket"].is_string() && g["key"].is_string()));
    for bad in ["kind,action", "minute", "day,hour", "kind,kind", "day,,kind"] {
        let (status, body) = get_json(&c, &format!("{base}{AGGREGATE}"), &[("group_by", bad)]).await;
        assert_api_error(status, &body, 400, &format!("group_by={bad:?}"));
    }
    drop(s);
}

/// A Server-Sent Events connection, read frame by frame.
struct Sse {
    body: BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buf: Vec<u8>,
}

impl Sse {
    async fn open(c: &reqwest::Client, url: &str, last_event_id: Option<u64>) -> Sse {
        let mut req = c.get(url);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        Sse { body: r.bytes_stream().map(|b| b.map(|b| b.to_vec())).boxed(), buf: Vec::new() }
    }

    /// The next `audit` event: its id and data (keep-alive comments skipped). Waits at most 10 s.
    async fn next(&mut self) -> (u64, String) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame = String::from_utf8(self.buf.drain(..end + 2).collect()).unwrap();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in frame.lines().filter(|l| !l.is_empty() && !l.starts_with(':')) {
                    match line.split_once(": ") {
                        Some(("id", v)) => id = Some(v.parse::<u64>().unwrap()),
                        Some(("event", v)) => event = Some(v.to_owned()),
                        Some(("data", v)) => data = Some(v.to_owned()),
                        _ => panic!("unexpected SSE line {line:?}"),
                    }
                }
                match (id, event.as_deref(), data) {
                    (None, None, None) => {}
                    (Some(id), Some("audit"), Some(data)) => return (id, data),
                    _ => panic!("bad SSE frame {frame:?}"),
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("no SSE event within 10 s")
                .expect("the event stream ended")
                .unwrap();
            self.buf.extend_from_slice(&chunk);
        }
    }
}

/// The live tail: only new events, ids increasing, data byte-identical to the audit file; resumed after
/// `Last-Event-ID` (or `?cursor=`) it continues exactly after that id; a filter delivers only matches.
#[tokio::test]
async fn the_live_tail_delivers_new_events_resumes_after_an_id_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_q(d);
    let (c, base) = (client(), s.base.as_str());
    let sse = streaming_admin();
    let head = settle(&c, base, d).await;
    let url = format!("{base}{STREAM}");
    let mut tail = Sse::open(&sse, &url, None).await;
    for i in 0..3 {
        push_blob(&c, base, "sse/app", format!("blob {i}").into_bytes()).await.unwrap();
    }
    let pushes: Vec<u64> = journal(d).iter().filter(|l| push_line(l, "sse/app")).map(|l| l.seq).collect();
    assert_eq!(pushes.len(), 3);
    let mut got = Vec::new();
    while got.last().is_none_or(|(id, _)| *id < pushes[2]) {
        got.push(tail.next().await);
    }
    let file = by_seq(d);
    assert!(got[0].0 > head, "an event from before the connection: {}", got[0].0);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "ids not increasing");
    for (id, data) in &got {
        assert_eq!(data, &file[id].text, "event {id}");
    }
    // Nothing skipped between the first event received and the last push.
    let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
    let want: Vec<u64> = (got[0].0..=pushes[2]).collect();
    assert_eq!(ids, want);

    // Resumed after the second push: the third next, then what came later (this connection's own read event).
    let mut resumed = Sse::open(&sse, &url, Some(pushes[1])).await;
    assert_eq!(resumed.next().await.0, pushes[2]);
    let (later, data) = resumed.next().await;
    assert!(later > pushes[2]);
    assert_eq!(data, by_seq(d)[&later].text);
    // The same with `?cursor=`; the header wins over the query.
    let mut by_cursor = Sse::open(&sse, &format!("{url}?cursor={}", pushes[1]), None).await;
    assert_eq!(by_cursor.next().await.0, pushes[2]);
    let mut both = Sse::open(&sse, &format!("{url}?cursor={}", pushes[0]), Some(pushes[1])).await;
    assert_eq!(both.next().await.0, pushes[2]);
    drop((tail, resumed, by_cursor, both));

    // A filter: only failed logins, though successes come in between.
    let mut failures = Sse::open(&sse, &format!("{url}?kind=login_failure"), None).await;
    let failing = |who: &str| {
        let (r, url) = (basic(who, "wrong-password"), format!("{base}/v2/"));
        async move { assert_eq!(r.get(url).send().await.unwrap().status(), 401) }
    };
    for who in ["fail-1", "fail-2"] {
        assert_eq!(c.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
        failing(who).await;
    }
    let mut got = vec![failures.next().await, failures.next().await];
    assert_eq!(c.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
    failing("fail-3").await;
    got.push(failures.next().await);
    let file = by_seq(d);
    let want: Vec<u64> = journal(d).iter().filter(|l| l.kind() == "login_failure").map(|l| l.seq).collect();
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), want);
    for ((id, data), who) in got.iter().zip(["fail-1", "fail-2", "fail-3"]) {
        assert_eq!(data, &file[id].text);
        assert_eq!(file[id].get(&["user", "name"]), Some(who), "the claimed name");
    }
    drop(failures);
    drop(s);
}

/// Who may read what: the global admin everything; a repository's admin that repository (exactly named); a
/// namespace's admin that namespace; everyone else (and any wildcard) only their own events; another user's
/// events are refused; anonymous callers are not let in.
#[tokio::test]
async fn callers_read_their_own_events_and_what_they_administer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_q(d);
    let (c, base) = (client(), s.base.as_str());
    for user in ["bob", "carol", "dave"] {
        cli(d, &["user", "add", user, "--password-stdin"], &format!("{user}-password\n"));
    }
    cli(d, &["org", "create", "acme"], "");
    cli(d, &["org", "add-member", "acme", "dave", "--role", "admin"], "");
    cli(d, &["grant", "acme/app", "carol", "--role", "admin"], "");
    flush_cli_events(&c, base).await;
    for repo in ["acme/app", "acme/web", "other/app"] {
        push_image(&c, base, repo, "v1", format!("layer of {repo}").into_bytes()).await.unwrap();
    }
    let [bob, carol, dave] = ["bob", "carol", "dave"].map(|u| basic(u, &format!("{u}-password")));
    let pull = |who: &reqwest::Client, repo: &str| who.get(format!("{base}/v2/{repo}/manifests/v1")).send();
    for who in [&bob, &carol, &dave] {
        assert_eq!(who.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
    }
    assert_eq!(pull(&carol, "acme/app").await.unwrap().status(), 200);
    assert!(pull(&carol, "acme/web").await.unwrap().status().is_client_error());
    assert!(pull(&bob, "acme/app").await.unwrap().status().is_client_error());
    assert_eq!(pull(&dave, "acme/web").await.unwrap().status(), 200);
    // Someone failing to log in as bob: the claimed name does not make the event bob's.
    let impostor = basic("bob", "not-bobs-password");
    assert_eq!(impostor.get(format!("{base}/v2/acme/app/tags/list")).send().await.unwrap().status(), 401);
    let head = settle(&c, base, d).await;

    let own = |who: &'static str, also: Pred<'static>| -> Pred<'static> {
        Box::new(move |l| l.user() == Some(who) && also(l))
    };
    let all = |_: &Line| true;
    let cases: Vec<(&reqwest::Client, Params, Pred, usize)> = vec![
        // A plain user: their own events, whatever the filter narrows.
        (&bob, vec![], own("bob", Box::new(all)), 2),
        (&bob, vec![("user", "bob")], own("bob", Box::new(all)), 2),
        (&bob, vec![("repository", "acme/app")], own("bob", Box::new(|l| l.repo() == Some("acme/app"))), 1),
        (&bob, vec![("namespace", "acme")], own("bob", Box::new(|l| l.namespace() == Some("acme"))), 1),
        // A repository admin: all of that repository, by its exact name only.
        (&carol, vec![("repository", "acme/app")], Box::new(|l| l.repo() == Some("acme/app")), 6),
        (
            &carol,
            vec![("repository", "acme/app"), ("user", "admin")],
            Box::new(|l| l.repo() == Some("acme/app") && l.user() == Some("admin")),
            3,
        ),
        (
            &carol,
            vec![("repository", "acme/*")],
            own("carol", Box::new(|l| l.repo().is_some_and(|r| glob("acme/*", r)))),
            2,
        ),
        (&carol, vec![("repository", "acme/web")], own("carol", Box::new(|l| l.repo() == Some("acme/web"))), 1),
        (&carol, vec![("namespace", "acme")], own("carol", Box::new(|l| l.namespace() == Some("acme"))), 2),
        // A namespace (organization) admin: the namespace, and each repository in it.
        (&dave, vec![("namespace", "acme")], Box::new(|l| l.namespace() == Some("acme")), 10),
        (&dave, vec![("repository", "acme/web")], Box::new(|l| l.repo() == Some("acme/web")), 5),
        (
            &dave,
            vec![("namespace", "acme*")],
            own("dave", Box::new(|l| l.namespace().is_some_and(|n| glob("acme*", n)))),
            1,
        ),
        (&dave, vec![("namespace", "other")], own("dave", Box::new(|l| l.namespace() == Some("other"))), 0),
        // The global admin: anyone's.
        (&c, vec![("user", "bob")], own("bob", Box::new(all)), 2),
    ];
    for (who, query, want, at_least) in &cases {
        let n = check_filter(who, base, d, query, head, want).await.len();
        assert!(n >= *at_least, "{query:?}: {n} events, expected at least {at_least}");
    }
    // Those checks proved the narrowing; the wider sets they would otherwise have seen are not empty.
    let lines = journal(d);
    assert!(lines.iter().any(|l| l.repo().is_some_and(|r| r.starts_with("acme/")) && l.user() != Some("carol")));
    assert!(lines.iter().any(|l| l.namespace() == Some("other")));

    // Asking for someone else's events is refused, on every endpoint.
    for (who, name) in [(&bob, "admin"), (&bob, "carol"), (&carol, "dave")] {
        for path in [EVENTS, AGGREGATE, STREAM] {
            let (status, body) = get_json(who, &format!("{base}{path}"), &[("user", name)]).await;
            assert_api_error(status, &body, 403, &format!("{path}?user={name}"));
        }
    }
    // Aggregates are narrowed the same way.
    let (status, v) =
        get_json(&bob, &format!("{base}{AGGREGATE}"), &[("group_by", "user"), ("kind", "login_success")]).await;
    assert_eq!(status, 200);
    assert_eq!(v["groups"], serde_json::json!([{"bucket": null, "key": "bob", "count": 1}]));
    let (status, v) =
        get_json(&carol, &format!("{base}{AGGREGATE}"), &[("group_by", "user"), ("repository", "acme/app")]).await;
    assert_eq!(status, 200);
    let mut want: BTreeMap<Option<&str>, u64> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.repo() == Some("acme/app")) {
        *want.entry(l.user()).or_default() += 1;
    }
    let want: Vec<Value> =
        want.into_iter().map(|(u, n)| serde_json::json!({"bucket": null, "key": u, "count": n})).collect();
    assert_eq!(v["groups"].as_array().unwrap(), &want);
    // Everyone who touched it (the CLI's grant and the impostor's failure included), not just carol.
    assert!(want.len() >= 4, "{want:?}");
    // A cursor is bound to the caller's (narrowed) query: another caller cannot replay it.
    let (_, page) = get_json(&bob, &format!("{base}{EVENTS}"), &[("limit", "1")]).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, _) = get_json(&bob, &format!("{base}{EVENTS}"), &[("limit", "1"), ("cursor", cursor)]).await;
    assert_eq!(status, 200);
    let (status, body) = get_json(&carol, &format!("{base}{EVENTS}"), &[("limit", "1"), ("cursor", cursor)]).await;
    assert_api_error(status, &body, 400, "bob's cursor replayed by carol");

    // Anonymous callers and bad credentials: 401.
    let anonymous = reqwest::Client::new();
    let wrong = basic("bob", "not-bobs-password");
    for path in [EVENTS, AGGREGATE, STREAM] {
        for who in [&anonymous, &wrong] {
            let (status, body) = get_json(who, &format!("{base}{path}"), &[]).await;
            assert_api_error(status, &body, 401, path);
        }
    }
    drop(s);
}

/// An admin of one repository is not an admin of its namespace: `namespace=acme` must not show them the other
/// repositories' events.
#[tokio::test]
async fn a_repository_admin_does_not_read_the_whole_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_q(d);
    let (c, base) = (client(), s.base.as_str());
    cli(d, &["user", "add", "erin", "--password-stdin"], "erin-password\n");
    // The repository is literally called `x`: the name the namespace check probes with.
    cli(d, &["grant", "acme/x", "erin", "--role", "admin"], "");
    flush_cli_events(&c, base).await;
    push_image(&c, base, "acme/secret", "v1", b"secret layer".to_vec()).await.unwrap();
    let erin = basic("erin", "erin-password");
    assert_eq!(erin.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
    let head = settle(&c, base, d).await;
    let own: Pred = Box::new(|l| l.user() == Some("erin") && l.namespace() == Some("acme"));
    check_filter(&erin, base, d, &[("namespace", "acme")], head, &own).await;
    drop(s);
}

/// Bad input is a 400 in the admin API's error shape, on all three endpoints; text values are bound, never SQL.
#[tokio::test]
async fn bad_input_is_refused_with_400() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_q(d);
    let (c, base) = (client(), s.base.as_str());
    for _ in 0..3 {
        assert_eq!(c.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
    }
    settle(&c, base, d).await;
    let url = format!("{base}{EVENTS}");
    let long = "a/".to_owned() + &"b".repeat(298);
    let cases: Vec<Params> = vec![
        vec![("from", "2024-01-02")],
        vec![("from", "yesterday")],
        vec![("from", "2024-13-01T00:00:00Z")],
        vec![("to", "2024-01-02T25:00:00Z")],
        vec![("to", "2024-01-02T10:00:00+1:00")],
        vec![("from", "2024-01-02T10:00:00Z"), ("to", "2024-01-02T09:59:59.999Z")],
        vec![("limit", "0")],
        vec![("limit", "1001")],
        vec![("limit", "x")],
        vec![("limit", "-1")],
        vec![("status", "99")],
        vec![("status", "600")],
        vec![("status", "abc")],
        vec![("order", "sideways")],
        vec![("kind", "push_repo' OR 1=1 --")],
        vec![("outcome", "success;DROP TABLE journal")],
        vec![("action", "login,pu sh")],
        vec![("frm", "2024-01-02T00:00:00Z")],
        vec![("Repository", "acme/app")],
        vec![("repository", &long)],
        vec![("user", "bob\u{7}")],
        vec![("cursor", "garbage")],
        vec![("cursor", "NDI.")],
    ];
    for q in &cases {
        let (status, body) = get_json(&c, &url, q).await;
        assert_api_error(status, &body, 400, &format!("{q:?}"));
    }
    // The same checks guard the aggregate and the stream.
    for path in [AGGREGATE, STREAM] {
        for q in [&cases[1], &cases[5], &cases[12], &cases[14], &cases[17], &cases[19]] {
            let (status, body) = get_json(&c, &format!("{base}{path}"), q).await;
            assert_api_error(status, &body, 400, &format!("{path} {q:?}"));
        }
    }
    let r = c.get(format!("{base}{STREAM}")).header("last-event-id", "abc").send().await.unwrap();
    let status = r.status().as_u16();
    assert_api_error(status, &r.json().await.unwrap(), 400, "Last-Event-ID: abc");
    let r = c.get(format!("{base}{STREAM}")).header("last-event-id", "99999999999").send().await.unwrap();
    let status = r.status().as_u16();
    assert_api_error(status, &r.json().await.unwrap(), 400, "Last-Event-ID beyond the head");
    // Not errors: 256 characters are allowed, and quotes in a text value are just characters.
    let max = "a/".to_owned() + &"b".repeat(254);
    for q in [
        vec![("repository", max.as_str())],
        vec![("repository", "x' OR '1'='1")],
        vec![("user", "*' OR 1=1 --")],
        vec![("request_id", "\" OR \"\"=\"")],
    ] {
        let (status, body) = get_json(&c, &url, &q).await;
        assert_eq!(status, 200, "{q:?}: {body}");
        assert_eq!(body["events"], serde_json::json!([]), "{q:?}");
    }

    // Cursors: a real one works; edited, forged, or replayed with another filter or order, it is refused.
    let (status, page) = get_json(&c, &url, &[("limit", "1")]).await;
    assert_eq!(status, 200);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (status, next) = get_json(&c, &url, &[("limit", "1"), ("cursor", &cursor)]).await;
    assert_eq!(status, 200);
    assert!(next["events"][0]["seq"].as_u64() < page["events"][0]["seq"].as_u64());
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (seq, tag) = cursor.split_once('.').unwrap();
    let seq: u64 = String::from_utf8(b64.decode(seq).unwrap()).unwrap().parse().unwrap();
    let edited_seq = format!("{}.{tag}", b64.encode((seq - 1).to_string()));
    let mut tag_bytes = b64.decode(tag).unwrap();
    tag_bytes[0] ^= 1;
    let edited_tag = format!("{}.{}", b64.encode(seq.to_string()), b64.encode(&tag_bytes));
    let forged = format!("{}.{}", b64.encode("1"), b64.encode([0u8; 32]));
    for (q, what) in [
        (vec![("limit", "1"), ("cursor", edited_seq.as_str())], "edited seq"),
        (vec![("limit", "1"), ("cursor", &edited_tag)], "edited tag"),
        (vec![("limit", "1"), ("cursor", &forged)], "forged"),
        (vec![("limit", "1"), ("cursor", &cursor), ("kind", "login_success")], "another filter"),
        (vec![("limit", "1"), ("cursor", &cursor), ("order", "asc")], "another order"),
    ] {
        let (status, body) = get_json(&c, &url, &q).await;
        assert_api_error(status, &body, 400, what);
    }
    // A cursor's page size may change; the query may not.
    let (status, _) = get_json(&c, &url, &[("limit", "5"), ("cursor", &cursor)]).await;
    assert_eq!(status, 200);
    drop(s);
}
