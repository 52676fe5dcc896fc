//! Raw paths: `/raw/<ns>/<repo>/<path>`, parsed and validated once. A path is a list of percent-decoded
//! segments, each non-empty, none `.` or `..`, none holding a slash (an encoded `%2F`), a backslash, NUL or
//! another control character; a trailing slash names a folder.

use axum::http::Method;
use percent_encoding::percent_decode_str;
use vigil_core::{Operation, RepoName};

use crate::error::{RawError, RawResult};
use crate::ops;

/// Longest file path accepted, in bytes (decoded), and longest segment.
const MAX_PATH: usize = 1024;
const MAX_SEGMENT: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A file at `path` (never empty, no leading or trailing slash).
    File { repo: RepoName, path: String },
    /// A folder: `""` for the repository's root, else ending in `/`.
    Folder { repo: RepoName, path: String },
}

impl Route {
    pub fn repo(&self) -> &RepoName {
        match self {
            Route::File { repo, .. } | Route::Folder { repo, .. } => repo,
        }
    }
}

fn decode(segment: &str) -> RawResult<String> {
    let text = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| RawError::bad_path("a path segment is not UTF-8 once decoded"))?;
    if text.is_empty() {
        return Err(RawError::bad_path("empty path segment (two slashes in a row)"));
    }
    if text == "." || text == ".." {
        return Err(RawError::bad_path("'.' and '..' are not allowed in paths"));
    }
    if text.contains('/') || text.contains('\\') {
        return Err(RawError::bad_path("a path segment may not contain a slash or a backslash (encoded or not)"));
    }
    if text.chars().any(char::is_control) {
        return Err(RawError::bad_path("control characters (NUL included) are not allowed in paths"));
    }
    if text.len() > MAX_SEGMENT {
        return Err(RawError::bad_path(format!("a path segment is longer than {MAX_SEGMENT} bytes")));
    }
    Ok(text.into_owned())
}

/// Parses `rest` (the path after `/raw/`) into a route.
fn parse(rest: &str) -> RawResult<Route> {
    let mut parts = rest.splitn(3, '/');
    let (ns, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let repo: RepoName = format!("{}/{}", decode(ns)?, decode(name)?)
        .parse()
        .map_err(|e| RawError::bad_path(format!("not a repository name: {e}")))?;
    let tail = parts.next().unwrap_or("");
    let folder = tail.is_empty() || tail.ends_with('/');
    let segments = tail.strip_suffix('/').unwrap_or(tail);
    let mut path = String::new();
    if !segments.is_empty() {
        for s in segments.split('/') {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&decode(s)?);
        }
    }
    if path.len() > MAX_PATH {
        return Err(RawError::bad_path(format!("paths are at most {MAX_PATH} bytes")));
    }
    Ok(if folder {
        if !path.is_empty() {
            path.push('/');
        }
        Route::Folder { repo, path }
    } else {
        Route::File { repo, path }
    })
}

/// The one classification of a request under `/raw`.
pub fn classify(method: &Method, path: &str) -> (Operation, RawResult<Route>) {
    let Some(rest) = path.strip_prefix("/raw/") else {
        return (Operation::Unknown, Err(RawError::not_found("raw paths are /raw/<namespace>/<repository>/<path>")));
    };
    let route = parse(rest);
    let folder = matches!(route, Ok(Route::Folder { .. }));
    let op = match *method {
        Method::GET if folder => ops::LIST_FOLDER,
        Method::GET => ops::GET_FILE,
        Method::HEAD => ops::HEAD_FILE,
        Method::PUT => ops::PUT_FILE,
        Method::DELETE => ops::DELETE_FILE,
        _ => return (Operation::Unknown, Err(RawError::method_not_allowed(method))),
    };
    match route {
        Ok(Route::Folder { .. }) if op != ops::LIST_FOLDER => {
            (op, Err(RawError::bad_path("a folder (a path ending in '/') can only be listed with GET")))
        }
        route => (op, route),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> RawResult<Route> {
        classify(&Method::GET, path).1
    }

    #[test]
    fn paths_decode_into_files_and_folders() {
        let repo: RepoName = "acme/files".parse().unwrap();
        assert_eq!(
            file("/raw/acme/files/a/b.txt").unwrap(),
            Route::File { repo: repo.clone(), path: "a/b.txt".into() }
        );
        assert_eq!(
            file("/raw/acme/files/a%20b.txt").unwrap(),
            Route::File { repo: repo.clone(), path: "a b.txt".into() }
        );
        assert_eq!(file("/raw/acme/files/dir/").unwrap(), Route::Folder { repo: repo.clone(), path: "dir/".into() });
        assert_eq!(file("/raw/acme/files/").unwrap(), Route::Folder { repo: repo.clone(), path: String::new() });
        assert_eq!(file("/raw/acme/files").unwrap(), Route::Folder { repo, path: String::new() });
        assert_eq!(classify(&Method::GET, "/raw/acme/files/x/").0, ops::LIST_FOLDER);
        assert_eq!(classify(&Method::PUT, "/raw/acme/files/x").0, ops::PUT_FILE);
        assert_eq!(classify(&Method::POST, "/raw/acme/files/x").0, Operation::Unknown);
    }

    #[test]
    fn hostile_paths_are_refused() {
        for bad in [
            "/raw/acme/files/../etc/passwd",
            "/raw/acme/files/a/%2e%2e/b",
            "/raw/acme/files/a%2Fb",
            "/raw/acme/files/a%5Cb",
            "/raw/acme/files/a%00b",
            "/raw/acme/files/a//b",
            "/raw/acme/files/%ff",
            "/raw/acme/files/./a",
            "/raw/Acme/files/a",
            "/raw/acme",
            "/raw/",
        ] {
            let err = file(bad).unwrap_err();
            assert_eq!(err.status.as_u16(), 400, "{bad}: {err:?}");
        }
        let long = format!("/raw/acme/files/{}", vec!["x".repeat(200); 6].join("/"));
        assert!(file(&long).is_err());
        assert!(classify(&Method::PUT, "/raw/acme/files/dir/").1.is_err(), "a folder cannot be written");
    }
}
