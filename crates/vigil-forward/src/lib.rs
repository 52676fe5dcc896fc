//! Forwarding the audit trail over the network: syslog (RFC 5424 over TCP, TLS or UDP), CloudEvents webhooks,
//! NATS JetStream and OpenTelemetry logs (OTLP/HTTP), in any of the audit shapes (`native`, `nora`, `cloudevents`, `ecs`, `ocsf`, `acr`).
//!
//! Every forwarding sink follows the journal by its own durable cursor ([`follower`]): at-least-once across
//! restarts, outages and crashes, in seq order, the seq in every message. A best-effort sink never slows a
//! request; an enforced one lets at most `max_lag` committed events wait for its receiver, beyond which new
//! events, and so the requests they record, are refused (503) until it catches up ([`health::Gate`]).
//! Lag, retries, failures and the last delivered seq are metrics and `/ready` lines.

mod follower;
pub mod health;
mod message;
mod nats;
mod otlp;
mod syslog;
mod tls;
mod webhook;

use std::sync::Arc;

use vigil_audit::settings::{SinkSpec, SinkType};
use vigil_audit::sink::SinkGate;
use vigil_audit::{Guarantee, Recorder};
use vigil_store::MetadataStore;

pub use health::Status;
pub use webhook::signature;

/// The forwarding sinks, built and checked but not yet running.
pub struct Forwarding {
    sinks: Vec<Prepared>,
}

struct Prepared {
    spec: SinkSpec,
    url: String,
    transport: Box<dyn message::Transport>,
    health: Arc<Health>,
}

use health::Health;

impl Forwarding {
    /// Builds a transport for every network sink among `specs` (TLS configurations, clients, URLs), so a bad
    /// certificate file is a start-up error, and finds where each resumes: after its stored cursor, or, for a
    /// new sink, at the journal's head now, before this start journals anything (as a new file sink does).
    /// `allow_webhook` checks a webhook's destination (the binary passes the export callback allowlist's rules).
    pub async fn prepare(
        store: &Arc<dyn MetadataStore>,
        specs: &[SinkSpec],
        allow_webhook: &dyn Fn(&str) -> Result<reqwest::Url, String>,
    ) -> Result<Forwarding, String> {
        let mut sinks = Vec::new();
        for spec in specs.iter().filter(|s| s.kind.is_network()) {
            let net = spec.network.as_ref().ok_or_else(|| format!("audit sink {:?} has no url", spec.name))?;
            let err = |e: String| format!("audit sink {:?}: {e}", spec.name);
            let transport: Box<dyn message::Transport> = match spec.kind {
                SinkType::Syslog => Box::new(syslog::Syslog::new(net).map_err(err)?),
                SinkType::Webhook => {
                    let url = allow_webhook(&net.url).map_err(err)?;
                    Box::new(webhook::Webhook::new(net, url).map_err(err)?)
                }
                SinkType::Nats => Box::new(nats::Nats::new(net)),
                SinkType::Otlp => {
                    let url = reqwest::Url::parse(&net.url).map_err(|e| err(format!("`url`: {e}")))?;
                    Box::new(otlp::Otlp::new(net, url).map_err(err)?)
                }
                SinkType::File | SinkType::Stderr => continue,
            };
            let health = Health::new(spec.name.clone(), net.max_lag, store.watch_head());
            health.set_delivered(follower::resume_point(&**store, &spec.name, &net.url).await.map_err(err)?);
            sinks.push(Prepared { spec: spec.clone(), url: net.url.clone(), transport, health });
        }
        Ok(Forwarding { sinks })
    }

    /// The gates of the enforced sinks, for the journal's commit participant.
    pub fn gates(&self) -> Vec<Arc<dyn SinkGate>> {
        self.sinks
            .iter()
            .filter(|s| s.spec.guarantee == Guarantee::Enforced)
            .map(|s| Arc::new(health::Gate(s.health.clone())) as Arc<dyn SinkGate>)
            .collect()
    }

    /// Starts every sink from where `prepare` found it resumes.
    pub fn start(self, store: Arc<dyn MetadataStore>, recorder: Arc<Recorder>) -> Running {
        let mut health = Vec::new();
        for s in self.sinks {
            let through = s.health.delivered();
            tracing::info!(sink = s.spec.name, url = s.url, through, "forwarding the audit trail");
            health.push(s.health.clone());
            let f = follower::Follower {
                spec: s.spec,
                url: s.url,
                transport: s.transport,
                health: s.health,
                store: store.clone(),
                recorder: recorder.clone(),
                lagging: false,
            };
            tokio::spawn(f.run());
        }
        Running { health }
    }

    pub fn names(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.spec.name.clone()).collect()
    }
}

/// The running forwarding sinks.
pub struct Running {
    health: Vec<Arc<Health>>,
}

impl Running {
    pub fn status(&self) -> Vec<Status> {
        self.health.iter().map(|h| h.status()).collect()
    }
}
