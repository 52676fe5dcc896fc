//! The client's address: the socket peer, or — only when that peer is a trusted proxy — the rightmost address in
//! `X-Forwarded-For` / `Forwarded` that is not itself a trusted proxy (the leftmost entries are client-supplied
//! and can be forged).

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`) or single addresses.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted proxy {e:?} is not an IP address or CIDR"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// Resolves the client address from the peer and the forwarding headers' values (in header order).
    pub fn client_ip(&self, peer: IpAddr, x_forwarded_for: &[&str], forwarded: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        if !forwarded.is_empty() {
            for value in forwarded {
                for element in value.split(',') {
                    for pair in element.split(';') {
                        if let Some((k, v)) = pair.trim().split_once('=') {
                            if k.trim().eq_ignore_ascii_case("for") {
                                if let Some(ip) = parse_forwarded_node(v.trim()) {
                                    hops.push(ip);
                                }
                            }
                        }
                    }
                }
            }
        } else {
            for value in x_forwarded_for {
                hops.extend(value.split(',').filter_map(|h| h.trim().parse::<IpAddr>().ok()));
            }
        }
        hops.into_iter().rev().find(|ip| !self.trusts(*ip)).unwrap_or(peer)
    }
}

/// `for=` node values: `192.0.2.1`, `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"`.
fn parse_forwarded_node(v: &str) -> Option<IpAddr> {
    let v = v.trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.parse().ok().or_else(|| v.rsplit_once(':').and_then(|(h, _)| h.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_only_from_trusted_proxies() {
        let tp = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.1".into()]).unwrap();
        // Untrusted peer: headers ignored.
        assert_eq!(tp.client_ip(ip("203.0.113.9"), &["1.2.3.4"], &[]), ip("203.0.113.9"));
        // Trusted peer: rightmost untrusted hop; a forged leftmost entry is ignored.
        assert_eq!(tp.client_ip(ip("10.1.1.1"), &["6.6.6.6, 198.51.100.7, 10.2.2.2"], &[]), ip("198.51.100.7"));
        assert_eq!(
            tp.client_ip(ip("10.1.1.1"), &[], &[r#"for=198.51.100.8;proto=https, for="[2001:db8::1]:443""#]),
            ip("2001:db8::1")
        );
        // Only proxies in the chain: fall back to the peer.
        assert_eq!(tp.client_ip(ip("10.1.1.1"), &["10.3.3.3"], &[]), ip("10.1.1.1"));
        assert_eq!(tp.client_ip(ip("10.1.1.1"), &["garbage"], &[]), ip("10.1.1.1"));
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
    }
}
