//! `vigil serve`: assembles the HTTP application and runs it until a shutdown signal, letting requests in
//! flight finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use vigil_audit::integrity::Integrity;
use vigil_audit::layer::HttpAudit;
use vigil_auth::client::TrustedProxies;
use vigil_auth::directory::Directory;
use vigil_auth::jwt::JwtKeys;
use vigil_auth::{AuthConfig, Authenticator};
use vigil_http::{Mounted, Site};
use vigil_oci::{Registry, RegistryConfig};
use vigil_registry::ingest::Ingest;
use vigil_store::watermark::{Change, Watermark};
use vigil_store::MetadataStore;

use crate::config::Config;
use crate::listener;
use crate::{audit, gc, telemetry, Stores};
use vigil_api::admin_api;
use vigil_api::audit_query;
use vigil_api::caller::AdminState;
use vigil_api::log_export::{self, Exports};
use vigil_api::quay_logs::{self, LogsState};
use vigil_api::tlog_api::{self, TlogState};

/// How often expired upload sessions are swept.
const UPLOAD_SWEEP_EVERY: Duration = Duration::from_secs(600);

/// The application: every protocol's router (OCI's first) and the UI's, vigil's own APIs, probes, and the layers
/// around all of them.
pub fn app(
    protocols: Vec<Router>,
    admin: AdminState,
    logs: LogsState,
    exports: Arc<Exports>,
    integrity: Option<Integrity>,
    probes: Probes,
    audit: Arc<HttpAudit>,
) -> Router {
    let journal = audit.recorder.store().clone();
    let mut app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/ready",
            get({
                let (journal, storage, forwarding) = (journal.clone(), audit.storage.clone(), probes.forwarding);
                move || ready(journal.clone(), storage.clone(), forwarding.clone())
            }),
        )
        .merge(admin_api::router(admin.clone()))
        .merge(quay_logs::router(logs.clone()))
        .merge(audit_query::router(logs))
        .merge(log_export::router(exports.clone()));
    if let Some(integrity) = integrity {
        app = app.merge(tlog_api::router(TlogState { admin, integrity, journal }));
    }
    for protocol in protocols {
        app = app.merge(protocol);
    }
    if let Some(handle) = probes.metrics {
        app = app.route("/metrics", get(move || std::future::ready(handle.render())));
    }
    app.fallback(|| async { (StatusCode::NOT_FOUND, "not found").into_response() })
        // For the admin API's repository routes, which hand `…/exportlogs` over.
        .layer(axum::Extension(exports))
        .layer(axum::middleware::from_fn_with_state(audit, vigil_audit::layer::middleware))
        .layer(axum::middleware::from_fn(telemetry::track))
}

/// What the probes report besides the journal: metrics and the forwarding sinks.
pub struct Probes {
    pub metrics: Option<PrometheusHandle>,
    pub forwarding: Option<Arc<vigil_forward::Running>>,
}

/// The formats served, each one protocol crate mounted under its prefix (OCI first): the only place that names
/// them.
fn protocols(config: &Config, stores: &Stores, auth: &Arc<Authenticator>, registry: &Registry) -> Vec<Mounted> {
    let max_bytes = (config.registry.max_blob_bytes > 0).then_some(config.registry.max_blob_bytes);
    let ingest = Ingest { meta: stores.meta.clone(), blobs: stores.blobs.clone(), max_bytes };
    let package_bytes = config.registry.max_package_bytes;
    let packages = Ingest { max_bytes: (package_bytes > 0).then_some(package_bytes), ..ingest.clone() };
    let site = Site { public_url: config.public_url(), tls: config.tls.cert.is_some() };
    let npm = vigil_npm::Npm::new(stores.content.clone(), packages.clone(), auth.clone(), site.clone());
    let cargo = vigil_cargo::Cargo::new(stores.content.clone(), packages.clone(), auth.clone(), site);
    let pypi = vigil_pypi::Pypi::new(stores.content.clone(), packages.clone());
    let maven = vigil_maven::Maven::new(stores.content.clone(), packages);
    vec![
        vigil_oci::mount(registry.clone()),
        vigil_http::mount(vigil_raw::Raw::new(stores.content.clone(), ingest), Some(auth.clone())),
        vigil_http::mount(npm, Some(auth.clone())),
        vigil_http::mount(pypi, Some(auth.clone())),
        vigil_http::mount(cargo, Some(auth.clone())),
        vigil_http::mount(maven, Some(auth.clone())),
    ]
}

/// Readiness: fails while the journal (or an enforced sink) cannot be written, or the disk is below its
/// watermark; lists each forwarding sink's progress either way. `/health` stays a liveness check.
async fn ready(
    journal: Arc<dyn MetadataStore>,
    storage: Option<Arc<Watermark>>,
    forwarding: Option<Arc<vigil_forward::Running>>,
) -> Response {
    if let Some((w, free)) = storage.as_ref().and_then(|w| w.low().map(|free| (w, free))) {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", w.describe(free))).into_response();
    }
    // One line per forwarding sink: how far it delivered, how far behind it is, and its last failure.
    let sinks: String = forwarding
        .iter()
        .flat_map(|f| f.status())
        .map(|s| {
            let failure = s.failure.map(|f| format!(", failing: {f}")).unwrap_or_default();
            format!(
                "sink {}: delivered through {}, lag {}, retries {}{failure}\n",
                s.name, s.delivered, s.lag, s.retries
            )
        })
        .collect();
    match journal.journal_ready().await {
        Ok(()) => format!("ready\n{sinks}").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n{sinks}")).into_response(),
    }
}

/// How often the free space is read again.
const STORAGE_CHECK: Duration = Duration::from_secs(5);

/// Follows the disk's free space: crossing the watermark either way is logged once and recorded as an event.
async fn watch_storage(storage: Arc<Watermark>, recorder: Arc<vigil_audit::Recorder>) {
    let mut tick = tokio::time::interval(STORAGE_CHECK);
    loop {
        tick.tick().await;
        let change = match storage.refresh() {
            Ok(Some(change)) => change,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "reading the data directory's free space failed");
                continue;
            }
        };
        let user = vigil_audit::UserRef::system("system");
        let event = recorder.background(vigil_audit::Origin::System, vigil_core::Operation::WatchStorage, user);
        let event = match change {
            Change::BecameLow { free } => {
                tracing::warn!(
                    free,
                    min = storage.min_free(),
                    "the data directory's disk is nearly full: refusing new content"
                );
                event.detail(storage.describe(free))
            }
            Change::Recovered { free } => {
                tracing::info!(free, "the data directory's disk has room again: accepting new content");
                event.kind("storage_recovered").detail(format!("{} MiB free", free / (1024 * 1024)))
            }
        };
        if let Err(e) = recorder.record(event).await {
            tracing::warn!(error = %e, "recording the storage watermark change failed");
        }
    }
}

pub fn registry_config(config: &Config) -> RegistryConfig {
    RegistryConfig {
        public_url: config.public_url(),
        max_manifest_bytes: config.registry.max_manifest_bytes,
        max_blob_bytes: (config.registry.max_blob_bytes > 0).then_some(config.registry.max_blob_bytes),
        upload_expiry: config.upload_expiry(),
        listen_host: None,
    }
}

pub async fn run(config: Config, stores: Stores) -> anyhow::Result<()> {
    gc::recover(&stores).await.context("recovering an interrupted garbage collection")?;
    let scheme = if config.tls.cert.is_some() { "https" } else { "http" };
    let listener = std::net::TcpListener::bind(config.listen).with_context(|| format!("binding {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let auth = authenticator(&config, &stores, &format!("{scheme}://{}", reachable(addr)))?;
    let auth = Arc::new(auth);
    let registry_config = RegistryConfig { listen_host: Some(reachable(addr).to_string()), ..registry_config(&config) };
    let registry = Registry::new(stores.meta.clone(), stores.blobs.clone(), registry_config).with_auth(auth.clone());
    let metrics = telemetry::install_metrics()?;
    let protocols = protocols(&config, &stores, &auth, &registry);
    let mut fronts: Vec<_> = protocols.iter().map(|p| p.front.clone()).collect();
    if config.ui.enabled {
        fronts.push(vigil_ui::front());
    }
    let storage =
        Arc::new(vigil_store::watermark::Watermark::new(config.data_dir.clone(), config.storage.min_free_bytes));
    let audit = audit::start(&config, &stores, auth.clone(), fronts, storage.clone())
        .await
        .context("starting the audit trail")?;
    tokio::spawn(watch_storage(storage.clone(), audit.layer.recorder.clone()));
    tracing::info!(sinks = ?audit.sinks.names, "audit trail ready");
    if let Some((max_age, interval)) = config.audit.retention.schedule().map_err(anyhow::Error::msg)? {
        let archive_dir = config.audit.retention.archive_dir.as_ref().map(|d| config.data_dir.join(d));
        let retention = vigil_audit::retention::Retention {
            store: stores.meta.clone(),
            recorder: audit.layer.recorder.clone(),
            integrity: audit.integrity.clone(),
            max_age,
            archive_dir,
        };
        tokio::spawn(retention.run(interval));
    }
    // After the sinks start, so the first start's admin account is in every sink too.
    bootstrap_admin(&stores).await?;
    let repos = vigil_api::caller::Repos { meta: stores.meta.clone(), content: stores.content.clone() };
    let admin = AdminState { directory: Arc::new(Directory::new(stores.identity.clone())), auth, repos };
    let logs = LogsState::new(admin.clone(), stores.meta.clone(), &config.data_dir)?;
    let base_url = config.public_url().unwrap_or_else(|| format!("{scheme}://{}", reachable(addr)));
    let exports =
        Exports::new(&config.audit.export, &config.data_dir, base_url, logs.clone(), audit.layer.recorder.clone())
            .context("starting log exports")?;
    let mut routers: Vec<Router> = protocols.into_iter().map(|p| p.router).collect();
    if let Some(witness) = crate::witness::service(&config)? {
        routers.push(witness);
    }
    if let Some(integrity) = &audit.integrity {
        crate::witness::spawn_submitter(&config, integrity, audit.layer.recorder.clone())?;
    }
    if config.ui.enabled {
        let ui = vigil_ui::Ui::new(logs.clone(), audit.integrity.clone(), exports.clone(), config.tls.cert.is_some());
        routers.push(vigil_ui::router(ui));
    }
    let probes = Probes { metrics: Some(metrics), forwarding: Some(audit.forwarding.clone()) };
    let app = app(routers, admin, logs, exports, audit.integrity.clone(), probes, audit.layer.clone());
    spawn_housekeeping(registry, Arc::new(stores), config.clone());

    let tls = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => Some(listener::tls_acceptor(cert, key)?),
        _ => None,
    };
    let server = listener::Listener {
        listener,
        max_connections: config.http.max_connections,
        header_timeout: Duration::from_secs(config.http.header_read_timeout_secs),
        tls,
    };
    tracing::info!(%addr, scheme, data_dir = %config.data_dir.display(), "vigil listening");
    // Tests and scripts that bind port 0 read the real address from this line.
    eprintln!("vigil listening on {scheme}://{addr}");
    server.serve(app, audit.layer.recorder.clone(), shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// An address clients on this machine can reach when the listener is bound to all interfaces.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => SocketAddr::from(([127, 0, 0, 1], addr.port())),
        ip if ip.is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        _ => addr,
    }
}

/// On the first start (no users at all), creates the global admin `admin`.
async fn bootstrap_admin(stores: &Stores) -> anyhow::Result<()> {
    let password = std::env::var("VIGIL_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    let dir = vigil_auth::directory::Directory::new(stores.identity.clone());
    if let Some(generated) = dir.bootstrap_admin(password.as_deref()).await? {
        eprintln!("created the global admin `admin` with password: {generated}");
        eprintln!("(shown once; change it with `vigil user passwd admin --password-stdin`)");
    }
    Ok(())
}

fn authenticator(config: &Config, stores: &Stores, default_base: &str) -> anyhow::Result<Authenticator> {
    let base = config.public_url().unwrap_or_else(|| default_base.to_owned());
    let keys = JwtKeys::load_or_create(&config.data_dir.join("token.key"), &config.auth.service)
        .context("loading the token signing key")?;
    let auth_config = AuthConfig {
        service: config.auth.service.clone(),
        service_aliases: config.auth.service_aliases.clone(),
        realm: format!("{base}/auth/token"),
        token_ttl: Duration::from_secs(config.auth.token_ttl_secs),
        trusted_proxies: TrustedProxies::parse(&config.auth.trusted_proxies).map_err(anyhow::Error::msg)?,
        throttle_window: Duration::from_secs(config.auth.throttle_window_secs),
        max_failures_per_user: config.auth.max_failures_per_user,
        max_failures_per_ip: config.auth.max_failures_per_ip,
    };
    Ok(Authenticator::new(stores.identity.clone(), keys, auth_config))
}

fn spawn_housekeeping(registry: Registry, stores: Arc<Stores>, config: Config) {
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(UPLOAD_SWEEP_EVERY);
        loop {
            sweep.tick().await;
            match registry.expire_uploads().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired upload sessions"),
                Err(e) => tracing::warn!(error = ?e, "upload expiry failed"),
            }
        }
    });
    if config.gc.interval_secs > 0 {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(config.gc.interval_secs));
            tick.tick().await;
            loop {
                tick.tick().await;
                match gc::collect(&stores, &config, false, vigil_audit::Origin::Scheduler).await {
                    Ok(report) => tracing::info!(%report, "garbage collection"),
                    Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
                }
            }
        });
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
