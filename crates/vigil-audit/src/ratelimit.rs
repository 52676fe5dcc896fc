//! A per-network rate limit on requests that present no credentials, so an anonymous flood cannot fill the
//! journal's disk (one address could otherwise write ~720 events a second). Every request is still accounted for:
//! refused ones are not journaled one by one but counted, and each interval one `rate_limited` event per network
//! records how many were refused. Requests with credentials are never limited here (failed logins have their
//! own throttle).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_core::Operation;

use crate::event::{Origin, UserRef};
use crate::recorder::Recorder;
use crate::tally::{self, Tally};

/// Networks tracked at most; beyond that the fullest buckets (idle ones) are forgotten first.
const MAX_NETWORKS: usize = 100_000;

pub struct RateLimit {
    /// Requests per second allowed on average, and the burst above it.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    refused: Arc<Tally<IpAddr>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimit {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
            refused: Arc::default(),
        }
    }

    /// Whether a request without credentials from `ip` may go on; a refusal is counted for the next summary.
    pub fn admit(&self, ip: IpAddr) -> bool {
        let net = vigil_core::network::of(ip);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limit lock");
        if buckets.len() >= MAX_NETWORKS && !buckets.contains_key(&net) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + b.at.elapsed().as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(net).or_insert(Bucket { tokens: self.burst, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return true;
        }
        drop(buckets);
        self.refused.add(net);
        false
    }
}

/// Every `interval`, journals one `rate_limited` event per network with refusals in it.
pub async fn summarize(limit: Arc<RateLimit>, recorder: Arc<Recorder>, interval: Duration) {
    let secs = interval.as_secs();
    tally::summarize(limit.refused.clone(), recorder, interval, move |recorder, counts| {
        let event = |net: String, count: u64| {
            recorder
                .background(Origin::System, Operation::RateLimit, UserRef::system("system"))
                .artifact(net.clone())
                .status(429)
                .detail(format!(
                    "{count} requests without credentials from {net} refused with 429 in the last {secs} s"
                ))
        };
        let overflow = (counts.overflow > 0).then(|| event("other networks".into(), counts.overflow));
        counts.by_key.into_iter().map(|(net, count)| event(net.to_string(), count)).chain(overflow).collect()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_pass_floods_are_counted_per_network() {
        let limit = RateLimit::new(1, 3);
        let a: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:0:1::2".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..3).all(|_| limit.admit(a)), "the burst passes");
        assert!(!limit.admit(same_net), "the /64 shares the bucket");
        assert!(!limit.admit(a));
        assert!(limit.admit(other), "other networks have their own");
        let refused: HashMap<_, _> = limit.refused.take().by_key.into_iter().collect();
        assert_eq!(refused.get(&"2001:db8:0:1::".parse::<IpAddr>().unwrap()), Some(&2));
    }
}
