//! `maven-metadata.xml`, written by vigil from what is stored rather than kept as clients upload it, so it is
//! always true: at the artifact the versions in deploy order with `latest` and `release`; at a SNAPSHOT version
//! the newest timestamp and build number and, per classifier and extension, the newest timestamped file (so
//! `1.0-SNAPSHOT` resolves). The same bytes for the same content, so its checksums hold between requests.
//! What clients upload is checked and then dropped.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use vigil_core::RepoName;
use vigil_store::{Asset, ContentStore, PackageVersion, StoreResult};

use crate::route::{classifier_and_extension, snapshot_stamp, Coords};
use crate::xml;

/// The checksums of a stored file that the content port's sha256 digest does not give.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sums {
    pub sha1: String,
    pub md5: String,
    pub sha512: String,
}

/// A version's metadata document in the content port.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionMeta {
    pub group: String,
    pub artifact: String,
    pub version: String,
    /// Per file name.
    #[serde(default)]
    pub files: BTreeMap<String, Sums>,
}

impl VersionMeta {
    pub fn parse(version: &PackageVersion) -> VersionMeta {
        serde_json::from_str(&version.metadata).unwrap_or_else(|e| {
            tracing::warn!(package = %version.package, version = %version.version, error = %e, "unreadable Maven version metadata");
            VersionMeta::default()
        })
    }
}

/// Maven's `yyyyMMddHHmmss` (UTC) of a time in milliseconds.
fn maven_time(ms: i64) -> String {
    vigil_core::time::rfc3339_ms(ms).chars().filter(char::is_ascii_digit).take(14).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Every file in a version's folder.
pub async fn folder(content: &dyn ContentStore, repo: &RepoName, coords: &Coords) -> StoreResult<Vec<Asset>> {
    vigil_registry::packages::all_assets(content, repo, &coords.folder()).await
}

/// The artifact's metadata, or `None` when it has no version.
pub async fn artifact(
    content: &dyn ContentStore,
    repo: &RepoName,
    group: &str,
    artifact: &str,
) -> StoreResult<Option<String>> {
    let versions = content.versions(repo, &format!("{group}:{artifact}")).await?;
    if versions.is_empty() {
        return Ok(None);
    }
    let latest = versions.last().map(|v| v.version.as_str()).unwrap_or_default();
    let release = versions.iter().rev().map(|v| v.version.as_str()).find(|v| !v.ends_with("-SNAPSHOT"));
    let updated = versions.iter().map(|v| v.created_at_ms).max().unwrap_or(0);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n");
    let _ = writeln!(xml, "  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>", escape(group), escape(artifact));
    xml.push_str("  <versioning>\n");
    let _ = writeln!(xml, "    <latest>{}</latest>", escape(latest));
    if let Some(release) = release {
        let _ = writeln!(xml, "    <release>{}</release>", escape(release));
    }
    xml.push_str("    <versions>\n");
    for v in &versions {
        let _ = writeln!(xml, "      <version>{}</version>", escape(&v.version));
    }
    let _ = writeln!(
        xml,
        "    </versions>\n    <lastUpdated>{}</lastUpdated>\n  </versioning>\n</metadata>",
        maven_time(updated)
    );
    Ok(Some(xml))
}

/// The newest file of one classifier and extension: its timestamp and build, `<value>` and time.
type Newest = ((String, u32), String, i64);

/// A SNAPSHOT version's metadata, or `None` when nothing is stored for it.
pub async fn snapshot(content: &dyn ContentStore, repo: &RepoName, coords: &Coords) -> StoreResult<Option<String>> {
    let files = folder(content, repo, coords).await?;
    if files.is_empty() {
        return Ok(None);
    }
    // Per (classifier, extension): the newest file's stamp, value and time.
    let mut newest: BTreeMap<(String, String), Newest> = BTreeMap::new();
    let mut snapshot: Option<(String, u32)> = None;
    for asset in &files {
        let name = asset.path.rsplit('/').next().unwrap_or_default();
        let Some(kind) = classifier_and_extension(name, coords) else { continue };
        let stamp = snapshot_stamp(name, coords);
        let value = match &stamp {
            Some((t, b)) => format!("{}-{t}-{b}", coords.version.trim_end_matches("-SNAPSHOT")),
            None => coords.version.clone(),
        };
        let key = stamp.clone().unwrap_or_default();
        if newest.get(&kind).is_none_or(|(k, _, _)| key >= *k) {
            newest.insert(kind, (key, value, asset.updated_at_ms));
        }
        if let Some(stamp) = stamp {
            snapshot = snapshot.max(Some(stamp));
        }
    }
    let updated = files.iter().map(|a| a.updated_at_ms).max().unwrap_or(0);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n");
    let _ = writeln!(
        xml,
        "  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>\n  <versioning>",
        escape(&coords.group),
        escape(&coords.artifact),
        escape(&coords.version)
    );
    if let Some((timestamp, build)) = snapshot {
        let _ = writeln!(xml, "    <snapshot>\n      <timestamp>{timestamp}</timestamp>\n      <buildNumber>{build}</buildNumber>\n    </snapshot>");
    }
    let _ = writeln!(xml, "    <lastUpdated>{}</lastUpdated>\n    <snapshotVersions>", maven_time(updated));
    for ((classifier, extension), (_, value, at)) in &newest {
        xml.push_str("      <snapshotVersion>\n");
        if !classifier.is_empty() {
            let _ = writeln!(xml, "        <classifier>{}</classifier>", escape(classifier));
        }
        let _ = writeln!(
            xml,
            "        <extension>{}</extension>\n        <value>{}</value>\n        <updated>{}</updated>\n      </snapshotVersion>",
            escape(extension),
            escape(value),
            maven_time(*at)
        );
    }
    xml.push_str("    </snapshotVersions>\n  </versioning>\n</metadata>\n");
    Ok(Some(xml))
}

/// Checks metadata a client uploads: well-formed, and naming the group, artifact (and version) of its path.
pub fn check_upload(body: &[u8], group: &str, artifact: &str, version: Option<&str>) -> Result<(), String> {
    let paths = ["metadata/groupId", "metadata/artifactId", "metadata/version"];
    let found = xml::texts(body, "metadata", &paths)?;
    let expect = [("groupId", Some(group)), ("artifactId", Some(artifact)), ("version", version)];
    for ((field, expected), path) in expect.iter().zip(paths) {
        if let (Some(expected), Some(actual)) = (expected, found.get(path)) {
            if actual != expected {
                return Err(format!("the metadata's {field} is {actual}, but its path says {expected}"));
            }
        }
    }
    Ok(())
}

/// Checks a POM: well-formed, and naming the coordinates of its path (the group and version may come from its
/// parent; values that are still properties are not compared).
pub fn check_pom(body: &[u8], coords: &Coords) -> Result<(), String> {
    let paths = [
        "project/groupId",
        "project/parent/groupId",
        "project/artifactId",
        "project/version",
        "project/parent/version",
    ];
    let found = xml::texts(body, "project", &paths)?;
    let get = |own: &str, parent: &str| found.get(own).or_else(|| found.get(parent)).cloned();
    let version = coords.version.clone();
    let checks = [
        ("groupId", get("project/groupId", "project/parent/groupId"), coords.group.clone()),
        ("artifactId", found.get("project/artifactId").cloned(), coords.artifact.clone()),
        ("version", get("project/version", "project/parent/version"), version),
    ];
    for (field, actual, expected) in checks {
        match actual {
            None if field == "artifactId" => return Err("the POM has no artifactId".to_owned()),
            Some(actual) if !actual.contains("${") && actual != expected => {
                return Err(format!("the POM's {field} is {actual}, but it is deployed as {expected}"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coords() -> Coords {
        Coords { group: "com.acme".into(), artifact: "demo".into(), version: "1.0".into() }
    }

    #[test]
    fn poms_must_name_their_coordinates() {
        let pom = |g: &str, a: &str, v: &str| {
            format!("<project><modelVersion>4.0.0</modelVersion>{g}<artifactId>{a}</artifactId>{v}</project>")
        };
        check_pom(pom("<groupId>com.acme</groupId>", "demo", "<version>1.0</version>").as_bytes(), &coords()).unwrap();
        check_pom(
            pom("<parent><groupId>com.acme</groupId><version>1.0</version></parent>", "demo", "").as_bytes(),
            &coords(),
        )
        .unwrap();
        check_pom(pom("<groupId>com.acme</groupId>", "demo", "<version>${revision}</version>").as_bytes(), &coords())
            .unwrap();
        let wrong = pom("<groupId>com.other</groupId>", "demo", "<version>1.0</version>");
        assert!(check_pom(wrong.as_bytes(), &coords()).unwrap_err().contains("groupId is com.other"));
        assert!(check_pom(b"<project>", &coords()).is_err());
    }

    #[test]
    fn uploaded_metadata_must_fit_its_path() {
        let md = b"<metadata><groupId>com.acme</groupId><artifactId>demo</artifactId></metadata>";
        check_upload(md, "com.acme", "demo", None).unwrap();
        assert!(check_upload(md, "com.acme", "other", None).is_err());
        assert!(check_upload(b"<metadata><groupId>", "com.acme", "demo", None).is_err());
    }
}
