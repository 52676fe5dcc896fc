//! `twine upload`: the legacy upload API's multipart form (`:action=file_upload`, the core metadata fields, the
//! file as `content`). The file streams to staging while sha256, blake2b-256 and md5 are computed; it is stored
//! only when the name, version and file name agree, and every digest the client sent matches. The same file sent
//! again is accepted as already there (so interrupted uploads can be retried); a different file under a name
//! already taken is refused, as on every Python index.

use std::collections::BTreeMap;
use std::io;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::TryStreamExt;
use vigil_audit::{AuditTarget, Target};
use vigil_core::RepoName;
use vigil_http::util::{body_stream, header_str, response};
use vigil_http::Caller;
use vigil_registry::ingest::{Also, IngestError, Received};
use vigil_registry::packages::Publication;
use vigil_store::{PackageVersion, StoreError};

use crate::error::{PypiError, PypiResult};
use crate::names::{self, Kind};
use crate::release::{file_path, FileMeta, ReleaseMeta};
use crate::{ops, Pypi};

/// A text field of the form is at most this (a long description included).
const MAX_FIELD: u64 = 1024 * 1024;
/// All text fields together, and their number.
const MAX_FIELDS_BYTES: usize = 4 * 1024 * 1024;
const MAX_FIELDS: usize = 1000;

fn bad(message: impl Into<String>) -> PypiError {
    PypiError::bad_request(message)
}

/// What the form said: the first value of each text field, and the file as received.
struct Form {
    fields: BTreeMap<String, String>,
    file: Option<(String, Received)>,
}

impl Form {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn required(&self, key: &str) -> PypiResult<&str> {
        self.get(key).ok_or_else(|| bad(format!("the upload lacks the field {key:?}")))
    }
}

/// The release an upload names, checked.
struct Named {
    display_name: String,
    project: String,
    version: String,
    given_version: String,
}

fn named(form: &Form) -> PypiResult<Named> {
    let display_name = form.required("name")?.to_owned();
    names::valid_name(&display_name).map_err(bad)?;
    let given_version = form.required("version")?.to_owned();
    let version = names::normalize_version(&given_version).map_err(bad)?;
    Ok(Named { project: names::normalize(&display_name), display_name, version, given_version })
}

async fn read_form(pypi: &Pypi, repo: &RepoName, headers: &HeaderMap, body: Body) -> PypiResult<Form> {
    let content_type = header_str(headers, "content-type").unwrap_or("");
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad("an upload is multipart/form-data (as twine sends it)"))?;
    let limits = multer::SizeLimit::new().per_field(MAX_FIELD).for_field("content", u64::MAX);
    let mut multipart =
        multer::Multipart::with_constraints(body_stream(body), boundary, multer::Constraints::new().size_limit(limits));
    let mut form = Form { fields: BTreeMap::new(), file: None };
    let (mut count, mut bytes) = (0usize, 0usize);
    let result = async {
        while let Some(field) = multipart.next_field().await.map_err(|e| bad(format!("the form is malformed: {e}")))? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "content" {
                if form.file.is_some() {
                    return Err(bad("the upload holds more than one file"));
                }
                let filename = field.file_name().map(str::to_owned).ok_or_else(|| bad("the file has no file name"))?;
                // Refuse before the bytes are stored when the fields before the file already say it is wrong.
                if let Ok(n) = named(&form) {
                    names::check_filename(&filename, &n.display_name, &n.given_version).map_err(bad)?;
                }
                let stream = Box::pin(field.map_err(io::Error::other));
                let also = Also { md5: true, blake2b_256: true, ..Default::default() };
                let received = pypi.ingest.receive(repo, stream, also).await?;
                form.file = Some((filename, received));
                continue;
            }
            let value = field.text().await.map_err(|e| bad(format!("the field {name:?} is unreadable: {e}")))?;
            count += 1;
            bytes += value.len();
            if count > MAX_FIELDS || bytes > MAX_FIELDS_BYTES {
                return Err(bad(format!(
                    "the upload's metadata exceeds {MAX_FIELDS} fields or {MAX_FIELDS_BYTES} bytes"
                )));
            }
            form.fields.entry(name).or_insert(value);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(form),
        Err(e) => {
            if let Some((_, received)) = form.file {
                pypi.ingest.discard(received).await;
            }
            Err(e)
        }
    }
}

/// The digests the client sent, each compared with the received file's; at least sha256 or blake2b-256.
fn check_digests(form: &Form, received: &Received) -> PypiResult<()> {
    let sha256 = form.get("sha256_digest").map(str::to_ascii_lowercase);
    let blake2 = form.get("blake2_256_digest").map(str::to_ascii_lowercase);
    let md5 = form.get("md5_digest").map(str::to_ascii_lowercase);
    if sha256.is_none() && blake2.is_none() {
        return Err(bad("the upload must name the file's sha256_digest or blake2_256_digest"));
    }
    let checks = [
        ("sha256_digest", sha256, Some(received.digest.hex().to_owned())),
        ("blake2_256_digest", blake2, received.sums.blake2b_256.clone()),
        ("md5_digest", md5, received.sums.md5.clone()),
    ];
    for (what, claimed, actual) in checks {
        if let Some(claimed) = claimed {
            let actual = actual.unwrap_or_default();
            if claimed != actual {
                return Err(bad(format!(
                    "the file does not match its {what}: the upload says {claimed}, the file is {actual}"
                )));
            }
        }
    }
    Ok(())
}

pub async fn upload(
    pypi: &Pypi,
    repo: &RepoName,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> PypiResult<Response> {
    let mut form = read_form(pypi, repo, headers, body).await?;
    let Some((filename, received)) = form.file.take() else {
        return Err(bad("the upload holds no file (the form field \"content\")"));
    };
    match checked(pypi, repo, caller, &form, &filename, &received).await {
        Ok(Checked::Store(ready)) => {
            let Ready { named, publication, event, target } = *ready;
            let stored = vigil_registry::packages::publish(&pypi.ingest, received, publication, vec![event]).await;
            stored.map_err(|e| match e {
                IngestError::Store(StoreError::Conflict(_)) => PypiError::new(
                    StatusCode::CONFLICT,
                    format!("another upload of {} {} ran at the same time; retry", named.project, named.version),
                ),
                e => e.into(),
            })?;
            let mut resp = response(StatusCode::OK, &[("content-type", "text/plain".to_owned())], Body::from("OK\n"));
            resp.extensions_mut().insert(AuditTarget(target));
            Ok(resp)
        }
        Ok(Checked::AlreadyThere(target)) => {
            pypi.ingest.discard(received).await;
            let mut resp = response(
                StatusCode::OK,
                &[("content-type", "text/plain".to_owned())],
                Body::from("OK (already uploaded)\n"),
            );
            resp.extensions_mut().insert(AuditTarget(*target));
            Ok(resp)
        }
        Err(e) => {
            pypi.ingest.discard(received).await;
            Err(e)
        }
    }
}

/// What a checked upload comes to.
enum Checked {
    Store(Box<Ready>),
    /// The same file is there already.
    AlreadyThere(Box<Target>),
}

/// A file to store: its release, the change and its event.
struct Ready {
    named: Named,
    publication: Publication,
    event: Box<dyn vigil_store::JournalEvent>,
    target: Target,
}

async fn checked(
    pypi: &Pypi,
    repo: &RepoName,
    caller: &Caller,
    form: &Form,
    filename: &str,
    received: &Received,
) -> PypiResult<Checked> {
    match form.get(":action") {
        Some("file_upload") => {}
        Some(other) => return Err(bad(format!("unsupported :action {other:?}; this index takes file_upload"))),
        None => return Err(bad("the upload lacks :action=file_upload")),
    }
    if let Some(v) = form.get("protocol_version").filter(|v| *v != "1") {
        return Err(bad(format!("unsupported protocol_version {v:?}")));
    }
    let named = named(form)?;
    let kind = names::check_filename(filename, &named.display_name, &named.given_version).map_err(bad)?;
    let packagetype = match (form.get("filetype"), kind) {
        (Some("sdist") | None, Kind::Sdist) => "sdist",
        (Some("bdist_wheel") | None, Kind::Wheel) => "bdist_wheel",
        (Some(other), _) => {
            return Err(bad(format!(
                "filetype {other:?} does not fit {filename:?}; this index takes sdists and wheels"
            )))
        }
    };
    check_digests(form, received)?;

    let path = file_path(&named.project, &named.version, filename);
    let target = Target::repo(repo)
        .package(named.project.clone(), Some(named.version.clone()))
        .path(path.clone())
        .digest(&received.digest)
        .size(received.size);
    if let Some(existing) = pypi.content.asset(repo, &path).await? {
        if existing.digest == received.digest {
            return Ok(Checked::AlreadyThere(Box::new(target)));
        }
        return Err(bad(format!(
            "File already exists: {filename} was uploaded before with sha256 {}; a file name can be used only once",
            existing.digest.hex()
        )));
    }
    let current = pypi.content.versions(repo, &named.project).await?.into_iter().find(|v| v.version == named.version);
    let mut meta = match &current {
        Some(v) => ReleaseMeta::parse(v),
        None => ReleaseMeta {
            name: named.display_name.clone(),
            version: named.given_version.clone(),
            summary: form.get("summary").unwrap_or_default().chars().take(512).collect(),
            ..Default::default()
        },
    };
    let file = FileMeta {
        requires_python: form.get("requires_python").unwrap_or_default().chars().take(256).collect(),
        packagetype: packagetype.to_owned(),
        python_version: form.get("pyversion").unwrap_or_default().chars().take(64).collect(),
    };
    meta.files.insert(filename.to_owned(), file);
    let metadata =
        serde_json::to_string(&meta).map_err(|e| PypiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let publication = Publication {
        repo: repo.clone(),
        version: PackageVersion {
            package: named.project.clone(),
            version: named.version.clone(),
            metadata,
            created_at_ms: 0,
        },
        new_version: current.is_none(),
        path,
        media_type: media_type(filename).to_owned(),
        tags: Vec::new(),
    };
    let event = caller
        .scope
        .draft(ops::UPLOAD)
        .target(target.clone().media_type(media_type(filename)))
        .status(200)
        .detail(received.digest.to_string())
        .boxed();
    Ok(Checked::Store(Box::new(Ready { named, publication, event, target })))
}

/// Wheels are zip archives; sdists gzipped tarballs or zip archives.
fn media_type(filename: &str) -> &'static str {
    if filename.ends_with(".tar.gz") {
        "application/gzip"
    } else {
        "application/zip"
    }
}
