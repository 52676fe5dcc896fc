//! Failed-login throttling per user name *from one client network* and per client network: after too many
//! failures within a window, further attempts are refused (without checking the secret) until the window passes.
//! A user's limit is kept per network, so nobody can lock an account out for everyone by failing its logins from
//! their own address. A network is an IPv4 address or an IPv6 /64 (one host is handed a whole /64, so counting
//! single IPv6 addresses would let it spray without limit).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigil_core::network::of as network;

pub struct Throttle {
    window: Duration,
    max_per_user: u32,
    max_per_ip: u32,
    /// Entries kept at most.
    capacity: usize,
    entries: Mutex<HashMap<Key, Entry>>,
}

#[derive(Hash, PartialEq, Eq, Clone)]
enum Key {
    User(String, IpAddr),
    Net(IpAddr),
}

/// Failures counted since `start`, and attempts being checked right now.
struct Entry {
    start: Instant,
    failures: u32,
    in_flight: u32,
}

/// Entries kept at most. Beyond that, expired entries go first, then those furthest from their limit: spraying
/// names or networks (a wrong `vgt_` token costs the sprayer nothing) cannot make the table forget the keys that
/// are close to being, or are, locked out.
const MAX_ENTRIES: usize = 100_000;

/// A login attempt admitted by [`Throttle::begin`]: it counts against the limits while the secret is checked
/// (so parallel wrong guesses cannot all pass the check before any failure is counted), and becomes a failure
/// unless [`Attempt::succeeded`] is called. Dropped unfinished (the request went away), it counts as neither.
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: [Key; 2],
    done: bool,
}

impl Throttle {
    pub fn new(window: Duration, max_per_user: u32, max_per_ip: u32) -> Self {
        Throttle { window, max_per_user, max_per_ip, capacity: MAX_ENTRIES, entries: Mutex::default() }
    }

    /// Admits a login attempt if the user's and the address's failures plus attempts in flight are under their
    /// limits; `None` means throttled.
    pub fn begin(&self, user: &str, ip: IpAddr) -> Option<Attempt<'_>> {
        let mut map = self.entries.lock().expect("throttle lock");
        let net = network(ip);
        let keys = [Key::User(user.to_owned(), net), Key::Net(net)];
        let window = self.window;
        let used = |map: &HashMap<Key, Entry>, key: &Key| {
            map.get(key).map_or(0, |e| if e.start.elapsed() < window { e.failures } else { 0 } + e.in_flight)
        };
        if used(&map, &keys[0]) >= self.max_per_user || used(&map, &keys[1]) >= self.max_per_ip {
            return None;
        }
        if map.len() >= self.capacity {
            map.retain(|_, e| e.in_flight > 0 || e.start.elapsed() < window);
            if map.len() >= self.capacity {
                self.evict_least_failed(&mut map);
            }
        }
        for key in &keys {
            let e = map.entry(key.clone()).or_insert(Entry { start: Instant::now(), failures: 0, in_flight: 0 });
            e.in_flight += 1;
        }
        Some(Attempt { throttle: self, keys, done: false })
    }

    /// Drops the tenth of idle entries with the fewest failures (relative to their limit).
    fn evict_least_failed(&self, map: &mut HashMap<Key, Entry>) {
        let share = |key: &Key, e: &Entry| {
            let limit = match key {
                Key::User(..) => self.max_per_user,
                Key::Net(_) => self.max_per_ip,
            };
            f64::from(e.failures) / f64::from(limit.max(1))
        };
        let mut idle: Vec<(f64, Key)> =
            map.iter().filter(|(_, e)| e.in_flight == 0).map(|(k, e)| (share(k, e), k.clone())).collect();
        idle.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, key) in idle.into_iter().take((self.capacity / 10).max(1)) {
            map.remove(&key);
        }
    }

    fn finish(&self, keys: &[Key; 2], failed: Option<bool>) {
        let mut map = self.entries.lock().expect("throttle lock");
        for key in keys {
            let Some(e) = map.get_mut(key) else { continue };
            e.in_flight = e.in_flight.saturating_sub(1);
            match (failed, key) {
                (Some(true), _) => {
                    if e.start.elapsed() >= self.window {
                        (e.start, e.failures) = (Instant::now(), 0);
                    }
                    e.failures += 1;
                }
                // A success clears the user's failures (not the address's: one good login does not excuse a
                // spray from the same address).
                (Some(false), Key::User(..)) => e.failures = 0,
                _ => {}
            }
            if e.in_flight == 0 && e.failures == 0 {
                map.remove(key);
            }
        }
    }
}

impl Attempt<'_> {
    pub fn succeeded(mut self) {
        self.done = true;
        self.throttle.finish(&self.keys, Some(false));
    }

    pub fn failed(mut self) {
        self.done = true;
        self.throttle.finish(&self.keys, Some(true));
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.throttle.finish(&self.keys, None);
        }
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
            t.begin("alice", ip).unwrap().failed();
        }
        assert!(t.begin("alice", ip).is_none());
        t.begin("bob", ip).unwrap().failed();
        t.begin("bob", ip).unwrap().failed();
        assert!(t.begin("carol", ip).is_none(), "the address is over its limit");
        assert!(t.begin("carol", "127.0.0.2".parse().unwrap()).is_some());
    }

    #[test]
    fn a_user_is_throttled_per_network_and_ipv6_per_64() {
        let t = Throttle::new(Duration::from_secs(60), 3, 10);
        let mallory: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..3 {
            t.begin("admin", mallory).unwrap().failed();
        }
        assert!(t.begin("admin", mallory).is_none());
        assert!(t.begin("admin", "198.51.100.7".parse().unwrap()).is_some(), "the admin still logs in from elsewhere");
        // Every address of one /64 is one network.
        for i in 0..10 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            t.begin(&format!("user{i}"), ip).unwrap().failed();
        }
        assert!(t.begin("someone", "2001:db8:1:2:ffff::1".parse().unwrap()).is_none());
        assert!(t.begin("someone", "2001:db8:1:3::1".parse().unwrap()).is_some());
        assert_eq!(network("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn spraying_names_does_not_forget_a_lockout() {
        let t = Throttle { capacity: 100, ..Throttle::new(Duration::from_secs(60), 3, 1000) };
        let attacker: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..3 {
            t.begin("admin", attacker).unwrap().failed();
        }
        // A thousand other names from many networks, one failure each: far more than the table holds.
        for i in 0..1000u32 {
            let ip = IpAddr::from([10, (i >> 8) as u8, i as u8, 1]);
            t.begin(&format!("spray{i}"), ip).unwrap().failed();
        }
        assert!(t.entries.lock().unwrap().len() <= 100, "memory stays bounded");
        assert!(t.begin("admin", attacker).is_none(), "the locked-out key was kept");
    }

    #[test]
    fn attempts_in_flight_count_against_the_limit() {
        let t = Throttle::new(Duration::from_secs(60), 3, 100);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        // Three guesses being checked at once: a fourth is refused before any of them has failed.
        let held: Vec<_> = (0..3).map(|_| t.begin("admin", ip).unwrap()).collect();
        assert!(t.begin("admin", ip).is_none());
        drop(held);
        // Dropped unfinished (the client went away) they count as nothing.
        let ok = t.begin("admin", ip).unwrap();
        let bad = t.begin("admin", ip).unwrap();
        bad.failed();
        ok.succeeded();
        assert!(t.begin("admin", ip).is_some(), "a success clears the user's failures");
    }
}
