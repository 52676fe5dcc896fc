//! What the registry keeps per version: the sparse index's line for it (verbatim what `index/<prefix>/<name>`
//! serves, `yanked` included), who published it and the description `cargo search` shows. Kept as the version's
//! metadata document in the content port; the `.crate` file is an asset at `<key>/<version>/<name>-<version>.crate`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vigil_store::PackageVersion;

/// Feature names and what each enables.
pub type Features = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexLine {
    pub name: String,
    pub vers: String,
    pub deps: Vec<IndexDep>,
    pub cksum: String,
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features2: Option<BTreeMap<String, Vec<String>>>,
    pub yanked: bool,
    #[serde(default)]
    pub links: Option<String>,
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexDep {
    pub name: String,
    pub req: String,
    pub features: Vec<String>,
    pub optional: bool,
    pub default_features: bool,
    pub target: Option<String>,
    pub kind: String,
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stored {
    pub line: IndexLine,
    pub publisher: String,
    #[serde(default)]
    pub description: String,
}

impl Stored {
    pub fn parse(version: &PackageVersion) -> Option<Stored> {
        match serde_json::from_str(&version.metadata) {
            Ok(stored) => Some(stored),
            Err(e) => {
                tracing::error!(package = %version.package, version = %version.version, error = %e, "unreadable crate metadata");
                None
            }
        }
    }
}

/// The asset path of a version's `.crate` file.
pub fn crate_path(key: &str, name: &str, version: &str) -> String {
    format!("{key}/{version}/{name}-{version}.crate")
}

/// The metadata `cargo publish` sends (the fields vigil reads; the rest is ignored, as crates.io does).
#[derive(Debug, Deserialize)]
pub struct PublishMeta {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<PublishDep>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub links: Option<String>,
    #[serde(default)]
    pub rust_version: Option<String>,
    #[serde(flatten)]
    pub _rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct PublishDep {
    pub name: String,
    pub version_req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default = "normal")]
    pub kind: String,
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub explicit_name_in_toml: Option<String>,
}

fn yes() -> bool {
    true
}

fn normal() -> String {
    "normal".to_owned()
}

/// Features using the newer syntax (`dep:x`, `x?/y`) go to `features2`, read only by Cargo that knows them
/// (index format `v: 2`), as on crates.io.
pub fn split_features(features: Features) -> (Features, Option<Features>) {
    let (new, old): (BTreeMap<_, _>, BTreeMap<_, _>) =
        features.into_iter().partition(|(_, values)| values.iter().any(|v| v.starts_with("dep:") || v.contains("?/")));
    (old, (!new.is_empty()).then_some(new))
}
