//! E-mail for log exports: `{"callback_email"}` in an `exportlogs` body gets a plain-text message when the export
//! ends, with the signed download link and its expiry (or why it failed), sent through the relay in
//! `[audit.export.smtp]` with lettre.
//!
//! Mail only goes to domains in `audit.export.smtp.recipient_domains` (empty refuses every address), so the
//! registry cannot be made to send mail anywhere; the address must be exactly one plain address, which also
//! keeps anything but an address out of the envelope and the headers.

use std::path::Path;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use vigil_audit::settings::{SmtpSettings, SmtpTls};
use vigil_core::time::rfc2822;

/// Longest address accepted (RFC 5321's path limit less the brackets).
const MAX_ADDRESS: usize = 254;
/// Per SMTP command, as for the URL callback.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Domains mail may go to: `example.com`, or `*.example.com` for its subdomains (not the domain itself).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecipientDomains(Vec<(String, bool)>);

impl RecipientDomains {
    pub fn parse(entries: &[String]) -> Result<RecipientDomains, String> {
        let parse = |entry: &String| {
            let (subdomains, domain) = match entry.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, entry.as_str()),
            };
            if !is_domain(domain) {
                return Err(format!("{entry:?} is not a domain such as example.com or *.example.com"));
            }
            Ok((domain.to_ascii_lowercase(), subdomains))
        };
        entries.iter().map(parse).collect::<Result<_, _>>().map(RecipientDomains)
    }

    fn allows(&self, domain: &str) -> bool {
        let domain = domain.to_ascii_lowercase();
        self.0.iter().any(|(d, subdomains)| match subdomains {
            true => domain.strip_suffix(d.as_str()).is_some_and(|h| h.len() > 1 && h.ends_with('.')),
            false => domain == *d,
        })
    }
}

/// A DNS name of letters, digits and hyphens (IDNs in their `xn--` form).
fn is_domain(s: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty() && s.len() <= 253 && s.split('.').all(label)
}

/// `[audit.export.smtp]`, checked. `None` when no `host` is set (e-mail off).
#[derive(Debug)]
pub struct Relay {
    host: String,
    port: u16,
    tls: SmtpTls,
    from: Mailbox,
    username: Option<String>,
    domains: RecipientDomains,
}

impl Relay {
    /// Every key's value, without reading the password file: the configuration's validation at start.
    pub fn check(s: &SmtpSettings) -> Result<Option<Relay>, String> {
        let e = |key: &str, msg: String| format!("audit.export.smtp.{key}: {msg}");
        let Some(host) = s.host.as_deref() else {
            if !s.is_unset() {
                return Err(e("host", "is required when any other audit.export.smtp key is set".into()));
            }
            return Ok(None);
        };
        let name = |h: &str| h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if host.is_empty() || !(name(host) || host.parse::<std::net::IpAddr>().is_ok()) {
            return Err(e("host", format!("{host:?} is not a host name or address (give the port as `port`)")));
        }
        let port = s.port.unwrap_or(if s.tls == SmtpTls::Tls { 465 } else { 587 });
        if port == 0 {
            return Err(e("port", "must be between 1 and 65535".into()));
        }
        let from = s.from.as_deref().ok_or_else(|| e("from", "is required when host is set".into()))?;
        let from = from
            .parse::<Mailbox>()
            .map_err(|err| e("from", format!("{from:?} is not an address such as vigil@example.com: {err}")))?;
        if from.email.to_string().len() > MAX_ADDRESS {
            return Err(e("from", format!("is longer than {MAX_ADDRESS} bytes")));
        }
        match (&s.username, &s.password, &s.password_file) {
            (_, Some(_), Some(_)) => return Err(e("password", "give password or password_file, not both".into())),
            (Some(_), None, None) => return Err(e("username", "needs password or password_file".into())),
            (None, Some(_), _) | (None, _, Some(_)) => return Err(e("password", "needs username".into())),
            (Some(u), _, _) if u.is_empty() => return Err(e("username", "is empty".into())),
            (_, Some(p), _) if p.is_empty() => return Err(e("password", "is empty".into())),
            _ => {}
        }
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if s.username.is_some() && s.tls == SmtpTls::None && !loopback {
            return Err(e("tls", format!("\"none\" would send the password in clear text to {host}")));
        }
        let domains = RecipientDomains::parse(&s.recipient_domains).map_err(|err| e("recipient_domains", err))?;
        let username = s.username.clone();
        Ok(Some(Relay { host: host.to_owned(), port, tls: s.tls, from, username, domains }))
    }
}

/// Sends export e-mail; one per server, shared by the export jobs.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domains: RecipientDomains,
}

/// What a message tells about one export.
pub struct Notice<'a> {
    pub export_id: &'a uuid::Uuid,
    /// `repository acme/app`, `organization acme`, `user alice`, with the filters.
    pub scope: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    /// `(entries, link, expiry in Unix seconds)`, or why there is no file.
    pub outcome: Result<(u64, &'a str, u64), &'a str>,
}

impl Mailer {
    /// The mailer of `[audit.export.smtp]`, or `None` when it has no host. `hello` is the host (no port) the
    /// server is reached at, said in EHLO (otherwise `[127.0.0.1]`).
    pub fn new(s: &SmtpSettings, hello: Option<&str>) -> anyhow::Result<Option<Mailer>> {
        let Some(relay) = Relay::check(s).map_err(anyhow::Error::msg)? else { return Ok(None) };
        let mut builder = match relay.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&relay.host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&relay.host)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host),
        };
        builder = builder.port(relay.port).timeout(Some(SMTP_TIMEOUT));
        let hello = hello.map(|h| h.trim_start_matches('[').trim_end_matches(']'));
        match hello.map(|h| (h, h.parse::<std::net::IpAddr>())) {
            Some((_, Ok(std::net::IpAddr::V4(ip)))) => builder = builder.hello_name(ClientId::Ipv4(ip)),
            Some((_, Ok(std::net::IpAddr::V6(ip)))) => builder = builder.hello_name(ClientId::Ipv6(ip)),
            Some((name, Err(_))) if is_domain(name) => builder = builder.hello_name(ClientId::Domain(name.into())),
            _ => {}
        }
        if let Some(user) = relay.username {
            let password = match (&s.password, &s.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(file)) => read_password(file)?,
                (None, None) => unreachable!("checked: a username comes with a password"),
            };
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Some(Mailer { transport: builder.build(), from: relay.from, domains: relay.domains }))
    }

    /// The request's `callback_email`, when it is one plain address on a domain mail may go to.
    pub fn recipient(&self, raw: &str) -> Result<Address, String> {
        if raw.len() > MAX_ADDRESS {
            return Err(format!("`callback_email` is longer than {MAX_ADDRESS} bytes"));
        }
        if raw.contains(|c: char| c.is_whitespace() || c.is_control() || c == ',' || c == ';')
            || raw.matches('@').count() > 1
        {
            return Err(format!("`callback_email` {raw:?} must be one address such as ops@example.com"));
        }
        let address: Address =
            raw.parse().map_err(|e| format!("`callback_email` {raw:?} is not an e-mail address: {e}"))?;
        if !self.domains.allows(address.domain()) {
            return Err(format!(
                "`callback_email`'s domain {} is not in this server's audit.export.smtp.recipient_domains",
                address.domain()
            ));
        }
        Ok(address)
    }

    /// The message telling `to` how export `n` ended.
    pub fn message(&self, to: &Address, n: &Notice) -> Result<Message, String> {
        let id = n.export_id;
        let range = format!("{} to {}", rfc2822(n.start_ms), rfc2822(n.end_ms));
        let (subject, text) = match n.outcome {
            Ok((entries, link, expires)) => (
                format!("vigil: audit log export {id} ready"),
                format!(
                    "Your audit log export is ready.\n\n\
                     Export:     {id}\nScope:      {}\nTime range: {range}\nEntries:    {entries}\n\n\
                     Download it before {} (anyone holding the link can):\n{link}\n",
                    n.scope,
                    rfc2822(expires as i64 * 1000),
                ),
            ),
            Err(why) => (
                format!("vigil: audit log export {id} failed"),
                format!(
                    "Your audit log export failed: {why}.\n\n\
                     Export:     {id}\nScope:      {}\nTime range: {range}\n\n\
                     Ask for it again; if it keeps failing, tell the registry's administrators.\n",
                    n.scope
                ),
            ),
        };
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.clone()))
            .subject(subject)
            .date_now()
            .message_id(Some(format!("<export-{id}@{}>", self.from.email.domain())))
            .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body(text)))
            .map_err(|e| format!("composing the e-mail: {e}"))
    }

    /// Sends `message`, retrying after each pause in `retries` on any error (a refusal included). Whether the
    /// relay took it, or the last error.
    pub async fn send(&self, message: &Message, retries: &[Duration]) -> Result<(), String> {
        let to = message.envelope().to().iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        crate::retry::with_retries(retries, || async {
            self.transport.send(message.clone()).await.map(drop).map_err(|e| format!("the e-mail to {to} failed: {e}"))
        })
        .await
    }
}

/// 7bit when the text is ASCII with lines of at most 998 bytes (RFC 5322), so the link reaches the reader as one
/// line; otherwise lettre picks quoted-printable or base64.
fn body(text: String) -> Body {
    let plain = text.bytes().all(|b| b == b'\n' || (b' '..=b'~').contains(&b));
    if plain && text.lines().all(|l| l.len() <= 998) {
        let crlf = text.replace('\n', "\r\n");
        return Body::dangerous_pre_encoded(
            crlf.into_bytes(),
            lettre::message::header::ContentTransferEncoding::SevenBit,
        );
    }
    Body::new(text)
}

fn read_password(file: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("audit.export.smtp.password_file: reading {}: {e}", file.display()))?;
    let password = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if password.is_empty() {
        anyhow::bail!("audit.export.smtp.password_file: {} is empty", file.display());
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(domains: &[&str]) -> SmtpSettings {
        SmtpSettings {
            host: Some("127.0.0.1".into()),
            from: Some("vigil <vigil@example.com>".into()),
            tls: SmtpTls::None,
            recipient_domains: domains.iter().map(|d| d.to_string()).collect(),
            ..SmtpSettings::default()
        }
    }

    #[tokio::test]
    async fn only_single_addresses_on_listed_domains_pass() {
        let m = Mailer::new(&settings(&["example.com", "*.corp.example"]), None).unwrap().unwrap();
        for ok in ["ops@example.com", "Ops.Team+x@EXAMPLE.com", "a@b.corp.example", "a@x.y.corp.example"] {
            assert!(m.recipient(ok).is_ok(), "{ok}: {:?}", m.recipient(ok));
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for (refused, says) in [
            ("not an address", "must be one address"),
            ("ops", "is not an e-mail address"),
            ("ops@", "is not an e-mail address"),
            ("a@example.com,b@example.com", "must be one address"),
            ("a@example.com b@example.com", "must be one address"),
            ("a@example.com\r\nBcc: x@evil.test", "must be one address"),
            ("a@example.com\nBcc:x@evil.test", "must be one address"),
            ("Ops <ops@example.com>", "must be one address"),
            ("ops@evil.test", "domain evil.test is not in"),
            ("ops@example.com.evil.test", "is not in"),
            ("ops@sub.example.com", "is not in"), // `example.com` is not its subdomains
            ("ops@corp.example", "is not in"),    // nor `*.corp.example` the domain itself
            ("ops@evilcorp.example", "is not in"),
            ("ops@[127.0.0.1]", ""),
            (long.as_str(), "longer than 254 bytes"),
        ] {
            let err = m.recipient(refused).unwrap_err();
            assert!(err.contains(says), "{refused:?}: {err}");
        }
        let none = Mailer::new(&settings(&[]), None).unwrap().unwrap();
        assert!(none.recipient("ops@example.com").unwrap_err().contains("recipient_domains"), "empty refuses all");
    }

    #[test]
    fn every_tls_mode_builds_and_password_files_are_read() {
        for tls in [SmtpTls::Starttls, SmtpTls::Tls, SmtpTls::None] {
            let s = SmtpSettings { host: Some("mail.example.com".into()), tls, ..settings(&[]) };
            assert!(Mailer::new(&s, Some("registry.example.com")).unwrap().is_some(), "{tls:?}");
        }
        assert!(Mailer::new(&SmtpSettings::default(), None).unwrap().is_none(), "no host, no mailer");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        let with_file = SmtpSettings {
            username: Some("u".into()),
            password_file: Some(file.clone()),
            tls: SmtpTls::Starttls,
            ..settings(&[])
        };
        let err = Mailer::new(&with_file, None).err().unwrap().to_string();
        assert!(err.starts_with("audit.export.smtp.password_file: reading "), "{err}");
        std::fs::write(&file, "\n").unwrap();
        assert!(Mailer::new(&with_file, None).err().unwrap().to_string().ends_with("is empty"));
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(read_password(&file).unwrap(), "s3cret");
        assert!(Mailer::new(&with_file, None).unwrap().is_some());
    }

    #[test]
    fn messages_say_what_the_export_holds() {
        let m = Mailer::new(&settings(&["example.com"]), None).unwrap().unwrap();
        let id = uuid::Uuid::nil();
        let link =
            format!("http://127.0.0.1:5000/api/v1/audit/exports/{id}.json?expires=1&signature={}", "s".repeat(80));
        let to: Address = "ops@example.com".parse().unwrap();
        let n = Notice {
            export_id: &id,
            scope: "repository acme/app",
            start_ms: 0,
            end_ms: 86_400_000,
            outcome: Ok((3, &link, 3600)),
        };
        let raw = String::from_utf8(m.message(&to, &n).unwrap().formatted()).unwrap();
        for want in [
            "From: vigil <vigil@example.com>\r\n",
            "To: ops@example.com\r\n",
            &format!("Subject: vigil: audit log export {id} ready\r\n"),
            &format!("Message-ID: <export-{id}@example.com>\r\n"),
            "Content-Transfer-Encoding: 7bit\r\n",
            "Scope:      repository acme/app\r\n",
            "Time range: Thu, 01 Jan 1970 00:00:00 -0000 to Fri, 02 Jan 1970 00:00:00 -0000\r\n",
            "Entries:    3\r\n",
            "Download it before Thu, 01 Jan 1970 01:00:00 -0000",
            &format!("\r\n{link}\r\n"),
        ] {
            assert!(raw.contains(want), "no {want:?} in\n{raw}");
        }
        assert!(raw.contains("\r\nDate: "), "{raw}");
        let failed = Notice { outcome: Err("the server could not write the export file"), ..n };
        let raw = String::from_utf8(m.message(&to, &failed).unwrap().formatted()).unwrap();
        assert!(raw.contains(&format!("Subject: vigil: audit log export {id} failed\r\n")), "{raw}");
        assert!(raw.contains("failed: the server could not write the export file."), "{raw}");
        assert!(!raw.contains("Download"), "{raw}");
    }
}
