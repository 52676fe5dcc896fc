//! npm paths under `/npm/<ns>/<repo>/`, parsed and validated once. A package is `name` or `@scope/name`, the
//! scoped form sent as one segment (`@scope%2fname`, as npm does) or as two; names follow npm's rules for new
//! packages (lowercase, URL-safe, at most 214 characters), so a name can never reach storage as a path trick.

use axum::http::{Method, StatusCode};
use vigil_core::{Operation, RepoName};

use crate::error::{NpmError, NpmResult};
use crate::ops;

const MAX_NAME: usize = 214;
const MAX_TAG: usize = 128;
/// Search pages npm asks for are 20 to 250 results.
const MAX_SEARCH_SIZE: usize = 250;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub repo: RepoName,
    pub call: Call,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Ping,
    Whoami,
    Login {
        user: String,
    },
    Logout {
        token: String,
    },
    Search {
        text: String,
        size: usize,
        from: usize,
    },
    /// `GET`/`PUT <pkg>`.
    Package {
        name: String,
    },
    /// `GET <pkg>/<version or tag>`.
    Version {
        name: String,
        spec: String,
    },
    /// `PUT`/`DELETE <pkg>/-rev/<rev>`.
    Revision {
        name: String,
        rev: String,
    },
    /// `GET <pkg>/-/<file>`.
    Tarball {
        name: String,
        file: String,
    },
    /// `DELETE <pkg>/-/<file>/-rev/<rev>`.
    TarballRevision {
        name: String,
        file: String,
    },
    /// `GET -/package/<pkg>/dist-tags`.
    DistTags {
        name: String,
    },
    /// `PUT`/`DELETE -/package/<pkg>/dist-tags/<tag>`.
    DistTag {
        name: String,
        tag: String,
    },
}

impl Call {
    /// The package the call is about, if any.
    pub fn package(&self) -> Option<&str> {
        match self {
            Call::Package { name }
            | Call::Version { name, .. }
            | Call::Revision { name, .. }
            | Call::Tarball { name, .. }
            | Call::TarballRevision { name, .. }
            | Call::DistTags { name }
            | Call::DistTag { name, .. } => Some(name),
            _ => None,
        }
    }
}

fn bad(message: impl Into<String>) -> NpmError {
    NpmError::bad_request(message)
}

fn decode(segment: &str) -> NpmResult<String> {
    vigil_http::util::decode_segment(segment).map_err(bad)
}

fn valid_part(part: &str, what: &str, name: &str) -> NpmResult<()> {
    if part.is_empty() {
        return Err(bad(format!("invalid package name {name:?}: the {what} is empty")));
    }
    if part.starts_with('.') || part.starts_with('_') {
        return Err(bad(format!("invalid package name {name:?}: the {what} cannot start with '.' or '_'")));
    }
    if !part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b)) {
        return Err(bad(format!(
            "invalid package name {name:?}: only lowercase letters, digits, '-', '.' and '_' are allowed"
        )));
    }
    Ok(())
}

/// Checks a package name by npm's rules for new packages.
pub fn validate_name(name: &str) -> NpmResult<()> {
    if name.len() > MAX_NAME {
        return Err(bad(format!("invalid package name: longer than {MAX_NAME} characters")));
    }
    match name.strip_prefix('@') {
        Some(scoped) => {
            let (scope, base) = scoped
                .split_once('/')
                .ok_or_else(|| bad(format!("invalid package name {name:?}: a scoped name is @scope/name")))?;
            valid_part(scope, "scope", name)?;
            valid_part(base, "name", name)
        }
        None => {
            valid_part(name, "name", name)?;
            if name == "node_modules" || name == "favicon.ico" {
                return Err(bad(format!("invalid package name {name:?}: the name is reserved")));
            }
            Ok(())
        }
    }
}

/// A dist-tag: printable, no slash, and not a valid version (npm refuses tags that parse as versions).
pub fn validate_tag(tag: &str) -> NpmResult<()> {
    if tag.is_empty() || tag.len() > MAX_TAG {
        return Err(bad(format!("a dist-tag is 1 to {MAX_TAG} characters")));
    }
    if tag.chars().any(|c| c.is_control() || c.is_whitespace() || c == '/' || c == '%') {
        return Err(bad(format!("invalid dist-tag {tag:?}")));
    }
    if semver::Version::parse(tag.trim_start_matches(['v', '='])).is_ok() {
        return Err(bad(format!("the dist-tag {tag:?} is a version; tags must not look like versions")));
    }
    Ok(())
}

/// A file segment: not empty, not `.`/`..`, no slashes once decoded.
fn file_name(segment: &str) -> NpmResult<String> {
    let file = decode(segment)?;
    if file.is_empty() || file == "." || file == ".." || file.contains(['/', '\\']) || file.len() > 255 {
        return Err(bad(format!("invalid file name {file:?}")));
    }
    Ok(file)
}

/// Takes the package name from the front of `segments`, returning it and the rest.
fn package<'a>(segments: &'a [&'a str]) -> NpmResult<(String, &'a [&'a str])> {
    let Some((first, rest)) = segments.split_first() else { return Err(bad("no package name in the path")) };
    let first = decode(first)?;
    let (name, rest) = match (first.starts_with('@') && !first.contains('/'), rest.split_first()) {
        (true, Some((base, rest))) => (format!("{first}/{}", decode(base)?), rest),
        _ => (first, rest),
    };
    validate_name(&name)?;
    Ok((name, rest))
}

fn search(query: Option<&str>) -> NpmResult<Call> {
    let pairs = vigil_http::util::query_pairs(query);
    let number = |key: &str, default: usize| -> NpmResult<usize> {
        match vigil_http::util::query_param(&pairs, key) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| bad(format!("{key} must be a number, not {v:?}"))),
        }
    };
    let text = vigil_http::util::query_param(&pairs, "text").unwrap_or("").trim().to_owned();
    if text.len() > 256 {
        return Err(bad("search text is at most 256 characters"));
    }
    Ok(Call::Search { text, size: number("size", 20)?.clamp(1, MAX_SEARCH_SIZE), from: number("from", 0)? })
}

/// The call a path names and the operation the method asks of it.
fn parse(method: &Method, tail: &[&str], query: Option<&str>) -> (Operation, NpmResult<Call>) {
    let unknown = || (Operation::Unknown, Err(NpmError::not_found("not an npm registry path")));
    let not_allowed =
        |op| (op, Err(NpmError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))));
    let m = method.clone();
    match tail {
        ["-", "ping"] if m == Method::GET => (ops::PING, Ok(Call::Ping)),
        ["-", "whoami"] if m == Method::GET => (ops::WHOAMI, Ok(Call::Whoami)),
        ["-", "v1", "search"] if m == Method::GET => (ops::SEARCH, search(query)),
        ["-", "user", couch] if couch.starts_with("org.couchdb.user:") => {
            let user = decode(&couch["org.couchdb.user:".len()..]);
            match m {
                Method::PUT => (ops::LOGIN, user.map(|user| Call::Login { user })),
                _ => not_allowed(ops::LOGIN),
            }
        }
        ["-", "user", "token", token] => match m {
            Method::DELETE => (ops::LOGOUT, decode(token).map(|token| Call::Logout { token })),
            _ => not_allowed(ops::LOGOUT),
        },
        ["-", "package", rest @ ..] => {
            let parsed = package(rest);
            let (op, call) = match (&m, parsed.as_ref().map(|(_, r)| *r)) {
                (&Method::GET, Ok(["dist-tags"])) => (ops::LIST_DIST_TAGS, None),
                (&Method::PUT | &Method::POST, Ok(["dist-tags", tag])) => (ops::SET_DIST_TAG, Some(*tag)),
                (&Method::DELETE, Ok(["dist-tags", tag])) => (ops::DELETE_DIST_TAG, Some(*tag)),
                (_, Ok(["dist-tags", ..])) => return not_allowed(ops::LIST_DIST_TAGS),
                (_, Ok(_)) => return unknown(),
                (_, Err(_)) => (ops::LIST_DIST_TAGS, None),
            };
            let call = parsed.and_then(|(name, _)| match call {
                None => Ok(Call::DistTags { name }),
                Some(tag) => {
                    let tag = decode(tag)?;
                    validate_tag(&tag)?;
                    Ok(Call::DistTag { name, tag })
                }
            });
            (op, call)
        }
        ["-", ..] | [] | [""] => unknown(),
        _ => {
            let (name, rest) = match package(tail) {
                Ok(parsed) => parsed,
                Err(e) => {
                    let op = if m == Method::PUT { ops::PUT_PACKAGE } else { ops::GET_PACKUMENT };
                    return (op, Err(e));
                }
            };
            let (op, call) = match (m, rest) {
                (Method::GET | Method::HEAD, [] | [""]) => (ops::GET_PACKUMENT, Ok(Call::Package { name })),
                (Method::PUT, [] | [""]) => (ops::PUT_PACKAGE, Ok(Call::Package { name })),
                (Method::PUT, ["-rev", rev]) => {
                    (ops::UNPUBLISH_VERSIONS, decode(rev).map(|rev| Call::Revision { name, rev }))
                }
                (Method::DELETE, ["-rev", rev]) => {
                    (ops::UNPUBLISH_PACKAGE, decode(rev).map(|rev| Call::Revision { name, rev }))
                }
                (Method::DELETE, []) => {
                    (ops::UNPUBLISH_PACKAGE, Err(bad("an unpublish names the revision: DELETE <pkg>/-rev/<rev>")))
                }
                (Method::GET | Method::HEAD, ["-", file]) => {
                    (ops::GET_TARBALL, file_name(file).map(|file| Call::Tarball { name, file }))
                }
                (Method::DELETE, ["-", file, "-rev", _]) => {
                    (ops::DELETE_TARBALL, file_name(file).map(|file| Call::TarballRevision { name, file }))
                }
                (Method::GET | Method::HEAD, [spec]) => {
                    (ops::GET_VERSION, decode(spec).map(|spec| Call::Version { name, spec }))
                }
                (Method::GET | Method::HEAD, _) => unknown(),
                (_, []) => not_allowed(ops::PUT_PACKAGE),
                _ => unknown(),
            };
            (op, call)
        }
    }
}

/// The one classification of a request under `/npm`.
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> (Operation, NpmResult<Route>) {
    let Some(rest) = path.strip_prefix("/npm/") else {
        return (Operation::Unknown, Err(NpmError::not_found("npm registries are at /npm/<namespace>/<repository>/")));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let (ns, name, tail) = match segments.as_slice() {
        [ns, name, tail @ ..] => (*ns, *name, tail),
        _ => {
            return (
                Operation::Unknown,
                Err(NpmError::not_found("npm registries are at /npm/<namespace>/<repository>/")),
            )
        }
    };
    let repo = match (decode(ns), decode(name)) {
        (Ok(ns), Ok(name)) => format!("{ns}/{name}").parse::<RepoName>(),
        _ => return (Operation::Unknown, Err(bad("not a repository name"))),
    };
    // `npm unpublish` deletes a tarball at the path of its absolute URL joined to the registry URL, which names
    // the registry's own path twice. No other call has `npm/<ns>/<repo>` at its front (a package named `npm` is
    // never followed by two more name segments), so the repetition is dropped.
    let tail = match tail {
        ["npm", again_ns, again_name, rest @ ..]
            if *method == Method::DELETE && *again_ns == ns && *again_name == name =>
        {
            rest
        }
        _ => tail,
    };
    let (op, call) = parse(method, tail, query);
    let route = match repo {
        Ok(repo) => call.map(|call| Route { repo, call }),
        Err(e) => Err(bad(format!("not a repository name: {e}"))),
    };
    (op, route)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operation and the call, or the error's status.
    fn call(method: Method, path: &str) -> (Operation, Result<Call, StatusCode>) {
        let (op, route) = classify(&method, path, None);
        (op, route.map(|r| r.call).map_err(|e| e.0.status))
    }

    fn name(n: &str) -> String {
        n.to_owned()
    }

    #[test]
    fn paths_name_packages_scoped_or_not() {
        let p = |n: &str| Call::Package { name: name(n) };
        assert_eq!(call(Method::GET, "/npm/acme/js/left-pad"), (ops::GET_PACKUMENT, Ok(p("left-pad"))));
        assert_eq!(call(Method::GET, "/npm/acme/js/@acme%2fui"), (ops::GET_PACKUMENT, Ok(p("@acme/ui"))));
        assert_eq!(call(Method::GET, "/npm/acme/js/@acme%2Fui"), (ops::GET_PACKUMENT, Ok(p("@acme/ui"))));
        assert_eq!(call(Method::GET, "/npm/acme/js/@acme/ui"), (ops::GET_PACKUMENT, Ok(p("@acme/ui"))));
        assert_eq!(call(Method::PUT, "/npm/acme/js/@acme%2fui"), (ops::PUT_PACKAGE, Ok(p("@acme/ui"))));
        assert_eq!(
            call(Method::GET, "/npm/acme/js/@acme/ui/-/ui-1.0.0.tgz"),
            (ops::GET_TARBALL, Ok(Call::Tarball { name: name("@acme/ui"), file: name("ui-1.0.0.tgz") }))
        );
        assert_eq!(
            call(Method::DELETE, "/npm/acme/js/left-pad/-/left-pad-1.0.0.tgz/-rev/3-ab"),
            (
                ops::DELETE_TARBALL,
                Ok(Call::TarballRevision { name: name("left-pad"), file: name("left-pad-1.0.0.tgz") })
            )
        );
        assert_eq!(
            call(Method::DELETE, "/npm/acme/js/npm/acme/js/left-pad/-/left-pad-1.0.0.tgz/-rev/3-ab").0,
            ops::DELETE_TARBALL,
            "the form npm unpublish sends"
        );
        assert_eq!(
            call(Method::PUT, "/npm/acme/js/left-pad/-rev/3-ab"),
            (ops::UNPUBLISH_VERSIONS, Ok(Call::Revision { name: name("left-pad"), rev: name("3-ab") }))
        );
        assert_eq!(call(Method::DELETE, "/npm/acme/js/left-pad/-rev/3-ab").0, ops::UNPUBLISH_PACKAGE);
        assert_eq!(
            call(Method::GET, "/npm/acme/js/left-pad/latest"),
            (ops::GET_VERSION, Ok(Call::Version { name: name("left-pad"), spec: name("latest") }))
        );
        assert_eq!(
            call(Method::PUT, "/npm/acme/js/-/package/@acme%2fui/dist-tags/beta"),
            (ops::SET_DIST_TAG, Ok(Call::DistTag { name: name("@acme/ui"), tag: name("beta") }))
        );
        assert_eq!(call(Method::GET, "/npm/acme/js/-/package/left-pad/dist-tags").0, ops::LIST_DIST_TAGS);
        assert_eq!(
            call(Method::PUT, "/npm/acme/js/-/user/org.couchdb.user:alice"),
            (ops::LOGIN, Ok(Call::Login { user: name("alice") }))
        );
        assert_eq!(call(Method::GET, "/npm/acme/js/-/ping").0, ops::PING);
        assert_eq!(call(Method::GET, "/npm/acme/js/-/whoami").0, ops::WHOAMI);
        assert_eq!(call(Method::POST, "/npm/acme/js/-/v1/login").0, Operation::Unknown);
    }

    #[test]
    fn search_parameters_are_read_and_bounded() {
        let (op, route) = classify(&Method::GET, "/npm/acme/js/-/v1/search", Some("text=pad&size=9999&from=4"));
        assert_eq!(op, ops::SEARCH);
        assert_eq!(route.unwrap().call, Call::Search { text: name("pad"), size: 250, from: 4 });
        assert!(classify(&Method::GET, "/npm/acme/js/-/v1/search", Some("size=ten")).1.is_err());
    }

    #[test]
    fn hostile_names_and_tags_are_refused() {
        for bad in [
            "/npm/acme/js/..%2f..%2fetc",
            "/npm/acme/js/%2e%2e",
            "/npm/acme/js/.hidden",
            "/npm/acme/js/_private",
            "/npm/acme/js/Left-Pad",
            "/npm/acme/js/a%00b",
            "/npm/acme/js/@acme",
            "/npm/acme/js/@%2fui",
            "/npm/acme/js/node_modules",
            "/npm/acme/js/left-pad/-/..",
            "/npm/acme/js/left-pad/-/a%2fb.tgz",
            "/npm/Acme/js/left-pad",
        ] {
            let (_, route) = call(Method::GET, bad);
            assert_eq!(route, Err(StatusCode::BAD_REQUEST), "{bad}");
        }
        assert!(call(Method::GET, &format!("/npm/acme/js/{}", "a".repeat(215))).1.is_err());
        for tag in ["1.0.0", "v2.0.0", "", "a/b", "has space"] {
            assert!(validate_tag(tag).is_err(), "{tag:?}");
        }
        validate_tag("next").unwrap();
    }
}
