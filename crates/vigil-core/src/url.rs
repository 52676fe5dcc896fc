//! The one thing vigil reads out of its own `public_url`: the host (with its port), which names the registry in
//! DTR's repository names and the audit log's default origin.

/// `https://registry.example.com:5000/prefix` → `registry.example.com:5000`.
pub fn host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().filter(|h| !h.is_empty())
}

/// `name` without its leading `<own>/`, where `own` is the registry's own host as [`host`] returns it. DTR clients
/// write repositories as they pull them (`dtr.example.org/library/wordpress`, `127.0.0.1:5000/alice/app`); the host
/// matches with its port or, when `own` has one, without it. A foreign host is not ours to strip: `None`.
pub fn strip_own_host<'a>(name: &'a str, own: &str) -> Option<&'a str> {
    let hostname = match own.rsplit_once(':') {
        // `[::1]:5000` → `[::1]`; `reg.example:5000` → `reg.example`; a bare IPv6 literal keeps its colons.
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => own,
    };
    [own, hostname]
        .into_iter()
        .find_map(|h| name.strip_prefix(h).and_then(|rest| rest.strip_prefix('/')))
        .filter(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_hosts_are_stripped_with_or_without_their_port() {
        use super::strip_own_host as s;
        assert_eq!(s("127.0.0.1:5000/alice/app", "127.0.0.1:5000"), Some("alice/app"));
        assert_eq!(s("127.0.0.1/alice/app", "127.0.0.1:5000"), Some("alice/app"));
        assert_eq!(s("dtr.example.org/library/wp", "dtr.example.org"), Some("library/wp"));
        assert_eq!(s("dtr.example.org:443/library/wp", "dtr.example.org"), None);
        assert_eq!(s("other.example/library/wp", "dtr.example.org"), None);
        assert_eq!(s("dtr.example.orgx/library/wp", "dtr.example.org"), None);
        assert_eq!(s("127.0.0.1:5001/alice/app", "127.0.0.1:5000"), None);
        assert_eq!(s("[::1]:5000/a/b", "[::1]:5000"), Some("a/b"));
        assert_eq!(s("127.0.0.1:5000/", "127.0.0.1:5000"), None);
        assert_eq!(s("alice/app", "127.0.0.1:5000"), None);
    }

    #[test]
    fn hosts() {
        assert_eq!(super::host("https://reg.example:5000/x"), Some("reg.example:5000"));
        assert_eq!(super::host("http://reg.example"), Some("reg.example"));
        assert_eq!(super::host("reg.example/x"), Some("reg.example"));
        assert_eq!(super::host("https://"), None);
    }
}
