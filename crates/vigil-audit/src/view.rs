//! Reading an event back from its bytes: what filters and the NORA format need, borrowed where possible.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct EventView<'a> {
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    #[serde(borrow)]
    pub actor: Cow<'a, str>,
    #[serde(borrow)]
    pub artifact: Cow<'a, str>,
    #[serde(borrow)]
    pub registry: Cow<'a, str>,
    #[serde(borrow)]
    pub detail: Cow<'a, str>,
    pub seq: u64,
    #[serde(borrow, default)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub operation: Cow<'a, str>,
    #[serde(borrow, default)]
    pub stage: Cow<'a, str>,
    #[serde(borrow, default)]
    pub outcome: Cow<'a, str>,
    #[serde(borrow, default)]
    pub user: Option<UserView<'a>>,
    #[serde(borrow, default)]
    pub request: Option<RequestView<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct UserView<'a> {
    #[serde(borrow, default)]
    pub name: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
pub struct RequestView<'a> {
    #[serde(borrow, default)]
    pub method: Cow<'a, str>,
    #[serde(borrow, default)]
    pub path: Cow<'a, str>,
}

/// NORA's line: exactly its six fields, in its order.
#[derive(Serialize)]
struct NoraLine<'a> {
    ts: &'a str,
    action: &'a str,
    actor: &'a str,
    artifact: &'a str,
    registry: &'a str,
    detail: &'a str,
}

impl EventView<'_> {
    pub fn parse(bytes: &[u8]) -> Result<EventView<'_>, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("journal entry is not an event: {e}"))
    }

    pub fn nora_line(&self) -> Vec<u8> {
        let line = NoraLine {
            ts: &self.ts,
            action: &self.action,
            actor: &self.actor,
            artifact: &self.artifact,
            registry: &self.registry,
            detail: &self.detail,
        };
        serde_json::to_vec(&line).expect("strings always serialize")
    }
}
