//! Failed-login throttling per user name and per client address: after too many failures within a window,
//! further attempts are refused (without checking the secret) until the window passes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    window: Duration,
    max_per_user: u32,
    max_per_ip: u32,
    failures: Mutex<HashMap<Key, (Instant, u32)>>,
}

#[derive(Hash, PartialEq, Eq, Clone)]
enum Key {
    User(String),
    Ip(IpAddr),
}

/// Entries kept at most; beyond that, expired entries are dropped first, then the map is cleared.
const MAX_ENTRIES: usize = 100_000;

impl Throttle {
    pub fn new(window: Duration, max_per_user: u32, max_per_ip: u32) -> Self {
        Throttle { window, max_per_user, max_per_ip, failures: Mutex::default() }
    }

    fn count(&self, map: &HashMap<Key, (Instant, u32)>, key: &Key) -> u32 {
        map.get(key).filter(|(start, _)| start.elapsed() < self.window).map_or(0, |(_, n)| *n)
    }

    /// Whether a login attempt may proceed.
    pub fn allowed(&self, user: &str, ip: IpAddr) -> bool {
        let map = self.failures.lock().expect("throttle lock");
        self.count(&map, &Key::User(user.to_owned())) < self.max_per_user
            && self.count(&map, &Key::Ip(ip)) < self.max_per_ip
    }

    pub fn failed(&self, user: &str, ip: IpAddr) {
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() > MAX_ENTRIES {
            let window = self.window;
            map.retain(|_, (start, _)| start.elapsed() < window);
            if map.len() > MAX_ENTRIES {
                map.clear();
            }
        }
        for key in [Key::User(user.to_owned()), Key::Ip(ip)] {
            let e = map.entry(key).or_insert((Instant::now(), 0));
            if e.0.elapsed() >= self.window {
                *e = (Instant::now(), 0);
            }
            e.1 += 1;
        }
    }

    pub fn succeeded(&self, user: &str) {
        self.failures.lock().expect("throttle lock").remove(&Key::User(user.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_per_user_and_per_ip() {
        let t = Throttle::new(Duration::from_secs(60), 3, 5);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(t.allowed("alice", ip));
            t.failed("alice", ip);
        }
        assert!(!t.allowed("alice", ip));
        assert!(t.allowed("bob", ip));
        t.failed("bob", ip);
        t.failed("bob", ip);
        assert!(!t.allowed("carol", ip), "the address is over its limit");
        assert!(t.allowed("carol", "127.0.0.2".parse().unwrap()));
    }
}
