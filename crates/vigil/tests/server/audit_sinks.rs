//! Audit sinks against the running binary: formats, filters, rotation, faults and crashes.
//!
//! The journal is read straight from `vigil.db` with the `sqlite3` CLI and sink files are checked with the real
//! `jq`, so these tests see exactly what an operator (or a SIEM) would see.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_core::Digest;

use super::without_tree::{start, vigil};
use super::{client, push_blob, push_image, Server};

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

type Rows = Vec<(u64, Vec<u8>)>;

/// Runs one SQL statement on the data directory's database with the sqlite3 CLI and returns its stdout.
fn sql(data: &Path, statement: &str) -> String {
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(data.join("vigil.db"))
        .arg(statement)
        .output()
        .expect("sqlite3 CLI");
    assert!(out.status.success(), "sqlite3 {statement}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The journal's rows `(seq, event bytes)` in seq order, byte for byte (read as hex so nothing is re-encoded).
fn journal(data: &Path) -> Rows {
    sql(data, "SELECT seq, hex(event) FROM journal ORDER BY seq")
        .lines()
        .map(|l| {
            let (seq, hex) = l.split_once('|').expect("seq|hex");
            let bytes = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            (seq.parse().unwrap(), bytes)
        })
        .collect()
}

fn head(data: &Path) -> u64 {
    journal(data).last().map_or(0, |r| r.0)
}

fn assert_gapless(rows: &Rows) {
    let seqs: Vec<u64> = rows.iter().map(|r| r.0).collect();
    let expected: Vec<u64> = (1..=rows.len() as u64).collect();
    assert_eq!(seqs, expected, "journal seqs are not gapless 1..n");
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn events(rows: &Rows) -> Vec<Value> {
    rows.iter().map(|r| parse(&r.1)).collect()
}

fn bytes_of(rows: &Rows) -> Vec<Vec<u8>> {
    rows.iter().map(|r| r.1.clone()).collect()
}

/// The events of one request (by the `x-request-id` the test sent, kept as the client's id).
fn of_request<'a>(events: &'a [Value], id: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["request"]["client_id"] == id).collect()
}

/// A sink file's lines, without their newlines. A file that does not end in a newline holds a torn line.
fn file_lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "{} ends with a torn line", path.display());
    let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    lines.pop();
    lines
}

/// Runs the real `jq -c <filter>` over a file; every line must parse. Returns jq's output lines.
fn jq(filter: &str, path: &Path) -> Vec<String> {
    let out = Command::new("jq").args(["-c", filter]).arg(path).output().expect("jq");
    assert!(out.status.success(), "jq {filter} {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

/// Checks that every line of `path` is one JSON value for jq and for serde_json; returns the line count.
fn assert_whole_json_lines(path: &Path) -> usize {
    let lines = file_lines(path);
    for l in &lines {
        parse(l);
    }
    assert_eq!(jq(".", path).len(), lines.len(), "{}: jq sees a different number of values", path.display());
    lines.len()
}

fn write_config(data: &Path, toml: &str) {
    std::fs::write(data.join("vigil.toml"), toml).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Rotated files of the sink whose live file is `<dir>/<stem>.jsonl`.
fn rotated(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let prefix = format!("{stem}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&prefix))
        .collect();
    found.sort();
    found
}

/// Whether `name` is `<stem>-YYYYMMDDTHHMMSS.mmmZ[-N].jsonl`, the documented rotated name.
fn is_rotated_name(name: &str, stem: &str) -> bool {
    let Some(rest) = name.strip_prefix(&format!("{stem}-")).and_then(|r| r.strip_suffix(".jsonl")) else {
        return false;
    };
    let (stamp, suffix) = rest.split_at(rest.len().min(20));
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    b.len() == 20
        && digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19)
        && b[19] == b'Z'
        && (suffix.is_empty() || suffix.strip_prefix('-').is_some_and(|n| n.parse::<u32>().is_ok()))
}

/// `vigil serve` like `start`, but every stderr line is kept for the test.
fn start_capturing(data: &Path, envs: &[(&str, &str)]) -> (Server, Arc<Mutex<Vec<String>>>) {
    let mut cmd = vigil(data);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).envs(envs.iter().copied()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn vigil");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let captured = Arc::new(Mutex::new(Vec::new()));
    let base = loop {
        let line = lines.next().expect("vigil exited before listening").unwrap();
        let url = line.strip_prefix("vigil listening on ").map(|u| u.trim().to_owned());
        captured.lock().unwrap().push(line);
        if let Some(url) = url {
            break url;
        }
    };
    let sink = captured.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (Server { child, base }, captured)
}

/// Runs `cmd` to completion (killing it, by its pid, after `limit`) and returns its output.
fn output_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("command did not finish within {limit:?} (it probably started serving)");
        }
    }
}

/// Runs a `vigil` CLI command on the data directory; it must succeed.
fn cli(data: &Path, args: &[&str], stdin: &str) {
    let mut child =
        vigil(data).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The image manifest the parent module's `push_manifest_for` writes (config `{}` plus one layer).
fn manifest_json(layer: &Digest, size: usize) -> String {
    let config = Digest::sha256_of(b"{}");
    serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": size}],
    })
    .to_string()
}

async fn put_manifest(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    body: &str,
    id: &str,
) -> reqwest::Response {
    c.put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .header("x-request-id", id)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn get_with_id(c: &reqwest::Client, url: String, id: &str) -> reqwest::Response {
    c.get(url).header("x-request-id", id).send().await.unwrap()
}

/// Status and OCI error code (`errors[0].code`, empty when there is none) of a response.
async fn status_and_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (status, code)
}

/// The value of one Prometheus sample (`name{labels}`) in `/metrics`, if present.
async fn metric(c: &reqwest::Client, base: &str, sample: &str) -> Option<f64> {
    let text = c.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Polls `check` every 50 ms for up to 5 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A few pushes and pulls (GET and HEAD of manifests and blobs) of `repo`.
async fn traffic(c: &reqwest::Client, base: &str, repo: &str) {
    for tag in ["v1", "v2"] {
        push_image(c, base, repo, tag, format!("{repo} {tag} layer").into_bytes()).await.unwrap();
        let r = c.get(format!("{base}/v2/{repo}/manifests/{tag}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = c.head(format!("{base}/v2/{repo}/manifests/{tag}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let layer = Digest::sha256_of(format!("{repo} v1 layer").as_bytes());
    let r = c.get(format!("{base}/v2/{repo}/blobs/{layer}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.head(format!("{base}/v2/{repo}/blobs/{layer}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{base}/v2/{repo}/manifests/missing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Native format
// ---------------------------------------------------------------------------------------------------------------

/// The default sink (`audit.jsonl`, native format) is the journal, byte for byte and in seq order, and jq reads
/// every line.
#[tokio::test]
async fn native_sink_is_the_journal_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let c = client();
    traffic(&c, &s.base, "native/app").await;

    let rows = journal(d);
    assert_gapless(&rows);
    assert!(rows.len() >= 15, "too little traffic: {} events", rows.len());
    let file = d.join("audit.jsonl");
    assert_eq!(file_lines(&file), bytes_of(&rows), "audit.jsonl differs from the journal");
    assert_eq!(assert_whole_json_lines(&file), rows.len());
    let kinds: Vec<String> = jq(".kind", &file).into_iter().map(|k| k.trim_matches('"').to_owned()).collect();
    for k in ["audit_config_change", "push_repo", "pull_repo", "head_manifest", "pull_blob", "head_blob"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} event in {kinds:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. NORA format
// ---------------------------------------------------------------------------------------------------------------

/// A `format = "nora"` sink added to a data directory with history writes exactly NORA's six keys, in order, for
/// every journal event since the sink started (and none before), each the same values as the native event.
#[tokio::test]
async fn nora_sink_has_exactly_six_keys_and_every_event_since_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let s = start(d, &[]);
        push_image(&client(), &s.base, "nora/old", "v1", b"before the sink".to_vec()).await.unwrap();
    }
    let before = head(d);
    assert!(before > 0);
    write_config(
        d,
        "[audit]\nmode = \"file\"\n[[audit.sink]]\nname = \"siem\"\ntype = \"file\"\nformat = \"nora\"\npath = \"nora.jsonl\"\n",
    );
    let s = start(d, &[]);
    traffic(&client(), &s.base, "nora/app").await;

    let rows = journal(d);
    assert_gapless(&rows);
    let since: Vec<&(u64, Vec<u8>)> = rows.iter().filter(|r| r.0 > before).collect();
    let file = d.join("nora.jsonl");
    let lines = file_lines(&file);
    assert_eq!(lines.len(), since.len(), "NORA lines vs journal events since the sink started");
    assert_eq!(assert_whole_json_lines(&file), since.len());
    for keys in jq("keys_unsorted", &file) {
        assert_eq!(keys, r#"["ts","action","actor","artifact","registry","detail"]"#);
    }
    // NORA's six fields come first in the native event, so each NORA line is the native line cut before `seq`.
    for (line, (seq, native)) in lines.iter().zip(since) {
        let cut = native.windows(7).position(|w| w == b",\"seq\":").expect("native event has seq");
        let mut expected = native[..cut].to_vec();
        expected.push(b'}');
        assert_eq!(String::from_utf8_lossy(line), String::from_utf8_lossy(&expected), "NORA line of seq {seq}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Filters
// ---------------------------------------------------------------------------------------------------------------

/// Sink filters drop exactly what they match: `operations = ["HEAD"]` drops HEAD requests; `kinds` AND `users`
/// drops only admin pulls (bob's pulls and admin's pushes stay); a global `[[audit.filter]]` applies to every
/// sink; the journal keeps everything.
#[tokio::test]
async fn sink_filters_drop_only_what_they_match() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(
        d,
        r#"
[audit]
mode = "file"
[[audit.filter]]
kinds = ["list_tags"]

[[audit.sink]]
name = "nohead"
type = "file"
[[audit.sink.filter]]
operations = ["HEAD"]

[[audit.sink]]
name = "noadminpull"
type = "file"
[[audit.sink.filter]]
kinds = ["pull_*"]
users = ["admin"]
"#,
    );
    let s = start(d, &[]);
    let c = client();
    traffic(&c, &s.base, "acme/app").await;
    cli(d, &["user", "add", "bob", "--password-stdin"], "bob-password\n");
    cli(d, &["grant", "acme/app", "bob", "--role", "read"], "");
    let bob = reqwest::Client::new();
    let r = bob
        .get(format!("{}/v2/acme/app/manifests/v1", s.base))
        .header("authorization", basic("bob", "bob-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{}/v2/acme/app/tags/list", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A last request, so the CLI's events (committed by another process) reach the enforced sinks too.
    assert_eq!(c.get(format!("{}/v2/", s.base)).send().await.unwrap().status(), 200);

    let rows = journal(d);
    assert_gapless(&rows);
    let evs = events(&rows);
    let kind = |e: &Value| e["kind"].as_str().unwrap_or_default().to_owned();
    let user = |e: &Value| e["user"]["name"].as_str().unwrap_or_default().to_owned();
    let is_head = |e: &Value| e["request"]["method"] == "HEAD";
    let admin_pull = |e: &Value| kind(e).starts_with("pull_") && user(e) == "admin";
    let global = |e: &Value| kind(e) == "list_tags";
    // The journal has every kind of event the filters are about.
    assert!(evs.iter().any(is_head), "no HEAD event in the journal");
    assert!(evs.iter().any(|e| kind(e) == "pull_repo" && user(e) == "admin"));
    assert!(evs.iter().any(|e| kind(e) == "pull_blob" && user(e) == "admin"));
    assert!(evs.iter().any(|e| kind(e) == "pull_repo" && user(e) == "bob"), "bob's pull not journaled");
    assert!(evs.iter().any(|e| kind(e) == "push_repo" && user(e) == "admin"));
    assert!(evs.iter().any(global), "list_tags not journaled");

    let expect = |keep: &dyn Fn(&Value) -> bool| -> Vec<Vec<u8>> {
        rows.iter().zip(&evs).filter(|(_, e)| keep(e)).map(|(r, _)| r.1.clone()).collect()
    };
    let default = file_lines(&d.join("audit.jsonl"));
    let nohead = file_lines(&d.join("audit-nohead.jsonl"));
    let noadminpull = file_lines(&d.join("audit-noadminpull.jsonl"));
    assert_eq!(default, expect(&|e| !global(e)), "audit.jsonl: only the global filter applies");
    assert_eq!(nohead, expect(&|e| !global(e) && !is_head(e)), "nohead sink");
    assert_eq!(noadminpull, expect(&|e| !global(e) && !admin_pull(e)), "noadminpull sink");
    assert!(events_of(&default).iter().any(is_head), "audit.jsonl lost its HEAD events");
    assert!(events_of(&noadminpull).iter().any(|e| kind(e) == "pull_repo" && user(e) == "bob"));
    assert!(events_of(&noadminpull).iter().any(|e| kind(e) == "push_repo" && user(e) == "admin"));
    assert!(events_of(&nohead).iter().any(admin_pull), "nohead must keep admin pulls");
}

fn events_of(lines: &[Vec<u8>]) -> Vec<Value> {
    lines.iter().map(|l| parse(l)).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Rotation
// ---------------------------------------------------------------------------------------------------------------

/// Rotation by size keeps at most `rotate_max_files` rotated files with the documented names, each of whole
/// committed lines: rotated + live files are exactly the newest stretch of the journal. Files are 0600 by
/// default and follow `mode`.
#[tokio::test]
async fn rotation_by_size_keeps_whole_lines_names_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(
        d,
        r#"
[audit]
mode = "file"
[[audit.sink]]
name = "rot"
type = "file"
path = "rot.jsonl"
rotate_bytes = 2000
rotate_max_files = 2

[[audit.sink]]
name = "rot640"
type = "file"
path = "rot640.jsonl"
mode = "0640"
rotate_bytes = 2000
rotate_max_files = 2
"#,
    );
    let s = start(d, &[]);
    let c = client();
    push_image(&c, &s.base, "rot/app", "v1", b"rotating".to_vec()).await.unwrap();
    for _ in 0..25 {
        assert_eq!(c.get(format!("{}/v2/rot/app/manifests/v1", s.base)).send().await.unwrap().status(), 200);
    }
    let rows = journal(d);
    for (stem, mode) in [("rot", 0o600), ("rot640", 0o640)] {
        let old = rotated(d, stem);
        assert_eq!(old.len(), 2, "{stem}: rotated files beyond rotate_max_files = 2 (or none): {old:?}");
        let mut files = old.clone();
        files.push(d.join(format!("{stem}.jsonl")));
        let mut lines = Vec::new();
        for f in &files {
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(name == format!("{stem}.jsonl") || is_rotated_name(name, stem), "bad rotated name {name}");
            assert_eq!(mode_of(f), mode, "{name}: mode");
            assert_whole_json_lines(f);
            let mut own = file_lines(f);
            if f != files.last().unwrap() {
                let size: usize = own.iter().map(|l| l.len() + 1).sum();
                assert!(size >= 2000, "{name} rotated at {size} bytes, before 2000");
            }
            lines.append(&mut own);
        }
        // In seq order (rotated names sort by time), the kept lines are the journal's newest events.
        lines.sort_by_key(|l| parse(l)["seq"].as_u64().unwrap());
        let tail = &rows[rows.len() - lines.len()..];
        assert_eq!(lines, bytes_of(&tail.to_vec()), "{stem}: rotated + live files are not the journal's tail");
    }
    assert_eq!(mode_of(&d.join("audit.jsonl")), 0o600);
}

/// `rotate_duration = "1s"`: a commit more than a second after the file started rotates it.
#[tokio::test]
async fn rotation_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(
        d,
        r#"
[audit]
mode = "file"
[[audit.sink]]
name = "timed"
type = "file"
path = "timed.jsonl"
rotate_duration = "1s"
"#,
    );
    let s = start(d, &[]);
    let born = std::fs::metadata(d.join("timed.jsonl")).unwrap().created().unwrap();
    let c = client();
    assert_eq!(c.get(format!("{}/v2/", s.base)).send().await.unwrap().status(), 200);
    if born.elapsed().unwrap() < Duration::from_millis(900) {
        assert!(rotated(d, "timed").is_empty(), "rotated before its time");
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(c.get(format!("{}/v2/", s.base)).send().await.unwrap().status(), 200);
    let old = rotated(d, "timed");
    assert!(!old.is_empty(), "no rotation after more than rotate_duration");
    for f in &old {
        assert!(is_rotated_name(f.file_name().unwrap().to_str().unwrap(), "timed"), "{old:?}");
    }
    // Nothing lost: rotated + live file are the journal.
    assert_eq!(all_sink_lines(d, "timed"), bytes_of(&journal(d)));
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Faults of an enforced sink
// ---------------------------------------------------------------------------------------------------------------

const FULL_SINK: &str = r#"
[audit]
mode = "file"
[[audit.sink]]
name = "full"
type = "file"
path = "/dev/full"
delivery_guarantee = "enforced"
"#;

/// An enforced `/dev/full` sink while the server runs: pushes and even pulls get 503 `UNAVAILABLE`, nothing is
/// journaled or stored, `/ready` is 503 while `/health` is 200; restarted without that sink, the tag is absent,
/// the journal gapless and `audit.jsonl` still the journal. (The sink filters out the server's own `vigil`
/// registry events — its configuration events at start — or vigil would refuse to start, see the next test.)
#[tokio::test]
async fn enforced_sink_fault_fails_requests_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = client();
    let (manifest, layer) = {
        let s = start(d, &[]);
        push_image(&c, &s.base, "fault/app", "before", b"before the fault".to_vec()).await.unwrap()
    };
    let h = head(d);
    write_config(d, &format!("{FULL_SINK}[[audit.sink.filter]]\nregistries = [\"vigil\"]\n"));
    let s = start(d, &[]);
    assert_eq!(head(d), h + 2, "the start's events were not the two expected");

    let new_layer = b"pushed during the fault".to_vec();
    let digest = Digest::sha256_of(&new_layer);
    let r = c
        .post(format!("{}/v2/fault/app/blobs/uploads/?digest={digest}", s.base))
        .header("x-request-id", "fault-blob-post")
        .body(new_layer)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(r).await, (503, "UNAVAILABLE".to_owned()), "blob POST");
    let body = manifest_json(&layer, "before the fault".len());
    let r = put_manifest(&c, &s.base, "fault/app", "during", &body, "fault-manifest-put").await;
    assert_eq!(status_and_code(r).await, (503, "UNAVAILABLE".to_owned()), "manifest PUT");
    let r = get_with_id(&c, format!("{}/v2/fault/app/manifests/before", s.base), "fault-manifest-get").await;
    assert_eq!(status_and_code(r).await, (503, "UNAVAILABLE".to_owned()), "manifest GET");
    assert_eq!(c.get(format!("{}/ready", s.base)).send().await.unwrap().status(), 503);
    assert_eq!(c.get(format!("{}/health", s.base)).send().await.unwrap().status(), 200);
    let errors = metric(&c, &s.base, r#"vigil_audit_sink_errors_total{sink="full"}"#).await;
    assert!(errors.is_some_and(|n| n >= 3.0), "sink errors {errors:?}");

    let rows = journal(d);
    assert_eq!(head(d), h + 2, "a refused request reached the journal");
    let evs = events(&rows);
    for id in ["fault-blob-post", "fault-manifest-put", "fault-manifest-get"] {
        assert!(of_request(&evs, id).is_empty(), "{id} journaled although refused");
    }
    assert_eq!(file_lines(&d.join("audit.jsonl")), bytes_of(&rows), "the rolled-back batch stayed in audit.jsonl");
    drop(s);

    // Without the broken sink: nothing of the refused requests was stored.
    write_config(d, "");
    let s = start(d, &[]);
    let r = c.get(format!("{}/v2/fault/app/manifests/during", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 404, "the refused manifest PUT stored a tag");
    let r = c.head(format!("{}/v2/fault/app/blobs/{digest}", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 404, "the refused blob POST stored a blob");
    let r = c.get(format!("{}/v2/fault/app/manifests/before", s.base)).send().await.unwrap();
    assert_eq!(r.headers()["docker-content-digest"].to_str().unwrap(), manifest.to_string());
    let rows = journal(d);
    assert_gapless(&rows);
    assert_eq!(file_lines(&d.join("audit.jsonl")), bytes_of(&rows));
}

/// An enforced sink that cannot be written at start (`/dev/full` on a fresh data directory): vigil refuses to
/// start with an error naming the sink and the cause, and commits nothing; without the sink it starts normally.
#[test]
fn enforced_sink_unwritable_at_start_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, FULL_SINK);
    let out = output_within(vigil(d).args(["serve", "--listen", "127.0.0.1:0"]), Duration::from_secs(20));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit sink \"full\"") && err.contains("No space left on device"), "{err}");
    assert!(journal(d).is_empty(), "a failed start committed events");
    write_config(d, "");
    let s = start(d, &[]);
    drop(s);
    assert_gapless(&journal(d));
}

// ---------------------------------------------------------------------------------------------------------------
// 6, 7. Best-effort
// ---------------------------------------------------------------------------------------------------------------

/// A best-effort sink that cannot be written never blocks requests: pushes and pulls succeed, its errors and lag
/// show in `/metrics`, and the enforced default sink still holds every event.
#[tokio::test]
async fn best_effort_sink_fault_is_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, &FULL_SINK.replace("\"enforced\"", "\"best-effort\""));
    let s = start(d, &[]);
    let c = client();
    push_image(&c, &s.base, "be/app", "v1", b"best effort".to_vec()).await.unwrap();
    assert_eq!(c.get(format!("{}/v2/be/app/manifests/v1", s.base)).send().await.unwrap().status(), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if metric(&c, &s.base, r#"vigil_audit_sink_errors_total{sink="full"}"#).await.is_some_and(|v| v > 0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "no sink error counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lag = metric(&c, &s.base, r#"vigil_audit_sink_lag{sink="full"}"#).await;
    assert!(lag.is_some_and(|v| v > 0.0), "lag {lag:?}");
    assert_eq!(c.get(format!("{}/ready", s.base)).send().await.unwrap().status(), 200, "best-effort affects /ready");
    let rows = journal(d);
    assert_gapless(&rows);
    assert_eq!(file_lines(&d.join("audit.jsonl")), bytes_of(&rows));
    let written = metric(&c, &s.base, r#"vigil_audit_sink_events_total{sink="file"}"#).await;
    assert_eq!(written, Some(rows.len() as f64), "events written by the enforced sink");
    let lost = metric(&c, &s.base, r#"vigil_audit_sink_events_total{sink="full"}"#).await;
    assert!(lost.unwrap_or(0.0) == 0.0, "the /dev/full sink claims {lost:?} events written");
}

/// `[audit] delivery_guarantee = "best-effort"`: requests succeed without waiting, and their events still reach
/// the journal, and the (now best-effort) `audit.jsonl` catches up with it.
#[tokio::test]
async fn best_effort_guarantee_still_journals_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "[audit]\ndelivery_guarantee = \"best-effort\"\n");
    let s = start(d, &[]);
    let c = client();
    push_image(&c, &s.base, "be/app", "v1", b"relaxed".to_vec()).await.unwrap();
    let r = get_with_id(&c, format!("{}/v2/be/app/manifests/v1", s.base), "best-effort-get").await;
    assert_eq!(r.status(), 200);
    eventually("the GET's event in the journal", || of_request(&events(&journal(d)), "best-effort-get").len() == 1)
        .await;
    let evs = events(&journal(d));
    assert!(evs.iter().any(|e| e["kind"] == "push_repo"));
    eventually("audit.jsonl to catch up with the journal", || {
        file_lines(&d.join("audit.jsonl")) == bytes_of(&journal(d))
    })
    .await;
    assert_gapless(&journal(d));
    assert!(metric(&c, &s.base, "vigil_audit_events_dropped_total").await.unwrap_or(0.0) == 0.0);
}

// ---------------------------------------------------------------------------------------------------------------
// 8. Two-stage logging
// ---------------------------------------------------------------------------------------------------------------

/// With `stages = ["received", "complete"]` a request's `received` event (outcome `pending`) is journaled before
/// its `complete` event, with the same request id; sinks get both.
#[tokio::test]
async fn two_stage_logging_records_received_before_complete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "[audit]\nstages = [\"received\", \"complete\"]\n");
    let s = start(d, &[]);
    let c = client();
    push_image(&c, &s.base, "two/app", "v1", b"two stages".to_vec()).await.unwrap();
    let r = get_with_id(&c, format!("{}/v2/two/app/manifests/v1", s.base), "two-stage-get").await;
    assert_eq!(r.status(), 200);
    let (_, layer) = push_image(&c, &s.base, "two/app", "v2", b"two stages v2".to_vec()).await.unwrap();
    let body = manifest_json(&layer, "two stages v2".len());
    assert_eq!(put_manifest(&c, &s.base, "two/app", "v3", &body, "two-stage-put").await.status(), 201);

    let rows = journal(d);
    let evs = events(&rows);
    for (id, kind) in [("two-stage-get", "pull_repo"), ("two-stage-put", "push_repo")] {
        let mine = of_request(&evs, id);
        assert_eq!(mine.len(), 2, "{id}: {mine:?}");
        let (received, complete) = (mine[0], mine[1]);
        assert!(received["seq"].as_u64() < complete["seq"].as_u64());
        assert_eq!((received["stage"].as_str(), received["outcome"].as_str()), (Some("received"), Some("pending")));
        assert_eq!((complete["stage"].as_str(), complete["outcome"].as_str()), (Some("complete"), Some("success")));
        assert_eq!(complete["kind"], kind);
        assert_eq!(received["operation"], complete["operation"]);
    }
    assert_eq!(file_lines(&d.join("audit.jsonl")), bytes_of(&rows));
}

// ---------------------------------------------------------------------------------------------------------------
// 9. VIGIL_AUDIT_LOG
// ---------------------------------------------------------------------------------------------------------------

/// `VIGIL_AUDIT_LOG=off`: no `audit.jsonl`, but the journal records everything.
#[tokio::test]
async fn audit_log_off_writes_no_file_but_journals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[("VIGIL_AUDIT_LOG", "off")]);
    let c = client();
    push_image(&c, &s.base, "off/app", "v1", b"off".to_vec()).await.unwrap();
    let r = get_with_id(&c, format!("{}/v2/off/app/manifests/v1", s.base), "off-get").await;
    assert_eq!(r.status(), 200);
    assert!(!d.join("audit.jsonl").exists(), "audit.jsonl created with VIGIL_AUDIT_LOG=off");
    let rows = journal(d);
    assert_gapless(&rows);
    let evs = events(&rows);
    assert_eq!(of_request(&evs, "off-get").len(), 1);
    assert!(evs.iter().any(|e| e["kind"] == "push_repo" && e["target"]["tag"] == "v1"));
    assert!(evs.iter().any(|e| e["kind"] == "audit_config_change" && e["detail"].as_str().unwrap().contains("off")));
}

/// `VIGIL_AUDIT_LOG=bogus` stops vigil at start with an error naming the variable and the valid values.
#[test]
fn audit_log_bogus_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vigil(dir.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).env("VIGIL_AUDIT_LOG", "bogus");
    let out = output_within(&mut cmd, Duration::from_secs(20));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("VIGIL_AUDIT_LOG") && err.contains("\"bogus\""), "{err}");
    assert!(err.contains("file, stdout, both, off"), "{err}");
    assert!(!dir.path().join("vigil.db").exists(), "a failed start opened the store");
}

/// `VIGIL_AUDIT_LOG=stdout`: native JSON event lines on the server's stderr (best-effort, so polled), exactly the
/// journal's; no `audit.jsonl`.
#[tokio::test]
async fn audit_log_stdout_writes_events_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (s, stderr) = start_capturing(d, &[("VIGIL_AUDIT_LOG", "stdout")]);
    let c = client();
    push_image(&c, &s.base, "stderr/app", "v1", b"to stderr".to_vec()).await.unwrap();
    let r = get_with_id(&c, format!("{}/v2/stderr/app/manifests/v1", s.base), "stderr-get").await;
    assert_eq!(r.status(), 200);
    let event_lines = || -> Vec<Vec<u8>> {
        stderr.lock().unwrap().iter().filter(|l| l.starts_with("{\"ts\":")).map(|l| l.as_bytes().to_vec()).collect()
    };
    eventually("the GET's event on stderr", || {
        event_lines().iter().any(|l| parse(l)["request"]["client_id"] == "stderr-get")
    })
    .await;
    eventually("stderr to hold the whole journal", || event_lines() == bytes_of(&journal(d))).await;
    assert!(!d.join("audit.jsonl").exists());
}

// ---------------------------------------------------------------------------------------------------------------
// 10. Crash
// ---------------------------------------------------------------------------------------------------------------

/// Pushes one image; `Some(manifest digest)` only when the manifest PUT was acknowledged with 201. Never panics,
/// so a worker can run into a killed server.
async fn try_push(c: &reqwest::Client, base: &str, repo: &str, tag: &str, layer: Vec<u8>) -> Option<Digest> {
    let size = layer.len();
    let d = Digest::sha256_of(&layer);
    let r = c.post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}")).body(layer).send().await.ok()?;
    if r.status() != 201 {
        return None;
    }
    let body = manifest_json(&d, size);
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.clone())
        .send()
        .await
        .ok()?;
    (r.status() == 201).then(|| Digest::sha256_of(body.as_bytes()))
}

/// Starts the server, lets 8 clients push images (tags `r<round>-<i>`) for `run`, kills it with SIGKILL mid-flight
/// and returns the pushes whose manifest PUT was acknowledged.
async fn push_then_kill_9(d: &Path, round: u32, run: Duration) -> Vec<(String, String, Digest)> {
    let mut s = start(d, &[]);
    let c = client();
    let acked: Arc<Mutex<Vec<(String, String, Digest)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8u32 {
        let (c, base, acked, stop) = (c.clone(), s.base.clone(), acked.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let repo = format!("crash/w{w}");
            if push_blob(&c, &base, &repo, b"{}".to_vec()).await.is_err() {
                return;
            }
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let tag = format!("r{round}-{i}");
                let layer = format!("round {round} worker {w} push {i} ").repeat(64).into_bytes();
                match try_push(&c, &base, &repo, &tag, layer).await {
                    Some(m) => acked.lock().unwrap().push((repo.clone(), tag, m)),
                    None => return,
                }
            }
        }));
    }
    tokio::time::sleep(run).await;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 16, "only {} pushes acknowledged before the kill", acked.len());
    acked
}

/// Kill -9 (twice) while 8 clients push: after a restart every acknowledged manifest PUT has exactly one
/// `push_repo` event, the journal is gapless 1..n, and `audit.jsonl` has no torn line and is exactly the journal
/// (the restart cuts lines of a batch that never committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_leaves_journal_and_audit_file_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("audit.jsonl");
    let mut acked = Vec::new();
    for round in 0..2 {
        acked.extend(push_then_kill_9(d, round, Duration::from_millis(1500)).await);
        // After the kill the file holds the committed journal, then at most the lines of one batch that never
        // committed (written and fsynced before a COMMIT the kill prevented).
        let committed: Vec<u8> = journal(d).iter().flat_map(|r| [&r.1[..], b"\n"].concat()).collect();
        let raw = std::fs::read(&file).unwrap();
        assert!(raw.starts_with(&committed), "audit.jsonl lost committed events in the crash");
    }

    let _s = start(d, &[]);
    let rows = journal(d);
    assert_gapless(&rows);
    let evs = events(&rows);
    for (repo, tag, digest) in &acked {
        let n = evs
            .iter()
            .filter(|e| {
                e["kind"] == "push_repo"
                    && e["target"]["repository"] == repo.as_str()
                    && e["target"]["tag"] == tag.as_str()
                    && e["target"]["digest"] == digest.to_string()
            })
            .count();
        assert_eq!(n, 1, "acknowledged {repo}:{tag} has {n} push_repo events");
    }
    assert_whole_json_lines(&file);
    assert_eq!(file_lines(&file), bytes_of(&rows), "audit.jsonl is not the journal after the crash");
}

// ---------------------------------------------------------------------------------------------------------------
// 11. Configuration changes
// ---------------------------------------------------------------------------------------------------------------

/// `audit_config_change` is recorded at the first start and whenever `[audit]` differs from the previous start,
/// never for an unchanged section; `config_loaded` at every start.
#[tokio::test]
async fn changed_audit_section_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let count = |kind: &str| events(&journal(d)).iter().filter(|e| e["kind"] == kind).count();
    write_config(d, "[audit]\nrelax_reads = false\n");
    drop(start(d, &[]));
    assert_eq!((count("audit_config_change"), count("config_loaded")), (1, 1));
    drop(start(d, &[]));
    assert_eq!((count("audit_config_change"), count("config_loaded")), (1, 2), "unchanged section recorded again");
    write_config(d, "[audit]\nrelax_reads = true\n");
    drop(start(d, &[]));
    assert_eq!((count("audit_config_change"), count("config_loaded")), (2, 3));
    let evs = events(&journal(d));
    let last_change = evs.iter().rev().find(|e| e["kind"] == "audit_config_change").unwrap();
    assert!(last_change["detail"].as_str().unwrap().contains("\"relax_reads\":true"), "{last_change}");
    assert_eq!((last_change["actor"].as_str(), last_change["artifact"].as_str()), (Some("system"), Some("audit")));
    drop(start(d, &[]));
    assert_eq!(count("audit_config_change"), 2);
    assert_gapless(&journal(d));
}

// ---------------------------------------------------------------------------------------------------------------
// Crash recovery of enforced sink files (deterministic)
// ---------------------------------------------------------------------------------------------------------------

/// What a kill -9 between an enforced sink's fsync and the journal's COMMIT leaves in a sink file: the line of an
/// event the journal never committed (here a copy of the last event with the next seq).
fn append_uncommitted_line(data: &Path, file: &Path) {
    let (seq, bytes) = journal(data).pop().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let phantom = text.replacen(&format!(",\"seq\":{seq},"), &format!(",\"seq\":{},", seq + 1), 1);
    assert_ne!(phantom, text);
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(format!("{phantom}\n").as_bytes()).unwrap();
}

/// All lines of a sink (rotated files, then the live file) in seq order.
fn all_sink_lines(dir: &Path, stem: &str) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for f in rotated(dir, stem).into_iter().chain([dir.join(format!("{stem}.jsonl"))]) {
        lines.extend(file_lines(&f));
    }
    lines.sort_by_key(|l| parse(l)["seq"].as_u64().unwrap());
    lines
}

/// The restart cuts a line the journal never committed from an enforced sink that does not rotate.
#[tokio::test]
async fn restart_cuts_uncommitted_lines_of_an_enforced_sink() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let s = start(d, &[]);
        push_image(&client(), &s.base, "cut/app", "v1", b"cut".to_vec()).await.unwrap();
    }
    append_uncommitted_line(d, &d.join("audit.jsonl"));
    drop(start(d, &[]));
    let rows = journal(d);
    assert_gapless(&rows);
    assert_eq!(file_lines(&d.join("audit.jsonl")), bytes_of(&rows));
}

/// The same when the crash came right after a rotation: vigil rotates between commits, writes the next batch
/// to the new file, and crashes before that batch commits. The database still describes the old file, so the
/// restart must recognise the live file as newer (its identity differs) and cut all of it.
#[tokio::test]
async fn restart_cuts_uncommitted_lines_of_an_enforced_sink_after_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "[audit]\nmode = \"file\"\n[[audit.sink]]\nname = \"rc\"\ntype = \"file\"\npath = \"rc.jsonl\"\nrotate_bytes = 1\n");
    {
        let s = start(d, &[]);
        push_image(&client(), &s.base, "cut/app", "v1", b"cut".to_vec()).await.unwrap();
    }
    // What the crash leaves: the live file renamed as a rotation does, and a new live file holding a batch the
    // journal never committed.
    let live = d.join("rc.jsonl");
    assert!(!file_lines(&live).is_empty(), "the last batch is in the live file (rotation waits for the next one)");
    std::fs::rename(&live, d.join("rc-20990101T000000.000Z.jsonl")).unwrap();
    std::fs::File::create(&live).unwrap();
    append_uncommitted_line(d, &live);
    append_uncommitted_line(d, &d.join("audit.jsonl"));
    drop(start(d, &[]));
    let rows = journal(d);
    assert_gapless(&rows);
    assert_eq!(file_lines(&d.join("audit.jsonl")), bytes_of(&rows), "the non-rotating sink is cut");
    let rc = all_sink_lines(d, "rc");
    let seqs: Vec<u64> = rc.iter().map(|l| parse(l)["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(seqs, expected, "seqs in the rotating sink's files vs the journal");
    assert!(rc == bytes_of(&rows), "the rotating sink's lines differ from the journal");
}
