//! What a forwarding sink knows about itself, shared between its follower, the enforced guarantee's gate, the
//! metrics and `/ready`: the last seq the receiver acknowledged, the journal's head, and the current failure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use vigil_audit::sink::SinkGate;

pub struct Health {
    pub name: String,
    pub max_lag: u64,
    /// The last seq delivered and acknowledged (or passed over by the sink's filters).
    delivered: AtomicU64,
    head: tokio::sync::watch::Receiver<u64>,
    retries: AtomicU64,
    failure: Mutex<Option<String>>,
}

/// A sink's state, as `/ready` shows it.
pub struct Status {
    pub name: String,
    pub delivered: u64,
    pub lag: u64,
    pub retries: u64,
    pub failure: Option<String>,
}

impl Health {
    pub fn new(name: String, max_lag: u64, head: tokio::sync::watch::Receiver<u64>) -> Arc<Health> {
        Arc::new(Health {
            name,
            max_lag,
            delivered: AtomicU64::new(0),
            head,
            retries: AtomicU64::new(0),
            failure: Mutex::new(None),
        })
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Acquire)
    }

    pub fn set_delivered(&self, seq: u64) {
        self.delivered.store(seq, Ordering::Release);
        metrics::gauge!("vigil_audit_sink_delivered_seq", "sink" => self.name.clone()).set(seq as f64);
        metrics::gauge!("vigil_audit_sink_lag", "sink" => self.name.clone()).set(self.lag() as f64);
    }

    /// Committed events the receiver does not have yet.
    pub fn lag(&self) -> u64 {
        self.head.borrow().saturating_sub(self.delivered())
    }

    pub fn failed(&self, error: String) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vigil_audit_sink_errors_total", "sink" => self.name.clone()).increment(1);
        *self.failure.lock().expect("health lock") = Some(error);
    }

    /// Clears the failure; whether there was one.
    pub fn recovered(&self) -> bool {
        self.failure.lock().expect("health lock").take().is_some()
    }

    pub fn status(&self) -> Status {
        Status {
            name: self.name.clone(),
            delivered: self.delivered(),
            lag: self.lag(),
            retries: self.retries.load(Ordering::Relaxed),
            failure: self.failure.lock().expect("health lock").clone(),
        }
    }
}

/// The enforced guarantee for a network sink: no more than `max_lag` committed events may wait for the receiver;
/// beyond that new events (and so the requests they record) are refused until it catches up.
pub struct Gate(pub Arc<Health>);

impl SinkGate for Gate {
    fn check(&self) -> Result<(), String> {
        let lag = self.0.lag();
        if lag >= self.0.max_lag {
            let why = self.0.failure.lock().expect("health lock").clone().unwrap_or_else(|| "no error yet".into());
            return Err(format!(
                "audit sink {:?} is {lag} events behind (max_lag {}; last error: {why}): refusing new events until \
                 its receiver catches up",
                self.0.name, self.0.max_lag
            ));
        }
        Ok(())
    }
}
