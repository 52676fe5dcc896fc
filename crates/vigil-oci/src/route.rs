//! Classifies every `/v2/...` request into an [`Operation`] and its parsed arguments, with our own parser behind
//! one catch-all route (repository names contain `/`, so they cannot be matched by per-segment routes).

use axum::http::Method;
use vigil_core::{Digest, Operation, Reference, RepoName};

use crate::error::{ErrorCode, OciError};

/// A classified registry request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ApiVersion,
    Catalog,
    Tags {
        repo: RepoName,
    },
    Manifest {
        repo: RepoName,
        reference: Reference,
    },
    Blob {
        repo: RepoName,
        digest: Digest,
    },
    /// `POST /v2/<name>/blobs/uploads/`
    Uploads {
        repo: RepoName,
    },
    Upload {
        repo: RepoName,
        id: String,
    },
    Referrers {
        repo: RepoName,
        digest: Digest,
    },
    /// `/v2/_trust/changefeed` (`name` none) or `/v2/<name>/_trust/changefeed` as written, where `name` may start
    /// with a registry host (DTR's form); [`resolve_changefeed`] turns the latter into [`Route::RepoChangefeed`].
    Changefeed {
        name: Option<String>,
    },
    /// One repository's changefeed, its name resolved.
    RepoChangefeed {
        repo: RepoName,
    },
}

impl Route {
    /// What the audit record says the request was about, as far as the path tells.
    pub fn audit_target(&self) -> vigil_audit::Target {
        use vigil_audit::Target;
        match self {
            Route::ApiVersion | Route::Catalog | Route::Changefeed { .. } => Target::default(),
            Route::RepoChangefeed { repo } => Target::repo(repo),
            Route::Manifest { repo, reference: Reference::Tag(t) } => Target::repo(repo).tag(t),
            Route::Manifest { repo, reference: Reference::Digest(d) } => Target::repo(repo).digest(d),
            Route::Blob { repo, digest } | Route::Referrers { repo, digest } => Target::repo(repo).digest(digest),
            Route::Tags { repo } | Route::Uploads { repo } | Route::Upload { repo, .. } => Target::repo(repo),
        }
    }

    pub fn repo(&self) -> Option<&RepoName> {
        match self {
            Route::ApiVersion | Route::Catalog => None,
            Route::Changefeed { .. } => None,
            Route::RepoChangefeed { repo } => Some(repo),
            Route::Tags { repo }
            | Route::Manifest { repo, .. }
            | Route::Blob { repo, .. }
            | Route::Uploads { repo }
            | Route::Upload { repo, .. }
            | Route::Referrers { repo, .. } => Some(repo),
        }
    }
}

/// What the router learned about a request: always an operation (possibly `Unknown`), and the route or the
/// error to answer with.
pub struct Classified {
    pub operation: Operation,
    pub route: Result<Route, OciError>,
}

fn name(segments: &[&str]) -> Result<RepoName, OciError> {
    let joined = segments.join("/");
    joined.parse().map_err(|e: vigil_core::NameError| {
        OciError::new(ErrorCode::NameInvalid, format!("invalid repository name: {e}"))
    })
}

fn digest(s: &str) -> Result<Digest, OciError> {
    s.parse().map_err(|e: vigil_core::DigestError| OciError::new(ErrorCode::DigestInvalid, e.to_string()))
}

fn reference(s: &str) -> Result<Reference, OciError> {
    s.parse().map_err(|e: vigil_core::reference::ReferenceError| match e {
        vigil_core::reference::ReferenceError::Digest(d) => OciError::new(ErrorCode::DigestInvalid, d.to_string()),
        other => OciError::new(ErrorCode::TagInvalid, other.to_string()),
    })
}

fn has_param(query: Option<&str>, key: &str) -> bool {
    query.is_some_and(|q| q.split('&').any(|kv| kv.split('=').next() == Some(key)))
}

/// Which endpoint a path names, before looking at the method.
fn endpoint(path: &str) -> Option<Result<Route, OciError>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Ok(Route::ApiVersion));
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Ok(Route::Catalog));
    }
    if rest == "_trust/changefeed" {
        return Some(Ok(Route::Changefeed { name: None }));
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let tail = |k: usize| segs.get(n.wrapping_sub(k)).copied();
    let route = if n >= 3 && tail(2) == Some("tags") && tail(1) == Some("list") {
        name(&segs[..n - 2]).map(|repo| Route::Tags { repo })
    } else if n >= 4 && tail(3) == Some("blobs") && tail(2) == Some("uploads") && tail(1) == Some("") {
        name(&segs[..n - 3]).map(|repo| Route::Uploads { repo })
    } else if n >= 3 && tail(2) == Some("blobs") && tail(1) == Some("uploads") {
        name(&segs[..n - 2]).map(|repo| Route::Uploads { repo })
    } else if n >= 4 && tail(3) == Some("blobs") && tail(2) == Some("uploads") {
        let id = tail(1).unwrap_or_default().to_owned();
        name(&segs[..n - 3]).map(|repo| Route::Upload { repo, id })
    } else if n >= 3 && tail(2) == Some("manifests") {
        name(&segs[..n - 2]).and_then(|repo| Ok(Route::Manifest { repo, reference: reference(segs[n - 1])? }))
    } else if n >= 3 && tail(2) == Some("blobs") {
        name(&segs[..n - 2]).and_then(|repo| Ok(Route::Blob { repo, digest: digest(segs[n - 1])? }))
    } else if n >= 3 && tail(2) == Some("_trust") && tail(1) == Some("changefeed") {
        Ok(Route::Changefeed { name: Some(segs[..n - 2].join("/")) })
    } else if n >= 3 && tail(2) == Some("referrers") {
        name(&segs[..n - 2]).and_then(|repo| Ok(Route::Referrers { repo, digest: digest(segs[n - 1])? }))
    } else {
        return None;
    };
    Some(route)
}

/// The repository of `/v2/<name>/_trust/changefeed`. DTR clients put the registry's host in front of the name
/// (`registry.example/library/alpine`); that host is dropped only when it is this registry's own (`own_host`:
/// `public_url`'s host, else the listening address), so a repository whose first component merely looks like a host
/// keeps its name.
pub fn resolve_changefeed(name: &str, own_host: Option<&str>) -> Result<RepoName, OciError> {
    let stripped = own_host.and_then(|host| vigil_core::url::strip_own_host(name, host));
    let segments: Vec<&str> = stripped.unwrap_or(name).split('/').collect();
    self::name(&segments)
}

/// Every operation a `/v2` request can be classified into (besides `Unknown`).
pub const OPERATIONS: &[Operation] = &[
    Operation::CheckApiVersion,
    Operation::ListCatalog,
    Operation::ListTags,
    Operation::GetManifest,
    Operation::HeadManifest,
    Operation::PutManifest,
    Operation::DeleteManifest,
    Operation::DeleteTag,
    Operation::GetBlob,
    Operation::HeadBlob,
    Operation::DeleteBlob,
    Operation::StartUpload,
    Operation::UploadBlobMonolithic,
    Operation::MountBlob,
    Operation::PatchUpload,
    Operation::CompleteUpload,
    Operation::GetUploadStatus,
    Operation::CancelUpload,
    Operation::ListReferrers,
    Operation::ReadChangefeed,
    Operation::ReadRepoChangefeed,
];

/// Classifies a request. A path that names no endpoint is `Unknown` with 404; a known endpoint with a method it
/// does not take is `Unknown` with 405 `UNSUPPORTED`.
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> Classified {
    let unknown = |e: OciError| Classified { operation: Operation::Unknown, route: Err(e) };
    let Some(route) = endpoint(path) else {
        return unknown(OciError::new(ErrorCode::NameUnknown, format!("no such endpoint: {path}")));
    };
    let route = match route {
        Ok(r) => r,
        Err(e) => {
            // Still say what was attempted, so metrics and the audit log can count malformed pushes and pulls.
            let op = operation_for_bad_path(method, path);
            let reference_error = matches!(e.code, ErrorCode::TagInvalid | ErrorCode::DigestInvalid);
            let e = if reference_error && matches!(op, Operation::GetManifest | Operation::HeadManifest) {
                // No manifest can have a reference that does not parse: the spec answers such a read 404 (a PUT
                // with one stays 400).
                OciError::new(ErrorCode::ManifestUnknown, format!("manifest unknown: {}", e.message))
            } else {
                e
            };
            return Classified { operation: op, route: Err(e) };
        }
    };
    let m = method.clone();
    let op = match (&route, m) {
        (Route::ApiVersion, Method::GET | Method::HEAD) => Operation::CheckApiVersion,
        (Route::Catalog, Method::GET) => Operation::ListCatalog,
        (Route::Tags { .. }, Method::GET) => Operation::ListTags,
        (Route::Manifest { .. }, Method::GET) => Operation::GetManifest,
        (Route::Manifest { .. }, Method::HEAD) => Operation::HeadManifest,
        (Route::Manifest { .. }, Method::PUT) => Operation::PutManifest,
        (Route::Manifest { reference: Reference::Digest(_), .. }, Method::DELETE) => Operation::DeleteManifest,
        (Route::Manifest { reference: Reference::Tag(_), .. }, Method::DELETE) => Operation::DeleteTag,
        (Route::Blob { .. }, Method::GET) => Operation::GetBlob,
        (Route::Blob { .. }, Method::HEAD) => Operation::HeadBlob,
        (Route::Blob { .. }, Method::DELETE) => Operation::DeleteBlob,
        (Route::Uploads { .. }, Method::POST) if has_param(query, "mount") => Operation::MountBlob,
        (Route::Uploads { .. }, Method::POST) if has_param(query, "digest") => Operation::UploadBlobMonolithic,
        (Route::Uploads { .. }, Method::POST) => Operation::StartUpload,
        (Route::Upload { .. }, Method::GET) => Operation::GetUploadStatus,
        (Route::Upload { .. }, Method::PATCH) => Operation::PatchUpload,
        (Route::Upload { .. }, Method::PUT) => Operation::CompleteUpload,
        (Route::Upload { .. }, Method::DELETE) => Operation::CancelUpload,
        (Route::Referrers { .. }, Method::GET) => Operation::ListReferrers,
        (Route::Changefeed { name: None }, Method::GET) => Operation::ReadChangefeed,
        (Route::Changefeed { name: Some(_) } | Route::RepoChangefeed { .. }, Method::GET) => {
            Operation::ReadRepoChangefeed
        }
        _ => {
            return unknown(OciError::new(ErrorCode::Unsupported, format!("method {method} is not supported here")));
        }
    };
    Classified { operation: op, route: Ok(route) }
}

/// Best-effort operation for a request whose arguments failed to parse (the path shape still tells the intent).
fn operation_for_bad_path(method: &Method, path: &str) -> Operation {
    let segs: Vec<&str> = path.split('/').collect();
    let kind = segs.iter().rev().nth(1).copied().unwrap_or_default();
    match (kind, method.as_str()) {
        ("manifests", "GET") => Operation::GetManifest,
        ("manifests", "HEAD") => Operation::HeadManifest,
        ("manifests", "PUT") => Operation::PutManifest,
        ("manifests", "DELETE") => Operation::DeleteManifest,
        ("blobs", "GET") => Operation::GetBlob,
        ("blobs", "HEAD") => Operation::HeadBlob,
        ("blobs", "DELETE") => Operation::DeleteBlob,
        ("referrers", "GET") => Operation::ListReferrers,
        ("tags", "GET") => Operation::ListTags,
        ("uploads", "POST") => Operation::StartUpload,
        ("uploads", "PATCH") => Operation::PatchUpload,
        ("uploads", "PUT") => Operation::CompleteUpload,
        _ => Operation::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, path: &str, query: Option<&str>) -> Operation {
        classify(&method, path, query).operation
    }

    #[test]
    fn changefeed_names_lose_only_our_own_host() {
        let r = |name, host| resolve_changefeed(name, host).map(|n| n.to_string()).map_err(|e| e.code);
        assert_eq!(r("reg.example:5000/lib/app", Some("reg.example:5000")), Ok("lib/app".into()));
        assert_eq!(r("reg.example/lib/app", Some("reg.example")), Ok("lib/app".into()));
        assert_eq!(r("reg.example/lib/app", Some("reg.example:5000")), Ok("lib/app".into()));
        assert_eq!(r("other.example/lib/app", Some("reg.example")), Ok("other.example/lib/app".into()));
        assert_eq!(r("reg.example/lib/app", None), Ok("reg.example/lib/app".into()));
        assert_eq!(r("other:5000/lib/app", Some("reg.example")), Err(ErrorCode::NameInvalid));
        assert_eq!(r("reg.example", Some("reg.example")), Ok("reg.example".into()));
    }

    #[test]
    fn classifies_every_endpoint() {
        let d = Digest::sha256_of(b"x").to_string();
        assert_eq!(op(Method::GET, "/v2/", None), Operation::CheckApiVersion);
        assert_eq!(op(Method::GET, "/v2", None), Operation::CheckApiVersion);
        assert_eq!(op(Method::GET, "/v2/_catalog", None), Operation::ListCatalog);
        assert_eq!(op(Method::GET, "/v2/_trust/changefeed", None), Operation::ReadChangefeed);
        assert_eq!(op(Method::GET, "/v2/a/b/_trust/changefeed", None), Operation::ReadRepoChangefeed);
        assert_eq!(op(Method::GET, "/v2/reg.example:5000/a/_trust/changefeed", None), Operation::ReadRepoChangefeed);
        assert_eq!(op(Method::GET, "/v2/reg.example/a/_trust/changefeed", None), Operation::ReadRepoChangefeed);
        assert_eq!(op(Method::POST, "/v2/a/_trust/changefeed", None), Operation::Unknown);
        assert_eq!(op(Method::GET, "/v2/a/b/c/tags/list", None), Operation::ListTags);
        assert_eq!(op(Method::GET, "/v2/a/manifests/latest", None), Operation::GetManifest);
        assert_eq!(op(Method::HEAD, "/v2/a/manifests/latest", None), Operation::HeadManifest);
        assert_eq!(op(Method::PUT, "/v2/a/manifests/latest", None), Operation::PutManifest);
        assert_eq!(op(Method::DELETE, "/v2/a/manifests/latest", None), Operation::DeleteTag);
        assert_eq!(op(Method::DELETE, &format!("/v2/a/manifests/{d}"), None), Operation::DeleteManifest);
        assert_eq!(op(Method::GET, &format!("/v2/a/blobs/{d}"), None), Operation::GetBlob);
        assert_eq!(op(Method::HEAD, &format!("/v2/a/blobs/{d}"), None), Operation::HeadBlob);
        assert_eq!(op(Method::DELETE, &format!("/v2/a/blobs/{d}"), None), Operation::DeleteBlob);
        assert_eq!(op(Method::POST, "/v2/a/blobs/uploads/", None), Operation::StartUpload);
        assert_eq!(
            op(Method::POST, "/v2/a/blobs/uploads/", Some(&format!("digest={d}"))),
            Operation::UploadBlobMonolithic
        );
        assert_eq!(op(Method::POST, "/v2/a/blobs/uploads/", Some(&format!("mount={d}&from=b"))), Operation::MountBlob);
        assert_eq!(op(Method::PATCH, "/v2/a/blobs/uploads/u1", None), Operation::PatchUpload);
        assert_eq!(op(Method::PUT, "/v2/a/blobs/uploads/u1", None), Operation::CompleteUpload);
        assert_eq!(op(Method::GET, "/v2/a/blobs/uploads/u1", None), Operation::GetUploadStatus);
        assert_eq!(op(Method::DELETE, "/v2/a/blobs/uploads/u1", None), Operation::CancelUpload);
        assert_eq!(op(Method::GET, &format!("/v2/a/referrers/{d}"), None), Operation::ListReferrers);
    }

    #[test]
    fn names_may_contain_endpoint_words() {
        let c = classify(&Method::GET, "/v2/manifests/blobs/tags/manifests/v1", None);
        assert_eq!(
            c.route.unwrap(),
            Route::Manifest { repo: "manifests/blobs/tags".parse().unwrap(), reference: "v1".parse().unwrap() }
        );
    }

    #[test]
    fn bad_arguments_get_spec_codes() {
        let code = |m, p: &str| classify(&m, p, None).route.unwrap_err().code;
        assert_eq!(code(Method::GET, "/v2/UPPER/manifests/latest"), ErrorCode::NameInvalid);
        assert_eq!(code(Method::GET, "/v2/a/../b/manifests/latest"), ErrorCode::NameInvalid);
        assert_eq!(code(Method::GET, "/v2/a/blobs/sha256:zz"), ErrorCode::DigestInvalid);
        assert_eq!(code(Method::GET, "/v2/a/blobs/md5:abcd"), ErrorCode::DigestInvalid);
        assert_eq!(code(Method::PUT, "/v2/a/manifests/-bad"), ErrorCode::TagInvalid);
        assert_eq!(code(Method::PUT, "/v2/a/manifests/sha256:zz"), ErrorCode::DigestInvalid);
        // A reference that cannot exist names no manifest (the conformance suite's `.INVALID_MANIFEST_NAME`).
        assert_eq!(code(Method::GET, "/v2/a/manifests/-bad"), ErrorCode::ManifestUnknown);
        assert_eq!(code(Method::HEAD, "/v2/a/manifests/.INVALID_MANIFEST_NAME"), ErrorCode::ManifestUnknown);
        assert_eq!(code(Method::GET, "/v2/a/manifests/sha256:zz"), ErrorCode::ManifestUnknown);
        assert_eq!(code(Method::DELETE, "/v2/a/manifests/-bad"), ErrorCode::TagInvalid);
        assert_eq!(code(Method::POST, "/v2/a/manifests/latest"), ErrorCode::Unsupported);
        assert_eq!(code(Method::GET, "/v2/a/nothing"), ErrorCode::NameUnknown);
        assert_eq!(classify(&Method::GET, "/v2/A/manifests/x", None).operation, Operation::GetManifest);
    }
}
