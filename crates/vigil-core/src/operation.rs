//! The closed set of operations vigil performs. Every HTTP request is classified into exactly one of these in one
//! place (the protocol router); metrics, authorization and the audit log all key off it.

/// One operation of the registry. Adding a variant forces every `match` (permissions, audit kinds) to decide
/// what it means, which is the point of keeping the set closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /v2/`
    CheckApiVersion,
    /// `GET /v2/_catalog`
    ListCatalog,
    /// `GET /v2/<name>/tags/list`
    ListTags,
    GetManifest,
    HeadManifest,
    PutManifest,
    /// `DELETE /v2/<name>/manifests/<digest>`
    DeleteManifest,
    /// `DELETE /v2/<name>/manifests/<tag>`
    DeleteTag,
    GetBlob,
    HeadBlob,
    DeleteBlob,
    /// `POST /v2/<name>/blobs/uploads/` opening a session.
    StartUpload,
    /// `POST ...?digest=` with the whole blob in the body.
    UploadBlobMonolithic,
    /// `POST ...?mount=&from=`
    MountBlob,
    PatchUpload,
    CompleteUpload,
    GetUploadStatus,
    CancelUpload,
    ListReferrers,
    /// `GET /v2/_trust/changefeed`: the trust changefeed of every repository (global admins).
    ReadChangefeed,
    /// `GET /v2/<name>/_trust/changefeed`: one repository's changefeed (pull on it).
    ReadRepoChangefeed,
    /// Liveness probe.
    Health,
    /// Prometheus scrape.
    Metrics,
    /// Garbage collection removing one unreferenced blob (background or `vigil gc`).
    CollectBlob,
    /// `GET`/`POST /auth/token`: the token service (where `docker login` proves a password).
    IssueToken,
    /// A read of the admin API (`GET /api/v1/...`).
    AdminRead,
    /// A change through the admin API or the identity CLI (users, organizations, teams, robots, tokens, grants).
    AdminChange,
    /// Configuration loaded at start (and changes to the audit configuration).
    LoadConfig,
    /// Readiness probe.
    Ready,
    /// Public reads of the audit log's tree: `/audit/checkpoint`, `/audit/key`, hash tiles. They reveal no event,
    /// and verifiers fetch them by the thousand, so they are not audited.
    ReadTree,
    /// Reads of audit data: entry bundles, proofs, single events and receipts.
    ReadAuditLog,
    /// Asking for an export of usage logs (Quay's `POST …/exportlogs`); the job that writes it records
    /// `export_logs_success` or `export_logs_failure` under the same operation.
    ExportAuditLog,
    /// `vigil audit reindex`: the query index rebuilt from the journal, after archived events were put back.
    RebuildAuditIndex,
    /// Retention removing expired events from the journal (after archiving them).
    PruneAudit,
    /// The server signing a checkpoint of the audit log (published to the journal and so to every sink).
    SignCheckpoint,
    /// Anything the router could not classify (answered 404/405 in the protocol's format).
    Unknown,
}

impl Operation {
    pub const ALL: &'static [Operation] = &[
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
        Operation::Health,
        Operation::Metrics,
        Operation::CollectBlob,
        Operation::IssueToken,
        Operation::AdminRead,
        Operation::AdminChange,
        Operation::LoadConfig,
        Operation::Ready,
        Operation::ReadTree,
        Operation::ReadAuditLog,
        Operation::ExportAuditLog,
        Operation::RebuildAuditIndex,
        Operation::SignCheckpoint,
        Operation::PruneAudit,
        Operation::Unknown,
    ];

    /// The stable name used in metrics labels and audit records.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CheckApiVersion => "CheckApiVersion",
            Operation::ListCatalog => "ListCatalog",
            Operation::ListTags => "ListTags",
            Operation::GetManifest => "GetManifest",
            Operation::HeadManifest => "HeadManifest",
            Operation::PutManifest => "PutManifest",
            Operation::DeleteManifest => "DeleteManifest",
            Operation::DeleteTag => "DeleteTag",
            Operation::GetBlob => "GetBlob",
            Operation::HeadBlob => "HeadBlob",
            Operation::DeleteBlob => "DeleteBlob",
            Operation::StartUpload => "StartUpload",
            Operation::UploadBlobMonolithic => "UploadBlobMonolithic",
            Operation::MountBlob => "MountBlob",
            Operation::PatchUpload => "PatchUpload",
            Operation::CompleteUpload => "CompleteUpload",
            Operation::GetUploadStatus => "GetUploadStatus",
            Operation::CancelUpload => "CancelUpload",
            Operation::ListReferrers => "ListReferrers",
            Operation::ReadChangefeed => "ReadChangefeed",
            Operation::ReadRepoChangefeed => "ReadRepoChangefeed",
            Operation::Health => "Health",
            Operation::Metrics => "Metrics",
            Operation::CollectBlob => "CollectBlob",
            Operation::IssueToken => "IssueToken",
            Operation::AdminRead => "AdminRead",
            Operation::AdminChange => "AdminChange",
            Operation::LoadConfig => "LoadConfig",
            Operation::Ready => "Ready",
            Operation::ReadTree => "ReadTree",
            Operation::ReadAuditLog => "ReadAuditLog",
            Operation::ExportAuditLog => "ExportAuditLog",
            Operation::RebuildAuditIndex => "RebuildAuditIndex",
            Operation::SignCheckpoint => "SignCheckpoint",
            Operation::PruneAudit => "PruneAudit",
            Operation::Unknown => "Unknown",
        }
    }

    /// Probes and scrapes: answered, counted in metrics, but not audited (they carry no user action and would
    /// drown the trail).
    pub fn is_probe(self) -> bool {
        matches!(self, Operation::Health | Operation::Metrics | Operation::Ready | Operation::ReadTree)
    }

    /// Whether the operation can change stored state (and so must commit its journal record with the change).
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Operation::PutManifest
                | Operation::DeleteManifest
                | Operation::DeleteTag
                | Operation::DeleteBlob
                | Operation::StartUpload
                | Operation::UploadBlobMonolithic
                | Operation::MountBlob
                | Operation::PatchUpload
                | Operation::CompleteUpload
                | Operation::CancelUpload
                | Operation::CollectBlob
                | Operation::PruneAudit
                | Operation::RebuildAuditIndex
                | Operation::AdminChange
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Operation::ALL.iter().map(|o| o.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
    }
}
