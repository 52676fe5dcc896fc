//! OpenTelemetry logs over OTLP/HTTP with protobuf (`POST <url>`, usually `…:4318/v1/logs`,
//! `Content-Type: application/x-protobuf`). Each event is one LogRecord: its time, a severity from its outcome
//! (INFO for a success, WARN for a denial, ERROR for a failure), the event in the sink's format as the body, and
//! attributes after OpenTelemetry's semantic conventions where they have a name (`client.address`,
//! `user.name`, `http.request.method`, `http.response.status_code`, `url.path`, `user_agent.original`) and
//! `vigil.*` otherwise, `vigil.seq` and `vigil.event_id` among them. A 2xx answer without rejected records
//! acknowledges the batch; a partial rejection is retried whole.
//!
//! The messages are the upstream definitions' (opentelemetry-proto `logs/v1`, `common/v1`, `resource/v1`,
//! `collector/logs/v1`), declared here with their field numbers for the fields vigil sends.

use prost::Message as _;
use vigil_audit::network_sink::NetworkSpec;

use crate::message::{Message, Transport};

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportLogsServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_logs: Vec<ResourceLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportLogsServiceResponse {
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<ExportLogsPartialSuccess>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportLogsPartialSuccess {
    #[prost(int64, tag = "1")]
    pub rejected_log_records: i64,
    #[prost(string, tag = "2")]
    pub error_message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceLogs {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_logs: Vec<ScopeLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ScopeLogs {
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub log_records: Vec<LogRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LogRecord {
    #[prost(fixed64, tag = "1")]
    pub time_unix_nano: u64,
    #[prost(int32, tag = "2")]
    pub severity_number: i32,
    #[prost(string, tag = "3")]
    pub severity_text: String,
    #[prost(message, optional, tag = "5")]
    pub body: Option<AnyValue>,
    #[prost(message, repeated, tag = "6")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "11")]
    pub observed_time_unix_nano: u64,
    #[prost(string, tag = "12")]
    pub event_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    #[prost(oneof = "Value", tags = "1, 3")]
    pub value: Option<Value>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(int64, tag = "3")]
    Int(i64),
}

fn text(key: &str, v: impl Into<String>) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(Value::String(v.into())) }) }
}

fn int(key: &str, v: i64) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(Value::Int(v)) }) }
}

/// The LogRecord of one message.
fn record(m: &Message) -> LogRecord {
    let (severity_number, severity_text) = match m.outcome.as_str() {
        "success" | "pending" => (9, "INFO"),
        "denied" => (13, "WARN"),
        _ => (17, "ERROR"),
    };
    let nanos = |ms: i64| u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000);
    let mut attributes = vec![
        int("vigil.seq", i64::try_from(m.seq).unwrap_or(i64::MAX)),
        text("vigil.event_id", m.id.clone()),
        text("vigil.kind", m.kind.clone()),
        text("vigil.outcome", m.outcome.clone()),
    ];
    for (key, value) in &m.attributes {
        attributes.push(match value {
            serde_json::Value::Number(n) if n.is_i64() => int(key, n.as_i64().unwrap_or(0)),
            serde_json::Value::String(s) => text(key, s.clone()),
            other => text(key, other.to_string()),
        });
    }
    LogRecord {
        time_unix_nano: nanos(m.ts_ms),
        observed_time_unix_nano: nanos(m.ts_ms),
        severity_number,
        severity_text: severity_text.into(),
        body: Some(AnyValue { value: Some(Value::String(String::from_utf8_lossy(&m.body).into_owned())) }),
        attributes,
        event_name: format!("vigil.audit.{}", m.kind),
    }
}

/// The request for a batch: one resource (this node), one scope, a record per event.
pub fn request(batch: &[Message]) -> ExportLogsServiceRequest {
    let node = batch.first().map(|m| m.node.clone()).unwrap_or_default();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "vigil"),
                    text("service.version", env!("CARGO_PKG_VERSION")),
                    text("service.instance.id", node),
                ],
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "vigil.audit".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }),
                log_records: batch.iter().map(record).collect(),
            }],
        }],
    }
}

pub struct Otlp {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl Otlp {
    pub fn new(spec: &NetworkSpec, url: reqwest::Url) -> Result<Otlp, String> {
        Ok(Otlp { client: crate::webhook::client(spec)?, url })
    }
}

#[async_trait::async_trait]
impl Transport for Otlp {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        let body = request(batch).encode_to_vec();
        let resp = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| format!("{}: {e}", self.url))?;
        if !status.is_success() {
            return Err(format!("{} answered {status}", self.url));
        }
        if let Ok(answer) = ExportLogsServiceResponse::decode(bytes.as_ref()) {
            if let Some(p) = answer.partial_success.filter(|p| p.rejected_log_records > 0) {
                return Err(format!("{} rejected {} records: {}", self.url, p.rejected_log_records, p.error_message));
            }
        }
        Ok(())
    }
}
