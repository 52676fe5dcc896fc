//! The `[audit]` configuration section: NORA's short form (`mode`, or `VIGIL_AUDIT_LOG`) and the full form with any
//! number of `[[audit.sink]]`s (Nomad-style), each with its own guarantee, format, rotation and filters.
//! Every key is documented in `docs/configuration.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::filter::FilterSettings;

/// NORA's audit modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogMode {
    /// `{data_dir}/audit.jsonl`, native format, the section's delivery guarantee.
    File,
    /// JSON lines on stderr, best-effort.
    Stdout,
    Both,
    /// The mode adds no sink (explicit `[[audit.sink]]`s still run; the journal is always on).
    Off,
}

impl std::str::FromStr for LogMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "file" => Ok(LogMode::File),
            "stdout" => Ok(LogMode::Stdout),
            "both" => Ok(LogMode::Both),
            "off" => Ok(LogMode::Off),
            other => Err(format!("audit log mode {other:?} is not one of file, stdout, both, off")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// Acknowledge only after the event is durable; fail with 503 when it cannot be.
    Enforced,
    /// Proceed regardless; count and log what could not be recorded.
    BestEffort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkType {
    File,
    Stderr,
    /// RFC 5424 over TCP (`tcp://`, RFC 6587 octet counting), TLS (`tls://`, RFC 5425) or UDP (`udp://`, lossy).
    Syslog,
    /// CloudEvents over HTTP(S), one per request or batched.
    Webhook,
    /// NATS JetStream, acknowledged, with a message id per event.
    Nats,
    /// OpenTelemetry logs over OTLP/HTTP (protobuf).
    Otlp,
}

impl SinkType {
    /// Whether the sink sends over the network (followed by `vigil-forward`, not written here).
    pub fn is_network(self) -> bool {
        !matches!(self, SinkType::File | SinkType::Stderr)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The journal's canonical bytes, one event per line (verifiable line by line). Nomad's `json` is this.
    #[default]
    #[serde(alias = "json")]
    Native,
    /// Exactly NORA's six fields.
    Nora,
    /// CloudEvents 1.0 (JSON), the entry as `data`.
    Cloudevents,
    /// The Elastic Common Schema.
    Ecs,
    /// OCSF 1.4: Authentication (3002) for logins, API Activity (6003) for the rest.
    Ocsf,
    /// Alibaba Cloud ACR's instance audit fields.
    Acr,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Nomad's switch: `false` turns every sink off (the journal, the tree and the query APIs stay on).
    pub enabled: bool,
    /// NORA's mode. Unset: the default file sink exists only when no `[[audit.sink]]` is configured (Nomad's rule);
    /// set (here or by `VIGIL_AUDIT_LOG`): its sinks run beside the configured ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<LogMode>,
    pub delivery_guarantee: Guarantee,
    /// Reads (pulls, listings) never wait for their event (Quay's "pulls without strict logging").
    pub relax_reads: bool,
    /// `["complete"]` (default) or `["received", "complete"]` for two-stage logging.
    pub stages: Vec<String>,
    /// The `node` recorded in every event; the host name when unset.
    pub node: Option<String>,
    /// Filters applied to every sink (the journal always holds everything).
    #[serde(rename = "filter")]
    pub filters: Vec<FilterSettings>,
    #[serde(rename = "sink")]
    pub sinks: Vec<SinkSettings>,
    /// The Merkle tree and its signed checkpoints.
    pub tlog: TlogSettings,
    /// How long events stay in the queryable journal.
    pub retention: RetentionSettings,
    /// Quay-style log exports (`POST …/exportlogs`).
    pub export: ExportSettings,
}

/// `[audit.retention]`: events older than `max_age` leave the journal (and the query index), after being written
/// to compressed archives when `archive_dir` is set. Their hashes stay in the Merkle tree, so proofs and
/// checkpoints stay valid and `vigil audit verify` reports the range as pruned.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Such as `"90d"`; unset keeps everything forever.
    pub max_age: Option<String>,
    /// Where expired events are archived (`audit-<first seq>-<last seq>.jsonl.gz`, native lines); unset
    /// deletes them without an archive. Relative paths are under the data directory.
    pub archive_dir: Option<PathBuf>,
    /// How often retention runs, such as `"1h"` (default).
    pub interval: Option<String>,
}

impl RetentionSettings {
    /// `(max_age, interval)` when retention is on.
    pub fn schedule(&self) -> Result<Option<(Duration, Duration)>, String> {
        let Some(age) = &self.max_age else { return Ok(None) };
        let age = parse_duration(age).map_err(|e| format!("audit.retention.max_age: {e}"))?;
        let every = parse_duration(self.interval.as_deref().unwrap_or("1h"))
            .map_err(|e| format!("audit.retention.interval: {e}"))?;
        Ok(Some((age, every)))
    }
}

/// `[audit.export]`: where log exports are written and whom their callbacks may reach.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSettings {
    /// Origins (`https://hooks.example.com`, `http://127.0.0.1:9000`, or `https://*.example.com` for its
    /// subdomains) that export callbacks may be sent to. Empty (the default) refuses every callback, so a user
    /// cannot make the server send requests to internal addresses.
    pub callback_allowlist: Vec<String>,
    /// How long an export's download link stays valid, such as `"1h"` (default, as in Quay).
    pub url_ttl: Option<String>,
    /// Where export files are written until their link expires; relative paths are under the data directory.
    /// Default `exports`.
    pub dir: Option<PathBuf>,
    /// The mail relay that tells `callback_email` addresses an export is ready (checked and used by the binary).
    #[serde(skip_serializing_if = "SmtpSettings::is_unset")]
    pub smtp: SmtpSettings,
}

/// `[audit.export.smtp]`: where export e-mail is sent from. No `host` (the default): no e-mail, and exports asking
/// for one are refused. `password` is never serialized (the effective configuration is recorded in the log).
#[derive(Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: Option<String>,
    /// Default 587 (465 with `tls = "tls"`).
    pub port: Option<u16>,
    /// The sender: `vigil@example.com` or `vigil <vigil@example.com>`.
    pub from: Option<String>,
    pub username: Option<String>,
    #[serde(serialize_with = "redacted", skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A file holding the password (its trailing newline ignored); instead of `password`.
    pub password_file: Option<PathBuf>,
    pub tls: SmtpTls,
    /// Domains (`example.com`, or `*.example.com` for its subdomains) export e-mail may go to. Empty (the
    /// default) refuses every `callback_email`.
    pub recipient_domains: Vec<String>,
}

impl SmtpSettings {
    pub fn is_unset(&self) -> bool {
        *self == SmtpSettings::default()
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "REDACTED"))
            .field("password_file", &self.password_file)
            .field("tls", &self.tls)
            .field("recipient_domains", &self.recipient_domains)
            .finish()
    }
}

fn redacted<S: serde::Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    value.as_ref().map(|_| "REDACTED").serialize(s)
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the relay must offer.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: for a relay on this host.
    None,
}

impl ExportSettings {
    /// The download link's lifetime.
    pub fn url_ttl(&self) -> Result<Duration, String> {
        parse_duration(self.url_ttl.as_deref().unwrap_or("1h")).map_err(|e| format!("audit.export.url_ttl: {e}"))
    }
}

/// `[audit.tlog]`: the log's identity, its signing key and how often it signs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlogSettings {
    /// Build the tree and sign checkpoints (default). `false` exists to measure what integration costs: the
    /// `/audit` API is then absent and nothing can be proven.
    pub enabled: bool,
    /// The origin line of every checkpoint (the log's name). Unset: the origin chosen at the first start is kept
    /// (`<public_url host>/vigil-audit`). Changing it starts a new log over the same journal.
    pub origin: Option<String>,
    /// The Ed25519 signing key (`PRIVATE+KEY+...`). Unset: `{data_dir}/audit-signing.key`, generated at the first
    /// start. `VIGIL_AUDIT_SIGNING_KEY` (the key text itself) takes precedence over both.
    pub signing_key_file: Option<PathBuf>,
    /// Where the last signed checkpoint is remembered, so no later checkpoint can contradict it. Unset: next to
    /// `signing_key_file` when that is set (`<key file>.checkpoint`), else `{data_dir}/tlog/checkpoint`.
    pub checkpoint_state: Option<PathBuf>,
    /// Least time between two signed checkpoints, such as `"1s"`.
    pub checkpoint_interval: String,
    /// Witnesses asked to cosign every new checkpoint (C2SP tlog-witness).
    #[serde(rename = "witness")]
    pub witnesses: Vec<WitnessTarget>,
}

/// A witness of this log: its submission prefix and its cosignature key (`name+id+base64(0x04 || key)`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WitnessTarget {
    pub url: String,
    pub key: String,
}

impl Default for TlogSettings {
    fn default() -> Self {
        TlogSettings {
            enabled: true,
            origin: None,
            signing_key_file: None,
            checkpoint_state: None,
            checkpoint_interval: "1s".into(),
            witnesses: Vec::new(),
        }
    }
}

impl TlogSettings {
    pub fn interval(&self) -> Result<Duration, String> {
        parse_duration(&self.checkpoint_interval).map_err(|e| format!("audit.tlog.checkpoint_interval: {e}"))
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            enabled: true,
            mode: None,
            delivery_guarantee: Guarantee::Enforced,
            relax_reads: false,
            stages: vec!["complete".into()],
            node: None,
            filters: Vec::new(),
            sinks: Vec::new(),
            tlog: TlogSettings::default(),
            retention: RetentionSettings::default(),
            export: ExportSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSettings {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SinkType,
    /// Defaults to the section's `delivery_guarantee`.
    pub delivery_guarantee: Option<Guarantee>,
    #[serde(default)]
    pub format: Format,
    /// File sinks: where to write (relative paths are under the data directory).
    pub path: Option<PathBuf>,
    /// File permissions, octal text such as `"0600"` (the default).
    pub mode: Option<String>,
    pub rotate_bytes: Option<u64>,
    /// Such as `"24h"`, `"30m"`, `"90s"`.
    pub rotate_duration: Option<String>,
    /// Rotated files kept; 0 or unset keeps all.
    pub rotate_max_files: Option<usize>,
    #[serde(default, rename = "filter")]
    pub filters: Vec<FilterSettings>,
    /// Network sinks: where to send (`tcp://`, `tls://`, `udp://`, `http(s)://`, `nats://`).
    pub url: Option<String>,
    /// NATS: the subject events are published on.
    pub subject: Option<String>,
    /// NATS: the JetStream stream that must capture `subject` (created when missing).
    pub stream: Option<String>,
    /// Webhook: extra request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Network sinks: how long one delivery may take, such as `"10s"` (default).
    pub timeout: Option<String>,
    /// Network sinks: events per delivery (default 100; a webhook in `structured` mode sends one).
    pub batch_size: Option<usize>,
    /// Webhook: `batch` (default, `application/cloudevents-batch+json`) or `structured` (one event per request).
    pub content_mode: Option<String>,
    /// Webhook: the key of the `X-Vigil-Signature` HMAC-SHA256 header, or a file holding it.
    pub hmac_secret: Option<String>,
    pub hmac_secret_file: Option<PathBuf>,
    /// TLS (syslog `tls://`, `https://`): a PEM file of CAs to trust instead of the system's, and a client
    /// certificate and key to present.
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// Network sinks: events the sink may fall behind the journal before it warns (`audit_sink_lagging`) and,
    /// enforced, before requests are refused (default 10000).
    pub max_lag: Option<u64>,
    /// Syslog: the facility (default `authpriv`) and APP-NAME (default `vigil`).
    pub facility: Option<String>,
    pub app_name: Option<String>,
}

impl SinkSettings {
    /// A sink of `kind` with nothing else set (for code that builds settings).
    pub fn of(kind: SinkType) -> SinkSettings {
        SinkSettings {
            name: String::new(),
            kind,
            delivery_guarantee: None,
            format: Format::Native,
            path: None,
            mode: None,
            rotate_bytes: None,
            rotate_duration: None,
            rotate_max_files: None,
            filters: Vec::new(),
            url: None,
            subject: None,
            stream: None,
            headers: Default::default(),
            timeout: None,
            batch_size: None,
            content_mode: None,
            hmac_secret: None,
            hmac_secret_file: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            max_lag: None,
            facility: None,
            app_name: None,
        }
    }
}

/// A sink with every default resolved and every value checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkSpec {
    pub name: String,
    pub kind: SinkType,
    pub guarantee: Guarantee,
    pub format: Format,
    pub path: Option<PathBuf>,
    pub mode: u32,
    pub rotate_bytes: Option<u64>,
    pub rotate_duration: Option<Duration>,
    pub rotate_max_files: usize,
    pub filters: Vec<crate::filter::Filter>,
    /// Network sinks: where and how to send.
    pub network: Option<crate::network_sink::NetworkSpec>,
}

/// Parses `"90s"`, `"30m"`, `"24h"`, `"7d"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("duration {s:?} must be a number followed by ms, s, m, h or d"))?;
    let per = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("duration {s:?} must end in ms, s, m, h or d")),
    };
    let millis = n.checked_mul(per).ok_or_else(|| format!("duration {s:?} is too long"))?;
    if millis == 0 {
        return Err(format!("duration {s:?} must be positive"));
    }
    Ok(Duration::from_millis(millis))
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let v = u32::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| format!("file mode {s:?} is not octal"))?;
    if v > 0o777 {
        return Err(format!("file mode {s:?} is more than 0777"));
    }
    Ok(v)
}

impl AuditSettings {
    /// Whether two-stage logging is on.
    pub fn two_stage(&self) -> bool {
        self.stages.iter().any(|s| s == "received")
    }

    /// The mode in force: `off` when the section is disabled; the configured one; else `file` unless sinks are
    /// configured (then they replace the default sink, as in Nomad).
    pub fn effective_mode(&self) -> LogMode {
        match self.mode {
            _ if !self.enabled => LogMode::Off,
            Some(mode) => mode,
            None if self.sinks.is_empty() => LogMode::File,
            None => LogMode::Off,
        }
    }

    /// Checks the section and resolves the sinks it asks for: those of the [effective mode](Self::effective_mode)
    /// and every `[[audit.sink]]` (none when `enabled = false`), with paths under `data_dir`.
    pub fn resolve(&self, data_dir: &Path) -> Result<Vec<SinkSpec>, String> {
        for s in &self.stages {
            if s != "received" && s != "complete" {
                return Err(format!("audit stage {s:?} is not one of received, complete"));
            }
        }
        if !self.stages.iter().any(|s| s == "complete") {
            return Err("audit stages must include \"complete\"".into());
        }
        let global: Vec<crate::filter::Filter> =
            self.filters.iter().map(FilterSettings::compile).collect::<Result<_, _>>()?;
        let mut specs = Vec::new();
        let mode = self.effective_mode();
        if matches!(mode, LogMode::File | LogMode::Both) {
            specs.push(SinkSpec {
                name: "file".into(),
                kind: SinkType::File,
                guarantee: self.delivery_guarantee,
                format: Format::Native,
                path: Some(data_dir.join("audit.jsonl")),
                mode: 0o600,
                rotate_bytes: None,
                rotate_duration: None,
                rotate_max_files: 0,
                filters: global.clone(),
                network: None,
            });
        }
        if matches!(mode, LogMode::Stdout | LogMode::Both) {
            specs.push(SinkSpec {
                name: "stderr".into(),
                kind: SinkType::Stderr,
                guarantee: Guarantee::BestEffort,
                format: Format::Native,
                path: None,
                mode: 0o600,
                rotate_bytes: None,
                rotate_duration: None,
                rotate_max_files: 0,
                filters: global.clone(),
                network: None,
            });
        }
        let configured = if self.enabled { &self.sinks[..] } else { &[] };
        for s in configured {
            if s.name.is_empty() || !s.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(format!("audit sink name {:?} must be letters, digits, '-', '_' or '.'", s.name));
            }
            if specs.iter().any(|x| x.name == s.name) {
                return Err(format!(
                    "audit sink name {:?} is used twice (\"file\" and \"stderr\" are the sinks of `mode`, which \
                     is set; leave it unset and the configured sinks replace the default one)",
                    s.name
                ));
            }
            let path = match (s.kind, &s.path) {
                (SinkType::File, Some(p)) if p.is_absolute() => Some(p.clone()),
                (SinkType::File, Some(p)) => Some(data_dir.join(p)),
                (SinkType::File, None) => Some(data_dir.join(format!("audit-{}.jsonl", s.name))),
                (_, Some(_)) => return Err(format!("audit sink {:?}: only file sinks take a path", s.name)),
                (_, None) => None,
            };
            let network = crate::network_sink::NetworkSpec::resolve(s, data_dir)
                .map_err(|e| format!("audit sink {:?}: {e}", s.name))?;
            let mut filters = global.clone();
            for f in &s.filters {
                filters.push(f.compile().map_err(|e| format!("audit sink {:?}: {e}", s.name))?);
            }
            specs.push(SinkSpec {
                name: s.name.clone(),
                kind: s.kind,
                guarantee: s.delivery_guarantee.unwrap_or(self.delivery_guarantee),
                format: s.format,
                path,
                mode: s.mode.as_deref().map(parse_mode).transpose()?.unwrap_or(0o600),
                rotate_bytes: s.rotate_bytes.filter(|b| *b > 0),
                rotate_duration: s.rotate_duration.as_deref().map(parse_duration).transpose()?,
                rotate_max_files: s.rotate_max_files.unwrap_or(0),
                filters,
                network,
            });
        }
        let mut paths: Vec<_> = specs.iter().filter_map(|s| s.path.as_ref()).collect();
        paths.sort();
        if paths.windows(2).any(|w| w[0] == w[1]) {
            return Err("two audit sinks write the same file".into());
        }
        Ok(specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_modes() {
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("1w").is_err() && parse_duration("h").is_err() && parse_duration("0s").is_err());
        assert!(parse_duration("99999999999999999d").unwrap_err().contains("too long"), "no overflow");
        assert_eq!(parse_mode("0640").unwrap(), 0o640);
        assert!(parse_mode("0999").is_err());
    }

    #[test]
    fn modes_resolve_to_nora_sinks() {
        let dir = Path::new("/data");
        let mut s = AuditSettings::default();
        let specs = s.resolve(dir).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].path.as_deref(), Some(Path::new("/data/audit.jsonl")));
        assert_eq!(specs[0].guarantee, Guarantee::Enforced);
        s.mode = Some(LogMode::Both);
        assert_eq!(s.resolve(dir).unwrap()[1].kind, SinkType::Stderr);
        s.mode = Some(LogMode::Off);
        assert!(s.resolve(dir).unwrap().is_empty());
        s.sinks.push(SinkSettings { name: "own".into(), format: Format::Nora, ..SinkSettings::of(SinkType::Stderr) });
        assert_eq!(s.resolve(dir).unwrap().len(), 1, "explicit sinks run whatever the mode");
        s.mode = Some(LogMode::File);
        assert_eq!(s.resolve(dir).unwrap().len(), 2, "an explicit mode's sink runs beside them");
        s.mode = None;
        assert_eq!(s.resolve(dir).unwrap()[0].name, "own", "configured sinks replace the default one");
        s.enabled = false;
        assert!(s.resolve(dir).unwrap().is_empty(), "enabled = false turns every sink off");
    }

    #[test]
    fn nomads_audit_block_as_written() {
        // Nomad's keys: `enabled`, a sink named like the default one, `format = "json"`.
        let toml = r#"
            enabled = true
            [[sink]]
            name = "file"
            type = "file"
            delivery_guarantee = "enforced"
            format = "json"
            path = "audit/audit.log"
            rotate_duration = "24h"
            rotate_max_files = 15
        "#;
        let s: AuditSettings = toml::from_str(toml).unwrap();
        let specs = s.resolve(Path::new("/d")).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].format, Format::Native);
        assert_eq!(specs[0].path.as_deref(), Some(Path::new("/d/audit/audit.log")));
        let minimal: AuditSettings = toml::from_str("enabled = true").unwrap();
        assert_eq!(minimal.resolve(Path::new("/d")).unwrap()[0].path.as_deref(), Some(Path::new("/d/audit.jsonl")));
        assert!(toml::from_str::<AuditSettings>("format = \"xml\"").is_err());
    }

    #[test]
    fn sinks_are_checked() {
        let toml = r#"
            mode = "off"
            [[sink]]
            name = "siem"
            type = "file"
            path = "/var/log/vigil.jsonl"
            format = "nora"
            rotate_duration = "1h"
            mode = "0640"
            [[sink.filter]]
            operations = ["HEAD"]
        "#;
        let mut s: AuditSettings = toml::from_str(toml).unwrap();
        s.mode = Some(LogMode::File);
        let specs = s.resolve(Path::new("/d")).unwrap();
        assert_eq!(specs[1].mode, 0o640);
        assert_eq!(specs[1].rotate_duration, Some(Duration::from_secs(3600)));
        assert_eq!(specs[1].filters.len(), 1);
        s.sinks[0].name = "file".into();
        assert!(s.resolve(Path::new("/d")).unwrap_err().contains("used twice"));
        s.stages = vec!["received".into()];
        assert!(s.resolve(Path::new("/d")).is_err());
    }
}
