//! CloudEvents 1.0 over HTTP(S): structured mode (`application/cloudevents+json`, one event per request) or
//! batched (`application/cloudevents-batch+json`, up to `batch_size`). Every request may be signed:
//! `X-Vigil-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, so a receiver can check both the
//! sender and the freshness. Any 2xx is an acknowledgement; anything else (or no answer) is retried.

use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use sha2::Sha256;
use vigil_audit::network_sink::{ContentMode, NetworkSpec};

use crate::message::{Message, Transport};

pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    mode: ContentMode,
    secret: Option<Vec<u8>>,
}

/// An HTTP client for a sink: its timeout, headers, CAs and client certificate; no redirects.
pub fn client(spec: &NetworkSpec) -> Result<reqwest::Client, String> {
    let mut headers = HeaderMap::new();
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header {k:?}: {e}"))?;
        let value = HeaderValue::from_str(v).map_err(|e| format!("header {k:?}: {e}"))?;
        headers.insert(name, value);
    }
    let mut builder = reqwest::Client::builder()
        .timeout(spec.timeout)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &spec.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("reading {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", ca.display()))?;
        builder = builder.tls_built_in_root_certs(false).add_root_certificate(cert);
    }
    if let (Some(c), Some(k)) = (&spec.client_cert_file, &spec.client_key_file) {
        let mut pem = std::fs::read(c).map_err(|e| format!("reading {}: {e}", c.display()))?;
        pem.extend(std::fs::read(k).map_err(|e| format!("reading {}: {e}", k.display()))?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| format!("client certificate: {e}"))?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| e.to_string())
}

impl Webhook {
    pub fn new(spec: &NetworkSpec, url: reqwest::Url) -> Result<Webhook, String> {
        Ok(Webhook { client: client(spec)?, url, mode: spec.content_mode, secret: spec.hmac_secret.clone() })
    }
}

/// The signature header's value for `body` at `t` (seconds since the epoch).
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait::async_trait]
impl Transport for Webhook {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        let (body, media) = match self.mode {
            ContentMode::Structured => {
                (batch.first().map(|m| m.cloudevent.clone()).unwrap_or_default(), "application/cloudevents+json")
            }
            ContentMode::Batch => {
                let events: Vec<Vec<u8>> = batch.iter().map(|m| m.cloudevent.clone()).collect();
                (vigil_audit::shape::cloudevents_batch(&events), "application/cloudevents-batch+json")
            }
        };
        let mut req = self.client.post(self.url.clone()).header(CONTENT_TYPE, media);
        if let Some(secret) = &self.secret {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            req = req.header("X-Vigil-Signature", signature(secret, t, &body));
        }
        let resp = req.body(body).send().await.map_err(|e| format!("{}: {e}", self.url))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = resp.text().await.unwrap_or_default();
            Err(format!("{} answered {status}: {}", self.url, text.chars().take(200).collect::<String>()))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_cover_the_time_and_the_body() {
        let a = super::signature(b"0123456789abcdef", 1_700_000_000, b"[]");
        assert!(a.starts_with("t=1700000000,v1="));
        assert_ne!(a, super::signature(b"0123456789abcdef", 1_700_000_001, b"[]"));
        assert_ne!(a, super::signature(b"0123456789abcdef", 1_700_000_000, b"[{}]"));
        assert_eq!(a.len(), "t=1700000000,v1=".len() + 64);
    }
}
