//! The metadata/journal store port.

use async_trait::async_trait;
use bytes::Bytes;
use vigil_core::{Digest, RepoName, Tag};

pub use crate::error::{StoreError, StoreResult};
use crate::journal::{CommitParticipant, JournalEvent, JournalRecord, SinkMark};

/// A blob as a repository holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    pub size: u64,
}

/// A stored manifest with its exact bytes (manifests are capped in size, so they live in the metadata store).
#[derive(Debug, Clone)]
pub struct ManifestRecord {
    pub digest: Digest,
    pub media_type: String,
    pub content: Bytes,
    pub subject: Option<Digest>,
}

/// A manifest to store, with everything the protocol layer extracted from it.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub digest: Digest,
    pub media_type: String,
    pub content: Bytes,
    /// Blobs it references (layers, config): each must be linked to the repository.
    pub blobs: Vec<Digest>,
    /// Manifests it references (an index's children): each must exist in the repository.
    pub manifests: Vec<Digest>,
    /// OCI 1.1 `subject`: may name a manifest that does not exist (yet).
    pub subject: Option<Digest>,
    /// `artifactType`, else the config media type of an image manifest (what the referrers API reports).
    pub artifact_type: Option<String>,
    /// `annotations` as a JSON object text, reported verbatim by the referrers API.
    pub annotations: Option<String>,
}

impl NewManifest {
    /// A manifest that references nothing (no blobs, children or subject): synthetic data and tests.
    pub fn standalone(media_type: &str, content: Bytes) -> NewManifest {
        NewManifest {
            digest: Digest::sha256_of(&content),
            media_type: media_type.to_owned(),
            content,
            blobs: Vec::new(),
            manifests: Vec::new(),
            subject: None,
            artifact_type: None,
            annotations: None,
        }
    }
}

/// One entry of the referrers list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
}

/// An upload session: durable, so it survives a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    pub id: String,
    pub repo: RepoName,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Every state change the registry makes. A mutation and its events commit together or not at all.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Records a new upload session.
    OpenUpload {
        session: UploadSession,
    },
    /// Marks that an upload's bytes are about to be moved into place under `digest`, so that a concurrent garbage
    /// collection leaves that digest alone.
    FinishingUpload {
        id: String,
        digest: Digest,
    },
    /// Drops an upload session (cancelled or expired).
    CloseUpload {
        id: String,
    },
    /// Records a blob and links it to `repo`; also closes `upload` if given.
    LinkBlob {
        repo: RepoName,
        blob: BlobInfo,
        upload: Option<String>,
    },
    /// Links a blob that `from` holds to `repo` (cross-repository mount). Fails with `NotFound` if `from` lacks it.
    MountBlob {
        repo: RepoName,
        from: RepoName,
        digest: Digest,
    },
    /// Removes a blob's link to `repo`.
    UnlinkBlob {
        repo: RepoName,
        digest: Digest,
    },
    /// Stores a manifest (checking its references inside the transaction) and points every tag in `tags` at it
    /// (none for a push by digest; several for the spec's `?tag=` parameters), all in the one change.
    PutManifest {
        repo: RepoName,
        manifest: NewManifest,
        tags: Vec<Tag>,
    },
    DeleteTag {
        repo: RepoName,
        tag: Tag,
    },
    /// Deletes a manifest and every tag that points at it.
    DeleteManifest {
        repo: RepoName,
        digest: Digest,
    },
    /// Remembers a setting (committed with the event that records the change).
    SetSetting {
        key: String,
        value: String,
    },
    /// Garbage collection: forgets a blob that no manifest references, no upload is finishing and nobody linked
    /// since `linked_before_ms`. Fails with `Conflict` (and commits nothing, its events included) when any of that
    /// no longer holds.
    CollectBlob {
        digest: Digest,
        linked_before_ms: i64,
    },
    /// A change to format-neutral content (repositories, package versions, assets).
    Content(crate::content::ContentChange),
}

/// What a committed mutation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// The blob that was linked or mounted.
    Linked(BlobInfo),
    /// Tags a manifest delete removed with it, and the tag a put moved away from another digest.
    Manifest {
        previous_tag_target: Option<Digest>,
        removed_tags: Vec<Tag>,
    },
    Collected(bool),
    /// What an asset write or delete replaced (`None`: the path was empty).
    Asset {
        replaced: Option<Digest>,
    },
}

/// The journal and what is derived from it: appending events, reading them back, the audit query index and
/// its rollups, the enforced sinks' participation and positions, and readiness. Audit code (recorder, sinks,
/// indexer, integrator, retention, the query APIs) needs only this port.
#[async_trait]
pub trait JournalStore: Send + Sync + 'static {
    /// Appends events that describe no state change (reads, denials, configuration loaded).
    async fn append_events(&self, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<Vec<u64>>;

    /// Journal records with `seq >= from`, in order.
    async fn journal(&self, from: u64, limit: usize) -> StoreResult<Vec<JournalRecord>>;

    /// The highest committed sequence number (0 for an empty journal).
    async fn journal_head(&self) -> StoreResult<u64>;

    /// Adds rows to the audit query index and records that it holds everything through `through`, if it still
    /// held everything through `after` (else `Conflict`: the index was reset meanwhile, and nothing is written).
    async fn index_events(&self, rows: Vec<crate::index::IndexRow>, after: u64, through: u64) -> StoreResult<()>;

    /// Empties the audit query index (the indexer then rebuilds it from the journal) and commits `events`.
    async fn reset_index(&self, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<()>;

    /// Puts archived entries back into the journal at their own seqs, which must be in the pruned range and
    /// checked by the caller against the Merkle tree; entries already present are left as they are. Returns how
    /// many were restored.
    async fn restore_journal(&self, records: Vec<JournalRecord>) -> StoreResult<u64>;

    /// Removes journal entries (and their index rows) through `through`, remembers it as
    /// [`crate::JOURNAL_PRUNED_THROUGH`], and commits `events` (the record of the pruning) with it. `through` must
    /// be below the journal's head: the newest entry always stays, so sequence numbers never restart.
    async fn prune_journal(&self, through: u64, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<()>;

    /// The last seq the query index holds.
    async fn indexed_through(&self) -> StoreResult<u64>;

    /// The seqs of indexed events matching `filter`, a page of at most `limit` in `order`.
    async fn query_events(
        &self,
        filter: &crate::index::EventFilter,
        order: crate::index::Order,
        limit: u32,
    ) -> StoreResult<Vec<u64>>;

    /// The journal entries of indexed events matching `filter`, a page of at most `limit` in `order`.
    async fn query_entries(
        &self,
        filter: &crate::index::EventFilter,
        order: crate::index::Order,
        limit: u32,
    ) -> StoreResult<Vec<JournalRecord>>;

    /// Counts of indexed events matching `filter`, grouped.
    async fn aggregate_events(
        &self,
        filter: &crate::index::EventFilter,
        bucket: Option<crate::index::Bucket>,
        group: Option<crate::index::GroupBy>,
    ) -> StoreResult<Vec<crate::index::Aggregate>>;

    /// Makes `participant` take part in every journal commit from now on (enforced audit sinks).
    fn set_commit_participant(&self, participant: std::sync::Arc<dyn CommitParticipant>);

    /// Positions of the audit sinks as last committed with the journal.
    async fn sink_marks(&self) -> StoreResult<Vec<SinkMark>>;

    /// Records a sink's position (best-effort sinks after each delivered batch; new sinks at registration).
    async fn set_sink_mark(&self, mark: SinkMark) -> StoreResult<()>;

    /// Follows the committed journal head as commits happen in this process.
    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Whether the journal can be written now: a cheap write-lock probe plus the participants' own checks, and
    /// no failed commit in the last few seconds.
    async fn journal_ready(&self) -> StoreResult<()>;
}

/// Registry metadata (OCI's manifests, tags, referrers, blob links, uploads, the changefeed, settings) and the
/// one write path: every change goes through [`MetadataStore::apply`], committed with its events.
#[async_trait]
pub trait MetadataStore: JournalStore {
    /// Commits `mutation` and `events` in one transaction, assigning the events consecutive sequence numbers.
    /// Returns what was done and the assigned sequence numbers. Callers run this in a task of its own so that a
    /// client disconnect cannot cancel it halfway (the transaction is all or nothing regardless).
    async fn apply(&self, mutation: Mutation, events: Vec<Box<dyn JournalEvent>>) -> StoreResult<(Applied, Vec<u64>)>;

    /// Whether an OCI repository of that name exists (other formats' repositories are not OCI's).
    async fn repository_exists(&self, repo: &RepoName) -> StoreResult<bool>;

    /// OCI repository names in lexical order, strictly after `after`.
    async fn catalog(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<String>>;

    /// Tags of `repo` in lexical order, strictly after `after`.
    async fn tags(&self, repo: &RepoName, after: Option<&str>, limit: usize) -> StoreResult<Vec<String>>;

    /// A blob, only if `repo` holds it.
    async fn blob(&self, repo: &RepoName, digest: &Digest) -> StoreResult<Option<BlobInfo>>;

    async fn manifest_by_digest(&self, repo: &RepoName, digest: &Digest) -> StoreResult<Option<ManifestRecord>>;

    async fn manifest_by_tag(&self, repo: &RepoName, tag: &Tag) -> StoreResult<Option<ManifestRecord>>;

    async fn referrers(&self, repo: &RepoName, subject: &Digest) -> StoreResult<Vec<Referrer>>;

    async fn upload(&self, id: &str) -> StoreResult<Option<UploadSession>>;

    /// Upload sessions not touched since `before_ms`.
    async fn stale_uploads(&self, before_ms: i64) -> StoreResult<Vec<UploadSession>>;

    /// Records that an upload session was used now (extends its expiry).
    async fn touch_upload(&self, id: &str) -> StoreResult<()>;

    /// Blobs that no manifest references and that nobody linked since `linked_before_ms`.
    async fn collectable_blobs(&self, linked_before_ms: i64) -> StoreResult<Vec<BlobInfo>>;

    /// Whether a blob is recorded or an upload is finishing it (garbage collection's last check).
    async fn blob_wanted(&self, digest: &Digest) -> StoreResult<bool>;

    /// A setting stored with [`Mutation::SetSetting`].
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;

    /// A page of the trust changefeed, for one repository or all, oldest first.
    async fn changefeed(
        &self,
        gun: Option<&str>,
        page: crate::changefeed::ChangePage,
    ) -> StoreResult<Vec<crate::changefeed::ChangeRecord>>;
}
