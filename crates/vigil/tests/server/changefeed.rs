//! The DTR/Notary trust changefeed against the running binary: records of tag pushes, moves and removals with
//! journal sequence numbers as ids, Notary's `change_id`/`records` paging, DTR's host-prefixed names, permissions,
//! bad input, and a reader paging while writers push (nothing skipped, nothing repeated).

use std::path::Path;

use serde_json::{json, Value};
use vigil_core::Digest;

use super::{client, push_image, push_manifest_for, start, vigil, Server};

const HOST: &str = "reg.example.test:5000";

fn start_with_host(d: &Path) -> Server {
    start(d, &[("VIGIL_PUBLIC_URL", &format!("http://{HOST}")), super::NO_TREE])
}

async fn feed(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn ids(v: &Value) -> Vec<String> {
    v["records"].as_array().unwrap().iter().map(|r| r["ID"].as_str().unwrap().to_owned()).collect()
}

/// Every journal event, read from the audit file.
fn events(d: &Path) -> Vec<Value> {
    std::fs::read_to_string(d.join("audit.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn cli(d: &Path, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = vigil(d).args(args).stdin(std::process::Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "vigil {args:?}");
}

fn basic(user: &str, password: &str) -> reqwest::Client {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Basic {b}").parse().unwrap());
    reqwest::Client::builder().default_headers(h).build().unwrap()
}

#[tokio::test]
async fn changefeed_records_pushes_moves_and_removals_with_notary_paging() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_with_host(d);
    let c = client();
    let base = &s.base;
    let (m1, _) = push_image(&c, base, "acme/app", "v1", b"layer one".to_vec()).await.unwrap();
    let (m2, _) = push_image(&c, base, "acme/app", "v2", b"layer two".to_vec()).await.unwrap();
    let (m3, _) = push_image(&c, base, "acme/other", "v1", b"layer three".to_vec()).await.unwrap();
    let (m4, _) = push_image(&c, base, "acme/app", "v1", b"layer four".to_vec()).await.unwrap(); // v1 moves
    assert_eq!(c.delete(format!("{base}/v2/acme/app/manifests/v2")).send().await.unwrap().status(), 202);
    // One manifest under two tags, deleted by digest: one deletion record per removed tag.
    let (m5, layer) = push_image(&c, base, "acme/multi", "a", b"layer five".to_vec()).await.unwrap();
    let m5b = push_manifest_for(&c, base, "acme/multi", "b", &layer, b"layer five".len()).await.unwrap();
    assert_eq!(m5, m5b);
    assert_eq!(c.delete(format!("{base}/v2/acme/multi/manifests/{m5}")).send().await.unwrap().status(), 202);
    // A push by digest moves no tag: not in the feed.
    let (_, layer6) = push_image(&c, base, "acme/bydigest", "t", b"layer six".to_vec()).await.unwrap();
    let config = Digest::sha256_of(b"{}");
    let by_digest = serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer6.to_string(), "size": 9}],
        "annotations": {"by": "digest"},
    })
    .to_string();
    let d6 = Digest::sha256_of(by_digest.as_bytes());
    let r = c
        .put(format!("{base}/v2/acme/bydigest/manifests/{d6}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(by_digest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let (status, all) = feed(&c, &format!("{base}/v2/_trust/changefeed?change_id=0&records=100")).await;
    assert_eq!(status, 200, "{all}");
    let recs = all["records"].as_array().unwrap().clone();
    assert_eq!(all["count"], recs.len());
    let hex = |d: &Digest| d.hex().to_owned();
    let want: Vec<(&str, u64, String, &str)> = vec![
        ("acme/app", 1, hex(&m1), "update"),
        ("acme/app", 2, hex(&m2), "update"),
        ("acme/other", 1, hex(&m3), "update"),
        ("acme/app", 3, hex(&m4), "update"),
        ("acme/app", 0, String::new(), "deletion"),
        ("acme/multi", 1, hex(&m5), "update"),
        ("acme/multi", 2, hex(&m5), "update"),
        ("acme/multi", 0, String::new(), "deletion"),
        ("acme/multi", 0, String::new(), "deletion"),
        ("acme/bydigest", 1, recs[9]["SHA256"].as_str().unwrap().to_owned(), "update"),
    ];
    let got: Vec<(String, u64, String, String)> = recs
        .iter()
        .map(|r| {
            (
                r["GUN"].as_str().unwrap().to_owned(),
                r["Version"].as_u64().unwrap(),
                r["SHA256"].as_str().unwrap().to_owned(),
                r["Category"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, u64, String, String)> =
        want.into_iter().map(|(g, v, h, c)| (format!("{HOST}/{g}"), v, h, c.to_owned())).collect();
    assert_eq!(got, want);
    for r in &recs {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6, "{r}");
        let at = r["CreatedAt"].as_str().unwrap();
        assert!(at.len() == 24 && at.ends_with('Z'), "{at}");
    }

    // Ids are the journal seqs of the changes' events; a manifest delete's second record is `seq.1`.
    let evs = events(d);
    let seq_of = |kind: &str, repo: &str, tag: Option<&str>| -> Vec<String> {
        evs.iter()
            .filter(|e| e["kind"] == kind && e["target"]["repository"] == repo && e["outcome"] == "success")
            .filter(|e| tag.is_none_or(|t| e["target"]["tag"] == t))
            .map(|e| e["seq"].to_string())
            .collect()
    };
    let all_ids = ids(&all);
    assert_eq!(all_ids[0], seq_of("push_repo", "acme/app", Some("v1"))[0]);
    assert_eq!(all_ids[4], seq_of("delete_tag", "acme/app", Some("v2"))[0]);
    let del = &seq_of("delete_manifest", "acme/multi", None)[0];
    assert_eq!(all_ids[7..9], [del.clone(), format!("{del}.1")]);

    // Paging forwards by change_id reproduces the whole feed, each record once.
    let mut paged = Vec::new();
    let mut cursor = "0".to_owned();
    loop {
        let (status, page) = feed(&c, &format!("{base}/v2/_trust/changefeed?change_id={cursor}&records=3")).await;
        assert_eq!(status, 200);
        let page_ids = ids(&page);
        if page_ids.is_empty() {
            break;
        }
        assert!(page_ids.len() <= 3);
        cursor = page_ids.last().unwrap().clone();
        paged.extend(page_ids);
    }
    assert_eq!(paged, all_ids);
    // Backwards: -1 is the newest, a negative `records` the ones before an id; always oldest first.
    let (_, newest) = feed(&c, &format!("{base}/v2/_trust/changefeed?change_id=-1&records=2")).await;
    assert_eq!(ids(&newest), all_ids[8..10]);
    let (_, newest) = feed(&c, &format!("{base}/v2/_trust/changefeed?change_id=-1&records=-2")).await;
    assert_eq!(ids(&newest), all_ids[8..10]);
    let (_, before) = feed(&c, &format!("{base}/v2/_trust/changefeed?change_id={}&records=-3", all_ids[8])).await;
    assert_eq!(ids(&before), all_ids[5..8]);
    let (_, after) = feed(&c, &format!("{base}/v2/_trust/changefeed?change_id={}&records=0", all_ids[8])).await;
    assert_eq!(ids(&after), all_ids[9..]);
    let (_, none) = feed(&c, &format!("{base}/v2/_trust/changefeed?change_id=0&records=-5")).await;
    assert_eq!(none, serde_json::json!({"count": 0, "records": []}));

    // One repository, with or without DTR's host prefix; a foreign host is part of the name.
    for name in ["acme/app".to_owned(), format!("{HOST}/acme/app")] {
        let (status, app) = feed(&c, &format!("{base}/v2/{name}/_trust/changefeed?records=0")).await;
        assert_eq!(status, 200, "{name}: {app}");
        assert_eq!(ids(&app), [all_ids[0].clone(), all_ids[1].clone(), all_ids[3].clone(), all_ids[4].clone()]);
    }
    let (status, foreign) = feed(&c, &format!("{base}/v2/other.example/acme/app/_trust/changefeed?records=0")).await;
    assert_eq!((status, foreign["count"].as_u64()), (200, Some(0)));

    // Bad input: Notary's INVALID_PARAMETERS, 400.
    for q in [
        "",
        "change_id=0",
        "records=abc",
        "records=1001",
        "records=-99999",
        "change_id=abc&records=1",
        "change_id=1.x&records=1",
        "records=%ZZ",
    ] {
        let r = c.get(format!("{base}/v2/_trust/changefeed?{q}")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{q}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "INVALID_PARAMETERS", "{q}: {body}");
    }

    // Versions count a repository's updates across its deletions: acme/app's next update is its fourth.
    let (m7, _) = push_image(&c, base, "acme/app", "v7", b"layer seven".to_vec()).await.unwrap();
    let (status, last) = feed(&c, &format!("{base}/v2/acme/app/_trust/changefeed?change_id=-1&records=-1")).await;
    assert_eq!(status, 200, "{last}");
    let r = &last["records"][0];
    assert_eq!(
        (&r["Version"], &r["SHA256"], &r["Category"]),
        (&json!(4), &json!(hex(&m7)), &json!("update")),
        "{last}"
    );
    drop(s);
}

#[tokio::test]
async fn changefeed_permissions_and_the_token_flow_of_the_dtr_docs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start_with_host(d);
    let c = client();
    let base = &s.base;
    push_image(&c, base, "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    cli(d, &["user", "add", "bob", "--password-stdin"], "bob-password\n");
    cli(d, &["user", "add", "carol", "--password-stdin"], "carol-password\n");
    cli(d, &["grant", "acme/app", "carol", "--role", "read"], "");

    let anon = reqwest::Client::new();
    let global = format!("{base}/v2/_trust/changefeed?records=10");
    let repo = format!("{base}/v2/{HOST}/acme/app/_trust/changefeed?records=10");
    assert_eq!(anon.get(&global).send().await.unwrap().status(), 401);
    assert_eq!(anon.get(&repo).send().await.unwrap().status(), 401);
    let bob = basic("bob", "bob-password");
    let r = bob.get(&global).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["errors"][0]["code"], "DENIED");
    assert_eq!(bob.get(&repo).send().await.unwrap().status(), 403, "bob cannot pull acme/app");
    let carol = basic("carol", "carol-password");
    assert_eq!(carol.get(&repo).send().await.unwrap().status(), 200);
    assert_eq!(carol.get(&global).send().await.unwrap().status(), 403);

    // Seed 001's curl flow: a token from /auth/token, then the feed with it.
    let token = |who: &reqwest::Client, scope: &str| {
        let url = format!("{base}/auth/token?realm=vigil&service=vigil&scope={scope}");
        let who = who.clone();
        async move {
            let v: Value = who.get(url).send().await.unwrap().json().await.unwrap();
            assert!(v["token"].is_string() && v["access_token"].is_string(), "{v}");
            v["token"].as_str().unwrap().to_owned()
        }
    };
    let t = token(&c, "registry:catalog:*").await;
    let r = anon.get(&global).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let t = token(&carol, "repository:acme/app:pull").await;
    assert_eq!(anon.get(&repo).bearer_auth(&t).send().await.unwrap().status(), 200);
    let t = token(&bob, "repository:acme/app:pull").await; // issued, but grants nothing
    assert_eq!(anon.get(&repo).bearer_auth(&t).send().await.unwrap().status(), 401);
    drop(s);
}

/// Writers push while a reader pages with a small `records`: the reader ends up with every update exactly once,
/// in order, although it started before most of them existed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_paging_during_concurrent_pushes_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with_host(dir.path());
    let base = s.base.clone();
    let mut writers = Vec::new();
    for w in 0..4 {
        let base = base.clone();
        writers.push(tokio::spawn(async move {
            let c = client();
            for i in 0..20 {
                push_image(&c, &base, &format!("race/w{w}"), &format!("t{i}"), format!("w{w} i{i}").into_bytes())
                    .await
                    .unwrap();
            }
        }));
    }
    let reader = {
        let base = base.clone();
        tokio::spawn(async move {
            let c = client();
            let mut seen: Vec<String> = Vec::new();
            let mut cursor = "0".to_owned();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while seen.len() < 80 && std::time::Instant::now() < deadline {
                let (status, page) =
                    feed(&c, &format!("{base}/v2/_trust/changefeed?change_id={cursor}&records=7")).await;
                assert_eq!(status, 200);
                let page_ids = ids(&page);
                if let Some(last) = page_ids.last() {
                    cursor = last.clone();
                }
                seen.extend(page_ids);
            }
            seen
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    let seen = reader.await.unwrap();
    let (_, all) = feed(&client(), &format!("{base}/v2/_trust/changefeed?records=1000")).await;
    assert_eq!(ids(&all).len(), 80);
    assert_eq!(seen, ids(&all), "the paging reader skipped or repeated records");
    let seqs: Vec<u64> = seen.iter().map(|i| i.parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}
