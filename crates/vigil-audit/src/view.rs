//! Reading an event back from its bytes: the one typed reader every consumer uses (sink filters, the NORA format,
//! the query index, Quay's logs and exports, CSV and table lines, owner checks, verification). Strings are
//! borrowed from the bytes where JSON allows (no escapes), so reading a page of events allocates little. Every
//! field is optional or defaulted, so events of every schema version read (schema 1 had no user or request).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

type Text<'a> = Cow<'a, str>;

#[derive(Debug, Default, Deserialize)]
pub struct EventView<'a> {
    #[serde(borrow, default)]
    pub ts: Text<'a>,
    #[serde(borrow, default)]
    pub action: Text<'a>,
    #[serde(borrow, default)]
    pub actor: Text<'a>,
    #[serde(borrow, default)]
    pub artifact: Text<'a>,
    #[serde(borrow, default)]
    pub registry: Text<'a>,
    #[serde(borrow, default)]
    pub detail: Text<'a>,
    #[serde(default)]
    pub seq: u64,
    #[serde(borrow, default)]
    pub id: Text<'a>,
    #[serde(default)]
    pub schema: u32,
    #[serde(borrow, default)]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub operation: Text<'a>,
    #[serde(borrow, default)]
    pub stage: Text<'a>,
    #[serde(borrow, default)]
    pub outcome: Text<'a>,
    #[serde(borrow, default)]
    pub reason: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub user: Option<UserView<'a>>,
    #[serde(borrow, default)]
    pub request: Option<RequestView<'a>>,
    #[serde(default)]
    pub response: Option<ResponseView<'a>>,
    #[serde(borrow, default)]
    pub target: Option<TargetView<'a>>,
    #[serde(borrow, default)]
    pub node: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UserView<'a> {
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub credential: Text<'a>,
    #[serde(borrow, default)]
    pub token_id: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RequestView<'a> {
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub method: Text<'a>,
    #[serde(borrow, default)]
    pub path: Text<'a>,
    #[serde(borrow, default)]
    pub host: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub remote_addr: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub user_agent: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResponseView<'a> {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub bytes: Option<u64>,
    #[serde(borrow, default)]
    pub error: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TargetView<'a> {
    #[serde(borrow, default)]
    pub format: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub namespace: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub repository: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub package: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub version: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub path: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub tag: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub digest: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub media_type: Option<Text<'a>>,
    #[serde(default)]
    pub size: Option<u64>,
}

const NO_TARGET: TargetView<'static> = TargetView {
    format: None,
    namespace: None,
    repository: None,
    package: None,
    version: None,
    path: None,
    tag: None,
    digest: None,
    media_type: None,
    size: None,
};

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

impl<'a> EventView<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<EventView<'a>, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("journal entry is not an event: {e}"))
    }

    /// The event, or an empty view of it when the bytes are not an event (they never should be): readers that
    /// must not stop at one bad entry (listings, the index) see its seq and time from the journal instead.
    pub fn parse_lenient(bytes: &'a [u8]) -> EventView<'a> {
        EventView::parse(bytes).unwrap_or_default()
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

    /// Who acted: the user's name, unless the request was anonymous (a failed login's claimed name is no
    /// performer).
    pub fn performer(&self) -> Option<&str> {
        self.user.as_ref().filter(|u| u.kind != "anonymous" && !u.name.is_empty()).map(|u| u.name.as_ref())
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().and_then(|u| u.id.as_deref())
    }

    pub fn user_name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.name.as_ref())
    }

    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().and_then(|r| r.status)
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.id.as_deref())
    }

    pub fn remote_addr(&self) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.remote_addr.as_deref())
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.user_agent.as_deref())
    }

    /// The target, empty when the event has none.
    pub fn target_view(&self) -> &TargetView<'a> {
        self.target.as_ref().unwrap_or(&NO_TARGET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_reads() {
        let v2 = br#"{"ts":"2026-01-01T00:00:00.000Z","action":"pull","actor":"api","artifact":"a/b:v1","registry":"docker","detail":"","seq":3,"id":"x","schema":2,"kind":"pull_repo","operation":"GetManifest","stage":"complete","outcome":"success","reason":null,"user":{"id":"u1","name":"alice","kind":"user","credential":"password","token_id":null},"request":{"id":"r","method":"GET","path":"/v2/a/b/manifests/v1","host":null,"remote_addr":"10.0.0.1","user_agent":"ua"},"response":{"status":200,"bytes":5,"error":null},"target":{"namespace":"a","repository":"a/b","tag":"v1","digest":null,"media_type":null,"size":null},"node":"n"}"#;
        let e = EventView::parse(v2).unwrap();
        assert_eq!((e.seq, e.schema, e.performer(), e.status()), (3, 2, Some("alice"), Some(200)));
        assert_eq!((e.remote_addr(), e.user_id()), (Some("10.0.0.1"), Some("u1")));
        assert_eq!(e.target_view().repository.as_deref(), Some("a/b"));
        assert_eq!(e.target_view().path, None, "schema 2 has no path");
        let v1 = br#"{"ts":"t","action":"push","actor":"api","artifact":"a","registry":"docker","detail":"d","seq":1,"schema":1,"operation":"PutManifest","target":{"repository":"a/b"}}"#;
        let e = EventView::parse(v1).unwrap();
        assert_eq!((e.performer(), e.status(), e.kind.as_ref()), (None, None, ""));
        assert_eq!(EventView::parse_lenient(b"not json").seq, 0);
        let anon = br#"{"seq":9,"user":{"name":"mallory","kind":"anonymous"}}"#;
        let e = EventView::parse(anon).unwrap();
        assert_eq!((e.performer(), e.user_name()), (None, Some("mallory")));
    }
}
