//! Counts of requests that are refused without an event each — over the anonymous rate limit, or refused by the
//! HTTP layer before any handler saw them — and the loop that journals them as one summarising event per key and
//! interval. A flood then costs the journal one event per network and interval, yet every refused request is
//! still accounted for in a count.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::event::EventDraft;
use crate::recorder::Recorder;

/// Keys counted at most per interval; refusals under further keys are counted together as `overflow`, so a spray
/// of addresses cannot grow the map without bound, nor go uncounted.
const MAX_KEYS: usize = 100_000;

pub struct Tally<K> {
    counts: Mutex<HashMap<K, u64>>,
    overflow: AtomicU64,
}

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally { counts: Mutex::default(), overflow: AtomicU64::new(0) }
    }
}

/// One interval's counts.
pub struct Counts<K> {
    pub by_key: Vec<(K, u64)>,
    /// Refusals under keys beyond [`MAX_KEYS`].
    pub overflow: u64,
}

impl<K: Hash + Eq> Tally<K> {
    pub fn add(&self, key: K) {
        let mut counts = self.counts.lock().expect("tally lock");
        let len = counts.len();
        match counts.get_mut(&key) {
            Some(n) => *n += 1,
            None if len < MAX_KEYS => {
                counts.insert(key, 1);
            }
            None => {
                self.overflow.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The counts since the last call.
    pub fn take(&self) -> Counts<K> {
        let by_key = std::mem::take(&mut *self.counts.lock().expect("tally lock")).into_iter().collect();
        Counts { by_key, overflow: self.overflow.swap(0, Ordering::Relaxed) }
    }
}

/// Every `interval`, journals the events `describe` makes of the counts since the last interval (none when
/// nothing was refused).
pub async fn summarize<K, F>(tally: Arc<Tally<K>>, recorder: Arc<Recorder>, interval: Duration, describe: F)
where
    K: Hash + Eq,
    F: Fn(&Recorder, Counts<K>) -> Vec<EventDraft>,
{
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        for event in describe(&recorder, tally.take()) {
            if let Err(e) = recorder.record(event).await {
                tracing::warn!(error = %e, "recording a summary of refused requests failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_once_and_bounds_the_keys() {
        let tally = Tally::default();
        tally.add("a");
        tally.add("a");
        tally.add("b");
        let mut counts = tally.take();
        counts.by_key.sort();
        assert_eq!(counts.by_key, vec![("a", 2), ("b", 1)]);
        assert!(tally.take().by_key.is_empty(), "counted once");

        let tally = Tally::default();
        (0..MAX_KEYS as u64 + 3).for_each(|k| tally.add(k));
        tally.add(0);
        let counts = tally.take();
        assert_eq!(counts.by_key.len(), MAX_KEYS);
        assert_eq!(counts.overflow, 3, "keys beyond the bound are still counted");
        assert_eq!(counts.by_key.iter().map(|(_, n)| n).sum::<u64>(), MAX_KEYS as u64 + 1);
    }
}
