//! Cargo paths under `/cargo/<ns>/<repo>/`: the sparse index below `index/` and the web API below `api/v1/`,
//! parsed and validated once (names, versions, the index prefix that must fit the name).

use axum::http::{Method, StatusCode};
use vigil_core::{Operation, RepoName};

use crate::error::{CargoError, CargoResult};
use crate::{names, ops};

/// Search pages are at most this many crates (`cargo search --limit` stops at 100).
const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub repo: RepoName,
    pub call: Call,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Config,
    /// The index file of a crate, by the name as requested (lower case).
    IndexFile {
        name: String,
    },
    Publish,
    Download {
        name: String,
        version: String,
    },
    Yank {
        name: String,
        version: String,
    },
    Owners {
        name: String,
    },
    Search {
        query: String,
        per_page: usize,
    },
}

fn bad(message: impl Into<String>) -> CargoError {
    CargoError::bad_request(message)
}

fn decode(segment: &str) -> CargoResult<String> {
    vigil_http::util::decode_segment(segment).map_err(bad)
}

fn name(segment: &str) -> CargoResult<String> {
    let name = decode(segment)?;
    names::valid_name(&name).map_err(bad)?;
    Ok(name)
}

fn version(segment: &str) -> CargoResult<String> {
    let text = decode(segment)?;
    let v = semver::Version::parse(&text).map_err(|e| bad(format!("invalid version {text:?}: {e}")))?;
    Ok(v.to_string())
}

fn search(query: Option<&str>) -> CargoResult<Call> {
    let pairs = vigil_http::util::query_pairs(query);
    let text = vigil_http::util::query_param(&pairs, "q").unwrap_or("").trim().to_owned();
    if text.len() > 256 {
        return Err(bad("a search is at most 256 characters"));
    }
    let per_page = match vigil_http::util::query_param(&pairs, "per_page") {
        None | Some("") => 10,
        Some(v) => v.parse::<usize>().map_err(|_| bad(format!("per_page must be a number, not {v:?}")))?,
    };
    Ok(Call::Search { query: text, per_page: per_page.clamp(1, MAX_PER_PAGE) })
}

fn parse(method: &Method, tail: &[&str], query: Option<&str>) -> (Operation, CargoResult<Call>) {
    let unknown = || (Operation::Unknown, Err(CargoError::not_found("not a path of a Cargo registry")));
    let not_allowed =
        |op| (op, Err(CargoError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))));
    let read = *method == Method::GET || *method == Method::HEAD;
    match tail {
        ["index", "config.json"] if read => (ops::CONFIG, Ok(Call::Config)),
        ["index", prefix @ .., file] if read && !prefix.is_empty() => {
            let call = name(file).and_then(|name| {
                let lower = name.to_ascii_lowercase();
                if names::index_path(&lower) != format!("{}/{file}", prefix.join("/")).to_ascii_lowercase() {
                    return Err(CargoError::not_found(format!(
                        "{name}'s index file is at index/{}",
                        names::index_path(&lower)
                    )));
                }
                Ok(Call::IndexFile { name: lower })
            });
            (ops::INDEX_FILE, call)
        }
        ["index", ..] => unknown(),
        ["api", "v1", "crates", "new"] => match *method {
            Method::PUT => (ops::PUBLISH, Ok(Call::Publish)),
            _ => not_allowed(ops::PUBLISH),
        },
        ["api", "v1", "crates"] if read => (ops::SEARCH, search(query)),
        ["api", "v1", "crates", n, v, "download"] if read => {
            (ops::DOWNLOAD, name(n).and_then(|name| Ok(Call::Download { name, version: version(v)? })))
        }
        ["api", "v1", "crates", n, v, action @ ("yank" | "unyank")] => {
            let op = match (*method == Method::DELETE, *method == Method::PUT, *action) {
                (true, _, "yank") => ops::YANK,
                (_, true, "unyank") => ops::UNYANK,
                _ => return not_allowed(if *action == "yank" { ops::YANK } else { ops::UNYANK }),
            };
            (op, name(n).and_then(|name| Ok(Call::Yank { name, version: version(v)? })))
        }
        ["api", "v1", "crates", n, "owners"] => {
            let op = if read { ops::OWNERS } else { ops::CHANGE_OWNERS };
            (op, name(n).map(|name| Call::Owners { name }))
        }
        _ => unknown(),
    }
}

/// The one classification of a request under `/cargo`.
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> (Operation, CargoResult<Route>) {
    let nowhere = || CargoError::not_found("Cargo registries are at /cargo/<namespace>/<repository>/");
    let Some(rest) = path.strip_prefix("/cargo/") else { return (Operation::Unknown, Err(nowhere())) };
    let segments: Vec<&str> = rest.split('/').collect();
    let [ns, repo, tail @ ..] = segments.as_slice() else { return (Operation::Unknown, Err(nowhere())) };
    let repo = match (decode(ns), decode(repo)) {
        (Ok(ns), Ok(name)) => {
            format!("{ns}/{name}").parse::<RepoName>().map_err(|e| bad(format!("not a repository name: {e}")))
        }
        _ => Err(bad("not a repository name")),
    };
    let (op, call) = parse(method, tail, query);
    (op, repo.and_then(|repo| call.map(|call| Route { repo, call })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, path: &str) -> (Operation, Result<Call, StatusCode>) {
        let (op, route) = classify(&method, path, None);
        (op, route.map(|r| r.call).map_err(|e| e.0.status))
    }

    #[test]
    fn paths_name_the_index_and_the_api() {
        let s = |v: &str| v.to_owned();
        assert_eq!(call(Method::GET, "/cargo/acme/rs/index/config.json"), (ops::CONFIG, Ok(Call::Config)));
        assert_eq!(
            call(Method::GET, "/cargo/acme/rs/index/se/rd/serde"),
            (ops::INDEX_FILE, Ok(Call::IndexFile { name: s("serde") }))
        );
        assert_eq!(call(Method::GET, "/cargo/acme/rs/index/3/a/abc").0, ops::INDEX_FILE);
        assert_eq!(call(Method::GET, "/cargo/acme/rs/index/1/a").0, ops::INDEX_FILE);
        assert_eq!(call(Method::GET, "/cargo/acme/rs/index/xx/yy/serde").1, Err(StatusCode::NOT_FOUND));
        assert_eq!(call(Method::PUT, "/cargo/acme/rs/api/v1/crates/new"), (ops::PUBLISH, Ok(Call::Publish)));
        assert_eq!(
            call(Method::GET, "/cargo/acme/rs/api/v1/crates/serde/1.0.0/download"),
            (ops::DOWNLOAD, Ok(Call::Download { name: s("serde"), version: s("1.0.0") }))
        );
        assert_eq!(call(Method::DELETE, "/cargo/acme/rs/api/v1/crates/serde/1.0.0/yank").0, ops::YANK);
        assert_eq!(call(Method::PUT, "/cargo/acme/rs/api/v1/crates/serde/1.0.0/unyank").0, ops::UNYANK);
        assert_eq!(
            call(Method::PUT, "/cargo/acme/rs/api/v1/crates/serde/1.0.0/yank").1,
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(call(Method::GET, "/cargo/acme/rs/api/v1/crates/serde/owners").0, ops::OWNERS);
        assert_eq!(call(Method::PUT, "/cargo/acme/rs/api/v1/crates/serde/owners").0, ops::CHANGE_OWNERS);
        let (op, route) = classify(&Method::GET, "/cargo/acme/rs/api/v1/crates", Some("q=ser&per_page=500"));
        assert_eq!((op, route.unwrap().call), (ops::SEARCH, Call::Search { query: s("ser"), per_page: 100 }));
    }

    #[test]
    fn hostile_paths_are_refused() {
        for path in [
            "/cargo/acme/rs/index/..%2f..%2fetc",
            "/cargo/acme/rs/api/v1/crates/..%2fx/1.0.0/download",
            "/cargo/acme/rs/api/v1/crates/serde/1.0/download",
            "/cargo/acme/rs/api/v1/crates/serde/..%2f1.0.0/download",
            "/cargo/Acme/rs/index/config.json",
        ] {
            assert!(call(Method::GET, path).1.is_err(), "{path}");
        }
    }
}
