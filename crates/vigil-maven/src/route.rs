//! Maven paths under `/maven/<ns>/<repo>/`, parsed and validated once: `<group as folders>/<artifact>/<version>/<file>`
//! (a file must be named for its artifact and version; SNAPSHOT files may carry a timestamp and build number),
//! checksum files beside them, and `maven-metadata.xml` at the artifact and at a SNAPSHOT version.

use axum::http::{Method, StatusCode};
use vigil_core::{Operation, RepoName};

use crate::error::{MavenError, MavenResult};
use crate::ops;

const MAX_PATH: usize = 1024;
const MAX_SEGMENT: usize = 255;
pub const METADATA: &str = "maven-metadata.xml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Sha1,
    Md5,
    Sha256,
    Sha512,
}

impl Algo {
    pub const ALL: [Algo; 4] = [Algo::Sha1, Algo::Md5, Algo::Sha256, Algo::Sha512];

    pub fn suffix(self) -> &'static str {
        match self {
            Algo::Sha1 => ".sha1",
            Algo::Md5 => ".md5",
            Algo::Sha256 => ".sha256",
            Algo::Sha512 => ".sha512",
        }
    }

    /// A hasher of this algorithm.
    pub fn hasher(self) -> Box<dyn sha2::digest::DynDigest + Send> {
        match self {
            Algo::Sha1 => Box::new(sha1::Sha1::default()),
            Algo::Md5 => Box::new(md5::Md5::default()),
            Algo::Sha256 => Box::new(sha2::Sha256::default()),
            Algo::Sha512 => Box::new(sha2::Sha512::default()),
        }
    }

    /// The hex checksum of `bytes`.
    pub fn hex_of(self, bytes: &[u8]) -> String {
        let mut hasher = self.hasher();
        hasher.update(bytes);
        hex::encode(hasher.finalize())
    }

    /// Splits `name.sha1` into `name` and the algorithm.
    fn strip(name: &str) -> Option<(&str, Algo)> {
        Algo::ALL.into_iter().find_map(|a| name.strip_suffix(a.suffix()).map(|base| (base, a)))
    }
}

/// An artifact's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coords {
    pub group: String,
    pub artifact: String,
    pub version: String,
}

impl Coords {
    /// The package key in the content port: `group:artifact`.
    pub fn package(&self) -> String {
        format!("{}:{}", self.group, self.artifact)
    }

    pub fn is_snapshot(&self) -> bool {
        self.version.ends_with("-SNAPSHOT")
    }

    /// The folder of the version, `com/acme/demo/1.0/`.
    pub fn folder(&self) -> String {
        format!("{}/{}/{}/", self.group.replace('.', "/"), self.artifact, self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A file of a version (`path` is its whole path, the asset's).
    File { coords: Coords, path: String },
    /// The checksum of a file of a version.
    Checksum { coords: Coords, path: String, algo: Algo },
    /// `maven-metadata.xml` of an artifact (`version: None`) or of a SNAPSHOT version, or one of its checksums.
    Metadata { group: String, artifact: String, version: Option<String>, checksum: Option<Algo> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub repo: RepoName,
    pub call: Call,
}

fn bad(message: impl Into<String>) -> MavenError {
    MavenError::bad_request(message)
}

fn segment(raw: &str) -> MavenResult<String> {
    let text = vigil_http::util::decode_segment(raw).map_err(bad)?;
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.+~".contains(c);
    if text.is_empty() || text.starts_with('.') || text.len() > MAX_SEGMENT || !text.chars().all(ok) {
        return Err(bad(format!(
            "invalid path segment {text:?}: letters, digits, '-', '_', '.', '+', '~', not starting with '.'"
        )));
    }
    Ok(text)
}

/// What follows `<artifact>-` in a file name of `version`, or why the name does not belong there.
fn after_version<'a>(file: &'a str, artifact: &str, version: &str) -> Option<&'a str> {
    let rest = file.strip_prefix(artifact)?.strip_prefix('-')?;
    let fits = |rest: &'a str| rest.starts_with(['.', '-']).then_some(rest);
    if let Some(after) = rest.strip_prefix(version).and_then(fits) {
        return Some(after);
    }
    // A timestamped SNAPSHOT file: <base>-YYYYMMDD.HHMMSS-N.
    let base = version.strip_suffix("-SNAPSHOT")?;
    let stamp = rest.strip_prefix(base)?.strip_prefix('-')?;
    let (timestamp, build) = (stamp.get(..15)?, stamp.get(15..)?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(&timestamp[..8]) && &timestamp[8..9] == "." && digits(&timestamp[9..])) {
        return None;
    }
    let build = build.strip_prefix('-')?;
    let end = build.find(['.', '-']).unwrap_or(build.len());
    (digits(&build[..end]) && end < build.len()).then(|| &build[end..])
}

fn parse(method: &Method, segments: &[String]) -> (Operation, MavenResult<Call>) {
    let read = *method == Method::GET || *method == Method::HEAD;
    let op_for = |read_op, write_op| match *method {
        Method::GET | Method::HEAD => Ok(read_op),
        Method::PUT => Ok(write_op),
        _ => Err(write_op),
    };
    let Some((file, folders)) = segments.split_last() else {
        return (Operation::Unknown, Err(MavenError::not_found("not a path of a Maven repository")));
    };
    if let Some(checksum) = file.strip_prefix(METADATA).map(|rest| match rest {
        "" => Ok(None),
        rest => Algo::strip(&format!("x{rest}")).filter(|(b, _)| *b == "x").map(|(_, a)| Some(a)).ok_or(()),
    }) {
        let op = op_for(ops::GET_METADATA, ops::PUT_METADATA);
        let call = (|| {
            let checksum = checksum.map_err(|()| bad(format!("{file} is not metadata or a checksum of it")))?;
            // A SNAPSHOT version's folder, or the artifact's.
            let (version, coords) = match folders.split_last() {
                Some((v, rest)) if v.ends_with("-SNAPSHOT") => (Some(v.clone()), rest),
                _ => (None, folders),
            };
            let (artifact, group) = coords
                .split_last()
                .filter(|(_, g)| !g.is_empty())
                .ok_or_else(|| bad("metadata sits at <group>/<artifact>/"))?;
            Ok(Call::Metadata { group: group.join("."), artifact: artifact.clone(), version, checksum })
        })();
        return match op {
            Ok(op) => (op, call),
            Err(op) => (op, Err(not_allowed(method))),
        };
    }
    let [group @ .., artifact, version] = folders else {
        let op = if read { ops::GET_FILE } else { ops::PUT_FILE };
        return (op, Err(bad("a Maven file sits at <group>/<artifact>/<version>/<file>")));
    };
    let (base, algo) = match Algo::strip(file) {
        Some((base, algo)) => (base, Some(algo)),
        None => (file.as_str(), None),
    };
    let op = match (algo, method) {
        (Some(_), _) => op_for(ops::GET_CHECKSUM, ops::PUT_CHECKSUM),
        (None, &Method::DELETE) => Ok(ops::DELETE_FILE),
        (None, _) => op_for(ops::GET_FILE, ops::PUT_FILE),
    };
    let op = match op {
        Ok(op) => op,
        Err(op) => return (op, Err(not_allowed(method))),
    };
    if group.is_empty() {
        return (op, Err(bad("a Maven file sits at <group>/<artifact>/<version>/<file>")));
    }
    if after_version(base, artifact, version).is_none() {
        return (
            op,
            Err(bad(format!(
                "{file} is not a file of {artifact} {version}: its name is {artifact}-{version}[-classifier].ext"
            ))),
        );
    }
    let coords = Coords { group: group.join("."), artifact: artifact.clone(), version: version.clone() };
    let path = format!("{}{base}", coords.folder());
    let call = match algo {
        Some(algo) => Call::Checksum { coords, path, algo },
        None => Call::File { coords, path },
    };
    (op, Ok(call))
}

fn not_allowed(method: &Method) -> MavenError {
    MavenError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))
}

/// The one classification of a request under `/maven`.
pub fn classify(method: &Method, path: &str) -> (Operation, MavenResult<Route>) {
    let nowhere = || MavenError::not_found("Maven repositories are at /maven/<namespace>/<repository>/");
    let Some(rest) = path.strip_prefix("/maven/") else { return (Operation::Unknown, Err(nowhere())) };
    if rest.len() > MAX_PATH {
        return (Operation::Unknown, Err(bad(format!("paths are at most {MAX_PATH} bytes"))));
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let [ns, repo, tail @ ..] = raw.as_slice() else { return (Operation::Unknown, Err(nowhere())) };
    let repo = format!("{ns}/{repo}").parse::<RepoName>().map_err(|e| bad(format!("not a repository name: {e}")));
    let segments: MavenResult<Vec<String>> = tail.iter().map(|s| segment(s)).collect();
    let (op, call) = match segments {
        Ok(segments) => parse(method, &segments),
        Err(e) => {
            let op = if *method == Method::PUT { ops::PUT_FILE } else { ops::GET_FILE };
            (op, Err(e))
        }
    };
    (op, repo.and_then(|repo| call.map(|call| Route { repo, call })))
}

/// The classifier and extension of a file name of `coords` (`demo-1.0-sources.jar` → `sources`, `jar`).
pub fn classifier_and_extension(file: &str, coords: &Coords) -> Option<(String, String)> {
    let rest = after_version(file, &coords.artifact, &coords.version)?;
    let (classifier, ext) = match rest.strip_prefix('-') {
        Some(c) => c.split_once('.')?,
        None => ("", rest.strip_prefix('.')?),
    };
    Some((classifier.to_owned(), ext.to_owned()))
}

/// The `YYYYMMDD.HHMMSS-N` of a timestamped SNAPSHOT file name, if it is one.
pub fn snapshot_stamp(file: &str, coords: &Coords) -> Option<(String, u32)> {
    let base = coords.version.strip_suffix("-SNAPSHOT")?;
    let stamp = file.strip_prefix(&coords.artifact)?.strip_prefix('-')?.strip_prefix(base)?.strip_prefix('-')?;
    let timestamp = stamp.get(..15)?.to_owned();
    let build = stamp.get(16..)?;
    let end = build.find(['.', '-']).unwrap_or(build.len());
    Some((timestamp, build[..end].parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, path: &str) -> (Operation, Result<Call, StatusCode>) {
        let (op, route) = classify(&method, path);
        (op, route.map(|r| r.call).map_err(|e| e.0.status))
    }

    fn coords(version: &str) -> Coords {
        Coords { group: "com.acme".into(), artifact: "demo".into(), version: version.into() }
    }

    #[test]
    fn paths_name_files_checksums_and_metadata() {
        let (op, c) = call(Method::PUT, "/maven/acme/java/com/acme/demo/1.0/demo-1.0.jar");
        assert_eq!(
            (op, c),
            (ops::PUT_FILE, Ok(Call::File { coords: coords("1.0"), path: "com/acme/demo/1.0/demo-1.0.jar".into() }))
        );
        let (op, c) = call(Method::PUT, "/maven/acme/java/com/acme/demo/1.0/demo-1.0-sources.jar.sha1");
        assert_eq!(op, ops::PUT_CHECKSUM);
        assert!(matches!(c, Ok(Call::Checksum { algo: Algo::Sha1, .. })));
        assert_eq!(
            call(Method::GET, "/maven/acme/java/com/acme/demo/1.0-SNAPSHOT/demo-1.0-20261203.101112-3.pom").0,
            ops::GET_FILE
        );
        assert_eq!(
            call(Method::GET, "/maven/acme/java/com/acme/demo/maven-metadata.xml"),
            (
                ops::GET_METADATA,
                Ok(Call::Metadata { group: "com.acme".into(), artifact: "demo".into(), version: None, checksum: None })
            )
        );
        assert_eq!(
            call(Method::PUT, "/maven/acme/java/com/acme/demo/1.0-SNAPSHOT/maven-metadata.xml.md5"),
            (
                ops::PUT_METADATA,
                Ok(Call::Metadata {
                    group: "com.acme".into(),
                    artifact: "demo".into(),
                    version: Some("1.0-SNAPSHOT".into()),
                    checksum: Some(Algo::Md5)
                })
            )
        );
        assert_eq!(call(Method::DELETE, "/maven/acme/java/com/acme/demo/1.0/demo-1.0.jar").0, ops::DELETE_FILE);
        assert_eq!(
            call(Method::POST, "/maven/acme/java/com/acme/demo/1.0/demo-1.0.jar").1,
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
    }

    #[test]
    fn files_must_be_named_for_their_version() {
        for path in [
            "/maven/acme/java/com/acme/demo/1.0/other-1.0.jar",
            "/maven/acme/java/com/acme/demo/1.0/demo-1.1.jar",
            "/maven/acme/java/com/acme/demo/1.0/demo-1.0",
            "/maven/acme/java/com/acme/demo/1.0-SNAPSHOT/demo-1.0-2026.jar",
            "/maven/acme/java/demo/1.0/demo-1.0.jar",
            "/maven/acme/java/com/acme/demo/1.0/..%2f..%2fdemo-1.0.jar",
            "/maven/acme/java/com/acme/../demo/1.0/demo-1.0.jar",
            "/maven/acme/java/com/acme/demo/1.0/.demo-1.0.jar",
            "/maven/acme/java/com/acme/demo/1.0/demo-1.0%00.jar",
        ] {
            assert_eq!(call(Method::PUT, path).1, Err(StatusCode::BAD_REQUEST), "{path}");
        }
    }

    #[test]
    fn file_names_give_classifiers_and_snapshot_stamps() {
        let snap = coords("1.0-SNAPSHOT");
        assert_eq!(
            classifier_and_extension("demo-1.0-sources.jar", &coords("1.0")),
            Some(("sources".into(), "jar".into()))
        );
        assert_eq!(classifier_and_extension("demo-1.0.tar.gz", &coords("1.0")), Some(("".into(), "tar.gz".into())));
        assert_eq!(
            classifier_and_extension("demo-1.0-20261203.101112-3-tests.jar", &snap),
            Some(("tests".into(), "jar".into()))
        );
        assert_eq!(snapshot_stamp("demo-1.0-20261203.101112-3-tests.jar", &snap), Some(("20261203.101112".into(), 3)));
        assert_eq!(snapshot_stamp("demo-1.0-SNAPSHOT.jar", &snap), None);
    }
}
