//! Manifest parsing and validation: which media types vigil stores, and what a manifest references.

use serde::Deserialize;
use serde_json::{Map, Value};
use vigil_core::Digest;

use crate::error::{ErrorCode, OciError, OciResult};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Wire shape of a descriptor (only the fields vigil reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<i64>,
    #[serde(default)]
    urls: Vec<String>,
}

/// Wire shape of any of the four manifest types.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<WireDescriptor>,
    layers: Option<Vec<WireDescriptor>>,
    manifests: Option<Vec<WireDescriptor>>,
    subject: Option<WireDescriptor>,
    annotations: Option<Map<String, Value>>,
}

/// What vigil needs to know about a manifest to store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub media_type: String,
    pub blobs: Vec<Digest>,
    pub manifests: Vec<Digest>,
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
}

fn invalid(msg: impl Into<String>) -> OciError {
    OciError::new(ErrorCode::ManifestInvalid, msg)
}

fn descriptor_digest(d: &WireDescriptor, what: &str) -> OciResult<Digest> {
    if d.media_type.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(format!("{what}: descriptor has no mediaType")));
    }
    if d.size.is_none_or(|s| s < 0) {
        return Err(invalid(format!("{what}: descriptor has no valid size")));
    }
    let raw = d.digest.as_deref().ok_or_else(|| invalid(format!("{what}: descriptor has no digest")))?;
    raw.parse().map_err(|e| OciError::new(ErrorCode::DigestInvalid, format!("{what}: {e}")))
}

/// Content types that mean "no particular type": the body's own `mediaType` decides then.
fn is_generic(content_type: &str) -> bool {
    matches!(content_type, "" | "application/json" | "application/octet-stream")
}

/// Parses and validates a manifest body sent with `content_type`.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> OciResult<ParsedManifest> {
    vigil_core::json_depth::check(body).map_err(invalid)?;
    let wire: WireManifest =
        serde_json::from_slice(body).map_err(|e| invalid(format!("manifest is not valid JSON: {e}")))?;
    if wire.schema_version != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let header = content_type.map(|c| c.split(';').next().unwrap_or_default().trim()).unwrap_or_default();
    let media_type = match (header, wire.media_type.as_deref()) {
        (h, Some(body_type)) if !is_generic(h) && h != body_type => {
            return Err(invalid(format!("Content-Type {h} does not match the manifest's mediaType {body_type}")));
        }
        (_, Some(body_type)) => body_type.to_owned(),
        (h, None) if !is_generic(h) => h.to_owned(),
        // Neither says: OCI allows omitting mediaType; the shape decides.
        (_, None) if wire.manifests.is_some() => OCI_INDEX.to_owned(),
        (_, None) => OCI_MANIFEST.to_owned(),
    };
    let is_index = match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => false,
        OCI_INDEX | DOCKER_LIST => true,
        other => return Err(invalid(format!("unsupported manifest media type {other:?}"))),
    };
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    if is_index {
        if wire.config.is_some() || wire.layers.is_some() {
            return Err(invalid("an index has no config or layers"));
        }
        for (i, m) in
            wire.manifests.as_deref().ok_or_else(|| invalid("an index needs a manifests array"))?.iter().enumerate()
        {
            manifests.push(descriptor_digest(m, &format!("manifests[{i}]"))?);
        }
    } else {
        if wire.manifests.is_some() {
            return Err(invalid("an image manifest has no manifests array"));
        }
        let config = wire.config.as_ref().ok_or_else(|| invalid("an image manifest needs a config descriptor"))?;
        blobs.push(descriptor_digest(config, "config")?);
        for (i, l) in wire.layers.as_deref().unwrap_or_default().iter().enumerate() {
            let digest = descriptor_digest(l, &format!("layers[{i}]"))?;
            // Foreign layers (with urls) live elsewhere by design; everything else must be in the repository.
            if l.urls.is_empty() {
                blobs.push(digest);
            }
        }
    }
    blobs.sort();
    blobs.dedup();
    manifests.sort();
    manifests.dedup();
    let subject = wire.subject.as_ref().map(|s| descriptor_digest(s, "subject")).transpose()?;
    let artifact_type = wire.artifact_type.clone().or_else(|| {
        if is_index {
            None
        } else {
            wire.config.as_ref().and_then(|c| c.media_type.clone())
        }
    });
    let annotations = wire.annotations.as_ref().map(|a| Value::Object(a.clone()).to_string());
    Ok(ParsedManifest { media_type, blobs, manifests, subject, artifact_type, annotations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        Digest::sha256_of(s.as_bytes()).to_string()
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":3}}]{extra}}}"#,
            d("c"),
            d("l")
        )
    }

    #[test]
    fn image_manifest_references_config_and_layers() {
        let p = parse(Some(OCI_MANIFEST), image("").as_bytes()).unwrap();
        assert_eq!(p.blobs.len(), 2);
        assert_eq!(p.artifact_type.as_deref(), Some("application/vnd.oci.image.config.v1+json"));
        assert!(p.subject.is_none());
    }

    #[test]
    fn subject_and_artifact_type() {
        let extra = format!(
            r#","artifactType":"application/x-sbom","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":9}}"#,
            d("s")
        );
        let p = parse(None, image(&extra).as_bytes()).unwrap();
        assert_eq!(p.subject.unwrap().to_string(), d("s"));
        assert_eq!(p.artifact_type.as_deref(), Some("application/x-sbom"));
    }

    #[test]
    fn rejects_bad_manifests() {
        let code = |ct: Option<&str>, b: &str| parse(ct, b.as_bytes()).unwrap_err().code;
        assert_eq!(code(None, "not json"), ErrorCode::ManifestInvalid);
        assert_eq!(code(None, r#"{"schemaVersion":1}"#), ErrorCode::ManifestInvalid);
        assert_eq!(code(Some(OCI_INDEX), &image("")), ErrorCode::ManifestInvalid);
        assert_eq!(code(Some("application/x-unknown"), r#"{"schemaVersion":2}"#), ErrorCode::ManifestInvalid);
        let bad_digest = image("").replace(&d("l"), "sha256:nothex");
        assert_eq!(code(None, &bad_digest), ErrorCode::DigestInvalid);
        assert_eq!(
            code(None, r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#),
            ErrorCode::ManifestInvalid
        );
    }

    #[test]
    fn index_references_manifests() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":5}}]}}"#,
            d("m")
        );
        let p = parse(Some(OCI_INDEX), body.as_bytes()).unwrap();
        assert_eq!(p.manifests.len(), 1);
        assert!(p.blobs.is_empty());
    }
}
