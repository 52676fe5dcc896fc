//! The one thing vigil reads out of its own `public_url`: the host (with its port), which names the registry in
//! DTR's repository names and the audit log's default origin.

/// `https://registry.example.com:5000/prefix` → `registry.example.com:5000`.
pub fn host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts() {
        assert_eq!(super::host("https://reg.example:5000/x"), Some("reg.example:5000"));
        assert_eq!(super::host("http://reg.example"), Some("reg.example"));
        assert_eq!(super::host("reg.example/x"), Some("reg.example"));
        assert_eq!(super::host("https://"), None);
    }
}
