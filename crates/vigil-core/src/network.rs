//! The client network an address is counted under by limits: an IPv4 address itself, an IPv6 address its /64
//! (one host is handed a whole /64, so counting single IPv6 addresses would let it spray without limit).

use std::net::{IpAddr, Ipv6Addr};

pub fn of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            // An IPv4-mapped address is the IPv4 host.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv6_counts_by_prefix() {
        let of = |s: &str| super::of(s.parse().unwrap()).to_string();
        assert_eq!(of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(of("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(of("192.0.2.7"), "192.0.2.7");
    }
}
