//! Log exports told by e-mail (`callback_email`) against the running binary, with a small SMTP server each test
//! starts on 127.0.0.1 (the server under test sends with `tls = "none"`): the envelope, the headers and a body
//! whose link downloads the export; e-mail and callback together; addresses refused before any job starts; a
//! server without `[audit.export.smtp]`; and a relay that refuses, or is not there, retried and recorded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::super::push_image;
use super::super::quay_logs::{admin, as_user, assert_error, http, keys, logs, ALL_TIME};
use super::{detail, download, Env, PATIENCE};

// ---------------------------------------------------------------------------------------------------------------
// The SMTP server

/// One message the relay accepted.
#[derive(Debug, Clone)]
struct Mail {
    /// EHLO's (or HELO's) argument.
    hello: String,
    /// `MAIL FROM:<…>` and every accepted `RCPT TO:<…>`.
    from: String,
    to: Vec<String>,
    /// The message as sent after DATA, dot-stuffing undone, CRLF line ends.
    data: String,
}

impl Mail {
    /// A header's value, unfolded (the first of that name).
    fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split_once("\r\n\r\n").map_or(self.data.as_str(), |(h, _)| h);
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    fn body(&self) -> &str {
        self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    /// The body's line starting with `prefix`.
    fn line(&self, prefix: &str) -> String {
        let found = self.body().split("\r\n").find(|l| l.starts_with(prefix));
        found.unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{}", self.data)).to_owned()
    }
}

#[derive(Default)]
struct Mailbox {
    mails: Mutex<Vec<Mail>>,
    /// Every `RCPT TO` address, refused or not, with when it came.
    rcpts: Mutex<Vec<(String, Instant)>>,
    connections: Mutex<usize>,
}

/// Speaks enough of RFC 5321 for a client without TLS: 220, EHLO/HELO, MAIL, RCPT (550 for `refuse@…`), DATA,
/// RSET, NOOP, QUIT.
struct Relay {
    port: u16,
    box_: Arc<Mailbox>,
}

impl Relay {
    async fn start() -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let box_ = Arc::new(Mailbox::default());
        let shared = box_.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *shared.connections.lock().unwrap() += 1;
                tokio::spawn(session(stream, shared.clone()));
            }
        });
        Relay { port, box_ }
    }

    fn mails(&self) -> Vec<Mail> {
        self.box_.mails.lock().unwrap().clone()
    }

    fn rcpts(&self, address: &str) -> Vec<Instant> {
        self.box_.rcpts.lock().unwrap().iter().filter(|(a, _)| a == address).map(|(_, at)| *at).collect()
    }

    fn connections(&self) -> usize {
        *self.box_.connections.lock().unwrap()
    }

    /// Waits (at most `PATIENCE`) for the message to `to`.
    async fn wait(&self, to: &str) -> Mail {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(m) = self.mails().into_iter().find(|m| m.to.iter().any(|t| t == to)) {
                return m;
            }
            assert!(Instant::now() < deadline, "no mail to {to} after {PATIENCE:?}: {:?}", self.mails());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's `[audit.export.smtp]`, as environment variables, sending to this relay.
    fn config(&self) -> Vec<(&'static str, String)> {
        smtp_env(self.port)
    }
}

fn smtp_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("VIGIL_AUDIT__EXPORT__SMTP__HOST", "127.0.0.1".into()),
        ("VIGIL_AUDIT__EXPORT__SMTP__PORT", port.to_string()),
        ("VIGIL_AUDIT__EXPORT__SMTP__TLS", "none".into()),
        ("VIGIL_AUDIT__EXPORT__SMTP__FROM", "vigil registry <vigil@example.com>".into()),
        ("VIGIL_AUDIT__EXPORT__SMTP__RECIPIENT_DOMAINS", r#"["example.com", "*.example.org"]"#.into()),
    ]
}

/// Between RFC 5321 `<` and `>`.
fn path_of(arg: &str) -> String {
    arg.split_once('<').and_then(|(_, r)| r.split_once('>')).map_or(arg, |(p, _)| p).to_owned()
}

async fn session(stream: tokio::net::TcpStream, mailbox: Arc<Mailbox>) {
    let (read, mut w) = stream.into_split();
    let mut r = BufReader::new(read);
    let (mut hello, mut from, mut to) = (String::new(), String::new(), Vec::<String>::new());
    if w.write_all(b"220 relay.test ESMTP ready\r\n").await.is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let verb = cmd.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => {
                hello = cmd[5..].trim().to_owned();
                b"250 relay.test\r\n"
            }
            "MAIL" => {
                (from, to) = (path_of(cmd), Vec::new());
                b"250 2.1.0 ok\r\n"
            }
            "RCPT" => {
                let rcpt = path_of(cmd);
                mailbox.rcpts.lock().unwrap().push((rcpt.clone(), Instant::now()));
                if rcpt.starts_with("refuse@") {
                    b"550 5.1.1 no such mailbox here\r\n"
                } else {
                    to.push(rcpt);
                    b"250 2.1.5 ok\r\n"
                }
            }
            "DATA" if to.is_empty() => b"503 5.5.1 no valid recipients\r\n",
            "DATA" => {
                let _ = w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                let mail = Mail { hello: hello.clone(), from: from.clone(), to: std::mem::take(&mut to), data };
                mailbox.mails.lock().unwrap().push(mail);
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 2.0.0 ok\r\n"
            }
            "NOOP" => b"250 2.0.0 ok\r\n",
            "QUIT" => {
                let _ = w.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            _ => b"502 5.5.2 not implemented\r\n",
        };
        if w.write_all(answer).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/// A server whose exports may e-mail through `relay` (and call back its receiver).
async fn env_with(relay: &Relay, more: &[(&str, &str)]) -> Env {
    let config = relay.config();
    let envs: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).chain(more.iter().copied()).collect();
    Env::start(&[], &envs).await
}

/// `POST path` with `body`; the export's id.
async fn ask(env: &Env, c: &reqwest::Client, path: &str, body: Value) -> String {
    let (status, answer) = env.post(c, path, &body.to_string()).await;
    assert_eq!(status, 200, "POST {path} {body}: {answer}");
    assert_eq!(keys(&answer), ["export_id"], "{answer}");
    answer["export_id"].as_str().unwrap().to_owned()
}

/// The download link in a mail's body, checked against the server's address and the export.
fn link_of(env: &Env, mail: &Mail, id: &str) -> String {
    let link = mail.line(&env.url("/api/v1/audit/exports/"));
    assert!(link.starts_with(&env.url(&format!("/api/v1/audit/exports/{id}.json?expires="))), "{link}");
    link
}

// ---------------------------------------------------------------------------------------------------------------
// Tests

/// `{"callback_email"}` alone: one message to that address from `from`, saying what the export holds, whose link
/// downloads the export file (for anyone, until it expires); the job's end records that the e-mail went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_only_export_sends_one_message_with_a_working_link() {
    let relay = Relay::start().await;
    let env = env_with(&relay, &[]).await;
    let c = admin();
    push_image(&c, env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    env.settle().await;
    let path = format!("/api/v1/repository/acme/app/exportlogs?{ALL_TIME}");
    let id = ask(&env, &c, &path, json!({ "callback_email": "ops@example.com" })).await;

    let mail = relay.wait("ops@example.com").await;
    assert_eq!((mail.from.as_str(), mail.to.as_slice()), ("vigil@example.com", &["ops@example.com".to_owned()][..]));
    let host = env.base().split("://").nth(1).unwrap().split(':').next().unwrap();
    assert_eq!(mail.hello, format!("[{host}]"), "EHLO names where the server is reached");
    let header = |name: &str| mail.header(name).unwrap_or_else(|| panic!("no {name} header in\n{}", mail.data));
    assert_eq!(header("From"), "\"vigil registry\" <vigil@example.com>");
    assert_eq!(header("To"), "ops@example.com");
    assert_eq!(header("Subject"), format!("vigil: audit log export {id} ready"));
    assert_eq!(header("Message-ID"), format!("<export-{id}@example.com>"));
    assert!(header("Date").ends_with(" +0000") || header("Date").ends_with(" GMT"), "{}", header("Date"));
    assert_eq!(header("MIME-Version"), "1.0");
    assert_eq!(header("Content-Type"), "text/plain; charset=utf-8");
    assert_eq!(header("Content-Transfer-Encoding"), "7bit");
    assert!(mail.header("Bcc").is_none() && mail.header("Cc").is_none());
    assert!(mail.body().starts_with("Your audit log export is ready.\r\n"), "{}", mail.data);
    assert_eq!(mail.line("Export:"), format!("Export:     {id}"));
    assert_eq!(mail.line("Scope:"), "Scope:      repository acme/app");
    assert_eq!(
        mail.line("Time range:"),
        "Time range: Wed, 01 Jan 2020 00:00:00 -0000 to Sat, 02 Jan 2100 00:00:00 -0000"
    );
    assert_eq!(mail.line("Entries:"), "Entries:    3", "a push's three events");
    let before = mail.line("Download it before ");
    assert!(before.ends_with(" -0000 (anyone holding the link can):"), "{before}");

    // The link: the export file itself, for anyone, valid for `url_ttl` (one hour).
    let link = link_of(&env, &mail, &id);
    let expires: u64 = link.split("expires=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    let now = super::now_secs();
    assert!((now + 3590..=now + 3601).contains(&expires), "expires {expires}, now {now}");
    let file = download(&json!({ "exported_data_url": link, "export_id": id })).await;
    assert_eq!(logs(&file).len(), 3);
    let bytes = http(None).get(&link).send().await.unwrap().bytes().await.unwrap();
    let on_disk = std::fs::read(env.data().join(format!("exports/{id}.json"))).unwrap();
    assert_eq!(bytes.as_ref(), on_disk.as_slice(), "the link serves the export file");

    // Recorded: the request with the address, the end with the e-mail's outcome.
    let end = env.export_end(&id).await;
    assert_eq!((&end["kind"], &end["outcome"]), (&json!("export_logs_success"), &json!("success")), "{end}");
    assert_eq!(
        detail(&end),
        json!({
            "export_id": id, "entries": 3, "error": null, "callback_url": null, "callback_status": null,
            "callback_email": "ops@example.com", "email_status": "sent",
        })
    );
    let req = env.events().into_iter().find(|e| e["kind"] == "export_logs").unwrap();
    assert_eq!(detail(&req), json!({ "export_id": id, "callback_url": null, "callback_email": "ops@example.com" }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(relay.mails().len(), 1, "one export, one message");
    assert_eq!(env.hook.total_calls(), 0, "no callback was asked for");
}

/// `callback_url` and `callback_email` together: both are told, with the same link; a user's own export names
/// the user, and a subdomain of a `*.` entry is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_and_email_together_both_delivered() {
    let relay = Relay::start().await;
    let env = env_with(&relay, &[]).await;
    env.cli(&["org", "create", "acme"], "");
    env.add_user("alice");
    env.cli(&["org", "add-member", "acme", "alice", "--role", "admin"], "");
    push_image(&as_user("alice"), env.base(), "acme/app", "v1", b"alice".to_vec()).await.unwrap();
    env.settle().await;

    let cases = [
        ("/api/v1/organization/acme/exportlogs", "/org", "ops@team.example.org", "organization acme"),
        ("/api/v1/user/exportlogs", "/own", "alice@example.com", "user alice, kind push_repo"),
    ];
    for (path, hook_path, to, scope) in cases {
        let query = if path.contains("/user/") { format!("{ALL_TIME}&kind=push_repo") } else { ALL_TIME.into() };
        let body = json!({ "callback_url": env.hook.url(hook_path), "callback_email": to });
        let id = ask(&env, &as_user("alice"), &format!("{path}?{query}"), body).await;
        let call = env.hook.wait(hook_path, 1).await.remove(0);
        assert_eq!((&call.body["export_id"], &call.body["status"]), (&json!(id), &json!("success")));
        let mail = relay.wait(to).await;
        assert_eq!(mail.header("Subject").unwrap(), format!("vigil: audit log export {id} ready"));
        assert_eq!(mail.line("Scope:"), format!("Scope:      {scope}"));
        let link = link_of(&env, &mail, &id);
        assert_eq!(call.body["exported_data_url"], link.as_str(), "the callback and the e-mail carry one link");
        let file = download(&call.body).await;
        assert_eq!(mail.line("Entries:"), format!("Entries:    {}", logs(&file).len()));
        let end = env.export_end(&id).await;
        assert_eq!(end["kind"], "export_logs_success", "{end}");
        let d = detail(&end);
        assert_eq!(
            (&d["callback_status"], &d["email_status"], &d["error"]),
            (&json!(200), &json!("sent"), &Value::Null)
        );
        assert_eq!((&d["callback_url"], &d["callback_email"]), (&json!(env.hook.url(hook_path)), &json!(to)));
    }
    assert_eq!(relay.mails().len(), 2);
    assert_eq!(env.hook.total_calls(), 2);
}

/// Anything but one plain address on an allowed domain is a 400 naming the problem, whatever else the body
/// holds; nothing is sent, no job starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_addresses_are_a_400_and_nothing_is_sent() {
    let relay = Relay::start().await;
    let env = env_with(&relay, &[]).await;
    push_image(&admin(), env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    env.settle().await;
    let long = format!("{}@example.com", "a".repeat(243));
    assert_eq!(long.len(), 255);
    let one = "must be one address such as ops@example.com";
    let cases: Vec<(Value, &str)> = vec![
        (json!("not an address"), one),
        (json!("ops"), "`callback_email` \"ops\" is not an e-mail address"),
        (json!("ops@"), "is not an e-mail address"),
        (json!("a@example.com, b@example.com"), one),
        (json!("a@example.com,b@example.com"), one),
        (json!("a@example.com;b@example.com"), one),
        (json!("a@b@example.com"), one),
        (json!("Ops <ops@example.com>"), one),
        (json!("a@example.com\r\nBcc: x@evil.test"), one),
        (json!("a@example.com\nBcc:x@evil.test"), one),
        (
            json!("ops@evil.test"),
            "`callback_email`'s domain evil.test is not in this server's audit.export.smtp.recipient_domains",
        ),
        (json!("ops@example.com.evil.test"), "is not in this server's"),
        (json!("ops@sub.example.com"), "is not in this server's"),
        (json!("ops@example.org"), "is not in this server's"), // `*.example.org` is its subdomains only
        (json!(long), "`callback_email` is longer than 254 bytes"),
        (json!(5), "the body must be a JSON object"),
    ];
    let c = admin();
    let mut asked = 0;
    for level in ["/api/v1/repository/acme/app/exportlogs", "/api/v1/user/exportlogs"] {
        for (address, says) in &cases {
            // Alone, and next to a good callback URL: a bad address refuses the whole export.
            for body in [
                json!({ "callback_email": address }),
                json!({ "callback_email": address, "callback_url": env.hook.url("/never") }),
            ] {
                let (status, answer) = env.post(&c, &format!("{level}?{ALL_TIME}"), &body.to_string()).await;
                assert_error(status, &answer, 400, "invalid_request", says, &format!("POST {level} {body}"));
                asked += 1;
            }
        }
        let (status, answer) = env.post(&c, &format!("{level}?{ALL_TIME}"), "{}").await;
        let says = "`callback_url` or `callback_email` is required";
        assert_error(status, &answer, 400, "invalid_request", says, "an empty body");
        asked += 1;
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(relay.connections(), 0, "the relay was never contacted");
    assert_eq!(env.hook.total_calls(), 0);
    let events = env.events();
    assert!(!events.iter().any(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("export_logs_"))));
    let requests: Vec<&Value> = events.iter().filter(|e| e["kind"] == "export_logs").collect();
    assert_eq!(requests.len(), asked);
    assert!(requests.iter().all(|e| e["response"]["status"] == 400 && e["outcome"] == "failed"));
    let files = std::fs::read_dir(env.data().join("exports")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "no export was written");
}

/// Without `[audit.export.smtp]` a `callback_email` is refused, saying e-mail is not configured, even next to a
/// callback URL; callback-only exports work as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_callback_email_is_refused() {
    let env = Env::start(&[], &[]).await;
    let c = admin();
    push_image(&c, env.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
    env.settle().await;
    let path = format!("/api/v1/repository/acme/app/exportlogs?{ALL_TIME}");
    let says = "e-mail is not configured on this server (no audit.export.smtp.host)";
    for body in [
        json!({ "callback_email": "ops@example.com" }),
        json!({ "callback_email": "ops@example.com", "callback_url": env.hook.url("/never") }),
        json!({ "callback_email": "not an address" }),
    ] {
        let (status, answer) = env.post(&c, &path, &body.to_string()).await;
        assert_error(status, &answer, 400, "invalid_request", says, &format!("{body}"));
    }
    let (status, answer) = env.post(&c, &path, "{}").await;
    assert_error(status, &answer, 400, "invalid_request", "`callback_url` is required", "{}");
    // An empty address is no address.
    let body = json!({ "callback_email": "", "callback_url": env.hook.url("/works") });
    let id = ask(&env, &c, &path, body).await;
    env.hook.wait("/works", 1).await;
    let d = detail(&env.export_end(&id).await);
    assert_eq!(
        (&d["callback_email"], &d["email_status"], &d["callback_status"]),
        (&Value::Null, &Value::Null, &json!(200))
    );
    assert_eq!(env.hook.calls("/never").len(), 0);
}

/// A relay that refuses the recipient (550), or no relay at all: tried three times, a second and three seconds
/// apart, then `export_logs_failure` with the e-mail's error; the callback asked for with it still goes, and
/// the server keeps serving and e-mailing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_or_absent_relay_is_retried_and_recorded() {
    let relay = Relay::start().await;
    let env = env_with(&relay, &[]).await;
    // A second server whose relay port has nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let absent_config = smtp_env(closed);
    let absent_envs: Vec<(&str, &str)> = absent_config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let absent = Env::start(&[], &absent_envs).await;
    let c = admin();
    for e in [&env, &absent] {
        push_image(&c, e.base(), "acme/app", "v1", b"layer".to_vec()).await.unwrap();
        e.settle().await;
    }
    let path = format!("/api/v1/repository/acme/app/exportlogs?{ALL_TIME}");
    let asked = Instant::now();
    let refused = ask(&env, &c, &path, json!({ "callback_email": "refuse@example.com" })).await;
    let both = json!({ "callback_email": "refuse@team.example.org", "callback_url": env.hook.url("/ok") });
    let refused_with_callback = ask(&env, &c, &path, both).await;
    let nobody = ask(&absent, &c, &path, json!({ "callback_email": "ops@example.com" })).await;
    assert!(asked.elapsed() < Duration::from_secs(2), "the answers waited for the e-mail");

    // Refused: three RCPTs, a second then three seconds apart, then the failure naming the relay's answer.
    let end = env.export_end(&refused).await;
    assert_eq!((&end["kind"], &end["outcome"]), (&json!("export_logs_failure"), &json!("failed")), "{end}");
    assert_eq!(end["response"]["status"], 500, "{end}");
    let d = detail(&end);
    assert_eq!(
        d["error"],
        "the e-mail to refuse@example.com failed: permanent error (550): 5.1.1 no such mailbox here (3 attempts)",
        "{end}"
    );
    assert_eq!((&d["email_status"], &d["entries"], &d["callback_status"]), (&json!("failed"), &json!(3), &Value::Null));
    let at = relay.rcpts("refuse@example.com");
    assert_eq!(at.len(), 3, "{at:?}");
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_millis(900) && gaps[0] < Duration::from_millis(2500), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(2900) && gaps[1] < Duration::from_millis(4500), "{gaps:?}");

    // With a callback: the callback took it, the e-mail did not; the export failed, and says which part.
    let end = env.export_end(&refused_with_callback).await;
    assert_eq!(end["kind"], "export_logs_failure", "{end}");
    let d = detail(&end);
    assert_eq!((&d["callback_status"], &d["email_status"]), (&json!(200), &json!("failed")), "{end}");
    let error = d["error"].as_str().unwrap();
    assert!(error.starts_with("the e-mail to refuse@team.example.org failed: permanent error (550)"), "{error}");
    assert_eq!(env.hook.calls("/ok").len(), 1);

    // Nobody listening: three connections refused.
    let end = absent.export_end(&nobody).await;
    assert_eq!(end["kind"], "export_logs_failure", "{end}");
    let d = detail(&end);
    let error = d["error"].as_str().unwrap();
    assert!(error.starts_with("the e-mail to ops@example.com failed: Connection error: "), "{error}");
    assert!(error.ends_with(" (3 attempts)"), "{error}");
    assert!(asked.elapsed() < Duration::from_secs(15), "{:?}", asked.elapsed());

    // Nothing was delivered, and both servers still serve; the relay still takes the next good address.
    assert!(relay.mails().is_empty(), "{:?}", relay.mails());
    for e in [&env, &absent] {
        assert_eq!(http(None).get(e.url("/health")).send().await.unwrap().status(), 200);
    }
    let id = ask(&env, &c, &path, json!({ "callback_email": "ops@example.com" })).await;
    relay.wait("ops@example.com").await;
    assert_eq!(detail(&env.export_end(&id).await)["email_status"], "sent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(relay.rcpts("refuse@example.com").len(), 3, "no attempt after the last");
}
