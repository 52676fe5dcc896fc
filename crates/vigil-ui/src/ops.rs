//! The UI's operations, declared here like a format crate's, so its requests have one name in the audit log and
//! in metrics. A page view is audited like any API read (who looked at which logs is audit data); the stylesheet
//! and scripts are not, like the other probes: they carry no user action.

use vigil_core::{Description, Operation, Requirement};

/// A page (`GET /ui/...`): the page decides what its viewer may see, through the services the APIs use.
pub const VIEW: Operation = Operation::new(&Description::read("UiView", None, "ui_read", "ui_view", Requirement::None));
/// `POST /ui/login`: a password proved and a session opened (an API token of one day, recorded as
/// `login_success`), or a failed login.
pub const LOGIN: Operation =
    Operation::new(&Description::change("UiLogin", None, "login", "login_failure", Requirement::None));
/// `POST /ui/logout`: the session's token revoked.
pub const LOGOUT: Operation =
    Operation::new(&Description::change("UiLogout", None, "logout", "logout", Requirement::None));
/// The UI's own stylesheet and scripts (`/ui/static/...`).
pub const ASSET: Operation = Operation::new(&Description {
    probe: true,
    ..Description::read("UiAsset", None, "probe", "probe", Requirement::None)
});

/// Every operation of the UI.
pub const OPERATIONS: &[Operation] = &[VIEW, LOGIN, LOGOUT, ASSET];

/// The operation of a request under `/ui` (and the root, which sends browsers here). Downloads and the live tail
/// read the audit log, and are named as the audit API's reads are.
pub fn classify(method: &axum::http::Method, path: &str) -> Operation {
    use axum::http::Method;
    match (method, path) {
        (_, p) if p.starts_with("/ui/static/") => ASSET,
        (&Method::POST, "/ui/login") => LOGIN,
        (&Method::POST, "/ui/logout") => LOGOUT,
        (_, "/ui/logs/export.ndjson" | "/ui/logs/export.csv" | "/ui/logs/stream") => Operation::ReadAuditLog,
        (&Method::POST, "/ui/logs/exportlogs") => Operation::ExportAuditLog,
        _ => VIEW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_the_rules() {
        vigil_core::operation::check_descriptions(OPERATIONS).unwrap();
    }
}
