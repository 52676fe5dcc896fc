//! PyPI paths under `/pypi/<ns>/<repo>/`, parsed and validated once: the upload URL twine posts to (the
//! repository's root), the simple index (`simple/`, `simple/<project>/`), files
//! (`files/<project>/<version>/<file>`) and yanking (`-/yank/<project>/<version>`). Names and versions are
//! checked here, so nothing that reaches storage can be a path trick.

use axum::http::{Method, StatusCode};
use vigil_core::{Operation, RepoName};

use crate::error::{PypiError, PypiResult};
use crate::names;
use crate::ops;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub repo: RepoName,
    pub call: Call,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Upload,
    /// `simple/` (`slash`: whether the path ended in `/`; pip is sent there when it did not).
    Projects {
        slash: bool,
    },
    /// `simple/<project>/`, with the project as written in the path.
    Project {
        given: String,
        slash: bool,
    },
    /// `files/<project>/<version>/<file>`: the project and version in their normal forms.
    File {
        project: String,
        version: String,
        file: String,
    },
    Yank {
        project: String,
        version: String,
    },
}

fn bad(message: impl Into<String>) -> PypiError {
    PypiError::bad_request(message)
}

fn decode(segment: &str) -> PypiResult<String> {
    let text = vigil_http::util::decode_segment(segment).map_err(bad)?;
    if text.contains(['/', '\\']) {
        return Err(bad(format!("invalid path segment {text:?}")));
    }
    Ok(text)
}

/// A project named in a path: valid, in its normal form.
fn project(segment: &str) -> PypiResult<String> {
    let name = decode(segment)?;
    names::valid_name(&name).map_err(bad)?;
    Ok(names::normalize(&name))
}

fn version(segment: &str) -> PypiResult<String> {
    names::normalize_version(&decode(segment)?).map_err(bad)
}

fn parse(method: &Method, tail: &[&str]) -> (Operation, PypiResult<Call>) {
    let unknown = || (Operation::Unknown, Err(PypiError::not_found("not a path of a Python package index")));
    let not_allowed =
        |op| (op, Err(PypiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))));
    let read = *method == Method::GET || *method == Method::HEAD;
    match tail {
        [] | [""] if *method == Method::POST => (ops::UPLOAD, Ok(Call::Upload)),
        [] | [""] => not_allowed(ops::UPLOAD),
        ["simple"] | ["simple", ""] if read => (ops::LIST_PROJECTS, Ok(Call::Projects { slash: tail.len() == 2 })),
        ["simple", name] | ["simple", name, ""] if read => {
            let given = decode(name).and_then(|given| {
                names::valid_name(&given).map_err(bad)?;
                Ok(given)
            });
            (ops::PROJECT_PAGE, given.map(|given| Call::Project { given, slash: tail.len() == 3 }))
        }
        ["simple", ..] if read => unknown(),
        ["simple", ..] => not_allowed(ops::PROJECT_PAGE),
        ["files", p, v, file] if read => {
            let call = (|| {
                let (project, version) = (project(p)?, version(v)?);
                let file = decode(file)?;
                if file.is_empty() || file == "." || file == ".." {
                    return Err(bad(format!("invalid file name {file:?}")));
                }
                Ok(Call::File { project, version, file })
            })();
            (ops::DOWNLOAD, call)
        }
        ["files", ..] if read => unknown(),
        ["files", ..] => not_allowed(ops::DOWNLOAD),
        ["-", "yank", p, v] => {
            let op = match *method {
                Method::POST | Method::PUT => ops::YANK,
                Method::DELETE => ops::UNYANK,
                _ => return not_allowed(ops::YANK),
            };
            (op, project(p).and_then(|project| Ok(Call::Yank { project, version: version(v)? })))
        }
        _ => unknown(),
    }
}

/// The one classification of a request under `/pypi`.
pub fn classify(method: &Method, path: &str) -> (Operation, PypiResult<Route>) {
    let nowhere = || PypiError::not_found("Python package indexes are at /pypi/<namespace>/<repository>/");
    let Some(rest) = path.strip_prefix("/pypi/") else { return (Operation::Unknown, Err(nowhere())) };
    let segments: Vec<&str> = rest.split('/').collect();
    let [ns, name, tail @ ..] = segments.as_slice() else { return (Operation::Unknown, Err(nowhere())) };
    let repo = match (decode(ns), decode(name)) {
        (Ok(ns), Ok(name)) => {
            format!("{ns}/{name}").parse::<RepoName>().map_err(|e| bad(format!("not a repository name: {e}")))
        }
        _ => Err(bad("not a repository name")),
    };
    let (op, call) = parse(method, tail);
    (op, repo.and_then(|repo| call.map(|call| Route { repo, call })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, path: &str) -> (Operation, Result<Call, StatusCode>) {
        let (op, route) = classify(&method, path);
        (op, route.map(|r| r.call).map_err(|e| e.0.status))
    }

    #[test]
    fn paths_name_the_index_its_projects_and_files() {
        assert_eq!(call(Method::POST, "/pypi/acme/py/"), (ops::UPLOAD, Ok(Call::Upload)));
        assert_eq!(call(Method::POST, "/pypi/acme/py"), (ops::UPLOAD, Ok(Call::Upload)));
        assert_eq!(
            call(Method::GET, "/pypi/acme/py/simple/"),
            (ops::LIST_PROJECTS, Ok(Call::Projects { slash: true }))
        );
        assert_eq!(
            call(Method::GET, "/pypi/acme/py/simple/Demo.Pkg/"),
            (ops::PROJECT_PAGE, Ok(Call::Project { given: "Demo.Pkg".into(), slash: true }))
        );
        assert_eq!(
            call(Method::GET, "/pypi/acme/py/files/Demo_Pkg/1.0.0-RC1/demo_pkg-1.0.0rc1.tar.gz"),
            (
                ops::DOWNLOAD,
                Ok(Call::File {
                    project: "demo-pkg".into(),
                    version: "1.0.0rc1".into(),
                    file: "demo_pkg-1.0.0rc1.tar.gz".into()
                })
            )
        );
        assert_eq!(call(Method::POST, "/pypi/acme/py/-/yank/demo/1.0").0, ops::YANK);
        assert_eq!(call(Method::DELETE, "/pypi/acme/py/-/yank/demo/1.0").0, ops::UNYANK);
        assert_eq!(call(Method::GET, "/pypi/acme/py/").1, Err(StatusCode::METHOD_NOT_ALLOWED));
        assert_eq!(call(Method::GET, "/pypi/acme/py/other").0, Operation::Unknown);
    }

    #[test]
    fn hostile_paths_are_refused() {
        for path in [
            "/pypi/acme/py/simple/..%2f..%2fetc/",
            "/pypi/acme/py/simple/-bad/",
            "/pypi/acme/py/files/demo/1.0/..",
            "/pypi/acme/py/files/demo/1.0/a%2fb.whl",
            "/pypi/acme/py/files/demo/not-a-version/demo.tar.gz",
            "/pypi/acme/py/files/de%00mo/1.0/demo-1.0.tar.gz",
            "/pypi/Acme/py/simple/",
        ] {
            assert_eq!(call(Method::GET, path).1, Err(StatusCode::BAD_REQUEST), "{path}");
        }
    }
}
