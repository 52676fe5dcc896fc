//! Namespace ownership against the real binary: an organization or user cannot be created over a namespace that
//! holds repositories no account owns (pushed there by an admin, or left by a deleted user) unless a global
//! administrator adopts it explicitly; robots create no organizations; a name deleted and made again does not
//! inherit its predecessor's log.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use base64::Engine as _;
use serde_json::{json, Value};

use super::{client, push_image, start, vigil};

fn cli(data: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child =
        vigil(data).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn as_user(user: &str, password: &str) -> reqwest::Client {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Basic {basic}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_with_content_are_adopted_only_by_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let admin = client();
    push_image(&admin, &s.base, "library/app", "latest", b"the admin's layer".to_vec()).await.unwrap();
    assert!(cli(d, &["user", "add", "mallory", "--password-stdin"], "mallory-password\n").status.success());
    let mallory = as_user("mallory", "mallory-password");

    let org = format!("{}/api/v1/organization/", s.base);
    let r = mallory.post(&org).json(&json!({ "name": "library" })).send().await.unwrap();
    assert_eq!(r.status(), 409, "a user may not take over a namespace with content");
    let text = r.text().await.unwrap();
    assert!(text.contains("holds 1 repositories"), "{text}");
    let r = mallory.post(&org).json(&json!({ "name": "library", "adopt_namespace": true })).send().await.unwrap();
    assert_eq!(r.status(), 403, "nor ask to adopt it");
    let pull = mallory.get(format!("{}/v2/library/app/manifests/latest", s.base)).send().await.unwrap();
    assert_ne!(pull.status(), 200, "and still cannot pull from it");

    // A robot makes no organizations, even an empty one.
    let robot: Value =
        admin.put(format!("{}/api/v1/user/robots/ci", s.base)).send().await.unwrap().json().await.unwrap();
    let bot = as_user(robot["name"].as_str().unwrap(), robot["token"].as_str().unwrap());
    assert_eq!(bot.post(&org).json(&json!({ "name": "botorg" })).send().await.unwrap().status(), 403);

    let out = cli(d, &["user", "add", "library", "--password-stdin"], "library-password\n");
    assert!(!out.status.success(), "the CLI refuses too without --adopt");
    let r = admin.post(&org).json(&json!({ "name": "library", "adopt_namespace": true })).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // The adoption is in the organization's own log (changes to an account carry its namespace).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let url = format!("{}/api/v1/organization/library/logs?kind=org_create", s.base);
        let logs: Value = admin.get(url).send().await.unwrap().json().await.unwrap();
        if logs["logs"].as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "org_create never reached the organization's log: {logs}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // A user deleted and made again: the namespace that held content needs adopting, and the log starts anew.
    assert!(cli(d, &["user", "add", "bob", "--password-stdin"], "bob-password\n").status.success());
    let bob = as_user("bob", "bob-password");
    push_image(&bob, &s.base, "bob/tool", "v1", b"bob's layer".to_vec()).await.unwrap();
    // Bob's own log shows his push (waited for: the index follows the journal).
    user_log_kinds(&bob, &s.base, "?kind=push_repo", "push_repo").await;
    assert!(cli(d, &["user", "del", "bob"], "").status.success());
    let out = cli(d, &["user", "add", "bob", "--password-stdin"], "other-bob-password\n");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds 1 repositories"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(d, &["user", "add", "bob", "--adopt", "--password-stdin"], "other-bob-password\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let new_bob = as_user("bob", "other-bob-password");
    // Once the index holds the new bob's own first request (after the old bob's push), his pushes are none.
    user_log_kinds(&new_bob, &s.base, "", "admin_read").await;
    let logs: Value =
        new_bob.get(format!("{}/api/v1/user/logs?kind=push_repo", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(logs["logs"], json!([]), "the old bob's pushes are not the new bob's");

    let events: Vec<Value> = std::fs::read_to_string(d.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let adoptions: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["detail"].as_str().is_some_and(|d| d.contains("adopted namespace")))
        .map(|e| (e["kind"].as_str().unwrap(), e["artifact"].as_str().unwrap()))
        .collect();
    assert_eq!(adoptions, [("org_create", "library"), ("user_create", "bob")]);
}

/// The kinds in the caller's `/api/v1/user/logs{query}`, once `until` shows up there (the index follows the
/// journal).
async fn user_log_kinds(c: &reqwest::Client, base: &str, query: &str, until: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let logs: Value = c.get(format!("{base}/api/v1/user/logs{query}")).send().await.unwrap().json().await.unwrap();
        let kinds: Vec<String> =
            logs["logs"].as_array().unwrap().iter().filter_map(|l| l["kind"].as_str().map(str::to_owned)).collect();
        if kinds.iter().any(|k| k == until) {
            return kinds;
        }
        assert!(std::time::Instant::now() < deadline, "{until} never reached the user's log: {kinds:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
