//! A package as npm reads it: the packument (every version's manifest, dist-tags, times, a revision), its
//! abbreviated form for installs, and where each version's tarball lives. Built from what the content port
//! keeps: each version's manifest verbatim, the package's tags, the versions' creation times.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use vigil_core::RepoName;
use vigil_store::{ContentStore, PackageVersion, StoreResult};

/// Top-level fields of the packument taken from the latest version's manifest.
const FROM_LATEST: &[&str] =
    &["description", "readme", "homepage", "repository", "keywords", "license", "author", "bugs", "maintainers"];

/// The fields of a version kept in the abbreviated packument (what an install needs).
const ABBREVIATED: &[&str] = &[
    "name",
    "version",
    "deprecated",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "dist",
    "engines",
    "_hasShrinkwrap",
    "hasInstallScript",
    "cpu",
    "os",
    "libc",
    "funding",
];

/// The tarball's file name: the unscoped name, the version, `.tgz` (`@acme/ui` 1.0.0 → `ui-1.0.0.tgz`).
pub fn tarball_file(name: &str, version: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("{base}-{version}.tgz")
}

/// The tarball's asset path in the repository (`@acme/ui/-/ui-1.0.0.tgz`).
pub fn tarball_path(name: &str, file: &str) -> String {
    format!("{name}/-/{file}")
}

/// A stored package: its versions (oldest first) and tags.
pub struct Package {
    pub name: String,
    pub versions: Vec<PackageVersion>,
    pub tags: Vec<(String, String)>,
}

impl Package {
    /// The package, or `None` when it has no version.
    pub async fn load(content: &Arc<dyn ContentStore>, repo: &RepoName, name: &str) -> StoreResult<Option<Package>> {
        let versions = content.versions(repo, name).await?;
        if versions.is_empty() {
            return Ok(None);
        }
        let tags = content.package_tags(repo, name).await?;
        Ok(Some(Package { name: name.to_owned(), versions, tags }))
    }

    pub fn version(&self, version: &str) -> Option<&PackageVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The version a tag or an exact version names.
    pub fn resolve(&self, spec: &str) -> Option<&PackageVersion> {
        let tagged = self.tags.iter().find(|(t, _)| t == spec).map(|(_, v)| v.as_str());
        self.version(tagged.unwrap_or(spec))
    }

    /// The revision: a digest of every version's manifest and every tag, so a write that read an older state
    /// (`npm unpublish` sends back the `_rev` it read) is refused instead of undoing what happened meanwhile.
    pub fn rev(&self) -> String {
        let mut h = Sha256::new();
        for v in &self.versions {
            for part in [v.version.as_bytes(), b"\0", v.metadata.as_bytes(), b"\0"] {
                h.update(part);
            }
        }
        for (tag, version) in &self.tags {
            for part in [tag.as_bytes(), b"\0", version.as_bytes(), b"\0"] {
                h.update(part);
            }
        }
        format!("{}-{}", self.versions.len(), &hex::encode(h.finalize())[..32])
    }

    fn dist_tags(&self) -> Value {
        Value::Object(self.tags.iter().map(|(t, v)| (t.clone(), Value::String(v.clone()))).collect())
    }

    /// A version's manifest as served: stored verbatim, with `dist.tarball` pointing at this registry
    /// (`registry` ends in `/`).
    pub fn manifest(&self, v: &PackageVersion, registry: &str) -> Value {
        let mut manifest: Value = serde_json::from_str(&v.metadata).unwrap_or_else(|_| json!({}));
        let tarball = format!("{registry}{}", tarball_path(&self.name, &tarball_file(&self.name, &v.version)));
        if let Some(obj) = manifest.as_object_mut() {
            obj.insert("name".into(), json!(self.name));
            obj.insert("version".into(), json!(v.version));
            let dist = obj.entry("dist").or_insert_with(|| json!({}));
            if let Some(dist) = dist.as_object_mut() {
                dist.insert("tarball".into(), json!(tarball));
            }
        }
        manifest
    }

    fn latest(&self) -> Option<&PackageVersion> {
        self.resolve("latest").or(self.versions.last())
    }

    fn modified_ms(&self) -> i64 {
        self.versions.iter().map(|v| v.created_at_ms).max().unwrap_or(0)
    }

    /// The full packument (`npm view`, writes that read before they write).
    pub fn full(&self, registry: &str) -> Value {
        let versions: Map<String, Value> =
            self.versions.iter().map(|v| (v.version.clone(), self.manifest(v, registry))).collect();
        let mut time = Map::new();
        let created = self.versions.iter().map(|v| v.created_at_ms).min().unwrap_or(0);
        time.insert("created".into(), json!(vigil_core::time::rfc3339_ms(created)));
        time.insert("modified".into(), json!(vigil_core::time::rfc3339_ms(self.modified_ms())));
        for v in &self.versions {
            time.insert(v.version.clone(), json!(vigil_core::time::rfc3339_ms(v.created_at_ms)));
        }
        let mut doc = Map::new();
        doc.insert("_id".into(), json!(self.name));
        doc.insert("_rev".into(), json!(self.rev()));
        doc.insert("name".into(), json!(self.name));
        if let Some(latest) = self.latest().map(|v| self.manifest(v, registry)) {
            for field in FROM_LATEST {
                if let Some(value) = latest.get(*field) {
                    doc.insert((*field).into(), value.clone());
                }
            }
        }
        doc.insert("dist-tags".into(), self.dist_tags());
        doc.insert("versions".into(), Value::Object(versions));
        doc.insert("time".into(), Value::Object(time));
        Value::Object(doc)
    }

    /// The abbreviated packument npm asks for when installing (`application/vnd.npm.install-v1+json`).
    pub fn abbreviated(&self, registry: &str) -> Value {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|v| {
                let full = self.manifest(v, registry);
                let kept: Map<String, Value> = ABBREVIATED
                    .iter()
                    .filter_map(|f| full.get(*f).map(|value| ((*f).to_owned(), value.clone())))
                    .collect();
                (v.version.clone(), Value::Object(kept))
            })
            .collect();
        json!({
            "name": self.name,
            "modified": vigil_core::time::rfc3339_ms(self.modified_ms()),
            "dist-tags": self.dist_tags(),
            "versions": versions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> Package {
        let v = |version: &str, at: i64, deprecated: Option<&str>| {
            let mut manifest = json!({"name": "@acme/ui", "version": version, "description": format!("v{version}"),
                "readme": "long", "scripts": {"test": "x"}, "dependencies": {"a": "^1"},
                "dist": {"shasum": "00", "tarball": "http://elsewhere/x.tgz"}});
            if let Some(d) = deprecated {
                manifest["deprecated"] = json!(d);
            }
            PackageVersion {
                package: "@acme/ui".into(),
                version: version.into(),
                metadata: manifest.to_string(),
                created_at_ms: at,
            }
        };
        Package {
            name: "@acme/ui".into(),
            versions: vec![v("1.0.0", 1000, None), v("1.1.0", 2000, Some("use 2"))],
            tags: vec![("latest".into(), "1.0.0".into()), ("next".into(), "1.1.0".into())],
        }
    }

    #[test]
    fn packuments_point_tarballs_here_and_take_fields_from_latest() {
        let p = package();
        let doc = p.full("http://127.0.0.1:5000/npm/acme/js/");
        assert_eq!(doc["description"], "v1.0.0", "from the version latest names, not the newest");
        assert_eq!(
            doc["versions"]["1.1.0"]["dist"]["tarball"],
            "http://127.0.0.1:5000/npm/acme/js/@acme/ui/-/ui-1.1.0.tgz"
        );
        assert_eq!(doc["dist-tags"]["next"], "1.1.0");
        assert_eq!(doc["time"]["created"], "1970-01-01T00:00:01.000Z");
        assert_eq!(doc["time"]["1.1.0"], "1970-01-01T00:00:02.000Z");
        assert_eq!(doc["_rev"], p.rev());
        let short = p.abbreviated("http://h/npm/acme/js/");
        assert_eq!(short["versions"]["1.1.0"]["deprecated"], "use 2");
        assert_eq!(short["versions"]["1.0.0"]["dependencies"]["a"], "^1");
        assert!(short["versions"]["1.0.0"].get("scripts").is_none() && short.get("readme").is_none());
        assert_eq!(p.resolve("next").unwrap().version, "1.1.0");
        assert_eq!(p.resolve("1.0.0").unwrap().version, "1.0.0");
        assert!(p.resolve("9.9.9").is_none());
    }

    #[test]
    fn the_revision_changes_with_any_version_or_tag() {
        let p = package();
        let mut q = package();
        q.tags[1].1 = "1.0.0".into();
        assert_ne!(p.rev(), q.rev());
        let mut r = package();
        r.versions[0].metadata.push(' ');
        assert_ne!(p.rev(), r.rev());
        assert_eq!(p.rev(), package().rev());
        assert!(p.rev().starts_with("2-"));
    }
}
