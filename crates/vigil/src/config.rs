//! Configuration: a TOML file, then `VIGIL_*` environment variables, then command-line flags (each overriding
//! the one before), over built-in defaults. Unknown keys and invalid values are errors at start, never silently
//! ignored. Every key is documented in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Environment variables with the `VIGIL_` prefix that are not configuration keys.
const NOT_CONFIG_KEYS: &[&str] =
    &["VIGIL_CONFIG", "VIGIL_ADMIN_PASSWORD", "VIGIL_AUDIT_LOG", "VIGIL_AUDIT_SIGNING_KEY", "VIGIL_PASSWORD"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (`VIGIL_LISTEN`).
    pub listen: SocketAddr,
    /// Directory holding the metadata database and the blobs (`VIGIL_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Externally visible base URL, for `Location` headers (`VIGIL_PUBLIC_URL`). Never taken from `Host`.
    pub public_url: Option<String>,
    pub tls: TlsConfig,
    pub http: HttpSection,
    pub ui: UiSection,
    pub witness: WitnessSection,
    pub storage: StorageSection,
    pub registry: RegistrySection,
    pub gc: GcSection,
    pub log: LogSection,
    pub auth: AuthSection,
    /// The audit trail: sinks, delivery guarantee, two-stage logging (`VIGIL_AUDIT_LOG` sets `mode`).
    pub audit: vigil_audit::AuditSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// The token service's name (`service` in challenges, audience of registry tokens).
    pub service: String,
    /// Other `service` names the token service accepts (e.g. `["dtr"]` for scripts written for DTR).
    pub service_aliases: Vec<String>,
    /// Lifetime of registry bearer tokens.
    pub token_ttl_secs: u64,
    /// Peers whose `X-Forwarded-For`/`Forwarded` headers are believed (CIDRs or addresses).
    pub trusted_proxies: Vec<String>,
    /// Failed logins are counted over this window.
    pub throttle_window_secs: u64,
    pub max_failures_per_user: u32,
    pub max_failures_per_ip: u32,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            service: "vigil".into(),
            service_aliases: Vec::new(),
            token_ttl_secs: 300,
            trusted_proxies: Vec::new(),
            throttle_window_secs: 300,
            max_failures_per_user: 10,
            max_failures_per_ip: 50,
        }
    }
}

/// The disk holding the data directory.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Below this many free bytes new content is refused (503, recorded) while the journal still has room; 0 = off.
    pub min_free_bytes: u64,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection { min_free_bytes: 100 * 1024 * 1024 }
    }
}

/// Limits on connections, so slow or idle clients cannot hold the server's sockets and file descriptors.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Connections served at once; further clients wait in the kernel's accept queue until one closes.
    pub max_connections: usize,
    /// A request's headers must arrive within this, and an idle kept-alive connection is closed after it.
    pub header_read_timeout_secs: u64,
    /// Requests without credentials allowed per second from one network (an IPv4 address, an IPv6 /64) on
    /// average; beyond it and its burst they get 429 and are counted in one summarising event. 0 = no limit.
    pub anonymous_requests_per_sec: u32,
    pub anonymous_burst: u32,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            max_connections: 512,
            header_read_timeout_secs: 30,
            anonymous_requests_per_sec: 100,
            anonymous_burst: 400,
        }
    }
}

/// vigil as a witness of other logs (C2SP tlog-witness at `/witness/add-checkpoint`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessSection {
    pub enabled: bool,
    /// The witness's key name, such as `witness.example/vigil`. Unset: `<node>/vigil-witness`.
    pub name: Option<String>,
    /// The witness's Ed25519 cosigning key (`PRIVATE+KEY+…`). Unset: `{data_dir}/witness.key`, made on first use.
    pub key_file: Option<PathBuf>,
    /// The logs it witnesses.
    #[serde(rename = "log")]
    pub logs: Vec<WitnessedLog>,
}

/// A log this server witnesses: its checkpoint key and, when it differs from the key's name, its origin.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessedLog {
    pub key: String,
    pub origin: Option<String>,
}

/// The web UI at `/ui/`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSection {
    /// Serve the UI (and send browsers from `/` to it). Off, `/ui/` answers 404 and the APIs are unchanged.
    pub enabled: bool,
}

impl Default for UiSection {
    fn default() -> Self {
        UiSection { enabled: true }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key`, vigil serves HTTPS.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySection {
    pub max_manifest_bytes: usize,
    /// Largest blob (and raw file) accepted; 0 means unlimited. Bounded by default, so an upload cannot fill the
    /// disk by itself.
    pub max_blob_bytes: u64,
    /// Largest file of a package format (an npm tarball, a wheel); 0 means unlimited. Package files arrive in
    /// one request (npm's inside a JSON body), so unlike blobs they are bounded by default.
    pub max_package_bytes: u64,
    pub upload_expiry_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcSection {
    /// A blob unreferenced for less than this is kept (must exceed the upload expiry).
    pub grace_secs: u64,
    /// Run garbage collection in the server every this many seconds; 0 = only via `vigil gc`.
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter such as `info` or `vigil=debug,info` (`RUST_LOG` overrides it).
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "0.0.0.0:5000".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            public_url: None,
            tls: TlsConfig::default(),
            http: HttpSection::default(),
            ui: UiSection::default(),
            witness: WitnessSection::default(),
            storage: StorageSection::default(),
            registry: RegistrySection::default(),
            gc: GcSection::default(),
            log: LogSection::default(),
            auth: AuthSection::default(),
            audit: vigil_audit::AuditSettings::default(),
        }
    }
}

impl Default for RegistrySection {
    fn default() -> Self {
        RegistrySection {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_blob_bytes: 64 * 1024 * 1024 * 1024,
            max_package_bytes: 256 * 1024 * 1024,
            upload_expiry_secs: 24 * 3600,
        }
    }
}

impl Default for GcSection {
    fn default() -> Self {
        GcSection { grace_secs: 48 * 3600, interval_secs: 0 }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection { format: "text".into(), level: "info".into() }
    }
}

/// Overrides given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
}

/// Turns `VIGIL_SECTION__KEY=value` pairs into a TOML table. Values are read as TOML when they parse as such
/// (numbers, booleans, arrays) and as strings otherwise.
fn env_table(vars: impl Iterator<Item = (String, String)>) -> anyhow::Result<toml::Table> {
    let mut root = toml::Table::new();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("VIGIL_") else {
            continue;
        };
        if NOT_CONFIG_KEYS.contains(&name.as_str()) || rest.is_empty() {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            bail!("environment variable {name}: malformed key (use VIGIL_<SECTION>__<KEY>)");
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.clone()));
        let (last, sections) = path.split_last().expect("non-empty path");
        let mut table = &mut root;
        for s in sections {
            let entry = table.entry(s.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table =
                entry.as_table_mut().with_context(|| format!("environment variable {name}: {s} is not a section"))?;
        }
        table.insert(last.clone(), value);
    }
    Ok(root)
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Config {
    /// Loads the configuration from the file named by the flag, `VIGIL_CONFIG` or `./vigil.toml` (if present),
    /// the process environment and the flags.
    pub fn load(flags: &Flags) -> anyhow::Result<Config> {
        Self::load_from(flags, std::env::vars())
    }

    pub fn load_from(flags: &Flags, env: impl Iterator<Item = (String, String)>) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = env.collect();
        let env_config = env.iter().find(|(k, _)| k == "VIGIL_CONFIG").map(|(_, v)| PathBuf::from(v));
        let path = flags.config.clone().or(env_config);
        let mut table = match &path {
            Some(p) => read_file(p)?,
            None if Path::new("vigil.toml").exists() => read_file(Path::new("vigil.toml"))?,
            None => toml::Table::new(),
        };
        let audit_log = env.iter().find(|(k, _)| k == "VIGIL_AUDIT_LOG").map(|(_, v)| v.clone());
        merge(&mut table, env_table(env.into_iter())?);
        if let Some(mode) = audit_log {
            // NORA's variable, with NORA's values.
            mode.parse::<vigil_audit::LogMode>().map_err(|e| anyhow::anyhow!("VIGIL_AUDIT_LOG: {e}"))?;
            let mut over = toml::Table::new();
            over.insert(
                "audit".into(),
                toml::Value::Table(toml::Table::from_iter([("mode".into(), toml::Value::String(mode))])),
            );
            merge(&mut table, over);
        }
        let mut flag_table = toml::Table::new();
        if let Some(v) = &flags.listen {
            flag_table.insert("listen".into(), toml::Value::String(v.clone()));
        }
        if let Some(v) = &flags.data_dir {
            flag_table.insert("data_dir".into(), toml::Value::String(v.display().to_string()));
        }
        if let Some(v) = &flags.public_url {
            flag_table.insert("public_url".into(), toml::Value::String(v.clone()));
        }
        merge(&mut table, flag_table);
        let mut config: Config = table.try_into().context("invalid configuration")?;
        config.validate()?;
        // Say which mode is in force (`vigil config`, the recorded configuration): the same sinks result from it.
        config.audit.mode = Some(config.audit.effective_mode());
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://")) && !url.contains(char::is_whitespace);
            if !ok {
                bail!("public_url {url:?} must be an absolute http:// or https:// URL");
            }
        }
        self.audit.resolve(&self.data_dir).map_err(|e| anyhow::anyhow!("audit: {e}"))?;
        vigil_api::export_mail::Relay::check(&self.audit.export.smtp).map_err(anyhow::Error::msg)?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            bail!("tls.cert and tls.key must be given together");
        }
        if self.http.max_connections == 0 {
            bail!("http.max_connections must be positive");
        }
        if self.http.header_read_timeout_secs == 0 {
            bail!("http.header_read_timeout_secs must be positive");
        }
        if self.registry.max_manifest_bytes == 0 {
            bail!("registry.max_manifest_bytes must be positive");
        }
        if self.registry.upload_expiry_secs == 0 {
            bail!("registry.upload_expiry_secs must be positive");
        }
        if self.gc.grace_secs <= self.registry.upload_expiry_secs {
            bail!(
                "gc.grace_secs ({}) must be longer than registry.upload_expiry_secs ({}), so that garbage collection \
                 never removes a blob an upload in progress may still reference",
                self.gc.grace_secs,
                self.registry.upload_expiry_secs
            );
        }
        vigil_auth::client::TrustedProxies::parse(&self.auth.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("auth.{e}"))?;
        if self.auth.token_ttl_secs == 0 || self.auth.token_ttl_secs > 86_400 {
            bail!("auth.token_ttl_secs must be between 1 and 86400");
        }
        for service in std::iter::once(&self.auth.service).chain(&self.auth.service_aliases) {
            if service.is_empty() || service.contains('"') {
                bail!("auth.service and auth.service_aliases must be non-empty names without quotes, not {service:?}");
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format must be \"text\" or \"json\", not {:?}", self.log.format);
        }
        Ok(())
    }

    pub fn public_url(&self) -> Option<String> {
        self.public_url.as_ref().map(|u| u.trim_end_matches('/').to_owned())
    }

    pub fn upload_expiry(&self) -> Duration {
        Duration::from_secs(self.registry.upload_expiry_secs)
    }
}

fn read_file(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn defaults() {
        let c = Config::load_from(&Flags::default(), env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:5000");
        assert_eq!(c.registry.max_manifest_bytes, 4 * 1024 * 1024);
    }

    #[test]
    fn precedence_flag_over_env_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\n[registry]\nmax_manifest_bytes = 10\n").unwrap();
        let flags = Flags { config: Some(file.clone()), ..Flags::default() };
        let c = Config::load_from(&flags, env(&[("VIGIL_LISTEN", "127.0.0.1:2")])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:2");
        assert_eq!(c.registry.max_manifest_bytes, 10);
        let flags = Flags { config: Some(file), listen: Some("127.0.0.1:3".into()), ..Flags::default() };
        let c = Config::load_from(
            &flags,
            env(&[("VIGIL_LISTEN", "127.0.0.1:2"), ("VIGIL_REGISTRY__MAX_MANIFEST_BYTES", "20")]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3");
        assert_eq!(c.registry.max_manifest_bytes, 20);
    }

    #[test]
    fn unknown_and_invalid_keys_are_errors() {
        let err =
            |pairs: &[(&str, &str)]| format!("{:#}", Config::load_from(&Flags::default(), env(pairs)).unwrap_err());
        assert!(err(&[("VIGIL_NO_SUCH_KEY", "1")]).contains("unknown field"));
        assert!(err(&[("VIGIL_REGISTRY__NOPE", "1")]).contains("unknown field"));
        assert!(err(&[("VIGIL_LISTEN", "not an address")]).contains("invalid"));
        assert!(err(&[("VIGIL_REGISTRY__MAX_MANIFEST_BYTES", "-1")]).contains("invalid"));
        assert!(err(&[("VIGIL_PUBLIC_URL", "ftp://x")]).contains("public_url"));
        assert!(err(&[("VIGIL_GC__GRACE_SECS", "10")]).contains("grace_secs"));
    }

    #[test]
    fn smtp_for_export_email() {
        use vigil_audit::settings::SmtpTls;
        let load = |pairs: &[(&str, &str)]| Config::load_from(&Flags::default(), env(pairs));
        let c = load(&[]).unwrap();
        assert!(c.audit.export.smtp.is_unset(), "off by default");
        let c = load(&[
            ("VIGIL_AUDIT__EXPORT__SMTP__HOST", "mail.example.com"),
            ("VIGIL_AUDIT__EXPORT__SMTP__FROM", "vigil <vigil@example.com>"),
            ("VIGIL_AUDIT__EXPORT__SMTP__USERNAME", "vigil"),
            ("VIGIL_AUDIT__EXPORT__SMTP__PASSWORD", "s3cret!"),
            ("VIGIL_AUDIT__EXPORT__SMTP__RECIPIENT_DOMAINS", r#"["example.com", "*.corp.example"]"#),
        ])
        .unwrap();
        let smtp = &c.audit.export.smtp;
        assert_eq!((smtp.host.as_deref(), smtp.port, smtp.tls), (Some("mail.example.com"), None, SmtpTls::Starttls));
        assert_eq!(smtp.recipient_domains, ["example.com", "*.corp.example"]);
        // The effective configuration is recorded in the audit log and printed by `vigil config`: no password.
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("s3cret") && json.contains(r#""password":"REDACTED""#), "{json}");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!serde_json::to_string(&load(&[]).unwrap().audit).unwrap().contains("smtp"), "unset: not shown");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "[audit.export.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"vigil@localhost\"\n\
             username = \"u\"\npassword_file = \"/run/secrets/smtp\"\n",
        )
        .unwrap();
        let c = Config::load_from(&Flags { config: Some(file), ..Flags::default() }, env(&[])).unwrap();
        let smtp = &c.audit.export.smtp;
        assert_eq!((smtp.port, smtp.tls, smtp.recipient_domains.len()), (Some(2525), SmtpTls::None, 0));

        let host = ("VIGIL_AUDIT__EXPORT__SMTP__HOST", "mail.example.com");
        let from = ("VIGIL_AUDIT__EXPORT__SMTP__FROM", "vigil@example.com");
        let err = |pairs: &[(&str, &str)]| format!("{:#}", load(pairs).unwrap_err());
        for (pairs, says) in [
            (vec![from], "audit.export.smtp.host: is required when any other audit.export.smtp key is set"),
            (vec![host], "audit.export.smtp.from: is required when host is set"),
            (vec![("VIGIL_AUDIT__EXPORT__SMTP__HOST", "smtp://mail.example.com"), from], "is not a host name"),
            (vec![("VIGIL_AUDIT__EXPORT__SMTP__HOST", "mail.example.com:25"), from], "is not a host name"),
            (vec![("VIGIL_AUDIT__EXPORT__SMTP__HOST", ""), from], "is not a host name"),
            (vec![host, ("VIGIL_AUDIT__EXPORT__SMTP__FROM", "vigil")], "audit.export.smtp.from: \"vigil\" is not an"),
            (vec![host, ("VIGIL_AUDIT__EXPORT__SMTP__FROM", "a@b@c")], "audit.export.smtp.from"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__PORT", "0")], "audit.export.smtp.port: must be between"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__PORT", "70000")], "invalid"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__TLS", "ssl")], "unknown variant `ssl`"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__USERNAME", "u")], "username: needs password"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__PASSWORD", "p")], "password: needs username"),
            (
                vec![
                    host,
                    from,
                    ("VIGIL_AUDIT__EXPORT__SMTP__USERNAME", "u"),
                    ("VIGIL_AUDIT__EXPORT__SMTP__PASSWORD", ""),
                ],
                "password: is empty",
            ),
            (
                vec![
                    host,
                    from,
                    ("VIGIL_AUDIT__EXPORT__SMTP__USERNAME", "u"),
                    ("VIGIL_AUDIT__EXPORT__SMTP__PASSWORD", "p"),
                    ("VIGIL_AUDIT__EXPORT__SMTP__PASSWORD_FILE", "/f"),
                ],
                "password or password_file, not both",
            ),
            (
                vec![
                    host,
                    from,
                    ("VIGIL_AUDIT__EXPORT__SMTP__TLS", "none"),
                    ("VIGIL_AUDIT__EXPORT__SMTP__USERNAME", "u"),
                    ("VIGIL_AUDIT__EXPORT__SMTP__PASSWORD", "p"),
                ],
                "tls: \"none\" would send the password in clear text to mail.example.com",
            ),
            (
                vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__RECIPIENT_DOMAINS", r#"["@example.com"]"#)],
                "recipient_domains",
            ),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__RECIPIENT_DOMAINS", r#"["*"]"#)], "is not a domain"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__RECIPIENT_DOMAINS", r#"["a..b"]"#)], "is not a domain"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__RECIPIENT_DOMAINS", "example.com")], "invalid"),
            (vec![host, from, ("VIGIL_AUDIT__EXPORT__SMTP__STARTTLS", "true")], "unknown field `starttls`"),
        ] {
            let got = err(&pairs);
            assert!(got.contains(says), "{pairs:?}: {got}");
        }
    }
}
