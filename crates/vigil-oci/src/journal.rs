//! The journal record for a registry change. Its JSON form keeps NORA's six top-level fields (`ts`, `action`,
//! `actor`, `artifact`, `registry`, `detail`) so existing `jq` and Filebeat setups keep working, and adds `seq`,
//! `operation` and `target`. The audit issue grows this into the full native schema (request and identity context).

use serde_json::json;
use vigil_core::{Digest, Operation, RepoName};
use vigil_store::JournalEvent;

/// A change to registry content, journaled in the same transaction as the change itself.
#[derive(Debug, Clone)]
pub struct RegistryEvent {
    pub operation: Operation,
    pub actor: &'static str,
    /// `None` for work that is not about one repository (garbage collection of a shared blob).
    pub repo: Option<RepoName>,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    pub media_type: Option<String>,
}

impl RegistryEvent {
    pub fn new(operation: Operation, repo: &RepoName) -> Self {
        RegistryEvent {
            operation,
            actor: "api",
            repo: Some(repo.clone()),
            tag: None,
            digest: None,
            size: None,
            media_type: None,
        }
    }

    /// An event about no particular repository.
    pub fn global(operation: Operation) -> Self {
        RegistryEvent { operation, actor: "api", repo: None, tag: None, digest: None, size: None, media_type: None }
    }

    pub fn tag(mut self, tag: impl ToString) -> Self {
        self.tag = Some(tag.to_string());
        self
    }

    pub fn digest(mut self, digest: &Digest) -> Self {
        self.digest = Some(digest.clone());
        self
    }

    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    pub fn media_type(mut self, media_type: &str) -> Self {
        self.media_type = Some(media_type.to_owned());
        self
    }

    pub fn actor(mut self, actor: &'static str) -> Self {
        self.actor = actor;
        self
    }

    pub fn boxed(self) -> Box<dyn JournalEvent> {
        Box::new(self)
    }

    /// NORA's `action` vocabulary.
    fn action(&self) -> &'static str {
        match self.operation {
            Operation::DeleteManifest | Operation::DeleteTag | Operation::DeleteBlob | Operation::CollectBlob => {
                "delete"
            }
            _ => "push",
        }
    }

    /// `name:tag`, `name@digest` or the repository name.
    fn artifact(&self) -> String {
        let repo = self.repo.as_ref().map(RepoName::as_str).unwrap_or_default();
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{repo}:{t}"),
            (None, Some(d)) if repo.is_empty() => d.to_string(),
            (None, Some(d)) => format!("{repo}@{d}"),
            (None, None) => repo.to_owned(),
        }
    }
}

impl JournalEvent for RegistryEvent {
    fn encode(&self, seq: u64, ts_ms: i64) -> Vec<u8> {
        let digest = self.digest.as_ref().map(|d| d.to_string());
        let value = json!({
            "ts": vigil_core::time::rfc3339_ms(ts_ms),
            "action": self.action(),
            "actor": self.actor,
            "artifact": self.artifact(),
            "registry": "docker",
            "detail": digest.clone().unwrap_or_default(),
            "seq": seq,
            "schema": 1,
            "operation": self.operation.name(),
            "target": {
                "namespace": self.repo.as_ref().map(RepoName::namespace),
                "repository": self.repo.as_ref().map(RepoName::as_str),
                "tag": self.tag,
                "digest": digest,
                "media_type": self.media_type,
                "size": self.size,
            },
        });
        serde_json::to_vec(&value).expect("a JSON value always serializes")
    }
}
