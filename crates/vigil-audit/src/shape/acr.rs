//! Alibaba Cloud ACR's instance audit fields (seed 004), flat: `action` in ACR's vocabulary where it has a word
//! (GetImageManifest, GetBlob, PutImageManifest, DeleteTag, ...; vigil's operation name otherwise),
//! `http_request_*`, `namespace`/`repo`/`namespace_repo`, `tag`, `blob_digest`, `user_name`, `user_identity_*`
//! as far as vigil knows them. `instance_id` is the node (`audit.node`); `network_type` is `VPC` for a client on
//! a private, loopback or link-local address and `Internet` otherwise. vigil adds `seq`.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::view::EventView;

/// ACR's name for an operation, where it has one.
fn action(operation: &str) -> &str {
    match operation {
        "GetManifest" | "HeadManifest" => "GetImageManifest",
        "GetBlob" | "HeadBlob" => "GetBlob",
        "PutManifest" => "PutImageManifest",
        "DeleteTag" => "DeleteTag",
        "DeleteManifest" => "DeleteImageManifest",
        "ListTags" => "ListTags",
        "CompleteUpload" | "UploadBlobMonolithic" | "MountBlob" => "PutBlob",
        "StartUpload" | "PatchUpload" => "UploadBlob",
        "IssueToken" | "CheckApiVersion" => "GetAuthorizationToken",
        other => other,
    }
}

fn network_type(addr: Option<&str>) -> &'static str {
    let private = addr.and_then(|a| a.parse::<IpAddr>().ok()).is_some_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    });
    if private {
        "VPC"
    } else {
        "Internet"
    }
}

pub fn event(view: &EventView) -> Value {
    let t = view.target_view();
    let mut e = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            e.insert(k.to_owned(), Value::String(v));
        }
    };
    let credential = view.user.as_ref().map(|u| u.credential.as_ref());
    put(
        "access_credential_type",
        match credential {
            Some("password") | Some("token") => Some("Password".into()),
            Some("temporary_token") => Some("TemporaryToken".into()),
            _ => None,
        },
    );
    put("action", Some(action(&view.operation).to_owned()));
    put("blob_digest", t.digest.as_deref().map(str::to_owned));
    if let Some(r) = &view.request {
        put("http_request_host", r.host.as_deref().map(str::to_owned));
        put("http_request_id", r.id.as_deref().map(str::to_owned));
        put("http_request_method", Some(r.method.to_string()));
        put("http_request_remoteaddr", r.remote_addr.as_deref().map(str::to_owned));
        put("http_request_useragent", r.user_agent.as_deref().map(str::to_owned));
    }
    put("instance_id", Some(view.node.to_string()));
    put("namespace", t.namespace.as_deref().map(str::to_owned));
    let repo = t.repository.as_deref().map(|r| r.split_once('/').map_or(r, |(_, name)| name).to_owned());
    put("repo", repo);
    put("namespace_repo", t.repository.as_deref().map(str::to_owned));
    put("network_type", Some(network_type(view.remote_addr()).to_owned()));
    put("tag", t.tag.as_deref().map(str::to_owned));
    put("time", Some(view.ts.to_string()));
    if let Some(u) = &view.user {
        put("user_name", Some(u.name.to_string()));
        put("user_identity_principal_id", u.id.as_deref().map(str::to_owned));
        let kind = match u.kind.as_ref() {
            "system" => "system",
            "robot" => "robot-account",
            "anonymous" => "anonymous",
            _ => "user",
        };
        put("user_identity_user_type", Some(kind.to_owned()));
    }
    if let Some(status) = view.status() {
        e.insert("http_response_status".into(), json!(status));
    }
    e.insert("seq".into(), json!(view.seq));
    Value::Object(e)
}
