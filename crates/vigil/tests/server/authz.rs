//! Authorization matrix and bad-credential tests against the real binary: every kind of caller against pull,
//! push and delete, the token service's intersection, mounts and the catalog, and malformed credentials.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use base64::Engine as _;
use reqwest::StatusCode;

use super::{client, push_image, start, vigil};

/// Runs a `vigil` command against the data directory and returns its stdout.
fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child =
        vigil(data).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

struct Outcome {
    status: StatusCode,
    challenge: String,
    code: String,
}

async fn call(c: &reqwest::Client, method: reqwest::Method, url: &str, auth: Option<&str>, body: Vec<u8>) -> Outcome {
    let mut req = c.request(method, url).body(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = r.text().await.unwrap();
    let code = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Outcome { status, challenge, code }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let admin = client();
    push_image(&admin, &s.base, "acme/app", "v1", b"acme layer".to_vec()).await.unwrap();
    push_image(&admin, &s.base, "otto/own", "v1", b"otto layer".to_vec()).await.unwrap();

    for user in ["rita", "will", "nina"] {
        cli(d, &["user", "add", user, "--password-stdin"], Some(&format!("{user}-password\n")));
    }
    // The admin pushed into otto/ and acme/ before their accounts existed: they are adopted explicitly.
    cli(d, &["user", "add", "otto", "--adopt", "--password-stdin"], Some("otto-password\n"));
    cli(d, &["org", "create", "acme", "--adopt"], None);
    cli(d, &["org", "add-member", "acme", "will", "--role", "write"], None);
    cli(d, &["org", "add-member", "acme", "nina", "--role", "admin"], None);
    cli(d, &["grant", "acme/app", "rita", "--role", "read"], None);
    let robot = cli(d, &["robot", "create", "acme", "ci"], None);
    cli(d, &["grant", "acme/app", "acme+ci", "--role", "write"], None);
    let idle_robot = cli(d, &["robot", "create", "acme", "idle"], None);
    let scoped = cli(d, &["token", "create", "--user", "will", "--scope", "acme/app:pull"], None);
    let revoked = cli(d, &["token", "create", "--user", "will"], None);
    let revoked_id = revoked.split('_').nth(1).unwrap().to_owned();
    cli(d, &["token", "revoke", &revoked_id], None);
    let expired = cli(d, &["token", "create", "--user", "will", "--expires-in-days", "1"], None);
    let expired_id = expired.split('_').nth(1).unwrap().to_owned();
    // Move its expiry into the past directly in the store (the CLI only makes future expiries).
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c=sqlite3.connect('{}'); c.execute(\"UPDATE tokens SET expires_at=1 WHERE id='{expired_id}'\"); c.commit()",
            d.join("vigil.db").display()
        ))
        .status()
        .unwrap();
    assert!(status.success());

    let callers: Vec<(&str, Option<String>)> = vec![
        ("anonymous", None),
        ("reader", Some(basic("rita", "rita-password"))),
        ("writer", Some(basic("will", "will-password"))),
        ("namespace admin", Some(basic("nina", "nina-password"))),
        ("other user", Some(basic("otto", "otto-password"))),
        ("robot with grant", Some(basic("acme+ci", &robot))),
        ("robot without grant", Some(basic("acme+idle", &idle_robot))),
        ("token scoped to pull", Some(format!("Bearer {scoped}"))),
        ("expired token", Some(basic("will", &expired))),
        ("revoked token", Some(basic("will", &revoked))),
        ("global admin", Some(basic("admin", super::ADMIN_PASSWORD))),
    ];
    // (pull, push, delete) expected statuses. Delete targets a tag that does not exist: allowed = 404.
    let expected: &[(&str, [u16; 3])] = &[
        ("anonymous", [401, 401, 401]),
        ("reader", [200, 403, 403]),
        ("writer", [200, 201, 404]),
        ("namespace admin", [200, 201, 404]),
        ("other user", [403, 403, 403]),
        ("robot with grant", [200, 201, 404]),
        ("robot without grant", [403, 403, 403]),
        ("token scoped to pull", [200, 403, 403]),
        ("expired token", [401, 401, 401]),
        ("revoked token", [401, 401, 401]),
        ("global admin", [200, 201, 404]),
    ];
    let c = reqwest::Client::new();
    let blob = b"matrix blob".to_vec();
    let digest = vigil_core::Digest::sha256_of(&blob);
    let mut failures = Vec::new();
    for (name, auth) in &callers {
        let want = expected.iter().find(|(n, _)| n == name).unwrap().1;
        let pull =
            call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/manifests/v1", s.base), auth.as_deref(), vec![])
                .await;
        let push = call(
            &c,
            reqwest::Method::POST,
            &format!("{}/v2/acme/app/blobs/uploads/?digest={digest}", s.base),
            auth.as_deref(),
            blob.clone(),
        )
        .await;
        let del = call(
            &c,
            reqwest::Method::DELETE,
            &format!("{}/v2/acme/app/manifests/no-such-tag", s.base),
            auth.as_deref(),
            vec![],
        )
        .await;
        let got = [pull.status.as_u16(), push.status.as_u16(), del.status.as_u16()];
        if got != want {
            failures.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
        for o in [&pull, &push, &del] {
            match o.status.as_u16() {
                401 => assert!(
                    o.challenge.starts_with("Bearer realm=\"") && o.code == "UNAUTHORIZED",
                    "{name}: {}",
                    o.challenge
                ),
                403 => assert_eq!(o.code, "DENIED", "{name}"),
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "authorization matrix mismatches:\n{}", failures.join("\n"));

    // Anonymous challenges name the scope needed.
    let anon = call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/manifests/v1", s.base), None, vec![]).await;
    assert!(anon.challenge.contains("scope=\"repository:acme/app:pull\""), "{}", anon.challenge);

    // Token service: the grant is the intersection of what is asked and what is allowed.
    let token_for = |user: &str, pass: &str, scope: &str| {
        let (c, base, auth, scope) = (c.clone(), s.base.clone(), basic(user, pass), scope.to_owned());
        async move {
            let r = c
                .get(format!("{base}/auth/token?service=vigil&scope={scope}"))
                .header("authorization", auth)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
        }
    };
    let rita_jwt = token_for("rita", "rita-password", "repository:acme/app:pull,push").await;
    let bearer = format!("Bearer {rita_jwt}");
    let pull =
        call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/manifests/v1", s.base), Some(&bearer), vec![]).await;
    assert_eq!(pull.status, 200);
    let push =
        call(&c, reqwest::Method::POST, &format!("{}/v2/acme/app/blobs/uploads/", s.base), Some(&bearer), vec![]).await;
    assert_eq!(push.status, 401);
    assert!(
        push.challenge.contains("error=\"insufficient_scope\"")
            && push.challenge.contains("repository:acme/app:pull,push")
    );
    // A registry token is limited to its scope even where the account could do more.
    let otto_jwt = format!("Bearer {}", token_for("otto", "otto-password", "repository:otto/own:pull").await);
    let own_push =
        call(&c, reqwest::Method::POST, &format!("{}/v2/otto/own/blobs/uploads/", s.base), Some(&otto_jwt), vec![])
            .await;
    assert_eq!(own_push.status, 401);

    // Mount: otto cannot read acme/app, so mounting from it falls back to a plain upload session (202) and
    // reveals nothing about acme/app; will, a writer of acme, can mount between acme repositories.
    let layer = vigil_core::Digest::sha256_of(b"acme layer");
    let otto = basic("otto", "otto-password");
    let m = call(
        &c,
        reqwest::Method::POST,
        &format!("{}/v2/otto/x/blobs/uploads/?mount={layer}&from=acme/app", s.base),
        Some(&otto),
        vec![],
    )
    .await;
    assert_eq!(m.status, 202);
    let stolen =
        call(&c, reqwest::Method::GET, &format!("{}/v2/otto/x/blobs/{layer}", s.base), Some(&otto), vec![]).await;
    assert_eq!(stolen.status, 404);
    let will = basic("will", "will-password");
    let m = call(
        &c,
        reqwest::Method::POST,
        &format!("{}/v2/acme/other/blobs/uploads/?mount={layer}&from=acme/app", s.base),
        Some(&will),
        vec![],
    )
    .await;
    assert_eq!(m.status, 201);
    // Referrers need pull on the repository.
    let r =
        call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/referrers/{layer}", s.base), Some(&otto), vec![]).await;
    assert_eq!(r.status, 403);

    // The catalog lists only what the caller may read.
    let catalog = |auth: String| {
        let (c, base) = (c.clone(), s.base.clone());
        async move {
            let r = c.get(format!("{base}/v2/_catalog")).header("authorization", auth).send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()["repositories"].clone()
        }
    };
    assert_eq!(catalog(otto.clone()).await, serde_json::json!(["otto/own"]));
    assert_eq!(catalog(basic("rita", "rita-password")).await, serde_json::json!(["acme/app"]));

    // Anonymous pull once the repository is public, and token-service pull tokens for anonymous callers.
    cli(d, &["visibility", "acme/app"], None);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await; // roles are cached for up to 2 s
    let anon = call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/manifests/v1", s.base), None, vec![]).await;
    assert_eq!(anon.status, 200);
    let anon_push =
        call(&c, reqwest::Method::POST, &format!("{}/v2/acme/app/blobs/uploads/", s.base), None, vec![]).await;
    assert_eq!(anon_push.status, 401);
    let r =
        c.get(format!("{}/auth/token?service=vigil&scope=repository:acme/app:pull,push", s.base)).send().await.unwrap();
    let t = r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let pull = call(
        &c,
        reqwest::Method::GET,
        &format!("{}/v2/acme/app/manifests/v1", s.base),
        Some(&format!("Bearer {t}")),
        vec![],
    )
    .await;
    assert_eq!(pull.status, 200);

    // Revoking a token invalidates registry tokens obtained with it, at once.
    let live = cli(d, &["token", "create", "--user", "will"], None);
    let jwt = format!("Bearer {}", token_for("will", &live, "repository:acme/app:pull").await);
    let ok = call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/tags/list", s.base), Some(&jwt), vec![]).await;
    assert_eq!(ok.status, 200);
    // Cargo's form: the API token as the whole header value, no scheme. A bare bad token is refused like any.
    let bare = call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/tags/list", s.base), Some(&live), vec![]).await;
    assert_eq!(bare.status, 200);
    let forged = format!("{}x", live);
    let bad = call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/tags/list", s.base), Some(&forged), vec![]).await;
    assert_eq!(bad.status, 401);
    cli(d, &["token", "revoke", live.split('_').nth(1).unwrap()], None);
    let gone = call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/tags/list", s.base), Some(&jwt), vec![]).await;
    assert_eq!((gone.status.as_u16(), gone.challenge.contains("invalid_token")), (401, true));
    let gone = call(&c, reqwest::Method::GET, &format!("{}/v2/acme/app/tags/list", s.base), Some(&live), vec![]).await;
    assert_eq!(gone.status, 401, "a revoked bare token");
}

#[tokio::test]
async fn bad_credentials_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[("VIGIL_AUTH__MAX_FAILURES_PER_USER", "3")]);
    let c = reqwest::Client::new();
    let v2 = format!("{}/v2/", s.base);
    let cases: &[(&str, u16, &str)] = &[
        ("Basic", 401, "UNAUTHORIZED"),
        ("Basic !!!notbase64", 401, "UNAUTHORIZED"),
        ("Basic bm9jb2xvbg==", 401, "UNAUTHORIZED"), // "nocolon"
        ("Digest abc", 401, "UNAUTHORIZED"),
        ("Bearer not.a.jwt", 401, "UNAUTHORIZED"),
        ("Bearer vgt_0000000000000000_000000000000000000000000000000000000000000000000", 401, "UNAUTHORIZED"),
    ];
    for (header, status, code) in cases {
        let o = call(&c, reqwest::Method::GET, &v2, Some(header), vec![]).await;
        assert_eq!((o.status.as_u16(), o.code.as_str()), (*status, *code), "{header}");
    }
    // A JWT signed with another key, and one whose payload was edited, are refused.
    let forged = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ2aWdpbCIsInN1YiI6IiIsImF1ZCI6InZpZ2lsIiwiZXhwIjo5OTk5OTk5OTk5LCJuYmYiOjAsImlhdCI6MCwianRpIjoieCIsIm5hbWUiOiJhZG1pbiIsImNyZWQiOiJwYXNzd29yZCIsImFjY2VzcyI6W119.c2lnbmF0dXJl";
    let o =
        call(&c, reqwest::Method::GET, &format!("{}/v2/_catalog", s.base), Some(&format!("Bearer {forged}")), vec![])
            .await;
    assert_eq!(o.status, 401);
    assert!(o.challenge.contains("invalid_token"));

    // Token service: bad scopes are 400 with a reason; wrong passwords 401; then throttled with 429.
    let admin = basic("admin", super::ADMIN_PASSWORD);
    for scope in
        ["repository:../../etc:pull", "repository:a:fly", "bogus", &format!("repository:{}:pull", "a".repeat(600))]
    {
        let r = c
            .get(format!("{}/auth/token?service=vigil&scope={scope}", s.base))
            .header("authorization", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{scope}");
        assert!(r.text().await.unwrap().contains("scope"));
    }
    let r = c.get(format!("{}/auth/token?service=other", s.base)).header("authorization", &admin).send().await.unwrap();
    assert_eq!(r.status(), 400);
    for _ in 0..3 {
        let o = call(&c, reqwest::Method::GET, &v2, Some(&basic("admin", "wrong")), vec![]).await;
        assert_eq!(o.status, 401);
    }
    // Throttled now, even with the right password, until the window passes.
    let o = call(&c, reqwest::Method::GET, &v2, Some(&admin), vec![]).await;
    assert_eq!((o.status.as_u16(), o.code.as_str()), (429, "TOOMANYREQUESTS"));
}

#[tokio::test]
async fn admin_api_manages_identity_with_quay_paths() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[]);
    let admin = client();
    let api = |path: &str| format!("{}/api/v1{path}", s.base);
    // Global admin creates a user; the user creates an org (becoming its admin), a team, a robot and a grant.
    let r = admin
        .post(api("/superuser/users/"))
        .json(&serde_json::json!({"username": "dana", "password": "dana-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dana = basic("dana", "dana-password");
    let c = reqwest::Client::new();
    let me: serde_json::Value =
        c.get(api("/user/")).header("authorization", &dana).send().await.unwrap().json().await.unwrap();
    assert_eq!((me["username"].as_str(), me["kind"].as_str()), (Some("dana"), Some("user")));
    let r = c
        .post(api("/organization/"))
        .header("authorization", &dana)
        .json(&serde_json::json!({"name": "shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .put(api("/organization/shop/team/builders"))
        .header("authorization", &dana)
        .json(&serde_json::json!({"role": "creator"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let robot: serde_json::Value = c
        .put(api("/organization/shop/robots/deployer"))
        .header("authorization", &dana)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(robot["name"], "shop+deployer");
    let robot_auth = basic("shop+deployer", robot["token"].as_str().unwrap());
    let r = c
        .put(api("/repository/shop/web/permissions/user/shop+deployer"))
        .header("authorization", &dana)
        .json(&serde_json::json!({"role": "write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let push =
        call(&c, reqwest::Method::POST, &format!("{}/v2/shop/web/blobs/uploads/", s.base), Some(&robot_auth), vec![])
            .await;
    assert_eq!(push.status, 202);
    // API tokens as Bearer on the admin API; created once, listed without the secret, revoked.
    let t: serde_json::Value = c
        .post(api("/user/tokens"))
        .header("authorization", &dana)
        .json(&serde_json::json!({"name": "ci", "scopes": ["shop/*:pull"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
    let me: serde_json::Value =
        c.get(api("/user/")).header("authorization", &bearer).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["credential"], "token");
    let listed = c.get(api("/user/tokens")).header("authorization", &dana).send().await.unwrap().text().await.unwrap();
    assert!(listed.contains("\"ci\"") && !listed.contains(t["token"].as_str().unwrap()));
    // Denials and bad input.
    let otto = c
        .post(api("/superuser/users/"))
        .header("authorization", &dana)
        .json(&serde_json::json!({"username": "x", "password": "xxxxxxxxxx"}))
        .send()
        .await
        .unwrap();
    assert_eq!(otto.status(), 403);
    let r = c.get(api("/user/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c.post(api("/organization/")).header("authorization", &dana).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid JSON"));
    let r = c
        .put(api("/repository/admin/secret/permissions/user/dana"))
        .header("authorization", &dana)
        .json(&serde_json::json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "dana cannot grant herself rights on admin's namespace");
    let r = c
        .post(api("/repository/shop/web/changevisibility"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a scoped token cannot administer");
    let r = c
        .post(api("/repository/shop/web/changevisibility"))
        .header("authorization", &dana)
        .json(&serde_json::json!({"visibility": "sideways"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .delete(api(&format!("/user/tokens/{}", t["id"].as_str().unwrap())))
        .header("authorization", &dana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(c.get(api("/user/")).header("authorization", &bearer).send().await.unwrap().status(), 401);
    let spec: serde_json::Value = c.get(api("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/api/v1/organization/{org}/robots/{name}"].is_object());
}

/// Parallel wrong passwords for one user are throttled too: attempts count while their hash is being checked,
/// so no more than the per-user limit are ever checked, however many arrive at once.
#[tokio::test]
async fn parallel_wrong_passwords_are_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[("VIGIL_AUTH__MAX_FAILURES_PER_USER", "3")]);
    let c = client();
    let v2 = format!("{}/v2/", s.base);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (c, v2) = (c.clone(), v2.clone());
        tasks.spawn(async move { call(&c, reqwest::Method::GET, &v2, Some(&basic("admin", "wrong")), vec![]).await });
    }
    let mut statuses = Vec::new();
    while let Some(o) = tasks.join_next().await {
        statuses.push(o.unwrap().status.as_u16());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + throttled, 40, "{statuses:?}");
    assert!(checked <= 3, "at most the per-user limit (3 here) are checked: {statuses:?}");
}
