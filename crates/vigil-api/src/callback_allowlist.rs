//! The origins a user-supplied callback URL may point at (`audit.export.callback_allowlist`). A URL is allowed
//! when its scheme, host and port equal an entry's; `*.example.com` allows the subdomains of `example.com` (not
//! the domain itself). Nothing else is allowed, so a user cannot aim the server at metadata services or other
//! internal addresses.

use reqwest::Url;

#[derive(Debug, Clone, PartialEq)]
struct AllowedOrigin {
    scheme: String,
    /// Lowercase host, or the domain after `*.`.
    host: String,
    subdomains: bool,
    port: u16,
}

#[derive(Debug, Clone, Default)]
pub struct Allowlist(Vec<AllowedOrigin>);

/// Longest callback URL accepted.
const MAX_URL: usize = 2048;

impl Allowlist {
    /// Parses entries such as `https://hooks.example.com`, `http://127.0.0.1:9000` or `https://*.example.com`.
    pub fn parse(entries: &[String]) -> Result<Allowlist, String> {
        entries.iter().map(|e| parse_entry(e)).collect::<Result<_, _>>().map(Allowlist)
    }

    /// The URL, when it is an http(s) URL without credentials whose origin is allowed.
    pub fn check(&self, url: &str) -> Result<Url, String> {
        if url.len() > MAX_URL {
            return Err(format!("`callback_url` is longer than {MAX_URL} bytes"));
        }
        let parsed = Url::parse(url).map_err(|e| format!("`callback_url` {url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("`callback_url` must be http or https, not {:?}", parsed.scheme()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("`callback_url` may not carry credentials".into());
        }
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or_default();
        let allowed = self.0.iter().any(|o| {
            let host_ok = if o.subdomains {
                host.strip_suffix(&o.host).is_some_and(|h| h.ends_with('.'))
            } else {
                host == o.host
            };
            o.scheme == parsed.scheme() && o.port == port && host_ok
        });
        if !allowed {
            let origin = parsed.origin().ascii_serialization();
            return Err(format!(
                "`callback_url`'s origin {origin} is not in this server's audit.export.callback_allowlist"
            ));
        }
        Ok(parsed)
    }
}

/// How a callback URL is recorded in the audit log: its query may carry the receiver's secret under any name, so
/// only the origin and path are kept.
pub fn recorded(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_fragment(None);
    if shown.query().is_some() {
        shown.set_query(Some("REDACTED"));
    }
    shown.to_string()
}

fn parse_entry(entry: &str) -> Result<AllowedOrigin, String> {
    let (subdomains, url) = match entry.split_once("://*.") {
        Some((scheme, rest)) => (true, format!("{scheme}://{rest}")),
        None => (false, entry.to_owned()),
    };
    let parsed = Url::parse(&url).map_err(|e| format!("{entry:?} is not an origin: {e}"))?;
    let plain = parsed.path() == "/" && parsed.query().is_none() && parsed.fragment().is_none();
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() || !plain {
        return Err(format!("{entry:?} is not an origin such as https://hooks.example.com or http://127.0.0.1:9000"));
    }
    Ok(AllowedOrigin {
        scheme: parsed.scheme().to_owned(),
        host: parsed.host_str().unwrap_or_default().to_ascii_lowercase(),
        subdomains,
        port: parsed.port_or_known_default().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Allowlist {
        Allowlist::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn only_listed_origins_pass() {
        let l = list(&["https://hooks.example.com", "http://127.0.0.1:9000", "https://*.corp.example"]);
        for ok in [
            "https://hooks.example.com/x?y=1",
            "https://HOOKS.example.com:443/",
            "http://127.0.0.1:9000/cb",
            "https://a.corp.example/cb",
            "https://a.b.corp.example/cb",
        ] {
            assert!(l.check(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://hooks.example.com/",       // another scheme
            "https://hooks.example.com:8443/", // another port
            "http://127.0.0.1:9001/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:9000/",
            "https://corp.example/",     // the domain itself is not its subdomains
            "https://evilcorp.example/", // nor a name that merely ends the same
            "https://hooks.example.com.evil.test/",
            "https://user:pw@hooks.example.com/",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(l.check(refused).is_err(), "{refused}");
        }
        assert!(Allowlist::default().check("https://hooks.example.com/").is_err(), "empty refuses all");
    }

    #[test]
    fn recorded_urls_keep_no_query() {
        let url = Url::parse("https://hooks.example.com/cb/x?token=s3cret&sig=abc#frag").unwrap();
        assert_eq!(recorded(&url), "https://hooks.example.com/cb/x?REDACTED");
        let plain = Url::parse("http://127.0.0.1:9000/cb").unwrap();
        assert_eq!(recorded(&plain), "http://127.0.0.1:9000/cb");
    }

    #[test]
    fn entries_must_be_origins() {
        for bad in ["hooks.example.com", "https://hooks.example.com/path", "file:///etc", "https://u@h.example"] {
            assert!(Allowlist::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }
}
