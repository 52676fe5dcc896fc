//! OCSF 1.4: logins as Authentication (class 3002, Identity & Access Management), everything else as API
//! Activity (class 6003, Application Activity). Both carry `metadata.product`, the actor, the source endpoint,
//! the HTTP request and response, the resource acted on and the status; the event's seq is
//! `metadata.sequence` and its id `metadata.uid`.

use serde_json::{json, Map, Value};

use crate::view::EventView;

const OCSF_VERSION: &str = "1.4.0";

fn is_login(view: &EventView) -> bool {
    matches!(view.kind.as_ref(), "login_success" | "login_failure") || view.action == "logout"
}

/// (activity id, activity name) of an API Activity: what the request did to its resource.
fn api_activity(view: &EventView) -> (u32, &'static str) {
    match view.action.as_ref() {
        "push" | "upload" => (1, "Create"),
        "pull" | "list" | "ping" | "token_issue" | "admin_read" | "audit_read" | "ui_read" | "audit_export" => {
            (2, "Read")
        }
        "overwrite" | "admin" | "config" => (3, "Update"),
        "delete" | "audit_retention" => (4, "Delete"),
        _ => (99, "Other"),
    }
}

/// OCSF's status: 1 Success, 2 Failure (a denial is a failure), 0 Unknown.
fn status(view: &EventView) -> (u32, &'static str) {
    match view.outcome.as_ref() {
        "success" => (1, "Success"),
        "denied" | "failed" => (2, "Failure"),
        _ => (0, "Unknown"),
    }
}

fn user(view: &EventView) -> Value {
    let mut user = Map::new();
    if let Some(u) = &view.user {
        user.insert("name".into(), Value::String(u.name.to_string()));
        if let Some(id) = &u.id {
            user.insert("uid".into(), Value::String(id.to_string()));
        }
        let (type_id, type_name) = match u.kind.as_ref() {
            "user" => (1, "User"),
            "admin" => (2, "Admin"),
            "system" => (3, "System"),
            _ => (99, "Other"),
        };
        user.insert("type_id".into(), json!(type_id));
        user.insert("type".into(), Value::String(if u.kind == "robot" { "Robot".into() } else { type_name.into() }));
        if let Some(token) = &u.token_id {
            user.insert("credential_uid".into(), Value::String(token.to_string()));
        }
    }
    Value::Object(user)
}

pub fn event(view: &EventView) -> Value {
    let login = is_login(view);
    let (status_id, status_name) = status(view);
    let (class_uid, class_name, category_uid, category_name, activity_id, activity_name) = if login {
        let (id, name) = if view.action == "logout" { (2, "Logoff") } else { (1, "Logon") };
        (3002, "Authentication", 3, "Identity & Access Management", id, name)
    } else {
        let (id, name) = api_activity(view);
        (6003, "API Activity", 6, "Application Activity", id, name)
    };
    let mut e = json!({
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": format!("{class_name}: {activity_name}"),
        "severity_id": if status_id == 2 { 3 } else { 1 },
        "severity": if status_id == 2 { "Medium" } else { "Informational" },
        "time": super::time_ms(view),
        "status_id": status_id,
        "status": status_name,
        "message": format!("{} {}", view.kind, view.artifact).trim().to_owned(),
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "vigil", "vendor_name": "vigil", "version": super::VERSION },
            "uid": view.id,
            "sequence": view.seq,
            "event_code": view.operation,
            "log_name": "audit",
            "log_provider": view.node,
        },
        "actor": { "user": user(view) },
        "api": {
            "operation": view.operation,
            "service": { "name": view.registry },
        },
        "unmapped": { "nora_action": view.action, "kind": view.kind, "detail": view.detail, "actor": view.actor },
    });
    if let Some(reason) = &view.reason {
        e["status_detail"] = Value::String(reason.to_string());
    }
    if let Some(status) = view.status() {
        e["status_code"] = Value::String(status.to_string());
    }
    if let Some(r) = &view.request {
        e["api"]["request"] = json!({ "uid": r.id.as_deref().unwrap_or(&view.id) });
        let mut endpoint = Map::new();
        if let Some(ip) = &r.remote_addr {
            endpoint.insert("ip".into(), Value::String(ip.to_string()));
        }
        e["src_endpoint"] = Value::Object(endpoint);
        let mut url = json!({ "path": r.path, "url_string": r.path });
        if let Some(host) = &r.host {
            // OCSF's hostname is the name alone; a port goes beside it.
            let (name, port) = match host.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, p.parse::<u16>().ok()),
                _ => (host.as_ref(), None),
            };
            url["hostname"] = Value::String(name.trim_start_matches('[').trim_end_matches(']').to_owned());
            if let Some(port) = port {
                url["port"] = json!(port);
            }
        }
        e["http_request"] = json!({ "http_method": r.method, "url": url });
        if let Some(ua) = &r.user_agent {
            e["http_request"]["user_agent"] = Value::String(ua.to_string());
        }
        if let Some(id) = &r.id {
            e["http_request"]["uid"] = Value::String(id.to_string());
        }
    } else {
        // Background work (retention, checkpoints, garbage collection) has no client; OCSF still wants the fields.
        e["api"]["request"] = json!({ "uid": view.id });
        e["src_endpoint"] = json!({ "name": view.node });
    }
    if let Some(resp) = &view.response {
        let mut response = Map::new();
        if let Some(code) = resp.status {
            response.insert("code".into(), json!(code));
        }
        if let Some(bytes) = resp.bytes {
            response.insert("length".into(), json!(bytes));
        }
        e["http_response"] = Value::Object(response.clone());
        let mut api_response = Map::new();
        if let Some(code) = resp.status {
            api_response.insert("code".into(), json!(code));
        }
        if let Some(error) = &resp.error {
            api_response.insert("error".into(), Value::String(error.to_string()));
        }
        e["api"]["response"] = Value::Object(api_response);
    }
    let t = view.target_view();
    if !view.artifact.is_empty() || t.repository.is_some() {
        let mut resource = Map::new();
        resource.insert("name".into(), Value::String(view.artifact.to_string()));
        let kind = match (&t.tag, &t.digest, &t.path, &t.package) {
            (Some(_), _, _, _) => "tag",
            (_, _, Some(_), _) => "file",
            (_, _, _, Some(_)) => "package",
            (_, Some(_), _, _) => "digest",
            _ if t.repository.is_some() => "repository",
            _ => "artifact",
        };
        resource.insert("type".into(), Value::String(kind.into()));
        if let Some(d) = &t.digest {
            resource.insert("uid".into(), Value::String(d.to_string()));
        }
        if let Some(ns) = &t.namespace {
            resource.insert("namespace".into(), Value::String(ns.to_string()));
        }
        if let Some(v) = &t.version {
            resource.insert("version".into(), Value::String(v.to_string()));
        }
        e["resources"] = Value::Array(vec![Value::Object(resource)]);
    }
    if login {
        e["user"] = user(view);
        // The service logged into (OCSF wants it or the destination endpoint): the registry protocol.
        e["service"] = json!({ "name": format!("vigil {}", view.registry), "uid": view.node });
        // Authentication has no `api` or `resources` (OCSF 1.4).
        if let Some(o) = e.as_object_mut() {
            o.remove("api");
            o.remove("resources");
        }
    }
    e
}
