//! NATS JetStream: every event is published on the sink's `subject` with `Nats-Msg-Id` set to the event's id
//! (JetStream drops a duplicate within its stream's duplicate window, so a re-sent batch is stored once) and
//! `Vigil-Seq` to its seq, and counts as delivered only once the stream acknowledged it. With `stream`, vigil
//! creates that stream over the subject when it does not exist.

use async_nats::jetstream::{self, context::Context};
use async_nats::HeaderMap;
use vigil_audit::network_sink::NetworkSpec;

use crate::message::{Message, Transport};

pub struct Nats {
    url: String,
    subject: String,
    stream: Option<String>,
    spec: NetworkSpec,
    js: Option<Context>,
}

impl Nats {
    pub fn new(spec: &NetworkSpec) -> Nats {
        Nats {
            url: spec.url.clone(),
            subject: spec.subject.clone().unwrap_or_default(),
            stream: spec.stream.clone(),
            spec: spec.clone(),
            js: None,
        }
    }

    async fn connect(&self) -> Result<Context, String> {
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(self.spec.timeout)
            .name(concat!("vigil/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &self.spec.ca_file {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(c), Some(k)) = (&self.spec.client_cert_file, &self.spec.client_key_file) {
            options = options.add_client_certificate(c.clone(), k.clone());
        }
        let client = options.connect(self.url.as_str()).await.map_err(|e| format!("{}: {e}", self.url))?;
        let mut js = jetstream::new(client);
        js.set_timeout(self.spec.timeout);
        if let Some(name) = &self.stream {
            let config = jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![self.subject.clone()],
                ..Default::default()
            };
            js.get_or_create_stream(config).await.map_err(|e| format!("stream {name:?}: {e}"))?;
        }
        Ok(js)
    }
}

#[async_trait::async_trait]
impl Transport for Nats {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        if self.js.is_none() {
            self.js = Some(self.connect().await?);
        }
        let js = self.js.as_ref().expect("connected above");
        let mut acks = Vec::with_capacity(batch.len());
        for m in batch {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", m.id.as_str());
            headers.insert("Vigil-Seq", m.seq.to_string().as_str());
            let ack = js
                .publish_with_headers(self.subject.clone(), headers, m.body.clone().into())
                .await
                .map_err(|e| format!("publishing seq {}: {e}", m.seq))?;
            acks.push((m.seq, ack));
        }
        for (seq, ack) in acks {
            ack.await.map_err(|e| format!("seq {seq} was not acknowledged: {e}"))?;
        }
        Ok(())
    }
}
