//! Wiring the audit trail into the server: the sinks, the recorder, what the HTTP layer needs to know about
//! each route (its operation, the client address, the 503 answer in the route's own error format), and the
//! events of the configuration loaded at start.

use std::sync::Arc;

use anyhow::Context;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use vigil_audit::integrity::{integrator, Integrity};
use vigil_audit::layer::HttpAudit;
use vigil_audit::sink::Sinks;
use vigil_audit::{Origin, Recorder, UserRef};
use vigil_auth::Authenticator;
use vigil_core::Operation;
use vigil_http::Front;
use vigil_store::Mutation;

use crate::config::Config;
use crate::Stores;

/// How often refusals of the anonymous rate limit are summarised into events.
const RATE_LIMIT_SUMMARY: std::time::Duration = std::time::Duration::from_secs(10);

/// The settings key holding the audit configuration the server last started with.
const AUDIT_CONFIG_KEY: &str = "audit_config";

pub struct Audit {
    pub layer: Arc<HttpAudit>,
    pub sinks: Sinks,
    /// The network sinks (syslog, webhooks, NATS, OTLP), for `/ready`.
    pub forwarding: Arc<vigil_forward::Running>,
    /// `None` when `audit.tlog.enabled` is false.
    pub integrity: Option<Integrity>,
}

/// Starts the sinks (reconciling enforced files with the journal), then records the configuration.
pub async fn start(
    config: &Config,
    stores: &Stores,
    auth: Arc<Authenticator>,
    fronts: Vec<Front>,
    storage: Arc<vigil_store::watermark::Watermark>,
) -> anyhow::Result<Audit> {
    let specs = config.audit.resolve(&config.data_dir).map_err(anyhow::Error::msg)?;
    // A webhook may only go where an export callback may (`audit.export.callback_allowlist`).
    let allowlist = vigil_api::callback_allowlist::Allowlist::parse(&config.audit.export.callback_allowlist)
        .map_err(|e| anyhow::anyhow!("audit.export.callback_allowlist: {e}"))?;
    let allow_webhook = |url: &str| {
        allowlist.check(url).map_err(|e| format!("{e} (webhook sinks follow the export callback allowlist)"))
    };
    let forwarding =
        vigil_forward::Forwarding::prepare(&stores.meta, &specs, &allow_webhook).await.map_err(anyhow::Error::msg)?;
    let mut sinks =
        vigil_audit::sink::start(stores.meta.clone(), specs, forwarding.gates()).await.map_err(anyhow::Error::msg)?;
    sinks.names.extend(forwarding.names());
    let recorder = Arc::new(Recorder::new(stores.meta.clone(), &config.audit));
    // The tree is checked against its last checkpoint before this start journals anything, so a refused start
    // leaves the journal as it found it.
    let integrity = if config.audit.tlog.enabled { Some(recover_integrity(config, stores).await?) } else { None };
    record_configuration(config, stores, &recorder).await?;
    let forwarding = Arc::new(forwarding.start(stores.meta.clone(), recorder.clone()));
    tokio::spawn(vigil_audit::indexer::run(stores.meta.clone()));
    if let Some(integrity) = &integrity {
        let interval = config.audit.tlog.interval().map_err(anyhow::Error::msg)?;
        tokio::spawn(integrator::run(stores.meta.clone(), integrity.clone(), recorder.clone(), interval));
        tracing::info!(origin = integrity.origin(), key = integrity.verifier_key(), "audit log tree ready");
    }
    let classify_fronts = fronts.clone();
    let http = &config.http;
    let anonymous_limit = (http.anonymous_requests_per_sec > 0).then(|| {
        Arc::new(vigil_audit::ratelimit::RateLimit::new(http.anonymous_requests_per_sec, http.anonymous_burst))
    });
    let layer = Arc::new(HttpAudit {
        recorder,
        classify: Box::new(move |m, p, q| classify(&classify_fronts, m, p, q)),
        client_addr: Box::new(move |parts| Some(vigil_http::admission::client_ip(Some(&auth), parts))),
        unavailable: Box::new(move |p, message| unavailable(&fronts, p, message)),
        storage: Some(storage),
        anonymous_limit: anonymous_limit.clone(),
    });
    if let Some(limit) = anonymous_limit {
        tokio::spawn(vigil_audit::ratelimit::summarize(limit, layer.recorder.clone(), RATE_LIMIT_SUMMARY));
    }
    Ok(Audit { layer, sinks, forwarding, integrity })
}

/// Rebuilds the Merkle tree up to the last signed checkpoint, refusing to start if the journal contradicts it.
async fn recover_integrity(config: &Config, stores: &Stores) -> anyhow::Result<Integrity> {
    let tlog = &config.audit.tlog;
    tlog.interval().map_err(anyhow::Error::msg)?;
    integrator::recover(&stores.meta, tlog, &config.data_dir, &default_origin(config))
        .await
        .map_err(anyhow::Error::msg)
        .context("checking the audit log against its last signed checkpoint")
}

/// The log's name when none is configured or remembered: `<public_url host>/vigil-audit`, or the node name.
pub fn default_origin(config: &Config) -> String {
    let host = config.public_url().and_then(|url| vigil_core::url::host(&url).map(str::to_owned));
    let node = || config.audit.node.clone().unwrap_or_else(|| vigil_audit::event::default_node().to_string());
    format!("{}/vigil-audit", host.unwrap_or_else(node))
}

/// The operation of any request the server answers; a format's paths are its protocol's to classify.
pub fn classify(fronts: &[Front], method: &Method, path: &str, query: Option<&str>) -> Operation {
    if let Some(front) = fronts.iter().find(|f| f.serves(path)) {
        return (front.classify)(method, path, query);
    }
    match path {
        // Browsers are sent from the root to the UI.
        "/" => vigil_ui::ops::VIEW,
        "/health" => Operation::Health,
        "/metrics" => Operation::Metrics,
        "/ready" => Operation::Ready,
        "/auth/token" => Operation::IssueToken,
        "/audit/checkpoint" | "/audit/checkpoint/cosigned" | "/audit/key" => Operation::ReadTree,
        "/witness/add-checkpoint" => Operation::WitnessCheckpoint,
        p if p.starts_with("/audit/tile/entries/") => Operation::ReadAuditLog,
        p if p.starts_with("/audit/tile/") => Operation::ReadTree,
        p if p.starts_with("/api/v1/audit/") && method == Method::GET => Operation::ReadAuditLog,
        p if p.starts_with("/api/v1/") && p.ends_with("/exportlogs") && method == Method::POST => {
            Operation::ExportAuditLog
        }
        p if p.starts_with("/api/v1/") && (method == Method::GET || method == Method::HEAD) => Operation::AdminRead,
        p if p.starts_with("/api/v1/") => Operation::AdminChange,
        _ => Operation::Unknown,
    }
}

/// 503 in the format of the route's protocol.
fn unavailable(fronts: &[Front], path: &str, message: &str) -> Response {
    if let Some(front) = fronts.iter().find(|f| f.serves(path)) {
        (front.unavailable)(message)
    } else if path == "/auth/token" {
        vigil_oci::error::OciError::unavailable(message).into_response()
    } else if path.starts_with("/api/") {
        vigil_api::caller::unavailable(message)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("audit journal unavailable: {message}\n")).into_response()
    }
}

/// Records `config_loaded` with the effective configuration and, when the `[audit]` section differs from the
/// last start (or this is the first), `audit_config_change` committed together with the remembered value.
async fn record_configuration(config: &Config, stores: &Stores, recorder: &Recorder) -> anyhow::Result<()> {
    let audit_now = serde_json::to_string(&config.audit).context("serializing the audit configuration")?;
    let previous = stores.meta.setting(AUDIT_CONFIG_KEY).await?;
    let system = || UserRef::system("system");
    if previous.as_deref() != Some(audit_now.as_str()) {
        let event = recorder
            .background(Origin::System, Operation::LoadConfig, system())
            .kind("audit_config_change")
            .artifact("audit")
            .detail(audit_now.clone());
        let change = Mutation::SetSetting { key: AUDIT_CONFIG_KEY.into(), value: audit_now };
        stores.meta.apply(change, vec![event.boxed()]).await.context("recording the audit configuration")?;
    }
    let effective = serde_json::to_string(config).context("serializing the configuration")?;
    let event =
        recorder.background(Origin::System, Operation::LoadConfig, system()).artifact("config").detail(effective);
    stores.meta.append_events(vec![event.boxed()]).await.context("recording the configuration loaded")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_front_door_is_classified() {
        let raw = Front {
            prefix: "/raw",
            classify: Arc::new(|m, p, _| vigil_raw::route::classify(m, p).0),
            unavailable: Arc::new(|_| StatusCode::SERVICE_UNAVAILABLE.into_response()),
            operations: vigil_raw::ops::ALL,
        };
        let oci = Front {
            prefix: "/v2",
            classify: Arc::new(|m, p, q| vigil_oci::route::classify(m, p, q).operation),
            unavailable: Arc::new(|_| StatusCode::SERVICE_UNAVAILABLE.into_response()),
            operations: vigil_oci::route::OPERATIONS,
        };
        let fronts = [oci, raw];
        let c = |m: Method, p: &str| classify(&fronts, &m, p, None);
        assert_eq!(c(Method::GET, "/v2/a/manifests/v1"), Operation::GetManifest);
        assert_eq!(c(Method::GET, "/auth/token"), Operation::IssueToken);
        assert_eq!(c(Method::POST, "/auth/token"), Operation::IssueToken);
        assert_eq!(c(Method::GET, "/api/v1/user/"), Operation::AdminRead);
        assert_eq!(c(Method::PUT, "/api/v1/organization/x/team/t"), Operation::AdminChange);
        assert_eq!(c(Method::GET, "/ready"), Operation::Ready);
        assert_eq!(c(Method::GET, "/etc/passwd"), Operation::Unknown);
        assert_eq!(c(Method::PUT, "/raw/acme/files/a.txt"), vigil_raw::ops::PUT_FILE);
        assert_eq!(c(Method::GET, "/rawish"), Operation::Unknown);
    }
}
