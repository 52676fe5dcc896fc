//! What a network sink (`syslog`, `webhook`, `nats`, `otlp`) is told in `[[audit.sink]]`, checked once at start.
//! The sinks themselves live in `vigil-forward`; this crate only resolves and validates their settings, so a bad
//! key is a configuration error like any other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::settings::{parse_duration, SinkSettings, SinkType};

/// How a webhook sends: one CloudEvent per request, or a batch per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    /// `application/cloudevents+json`, one event per request.
    Structured,
    /// `application/cloudevents-batch+json`, up to `batch_size` events per request.
    Batch,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    pub url: String,
    /// The URL's scheme, lower case (`tcp`, `tls`, `udp`, `http`, `https`, `nats`).
    pub scheme: String,
    pub subject: Option<String>,
    pub stream: Option<String>,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub batch_size: usize,
    pub content_mode: ContentMode,
    pub hmac_secret: Option<Vec<u8>>,
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub max_lag: u64,
    /// The syslog facility's number (RFC 5424 §6.2.1).
    pub facility: u8,
    pub app_name: String,
}

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

fn relative(p: &Path, data_dir: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        data_dir.join(p)
    }
}

impl NetworkSpec {
    /// The network settings of `s`, or `None` for a file or stderr sink (which may not carry them).
    pub fn resolve(s: &SinkSettings, data_dir: &Path) -> Result<Option<NetworkSpec>, String> {
        if !s.kind.is_network() {
            let set = [s.url.is_some(), s.subject.is_some(), s.stream.is_some(), !s.headers.is_empty()];
            if set.iter().any(|x| *x) {
                return Err("only syslog, webhook, nats and otlp sinks take url, subject, stream or headers".into());
            }
            return Ok(None);
        }
        let url = s.url.clone().ok_or("a network sink needs `url`")?;
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .ok_or_else(|| format!("`url` {url:?} has no scheme (such as tcp://, tls://, https://, nats://)"))?;
        let allowed: &[&str] = match s.kind {
            SinkType::Syslog => &["tcp", "tls", "udp"],
            SinkType::Webhook | SinkType::Otlp => &["http", "https"],
            SinkType::Nats => &["nats", "tls"],
            SinkType::File | SinkType::Stderr => unreachable!("not a network sink"),
        };
        if !allowed.contains(&scheme.as_str()) {
            return Err(format!("`url` {url:?}: this sink type takes {}", allowed.join("://, ") + "://"));
        }
        if s.kind == SinkType::Nats && s.subject.as_deref().is_none_or(str::is_empty) {
            return Err("a nats sink needs `subject`".into());
        }
        if s.kind != SinkType::Nats && (s.subject.is_some() || s.stream.is_some()) {
            return Err("only nats sinks take `subject` and `stream`".into());
        }
        let content_mode = match (s.kind, s.content_mode.as_deref()) {
            (SinkType::Webhook, None | Some("batch")) => ContentMode::Batch,
            (SinkType::Webhook, Some("structured")) => ContentMode::Structured,
            (SinkType::Webhook, Some(other)) => {
                return Err(format!("`content_mode` is structured or batch, not {other:?}"))
            }
            (_, Some(_)) => return Err("only webhook sinks take `content_mode`".into()),
            (_, None) => ContentMode::Batch,
        };
        let batch_size = match (content_mode, s.batch_size) {
            (ContentMode::Structured, _) => 1,
            (_, None) => 100,
            (_, Some(n)) if (1..=10_000).contains(&n) => n,
            (_, Some(n)) => return Err(format!("`batch_size` is 1 to 10000, not {n}")),
        };
        let hmac_secret = match (&s.hmac_secret, &s.hmac_secret_file) {
            (Some(_), Some(_)) => return Err("give `hmac_secret` or `hmac_secret_file`, not both".into()),
            (Some(k), None) => Some(k.as_bytes().to_vec()),
            (None, Some(f)) => {
                let path = relative(f, data_dir);
                let key = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                Some(key.trim_ascii_end().to_vec())
            }
            (None, None) => None,
        };
        if hmac_secret.as_ref().is_some_and(|k| k.len() < 16) {
            return Err("the HMAC secret must be at least 16 bytes".into());
        }
        if hmac_secret.is_some() && s.kind != SinkType::Webhook {
            return Err("only webhook sinks sign requests (`hmac_secret`)".into());
        }
        let facility = match s.facility.as_deref() {
            None => 10,
            Some(f) => FACILITIES
                .iter()
                .position(|x| *x == f)
                .ok_or_else(|| format!("`facility` {f:?} is not one of {}", FACILITIES.join(", ")))?
                as u8,
        };
        let app_name = s.app_name.clone().unwrap_or_else(|| "vigil".into());
        if app_name.is_empty() || app_name.len() > 48 || !app_name.bytes().all(|b| (33..=126).contains(&b)) {
            return Err("`app_name` is 1 to 48 printable ASCII characters without spaces (RFC 5424)".into());
        }
        if s.client_cert_file.is_some() != s.client_key_file.is_some() {
            return Err("`client_cert_file` and `client_key_file` go together".into());
        }
        for (name, value) in &s.headers {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
                return Err(format!("header name {name:?} is not a token"));
            }
            if value.chars().any(char::is_control) {
                return Err(format!("header {name:?} has control characters"));
            }
        }
        let max_lag = s.max_lag.unwrap_or(10_000);
        if max_lag == 0 {
            return Err("`max_lag` must be at least 1".into());
        }
        Ok(Some(NetworkSpec {
            url,
            scheme,
            subject: s.subject.clone(),
            stream: s.stream.clone(),
            headers: s.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            timeout: parse_duration(s.timeout.as_deref().unwrap_or("10s")).map_err(|e| format!("`timeout`: {e}"))?,
            batch_size,
            content_mode,
            hmac_secret,
            ca_file: s.ca_file.as_deref().map(|p| relative(p, data_dir)),
            client_cert_file: s.client_cert_file.as_deref().map(|p| relative(p, data_dir)),
            client_key_file: s.client_key_file.as_deref().map(|p| relative(p, data_dir)),
            max_lag,
            facility,
            app_name,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(kind: SinkType, url: &str) -> SinkSettings {
        SinkSettings { name: "s".into(), url: Some(url.into()), ..SinkSettings::of(kind) }
    }

    #[test]
    fn urls_match_their_sink_types() {
        let d = Path::new("/d");
        let spec = NetworkSpec::resolve(&sink(SinkType::Syslog, "tls://siem:6514"), d).unwrap().unwrap();
        assert_eq!((spec.scheme.as_str(), spec.facility, spec.batch_size), ("tls", 10, 100));
        assert!(NetworkSpec::resolve(&sink(SinkType::Syslog, "https://x"), d).unwrap_err().contains("tcp://"));
        assert!(NetworkSpec::resolve(&sink(SinkType::Nats, "nats://127.0.0.1:4222"), d)
            .unwrap_err()
            .contains("subject"));
        let mut hook = sink(SinkType::Webhook, "https://hooks.example.com/vigil");
        hook.content_mode = Some("structured".into());
        hook.batch_size = Some(50);
        assert_eq!(NetworkSpec::resolve(&hook, d).unwrap().unwrap().batch_size, 1, "structured is one per request");
        hook.hmac_secret = Some("short".into());
        assert!(NetworkSpec::resolve(&hook, d).unwrap_err().contains("16 bytes"));
        let mut file = SinkSettings::of(SinkType::File);
        file.url = Some("tcp://x:1".into());
        assert!(NetworkSpec::resolve(&file, d).is_err());
        let mut bad = sink(SinkType::Syslog, "tcp://x:1");
        bad.facility = Some("local9".into());
        assert!(NetworkSpec::resolve(&bad, d).unwrap_err().contains("facility"));
    }
}
