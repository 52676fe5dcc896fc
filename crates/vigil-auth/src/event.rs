//! Journal record of an identity change (user, organization, team, robot, token, permission, visibility). Same
//! top-level shape as registry changes, with Quay's log-kind vocabulary in `kind`.

use serde_json::json;
use vigil_store::JournalEvent;

#[derive(Debug, Clone)]
pub struct IdentityEvent {
    /// Quay log kind: `user_create`, `user_delete`, `user_change_password`, `org_create`, `org_add_team_member`,
    /// `create_robot`, `create_app_specific_token`, `revoke_app_specific_token`, `add_repo_permission`, ...
    pub kind: &'static str,
    /// `api` (admin API), `cli` (a `vigil` command), `system` (first-start bootstrap).
    pub actor: &'static str,
    /// Who made the change (name and stable id), when known.
    pub performer: Option<(String, String)>,
    /// What was changed: a user, org, team, robot, token id or repository pattern.
    pub subject: String,
    pub detail: String,
}

impl JournalEvent for IdentityEvent {
    fn encode(&self, seq: u64, ts_ms: i64) -> Vec<u8> {
        let value = json!({
            "ts": vigil_core::time::rfc3339_ms(ts_ms),
            "action": self.kind,
            "actor": self.actor,
            "artifact": self.subject,
            "registry": "identity",
            "detail": self.detail,
            "seq": seq,
            "schema": 1,
            "kind": self.kind,
            "user": self.performer.as_ref().map(|(name, id)| json!({"name": name, "id": id})),
        });
        serde_json::to_vec(&value).expect("a JSON value always serializes")
    }
}
