use serde_json::{json, Value};

use super::*;

fn push() -> Vec<u8> {
    json!({
        "schema": 3, "seq": 42, "id": "0b6c-push", "ts": "2026-12-03T10:00:05.123Z", "stage": "complete",
        "kind": "push_repo", "action": "push", "operation": "PutManifest", "outcome": "success", "actor": "api",
        "artifact": "acme/app:v1", "registry": "docker", "detail": "sha256:abc", "node": "reg-1", "reason": null,
        "user": { "id": "u-7", "name": "alice", "kind": "user", "credential": "temporary_token", "token_id": null },
        "request": { "id": "req-1", "method": "PUT", "path": "/v2/acme/app/manifests/v1", "host": "reg.example",
                     "remote_addr": "203.0.113.9", "user_agent": "skopeo/1.13" },
        "response": { "status": 201, "bytes": 0, "error": null },
        "target": { "format": "oci", "namespace": "acme", "repository": "acme/app", "tag": "v1",
                    "digest": "sha256:abc", "media_type": "application/vnd.oci.image.manifest.v1+json", "size": 428 },
    })
    .to_string()
    .into_bytes()
}

fn failed_login() -> Vec<u8> {
    json!({
        "schema": 3, "seq": 43, "id": "0b6c-login", "ts": "2026-12-03T10:00:06.000Z", "stage": "complete",
        "kind": "login_failure", "action": "login", "operation": "CheckApiVersion", "outcome": "denied",
        "actor": "api", "artifact": "", "registry": "docker", "detail": "", "node": "reg-1",
        "reason": "invalid username or password",
        "user": { "name": "mallory", "kind": "anonymous", "credential": "password" },
        "request": { "id": "req-2", "method": "GET", "path": "/v2/", "remote_addr": "10.0.0.5" },
        "response": { "status": 401 },
    })
    .to_string()
    .into_bytes()
}

fn shaped(format: Format, bytes: &[u8]) -> Value {
    let view = EventView::parse(bytes).unwrap();
    serde_json::from_slice(&render(format, bytes, &view)).unwrap()
}

#[test]
fn cloudevents_carry_the_entry_verbatim_with_its_id_and_seq() {
    let bytes = push();
    let ce = shaped(Format::Cloudevents, &bytes);
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["id"], "0b6c-push");
    assert_eq!(ce["type"], "dev.vigil.audit.push_repo");
    assert_eq!(ce["source"], "/vigil/reg-1");
    assert_eq!(ce["subject"], "acme/app:v1");
    assert_eq!(ce["sequence"], "42");
    let view = EventView::parse(&bytes).unwrap();
    let line = render(Format::Cloudevents, &bytes, &view);
    let text = String::from_utf8(line).unwrap();
    assert!(text.contains(std::str::from_utf8(&bytes).unwrap()), "data is the journal's bytes, unchanged");
    let batch = cloudevents_batch(&[b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
    assert_eq!(serde_json::from_slice::<Value>(&batch).unwrap(), json!([{"a": 1}, {"b": 2}]));
}

#[test]
fn ecs_names_the_fields_elastic_expects() {
    let e = shaped(Format::Ecs, &push());
    assert_eq!(e["@timestamp"], "2026-12-03T10:00:05.123Z");
    assert_eq!(e["event"]["kind"], "event");
    assert_eq!(e["event"]["category"], json!(["web", "file"]));
    assert_eq!(e["event"]["type"], json!(["creation"]));
    assert_eq!((e["event"]["action"].clone(), e["event"]["outcome"].clone()), (json!("push_repo"), json!("success")));
    assert_eq!(e["event"]["sequence"], 42);
    assert_eq!((e["user"]["name"].clone(), e["source"]["ip"].clone()), (json!("alice"), json!("203.0.113.9")));
    assert_eq!(e["url"]["path"], "/v2/acme/app/manifests/v1");
    assert_eq!(
        (e["http"]["request"]["method"].clone(), e["http"]["response"]["status_code"].clone()),
        (json!("PUT"), json!(201))
    );
    assert_eq!(e["user_agent"]["original"], "skopeo/1.13");
    let login = shaped(Format::Ecs, &failed_login());
    assert_eq!(login["event"]["category"], json!(["authentication"]));
    assert_eq!(login["event"]["outcome"], "failure");
    assert_eq!(login["event"]["reason"], "invalid username or password");
}

#[test]
fn ocsf_classes_and_their_required_attributes() {
    let api = shaped(Format::Ocsf, &push());
    assert_eq!((api["class_uid"].clone(), api["category_uid"].clone()), (json!(6003), json!(6)));
    assert_eq!((api["activity_id"].clone(), api["type_uid"].clone()), (json!(1), json!(600301)));
    assert_eq!(api["metadata"]["product"]["vendor_name"], "vigil");
    assert_eq!(api["metadata"]["sequence"], 42);
    assert_eq!(api["time"], 1_796_292_005_123_i64);
    assert_eq!(api["api"]["operation"], "PutManifest");
    assert_eq!(api["api"]["request"]["uid"], "req-1");
    assert_eq!(api["actor"]["user"]["name"], "alice");
    assert_eq!(api["src_endpoint"]["ip"], "203.0.113.9");
    assert_eq!(api["http_request"]["http_method"], "PUT");
    assert_eq!(api["http_response"]["code"], 201);
    assert_eq!(api["resources"][0]["name"], "acme/app:v1");
    assert_eq!((api["status_id"].clone(), api["status"].clone()), (json!(1), json!("Success")));
    let auth = shaped(Format::Ocsf, &failed_login());
    assert_eq!((auth["class_uid"].clone(), auth["activity_id"].clone()), (json!(3002), json!(1)));
    assert_eq!(auth["user"]["name"], "mallory");
    assert_eq!(
        (auth["status_id"].clone(), auth["status_detail"].clone()),
        (json!(2), json!("invalid username or password"))
    );
}

#[test]
fn acr_uses_its_flat_names_and_vocabulary() {
    let a = shaped(Format::Acr, &push());
    assert_eq!(a["action"], "PutImageManifest");
    assert_eq!(a["access_credential_type"], "TemporaryToken");
    assert_eq!(
        (a["namespace"].clone(), a["repo"].clone(), a["namespace_repo"].clone()),
        (json!("acme"), json!("app"), json!("acme/app"))
    );
    assert_eq!((a["tag"].clone(), a["blob_digest"].clone()), (json!("v1"), json!("sha256:abc")));
    assert_eq!(a["http_request_remoteaddr"], "203.0.113.9");
    assert_eq!(a["http_request_useragent"], "skopeo/1.13");
    assert_eq!(a["http_response_status"], 201);
    assert_eq!((a["network_type"].clone(), a["instance_id"].clone()), (json!("Internet"), json!("reg-1")));
    assert_eq!(a["user_name"], "alice");
    let login = shaped(Format::Acr, &failed_login());
    assert_eq!(
        (login["network_type"].clone(), login["access_credential_type"].clone()),
        (json!("VPC"), json!("Password"))
    );
}
