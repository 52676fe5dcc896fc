//! The Elastic Common Schema: `@timestamp`, `event.*` (kind, category, type, action, outcome, id, sequence),
//! `user.*`, `source.ip`, `url.*`, `http.*`, `user_agent.original`, and what ECS has no field for under `vigil.*`.

use serde_json::{json, Map, Value};

use crate::view::EventView;

/// ECS's categorisation of an event: its category and type lists.
fn categorize(view: &EventView) -> (&'static [&'static str], &'static str) {
    let kind: &str = &view.kind;
    match view.action.as_ref() {
        "login" | "logout" => (&["authentication"], if kind == "logout" { "end" } else { "start" }),
        "admin" => (&["iam", "configuration"], "change"),
        "push" | "upload" => (&["web", "file"], "creation"),
        "overwrite" => (&["web", "file"], "change"),
        "delete" => (&["web", "file"], "deletion"),
        "pull" | "list" | "ping" => (&["web"], "access"),
        "config" | "audit_checkpoint" | "storage" | "audit_retention" | "audit_reindex" => (&["configuration"], "info"),
        _ => (&["web"], "info"),
    }
}

pub fn event(view: &EventView) -> Value {
    let (category, kind_type) = categorize(view);
    let outcome = match view.outcome.as_ref() {
        "success" => "success",
        "denied" | "failed" => "failure",
        _ => "unknown",
    };
    let mut doc = json!({
        "@timestamp": view.ts,
        "ecs": { "version": "8.11.0" },
        "event": {
            "kind": "event",
            "category": category,
            "type": [kind_type],
            "action": view.kind,
            "outcome": outcome,
            "id": view.id,
            "sequence": view.seq,
            "dataset": "vigil.audit",
            "provider": "vigil",
            "module": "vigil",
        },
        "observer": { "product": "vigil", "vendor": "vigil", "type": "registry", "version": super::VERSION,
                      "name": view.node },
        "vigil": {
            "operation": view.operation,
            "nora_action": view.action,
            "registry": view.registry,
            "artifact": view.artifact,
            "detail": view.detail,
            "actor": view.actor,
        },
    });
    if let Some(reason) = &view.reason {
        doc["event"]["reason"] = Value::String(reason.to_string());
    }
    if let Some(u) = &view.user {
        let mut user = Map::new();
        user.insert("name".into(), Value::String(u.name.to_string()));
        if let Some(id) = &u.id {
            user.insert("id".into(), Value::String(id.to_string()));
        }
        doc["user"] = Value::Object(user);
        doc["vigil"]["credential"] = Value::String(u.credential.to_string());
    }
    if let Some(r) = &view.request {
        if let Some(ip) = &r.remote_addr {
            doc["source"] = json!({ "ip": ip, "address": ip });
        }
        let mut url = json!({ "path": r.path, "original": r.path });
        if let Some(host) = &r.host {
            url["domain"] = Value::String(host.to_string());
        }
        doc["url"] = url;
        doc["http"] = json!({ "request": { "method": r.method } });
        if let Some(id) = &r.id {
            doc["http"]["request"]["id"] = Value::String(id.to_string());
        }
        if let Some(ua) = &r.user_agent {
            doc["user_agent"] = json!({ "original": ua });
        }
    }
    if let Some(resp) = &view.response {
        let mut response = Map::new();
        if let Some(status) = resp.status {
            response.insert("status_code".into(), json!(status));
        }
        if let Some(bytes) = resp.bytes {
            response.insert("body".into(), json!({ "bytes": bytes }));
        }
        doc["http"]["response"] = Value::Object(response);
    }
    let t = view.target_view();
    let mut target = Map::new();
    for (k, v) in [
        ("format", &t.format),
        ("namespace", &t.namespace),
        ("repository", &t.repository),
        ("package", &t.package),
        ("version", &t.version),
        ("path", &t.path),
        ("tag", &t.tag),
        ("digest", &t.digest),
        ("media_type", &t.media_type),
    ] {
        if let Some(v) = v {
            target.insert(k.into(), Value::String(v.to_string()));
        }
    }
    if !target.is_empty() {
        doc["vigil"]["target"] = Value::Object(target);
    }
    doc
}
