//! The OpenAPI document of every `/api/v1` and `/audit` endpoint, served at `/api/v1/openapi.json`, derived with
//! utoipa: request bodies are the handlers' own `Deserialize` types; responses are described by the types below,
//! which spell out the JSON the handlers build. `scripts/test` runs schemathesis against the running binary with
//! this document, so a handler that answers something the document does not say fails the suite.
//!
//! The functions here carry one path each and are never called: several endpoints share one handler behind a
//! wildcard route (a repository name holds `/`), and the document lists them one by one.

#![allow(dead_code, clippy::unused_async)]

use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::admin_api::{NewOrg, NewToken, NewUser, RoleBody, Visibility};
use crate::log_export::ExportRequest;
use crate::repo_api::NewRepo;

#[derive(OpenApi)]
#[openapi(
    info(title = "vigil API", description = "vigil's admin API (Quay's shapes where they overlap), the audit query \
        API, Quay's usage logs and exports, and the verifiable log's checkpoints, tiles and proofs."),
    paths(
        openapi_json, me, list_tokens, create_token, revoke_token, create_user_robot, create_user, delete_user,
        create_org, set_member, remove_member, create_team, add_team_member, remove_team_member, create_org_robot,
        list_repositories, create_repository, delete_repository, grant_user, revoke_user, grant_team, revoke_team,
        change_visibility, user_logs, user_aggregate, org_logs, org_aggregate, repo_logs, repo_aggregate,
        user_export, org_export, repo_export, download_export, audit_events, audit_aggregate, audit_stream,
        checkpoint, cosigned_checkpoint, log_key, tile, inclusion_proof, consistency_proof, audit_event, receipt,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security, &Errors),
    security(("basic" = []), ("token" = [])),
)]
struct Document;

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Document::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("an API token (vgt_…), or a UI session's"))
                    .build(),
            ),
        );
    }
}

/// Every operation may answer the errors every endpoint shares, in Quay's error format; each operation lists the
/// successes and the errors of its own.
struct Errors;

const SHARED_ERRORS: &[(&str, &str)] = &[
    ("400", "the request is malformed: the message says which part"),
    ("401", "no credentials, or wrong ones"),
    ("403", "the caller may not do this"),
    ("429", "too many failed logins from this network, or too many requests without credentials"),
    ("503", "the audit journal cannot be written (enforced audit), or the disk is below its watermark"),
];

impl Modify for Errors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let body = || {
            ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))).build()
        };
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete];
            for op in ops.into_iter().flatten() {
                for (status, why) in SHARED_ERRORS {
                    op.responses.responses.entry((*status).to_owned()).or_insert_with(|| {
                        RefOr::T(ResponseBuilder::new().description(*why).content("application/json", body()).build())
                    });
                }
            }
        }
    }
}

/// Quay's error format, which every error of these APIs has.
#[derive(ToSchema)]
struct ErrorBody {
    status: u16,
    error_message: String,
    error_type: String,
    detail: String,
}

// ---- the values a request field takes ----

/// A role: vigil's `read`, `write`, `admin`, or Quay's `member` (read) and `creator` (write).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum RoleName {
    Read,
    Write,
    Admin,
    Member,
    Creator,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum VisibilityName {
    Public,
    Private,
}

/// A repository's format: the names `vigil_core::Format` has.
pub(crate) struct FormatName;

impl utoipa::PartialSchema for FormatName {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        use strum::VariantArray;
        let names = vigil_core::Format::VARIANTS.iter().map(|f| f.as_str());
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for FormatName {}

/// Quay's repository kind; only images (OCI) are Quay's own.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum RepoKind {
    Image,
}

/// An API token's scope: a repository, `ns/*` or `*`, then the actions it allows.
pub(crate) struct TokenScope;

impl utoipa::PartialSchema for TokenScope {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        let component = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*";
        let actions = "(pull|push|delete)(,(pull|push|delete)){0,2}";
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(format!(r"^(\*|{component}(/{component}){{0,3}}(/\*)?):{actions}$")))
            .max_length(Some(200))
            .into()
    }
}

impl ToSchema for TokenScope {}

// ---- responses ----

#[derive(ToSchema)]
struct Me {
    username: String,
    id: Option<String>,
    /// `user` or `robot`.
    kind: String,
    is_admin: bool,
    /// `password`, `api_token` or `session`.
    credential: String,
    token_id: Option<String>,
}

#[derive(ToSchema)]
struct TokenInfo {
    id: String,
    name: String,
    scopes: Vec<String>,
    /// Milliseconds since the epoch.
    created: i64,
    expires: Option<i64>,
    revoked: Option<i64>,
    last_used: Option<i64>,
}

#[derive(ToSchema)]
struct TokenList {
    tokens: Vec<TokenInfo>,
}

#[derive(ToSchema)]
struct IssuedToken {
    id: String,
    /// Shown once; never stored.
    token: String,
    expires: Option<i64>,
}

#[derive(ToSchema)]
struct Robot {
    /// `<namespace>+<name>`.
    name: String,
    token: String,
    token_id: String,
}

#[derive(ToSchema)]
struct CreatedUser {
    username: String,
    id: String,
    email: Option<String>,
}

#[derive(ToSchema)]
struct NameRole {
    name: String,
    /// `read`, `write` or `admin`.
    role: String,
}

#[derive(ToSchema)]
struct Repository {
    namespace: String,
    name: String,
    /// The format: `oci`, `npm`, `pypi`, `maven`, `cargo` or `raw`.
    kind: String,
    allow_overwrite: bool,
    /// RFC 3339.
    created: String,
}

#[derive(ToSchema)]
struct RepositoryList {
    repositories: Vec<Repository>,
}

#[derive(ToSchema)]
struct CreatedRepository {
    namespace: String,
    name: String,
    kind: String,
}

#[derive(ToSchema)]
struct Success {
    success: bool,
}

#[derive(ToSchema)]
struct QuayPerformer {
    kind: String,
    name: Option<String>,
    is_robot: bool,
}

#[derive(ToSchema)]
struct QuayLog {
    kind: String,
    ip: Option<String>,
    /// RFC 2822.
    datetime: String,
    /// Quay's keys for what vigil records, plus `seq`, `outcome`, `request_id`, `status`, `detail`.
    #[schema(value_type = Object)]
    metadata: Value,
    performer: Option<QuayPerformer>,
}

#[derive(ToSchema)]
struct QuayLogs {
    start_time: String,
    end_time: String,
    logs: Vec<QuayLog>,
    /// Present when there are more: pass it back as `next_page`.
    next_page: Option<String>,
}

#[derive(ToSchema)]
struct QuayAggregate {
    kind: String,
    count: u64,
    datetime: String,
}

#[derive(ToSchema)]
struct QuayAggregated {
    aggregated: Vec<QuayAggregate>,
}

#[derive(ToSchema)]
struct ExportStarted {
    export_id: String,
}

#[derive(ToSchema)]
struct Events {
    /// Journal records (schema 2, `docs/audit-event.md`).
    #[schema(value_type = Vec<Object>)]
    events: Vec<Value>,
    next_cursor: Option<String>,
}

#[derive(ToSchema)]
struct Group {
    bucket: Option<String>,
    key: Option<String>,
    count: u64,
}

#[derive(ToSchema)]
struct Groups {
    groups: Vec<Group>,
}

#[derive(ToSchema)]
struct InclusionProof {
    seq: u64,
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: String,
    proof: Vec<String>,
    /// The signed checkpoint the proof is against, when `size` is the latest checkpoint's.
    checkpoint: Option<String>,
}

#[derive(ToSchema)]
struct ConsistencyProof {
    from: u64,
    to: u64,
    proof: Vec<String>,
    /// The signed checkpoint of size `to`, when it is the latest.
    checkpoint: Option<String>,
}

// ---- parameters: the grammar the handlers check, so generated requests are valid or clearly not ----

// Names are the OCI name component grammar, at most 64 characters; an account is a user's name or a robot's
// `<namespace>+<name>`.

/// A repository: its namespace (an account's name) and its name in it (Quay's `namespace/name`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct RepoPath {
    #[param(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 64)]
    namespace: String,
    #[param(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 190)]
    repository: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct OrgPath {
    #[param(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 64)]
    org: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct MemberPath {
    #[param(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\+[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)?$", max_length = 129)]
    member: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct TeamPath {
    #[param(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 64)]
    team: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct NamePath {
    #[param(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$", max_length = 64)]
    name: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
struct AccountPath {
    #[param(pattern = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\+[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)?$", max_length = 129)]
    name: String,
}

// ---- paths ----

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "This document", body = Object)))]
fn openapi_json() {}

#[utoipa::path(get, path = "/api/v1/user/", tag = "identity", responses((status = 200, description = "The caller", body = Me)))]
fn me() {}

#[utoipa::path(get, path = "/api/v1/user/tokens", tag = "identity",
    responses((status = 200, description = "The caller's API tokens", body = TokenList)))]
fn list_tokens() {}

#[utoipa::path(post, path = "/api/v1/user/tokens", tag = "identity", request_body = NewToken,
    responses((status = 201, description = "The token, shown once", body = IssuedToken)))]
fn create_token() {}

#[utoipa::path(delete, path = "/api/v1/user/tokens/{id}", tag = "identity", params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such token", body = ErrorBody)))]
fn revoke_token() {}

#[utoipa::path(put, path = "/api/v1/user/robots/{name}", tag = "identity",
    params(NamePath),
    responses((status = 200, description = "Robot `<user>+<name>` and its token", body = Robot),
        (status = 409, description = "The robot exists", body = ErrorBody)))]
fn create_user_robot() {}

#[utoipa::path(post, path = "/api/v1/superuser/users/", tag = "identity", request_body = NewUser,
    responses((status = 201, description = "Created (global admins)", body = CreatedUser),
        (status = 409, description = "The name is taken, or its namespace holds content", body = ErrorBody)))]
fn create_user() {}

#[utoipa::path(delete, path = "/api/v1/superuser/users/{name}", tag = "identity", params(AccountPath),
    responses((status = 204, description = "Deleted (global admins)"), (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The account is the caller's own", body = ErrorBody)))]
fn delete_user() {}

#[utoipa::path(post, path = "/api/v1/organization/", tag = "organizations", request_body = NewOrg,
    responses((status = 201, description = "Created; the caller is its admin", body = String, content_type = "application/json", example = json!("Created")),
        (status = 409, description = "The name is taken, or its namespace holds content", body = ErrorBody)))]
fn create_org() {}

#[utoipa::path(put, path = "/api/v1/organization/{org}/members/{member}", tag = "organizations",
    params(OrgPath, MemberPath), request_body = RoleBody,
    responses((status = 200, description = "The member's role", body = NameRole), (status = 404, description = "No such organization or account", body = ErrorBody)))]
fn set_member() {}

#[utoipa::path(delete, path = "/api/v1/organization/{org}/members/{member}", tag = "organizations",
    params(OrgPath, MemberPath),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such organization or member", body = ErrorBody)))]
fn remove_member() {}

#[utoipa::path(put, path = "/api/v1/organization/{org}/team/{team}", tag = "organizations",
    params(OrgPath, TeamPath), request_body = RoleBody,
    responses((status = 200, description = "The team", body = NameRole), (status = 404, description = "No such organization", body = ErrorBody),
        (status = 409, description = "The team exists", body = ErrorBody)))]
fn create_team() {}

#[utoipa::path(put, path = "/api/v1/organization/{org}/team/{team}/members/{member}", tag = "organizations",
    params(OrgPath, TeamPath, MemberPath),
    responses((status = 200, description = "Added"), (status = 404, description = "No such team or account", body = ErrorBody)))]
fn add_team_member() {}

#[utoipa::path(delete, path = "/api/v1/organization/{org}/team/{team}/members/{member}", tag = "organizations",
    params(OrgPath, TeamPath, MemberPath),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such team or member", body = ErrorBody)))]
fn remove_team_member() {}

#[utoipa::path(put, path = "/api/v1/organization/{org}/robots/{name}", tag = "organizations",
    params(OrgPath, NamePath),
    responses((status = 200, description = "Robot `<org>+<name>` and its token", body = Robot),
        (status = 404, description = "No such organization", body = ErrorBody), (status = 409, description = "The robot exists", body = ErrorBody)))]
fn create_org_robot() {}

#[utoipa::path(get, path = "/api/v1/repository", tag = "repositories",
    params(("namespace" = Option<String>, Query), ("format" = Option<String>, Query, pattern = "^(oci|npm|pypi|maven|cargo|raw)?$")),
    responses((status = 200, description = "Repositories the caller may pull from", body = RepositoryList)))]
fn list_repositories() {}

#[utoipa::path(post, path = "/api/v1/repository", tag = "repositories", request_body = NewRepo,
    responses((status = 201, description = "Created (namespace admins)", body = CreatedRepository),
        (status = 409, description = "The repository exists", body = ErrorBody)))]
fn create_repository() {}

#[utoipa::path(delete, path = "/api/v1/repository/{namespace}/{repository}", tag = "repositories",
    params(RepoPath),
    responses((status = 204, description = "Deleted with its content (repository admins)"), (status = 404, description = "No such repository", body = ErrorBody)))]
fn delete_repository() {}

#[utoipa::path(put, path = "/api/v1/repository/{namespace}/{repository}/permissions/user/{name}", tag = "repositories",
    params(RepoPath, AccountPath), request_body = RoleBody,
    responses((status = 200, description = "The grant", body = NameRole), (status = 404, description = "No such repository or account", body = ErrorBody)))]
fn grant_user() {}

#[utoipa::path(delete, path = "/api/v1/repository/{namespace}/{repository}/permissions/user/{name}", tag = "repositories",
    params(RepoPath, AccountPath),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such repository or grant", body = ErrorBody)))]
fn revoke_user() {}

#[utoipa::path(put, path = "/api/v1/repository/{namespace}/{repository}/permissions/team/{team}", tag = "repositories",
    params(RepoPath, TeamPath), request_body = RoleBody,
    responses((status = 200, description = "The grant", body = NameRole), (status = 404, description = "No such repository or team", body = ErrorBody)))]
fn grant_team() {}

#[utoipa::path(delete, path = "/api/v1/repository/{namespace}/{repository}/permissions/team/{team}", tag = "repositories",
    params(RepoPath, TeamPath),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such repository or grant", body = ErrorBody)))]
fn revoke_team() {}

#[utoipa::path(post, path = "/api/v1/repository/{namespace}/{repository}/changevisibility", tag = "repositories",
    params(RepoPath), request_body = Visibility,
    responses((status = 200, description = "Changed", body = Success), (status = 404, description = "No such repository", body = ErrorBody)))]
fn change_visibility() {}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogsParams {
    /// `MM/DD/YYYY` (UTC) or RFC 3339; default a month before `endtime`.
    starttime: Option<String>,
    /// `MM/DD/YYYY` (UTC, the whole day) or RFC 3339; default now.
    endtime: Option<String>,
    /// Only events of this account.
    performer: Option<String>,
    /// One log kind, or several separated by commas.
    kind: Option<String>,
    /// The `next_page` of the previous page.
    next_page: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/user/logs", tag = "usage logs", params(LogsParams),
    responses((status = 200, description = "The caller's own usage logs, newest first", body = QuayLogs)))]
fn user_logs() {}

#[utoipa::path(get, path = "/api/v1/user/aggregatelogs", tag = "usage logs", params(LogsParams),
    responses((status = 200, description = "Counts per kind per day", body = QuayAggregated)))]
fn user_aggregate() {}

#[utoipa::path(get, path = "/api/v1/organization/{org}/logs", tag = "usage logs", params(OrgPath, LogsParams),
    responses((status = 200, description = "An organization's usage logs (its admins)", body = QuayLogs), (status = 404, description = "No such organization", body = ErrorBody)))]
fn org_logs() {}

#[utoipa::path(get, path = "/api/v1/organization/{org}/aggregatelogs", tag = "usage logs", params(OrgPath, LogsParams),
    responses((status = 200, description = "Counts per kind per day", body = QuayAggregated), (status = 404, description = "No such organization", body = ErrorBody)))]
fn org_aggregate() {}

#[utoipa::path(get, path = "/api/v1/repository/{namespace}/{repository}/logs", tag = "usage logs",
    params(RepoPath, LogsParams),
    responses((status = 200, description = "A repository's usage logs (its admins)", body = QuayLogs), (status = 404, description = "No such repository", body = ErrorBody)))]
fn repo_logs() {}

#[utoipa::path(get, path = "/api/v1/repository/{namespace}/{repository}/aggregatelogs", tag = "usage logs",
    params(RepoPath, LogsParams),
    responses((status = 200, description = "Counts per kind per day", body = QuayAggregated), (status = 404, description = "No such repository", body = ErrorBody)))]
fn repo_aggregate() {}

#[utoipa::path(post, path = "/api/v1/user/exportlogs", tag = "usage logs", params(LogsParams), request_body = ExportRequest,
    responses((status = 200, description = "The export started; its file is announced to the callback", body = ExportStarted)))]
fn user_export() {}

#[utoipa::path(post, path = "/api/v1/organization/{org}/exportlogs", tag = "usage logs", params(OrgPath, LogsParams),
    request_body = ExportRequest,
    responses((status = 200, description = "The export started", body = ExportStarted), (status = 404, description = "No such organization", body = ErrorBody)))]
fn org_export() {}

#[utoipa::path(post, path = "/api/v1/repository/{namespace}/{repository}/exportlogs", tag = "usage logs",
    params(RepoPath, LogsParams), request_body = ExportRequest,
    responses((status = 200, description = "The export started", body = ExportStarted), (status = 404, description = "No such repository", body = ErrorBody)))]
fn repo_export() {}

#[utoipa::path(get, path = "/api/v1/audit/exports/{file}", tag = "usage logs", params(("file" = String, Path)),
    responses((status = 200, description = "A finished export (JSON), for whoever asked for it", content_type = "application/json", body = Object),
        (status = 404, description = "No such export", body = ErrorBody)))]
fn download_export() {}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventParams {
    /// RFC 3339.
    from: Option<String>,
    /// RFC 3339, not before `from`.
    to: Option<String>,
    repository: Option<String>,
    namespace: Option<String>,
    user: Option<String>,
    /// Names separated by commas (letters, digits, `_`).
    action: Option<String>,
    kind: Option<String>,
    operation: Option<String>,
    outcome: Option<String>,
    #[param(minimum = 100, maximum = 599)]
    status: Option<u16>,
    remote_addr: Option<String>,
    request_id: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(pattern = "^(asc|desc)?$")]
    order: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(EventParams, PageParams),
    responses((status = 200, description = "Matching events; NDJSON or CSV of all of them when asked by `Accept`",
        content((Events = "application/json"), (String = "application/x-ndjson"), (String = "text/csv")))))]
fn audit_events() {}

#[utoipa::path(get, path = "/api/v1/audit/aggregate", tag = "audit",
    params(EventParams, ("group_by" = Option<String>, Query, description = "at most one of `day`, `hour` and one of `kind`, `action`, `user`, `repository`, `outcome`, separated by a comma; default `day,kind`")),
    responses((status = 200, description = "Counts per group", body = Groups)))]
fn audit_aggregate() {}

#[utoipa::path(get, path = "/api/v1/audit/stream", tag = "audit", params(EventParams),
    responses((status = 200, description = "Server-sent events, live, one journal record each; resumes after `Last-Event-ID`", content_type = "text/event-stream", body = Object)))]
fn audit_stream() {}

#[utoipa::path(get, path = "/audit/checkpoint", tag = "verifiable log", security(()),
    responses((status = 200, description = "The latest signed checkpoint (C2SP signed note)", content_type = "text/plain", body = String)))]
fn checkpoint() {}

#[utoipa::path(get, path = "/audit/checkpoint/cosigned", tag = "verifiable log", security(()),
    responses((status = 200, description = "The latest checkpoint with its witnesses' cosignatures", content_type = "text/plain", body = String),
        (status = 404, description = "No checkpoint is cosigned yet", body = ErrorBody)))]
fn cosigned_checkpoint() {}

#[utoipa::path(get, path = "/audit/key", tag = "verifiable log", security(()),
    responses((status = 200, description = "The log's verifier key", content_type = "text/plain", body = String)))]
fn log_key() {}

#[utoipa::path(get, path = "/audit/tile/{path}", tag = "verifiable log", params(("path" = String, Path, description = "C2SP tlog-tiles: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`")),
    responses((status = 200, description = "A tile, or a bundle of entries (entries need credentials)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such tile", body = ErrorBody)))]
fn tile() {}

#[utoipa::path(get, path = "/api/v1/audit/proof/inclusion", tag = "verifiable log",
    params(("seq" = u64, Query, minimum = 1), ("size" = Option<u64>, Query, description = "the tree size; default the latest checkpoint's")),
    responses((status = 200, description = "The event's inclusion proof", body = InclusionProof), (status = 404, description = "Not in that tree, or `size` beyond the tree", body = ErrorBody)))]
fn inclusion_proof() {}

#[utoipa::path(get, path = "/api/v1/audit/proof/consistency", tag = "verifiable log",
    params(("from" = u64, Query), ("to" = Option<u64>, Query, description = "default the latest checkpoint's size")),
    responses((status = 200, description = "A consistency proof between two tree sizes", body = ConsistencyProof),
        (status = 404, description = "`to` is beyond the tree", body = ErrorBody)))]
fn consistency_proof() {}

#[utoipa::path(get, path = "/api/v1/audit/events/{seq}", tag = "verifiable log", params(("seq" = u64, Path, minimum = 1)),
    responses((status = 200, description = "One event, exactly as journaled", body = Object), (status = 404, description = "No such event, or not the caller's", body = ErrorBody)))]
fn audit_event() {}

#[utoipa::path(get, path = "/api/v1/audit/receipt/{seq}", tag = "verifiable log", params(("seq" = u64, Path, minimum = 1)),
    responses((status = 200, description = "A C2SP tlog-proof receipt: the event, its inclusion proof and the checkpoint", content_type = "text/plain", body = String),
        (status = 404, description = "No such event, or not yet in a checkpoint", body = ErrorBody)))]
fn receipt() {}

#[cfg(test)]
mod tests {
    #[test]
    fn every_path_has_its_errors_and_the_document_is_valid_json() {
        let doc = serde_json::to_value(super::document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v1/audit/events") && paths.contains_key("/audit/checkpoint"));
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                assert!(op["responses"].get("401").is_some(), "{method} {path} lists no 401");
            }
        }
    }
}
