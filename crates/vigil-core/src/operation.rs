//! The closed set of operations vigil performs. Every HTTP request is classified into exactly one of these in one
//! place (the protocol router); metrics, authorization and the audit log all key off it, through the one
//! [`Description`] each operation has.

use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::{Action, Format, Requirement};

/// One operation of the registry. Adding a variant forces [`Operation::describe`] to say what it is (its format,
/// NORA action, Quay kind, requirement, whether it changes state), which is the point of keeping the set closed;
/// its name, parsing and the list of all of them are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, EnumString, VariantArray)]
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

/// What an operation is, said once. Authorization, the audit record (NORA's `action` and `registry`, Quay's kind)
/// and metrics read it instead of matching on the operation again, so a new operation is one new row in
/// [`Operation::describe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Description {
    /// The format whose protocol serves it; `None` for vigil's own APIs and background work.
    pub format: Option<Format>,
    /// NORA's `action` (`pull`, `push`, `upload`, `delete`, ...). `CheckApiVersion` becomes `login` when the
    /// request presented credentials: the only action the request itself decides.
    pub action: &'static str,
    /// Quay's log kind, or vigil's own where Quay has none (`docs/audit-event.md` lists them). Logins, failed
    /// ones and handler-chosen kinds override it per event.
    pub kind: &'static str,
    /// What admission requires of the caller.
    pub requirement: Requirement,
    /// Whether it can change stored state (and so must commit its journal record with the change).
    pub mutates: bool,
    /// Probes and scrapes: answered and counted in metrics, but not audited (they carry no user action and would
    /// drown the trail).
    pub probe: bool,
}

const OCI: Option<Format> = Some(Format::Oci);
const PULL: Requirement = Requirement::Repository(Action::Pull);
const PUSH: Requirement = Requirement::Repository(Action::Push);
const DELETE: Requirement = Requirement::Repository(Action::Delete);
const AUTHENTICATED: Requirement = Requirement::Authenticated;

const fn op(format: Option<Format>, action: &'static str, kind: &'static str, requirement: Requirement) -> Description {
    Description { format, action, kind, requirement, mutates: false, probe: false }
}

const fn change(
    format: Option<Format>,
    action: &'static str,
    kind: &'static str,
    requirement: Requirement,
) -> Description {
    Description { mutates: true, ..op(format, action, kind, requirement) }
}

const fn probe(requirement: Requirement) -> Description {
    Description { probe: true, ..op(None, "probe", "probe", requirement) }
}

impl Operation {
    pub const ALL: &'static [Operation] = <Operation as VariantArray>::VARIANTS;

    /// The stable name used in metrics labels and audit records (the variant's name).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The one table of what every operation is.
    pub const fn describe(self) -> Description {
        use Operation::*;
        match self {
            // Any authenticated caller: clients learn how to log in from the API version check; the catalog is
            // filtered to what the caller may read.
            CheckApiVersion => op(OCI, "ping", "ping", AUTHENTICATED),
            ListCatalog => op(OCI, "list", "list_catalog", AUTHENTICATED),
            ListTags => op(OCI, "list", "list_tags", PULL),
            GetManifest => op(OCI, "pull", "pull_repo", PULL),
            HeadManifest => op(OCI, "pull", "head_manifest", PULL),
            PutManifest => change(OCI, "push", "push_repo", PUSH),
            DeleteManifest => change(OCI, "delete", "delete_manifest", DELETE),
            DeleteTag => change(OCI, "delete", "delete_tag", DELETE),
            GetBlob => op(OCI, "pull", "pull_blob", PULL),
            HeadBlob => op(OCI, "pull", "head_blob", PULL),
            DeleteBlob => change(OCI, "delete", "delete_blob", DELETE),
            // NORA's `push` is an artifact stored (a blob whose upload completed or that was mounted); the steps of
            // an upload are `upload`.
            StartUpload => change(OCI, "upload", "start_upload", PUSH),
            UploadBlobMonolithic => change(OCI, "push", "push_blob", PUSH),
            MountBlob => change(OCI, "push", "mount_blob", PUSH),
            PatchUpload => change(OCI, "upload", "upload_chunk", PUSH),
            CompleteUpload => change(OCI, "push", "push_blob", PUSH),
            GetUploadStatus => op(OCI, "upload", "upload_status", PUSH),
            CancelUpload => change(OCI, "upload", "cancel_upload", PUSH),
            ListReferrers => op(OCI, "list", "list_referrers", PULL),
            // The whole changefeed: the handler requires a global admin.
            ReadChangefeed => op(OCI, "list", "read_changefeed", AUTHENTICATED),
            ReadRepoChangefeed => op(OCI, "list", "read_changefeed", PULL),
            // The token service answers anyone; what it grants is decided per scope.
            IssueToken => op(OCI, "token_issue", "token_issue", Requirement::None),
            Health | Metrics | Ready | ReadTree => probe(Requirement::None),
            // The admin API decides per endpoint (namespace admin, repository admin, global admin).
            AdminRead => op(None, "admin_read", "admin_read", AUTHENTICATED),
            AdminChange => change(None, "admin", "admin_change", AUTHENTICATED),
            // Entry bundles need a global admin, proofs any user, an event its own user or an admin: decided per
            // endpoint.
            ReadAuditLog => op(None, "audit_read", "audit_read", AUTHENTICATED),
            ExportAuditLog => op(None, "audit_export", "export_logs", AUTHENTICATED),
            // Background work runs as the system; no request ever carries it.
            CollectBlob => change(OCI, "delete", "gc_blob", AUTHENTICATED),
            LoadConfig => op(None, "config", "config_loaded", AUTHENTICATED),
            RebuildAuditIndex => change(None, "audit_reindex", "audit_reindex", AUTHENTICATED),
            SignCheckpoint => op(None, "audit_checkpoint", "audit_checkpoint", AUTHENTICATED),
            PruneAudit => change(None, "audit_retention", "audit_retention", AUTHENTICATED),
            // Answered 404/405 in the protocol's format; the request's path tells its protocol.
            Unknown => op(None, "unknown", "unknown_request", AUTHENTICATED),
        }
    }

    /// Probes and scrapes: answered, counted in metrics, but not audited.
    pub fn is_probe(self) -> bool {
        self.describe().probe
    }

    /// Whether the operation can change stored state (and so must commit its journal record with the change).
    pub fn is_mutation(self) -> bool {
        self.describe().mutates
    }

    /// What admission requires of the caller.
    pub fn requirement(self) -> Requirement {
        self.describe().requirement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut names: Vec<_> = Operation::ALL.iter().map(|o| o.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>(), Ok(*op));
        }
        assert_eq!(Operation::GetManifest.name(), "GetManifest");
    }

    #[test]
    fn the_table_keeps_the_rules() {
        for op in Operation::ALL {
            let d = op.describe();
            // A probe is never audited, so it must be harmless: no change, no credentials asked.
            assert!(!d.probe || (!d.mutates && d.requirement == Requirement::None), "{op:?}");
            // Only a repository's content may be changed by a repository right; a push right is asked of uploads.
            if let Requirement::Repository(action) = d.requirement {
                assert_eq!(d.format, Some(Format::Oci), "{op:?}");
                assert!(d.mutates || action == Action::Pull || *op == Operation::GetUploadStatus, "{op:?}");
            }
        }
        assert_eq!(Operation::MountBlob.requirement(), Requirement::Repository(Action::Push));
        assert_eq!(Operation::DeleteTag.requirement(), Requirement::Repository(Action::Delete));
        assert!(Operation::Health.is_probe() && !Operation::GetManifest.is_probe());
    }
}
