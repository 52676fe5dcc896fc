//! The operations vigil performs. Every HTTP request is classified into exactly one of these in one place (its
//! protocol's router); metrics, authorization and the audit log all key off it, through the one [`Description`]
//! each operation has.
//!
//! The set is open at compile time: vigil's own operations (the OCI protocol, the admin and audit APIs,
//! background work) are the associated constants of [`Operation`], and a format crate declares its own with
//! [`Operation::new`] without touching this crate. An operation *is* its static description, so there is no
//! table to keep in step with a list of names.

use std::fmt;

use crate::{Action, Format, Requirement};

/// One operation of the registry: a reference to its static [`Description`]. Constants of this type can be used
/// in `match` patterns (`Operation::GetManifest => ...`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation(&'static Description);

/// What an operation is, said once. Authorization, the audit record (NORA's `action` and `registry`, Quay's kind)
/// and metrics read it instead of matching on the operation again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Description {
    /// The stable name used in metrics labels and audit records (`GetManifest`, `PutRawFile`); unique.
    pub name: &'static str,
    /// The format whose protocol serves it; `None` for vigil's own APIs and background work.
    pub format: Option<Format>,
    /// NORA's `action` (`pull`, `push`, `upload`, `delete`, `overwrite`, ...). `CheckApiVersion` becomes `login`
    /// when the request presented credentials, and a handler may say `overwrite` for a push that replaced
    /// content: the only actions decided per request.
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

impl Description {
    /// An operation that reads.
    pub const fn read(
        name: &'static str,
        format: Option<Format>,
        action: &'static str,
        kind: &'static str,
        requirement: Requirement,
    ) -> Description {
        Description { name, format, action, kind, requirement, mutates: false, probe: false }
    }

    /// An operation that can change stored state.
    pub const fn change(
        name: &'static str,
        format: Option<Format>,
        action: &'static str,
        kind: &'static str,
        requirement: Requirement,
    ) -> Description {
        Description { mutates: true, ..Description::read(name, format, action, kind, requirement) }
    }

    const fn probe(name: &'static str) -> Description {
        Description { probe: true, ..Description::read(name, None, "probe", "probe", Requirement::None) }
    }
}

impl Operation {
    /// Declares an operation from its static description (a format crate's `pub const`).
    pub const fn new(description: &'static Description) -> Operation {
        Operation(description)
    }

    /// The stable name used in metrics labels and audit records.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The one description of the operation.
    pub const fn describe(self) -> &'static Description {
        self.0
    }

    /// Probes and scrapes: answered, counted in metrics, but not audited.
    pub fn is_probe(self) -> bool {
        self.0.probe
    }

    /// Whether the operation can change stored state (and so must commit its journal record with the change).
    pub fn is_mutation(self) -> bool {
        self.0.mutates
    }

    /// What admission requires of the caller.
    pub fn requirement(self) -> Requirement {
        self.0.requirement
    }

    /// The operation named `name` among `ALL` and the `extra` ones a caller knows (the format crates' lists).
    pub fn from_name(name: &str, extra: &[Operation]) -> Option<Operation> {
        Operation::ALL.iter().chain(extra).copied().find(|o| o.name() == name)
    }
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// Declares vigil's own operations as associated constants, named as written, with `ALL` listing them.
macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident => $kind:ident($($arg:expr),*);)*) => {
        #[allow(non_upper_case_globals)]
        impl Operation {
            $($(#[$doc])* pub const $name: Operation = Operation(&Description::$kind(stringify!($name) $(, $arg)*));)*
            /// vigil's own operations (format crates list theirs beside their declarations).
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];
        }
    };
}

const OCI: Option<Format> = Some(Format::Oci);
const VIGIL: Option<Format> = None;
const PULL: Requirement = Requirement::Repository(Action::Pull);
const PUSH: Requirement = Requirement::Repository(Action::Push);
const DELETE: Requirement = Requirement::Repository(Action::Delete);
const AUTHENTICATED: Requirement = Requirement::Authenticated;

operations! {
    /// `GET /v2/`. Any authenticated caller: clients learn how to log in from the API version check.
    CheckApiVersion => read(OCI, "ping", "ping", AUTHENTICATED);
    /// `GET /v2/_catalog`, filtered to what the caller may read.
    ListCatalog => read(OCI, "list", "list_catalog", AUTHENTICATED);
    /// `GET /v2/<name>/tags/list`
    ListTags => read(OCI, "list", "list_tags", PULL);
    GetManifest => read(OCI, "pull", "pull_repo", PULL);
    HeadManifest => read(OCI, "pull", "head_manifest", PULL);
    PutManifest => change(OCI, "push", "push_repo", PUSH);
    /// `DELETE /v2/<name>/manifests/<digest>`
    DeleteManifest => change(OCI, "delete", "delete_manifest", DELETE);
    /// `DELETE /v2/<name>/manifests/<tag>`
    DeleteTag => change(OCI, "delete", "delete_tag", DELETE);
    GetBlob => read(OCI, "pull", "pull_blob", PULL);
    HeadBlob => read(OCI, "pull", "head_blob", PULL);
    DeleteBlob => change(OCI, "delete", "delete_blob", DELETE);
    /// `POST /v2/<name>/blobs/uploads/` opening a session. NORA's `push` is an artifact stored (a blob whose
    /// upload completed or that was mounted); the steps of an upload are `upload`.
    StartUpload => change(OCI, "upload", "start_upload", PUSH);
    /// `POST ...?digest=` with the whole blob in the body.
    UploadBlobMonolithic => change(OCI, "push", "push_blob", PUSH);
    /// `POST ...?mount=&from=`
    MountBlob => change(OCI, "push", "mount_blob", PUSH);
    PatchUpload => change(OCI, "upload", "upload_chunk", PUSH);
    CompleteUpload => change(OCI, "push", "push_blob", PUSH);
    GetUploadStatus => read(OCI, "upload", "upload_status", PUSH);
    CancelUpload => change(OCI, "upload", "cancel_upload", PUSH);
    ListReferrers => read(OCI, "list", "list_referrers", PULL);
    /// `GET /v2/_trust/changefeed`: the trust changefeed of every repository (the handler requires a global admin).
    ReadChangefeed => read(OCI, "list", "read_changefeed", AUTHENTICATED);
    /// `GET /v2/<name>/_trust/changefeed`: one repository's changefeed (pull on it).
    ReadRepoChangefeed => read(OCI, "list", "read_changefeed", PULL);
    /// `GET`/`POST /auth/token`: the token service (where `docker login` proves a password). It answers anyone;
    /// what it grants is decided per scope.
    IssueToken => read(OCI, "token_issue", "token_issue", Requirement::None);
    /// Liveness probe.
    Health => probe();
    /// Prometheus scrape.
    Metrics => probe();
    /// Readiness probe.
    Ready => probe();
    /// Public reads of the audit log's tree: `/audit/checkpoint`, `/audit/key`, hash tiles. They reveal no event,
    /// and verifiers fetch them by the thousand, so they are not audited.
    ReadTree => probe();
    /// A read of the admin API (`GET /api/v1/...`); the API decides per endpoint (namespace admin, repository
    /// admin, global admin).
    AdminRead => read(VIGIL, "admin_read", "admin_read", AUTHENTICATED);
    /// A change through the admin API or the identity CLI (users, organizations, teams, robots, tokens, grants,
    /// repositories).
    AdminChange => change(VIGIL, "admin", "admin_change", AUTHENTICATED);
    /// Reads of audit data: entry bundles, proofs, single events and receipts (decided per endpoint).
    ReadAuditLog => read(VIGIL, "audit_read", "audit_read", AUTHENTICATED);
    /// Asking for an export of usage logs (Quay's `POST …/exportlogs`); the job that writes it records
    /// `export_logs_success` or `export_logs_failure` under the same operation.
    ExportAuditLog => read(VIGIL, "audit_export", "export_logs", AUTHENTICATED);
    /// Garbage collection removing one blob nothing references, whichever format stored it (background or
    /// `vigil gc`). Background work runs as the system; no request ever carries it.
    CollectBlob => change(VIGIL, "delete", "gc_blob", AUTHENTICATED);
    /// Configuration loaded at start (and changes to the audit configuration).
    LoadConfig => read(VIGIL, "config", "config_loaded", AUTHENTICATED);
    /// `vigil audit reindex`: the query index rebuilt from the journal, after archived events were put back.
    RebuildAuditIndex => change(VIGIL, "audit_reindex", "audit_reindex", AUTHENTICATED);
    /// The server signing a checkpoint of the audit log (published to the journal and so to every sink).
    SignCheckpoint => read(VIGIL, "audit_checkpoint", "audit_checkpoint", AUTHENTICATED);
    /// The disk holding the data directory went below `storage.min_free_bytes` (`storage_low`) or back above it
    /// (`storage_recovered`).
    WatchStorage => read(VIGIL, "storage", "storage_low", AUTHENTICATED);
    /// A forwarding sink (syslog, webhook, NATS) fell behind the journal by more than its bound
    /// (`audit_sink_lagging`) or caught up again (`audit_sink_recovered`).
    WatchAuditSink => read(VIGIL, "audit_sink", "audit_sink_lagging", AUTHENTICATED);
    /// `POST /witness/add-checkpoint`: another log asking this server, as its witness, to cosign a checkpoint
    /// (C2SP tlog-witness; the checkpoint's signature is the credential). Also the log's own record of a witness
    /// refusing its checkpoint (`witness_refused`).
    WitnessCheckpoint => read(VIGIL, "witness", "witness_cosign", Requirement::None);
    /// Requests without credentials refused by the per-network rate limit: one summarising event per network and
    /// interval, with the count (the refused requests are not journaled one by one).
    RateLimit => read(VIGIL, "rate_limit", "rate_limited", AUTHENTICATED);
    /// Requests the HTTP layer refused before any handler saw them (a malformed request line or header: 400, a
    /// header section too large: 431, a URI too long: 414): one summarising event per network, status and
    /// interval, with the count, since no handler ever journals them.
    RefuseRequest => read(VIGIL, "http_refused", "http_refused", AUTHENTICATED);
    /// Retention removing expired events from the journal (after archiving them).
    PruneAudit => change(VIGIL, "audit_retention", "audit_retention", AUTHENTICATED);
    /// Anything no protocol could classify (answered 404/405 in the protocol's format; the request's path tells
    /// its protocol).
    Unknown => read(VIGIL, "unknown", "unknown_request", AUTHENTICATED);
}

/// The rules every description keeps, checked over vigil's own operations and `ops` (a format crate's, which
/// calls it from its tests): unique names, harmless probes, repository rights only where a protocol names one.
pub fn check_descriptions(ops: &[Operation]) -> Result<(), String> {
    let mut names: Vec<_> = Operation::ALL.iter().chain(ops).map(|o| o.name()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("two operations are named {}", w[0]));
    }
    for op in Operation::ALL.iter().chain(ops) {
        let d = op.describe();
        // A probe is never audited, so it must be harmless: no change, no credentials asked.
        if d.probe && (d.mutates || d.requirement != Requirement::None) {
            return Err(format!("{op}: a probe must not change state or ask for credentials"));
        }
        // A repository right is asked only by a protocol, which knows the repository.
        if matches!(d.requirement, Requirement::Repository(_)) && d.format.is_none() {
            return Err(format!("{op}: a repository requirement needs a format"));
        }
        // Only a change may need more than pull, except an upload's status (which only its pusher may see).
        if let Requirement::Repository(action) = d.requirement {
            if !d.mutates && action != Action::Pull && d.action != "upload" {
                return Err(format!("{op}: a read asks for {}", action.as_str()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_again() {
        check_descriptions(&[]).unwrap();
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name(), &[]), Some(*op));
        }
        assert_eq!(Operation::GetManifest.name(), "GetManifest");
        assert_eq!(format!("{:?}", Operation::PutManifest), "PutManifest");
        assert_eq!(Operation::from_name("Nope", &[]), None);
    }

    #[test]
    fn the_table_keeps_the_rules() {
        assert_eq!(Operation::MountBlob.requirement(), Requirement::Repository(Action::Push));
        assert_eq!(Operation::DeleteTag.requirement(), Requirement::Repository(Action::Delete));
        assert!(Operation::Health.is_probe() && !Operation::GetManifest.is_probe());
        const SEEN: Description = Description::read("X", None, "pull", "x", Requirement::Repository(Action::Pull));
        assert!(check_descriptions(&[Operation::new(&SEEN)]).unwrap_err().contains("needs a format"));
        assert!(check_descriptions(&[Operation::GetBlob]).unwrap_err().contains("two operations"));
    }

    #[test]
    fn constants_match_as_patterns() {
        let label = |op| match op {
            Operation::GetManifest | Operation::HeadManifest => "manifest",
            _ => "other",
        };
        assert_eq!(label(Operation::HeadManifest), "manifest");
        assert_eq!(label(Operation::GetBlob), "other");
    }
}
