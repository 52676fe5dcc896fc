//! RFC 5424 syslog: over TCP with octet-counting framing (RFC 6587 §3.4.1), over TLS (RFC 5425; the server's
//! certificate verified, a client certificate if configured), or over UDP (RFC 5426, one datagram per message;
//! lossy by nature, for receivers that take nothing else).
//!
//! A message is `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [vigil@32473 seq="…" id="…" outcome="…"] MSG`:
//! the facility is the sink's (default `authpriv`), the severity follows the outcome (informational for a
//! success, warning for a denial, error for a failure), HOSTNAME is the node, MSGID the event's kind, MSG the
//! event in the sink's format. The SD-ID uses the enterprise number RFC 5612 reserves for documentation, as
//! vigil has none of its own.
//!
//! Syslog has no acknowledgements: over TCP and TLS a batch counts as delivered once the kernel took it. Before
//! each batch the connection is checked for a receiver that closed it (a restart), and a broken connection is
//! replaced and the batch sent again; events written just before the receiver died without closing can still
//! be lost. Use a webhook or NATS where every event must be acknowledged.

use std::sync::Arc;

use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;
use vigil_audit::network_sink::NetworkSpec;

use crate::message::{Message, Transport};

enum Conn {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Udp(UdpSocket),
}

pub struct Syslog {
    scheme: String,
    addr: String,
    host: String,
    facility: u8,
    app_name: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<Conn>,
}

impl Syslog {
    pub fn new(spec: &NetworkSpec) -> Result<Syslog, String> {
        let rest = spec.url.split_once("://").map_or("", |(_, r)| r).trim_end_matches('/');
        let host = match rest.rsplit_once(':') {
            Some((h, port)) if port.parse::<u16>().is_ok() => h.trim_start_matches('[').trim_end_matches(']'),
            _ => return Err(format!("`url` {:?} needs host:port", spec.url)),
        };
        let tls = (spec.scheme == "tls").then(|| crate::tls::client_config(spec)).transpose()?;
        Ok(Syslog {
            scheme: spec.scheme.clone(),
            addr: rest.to_owned(),
            host: host.to_owned(),
            facility: spec.facility,
            app_name: spec.app_name.clone(),
            tls,
            conn: None,
        })
    }

    async fn connect(&self) -> Result<Conn, String> {
        let addr = &self.addr;
        match self.scheme.as_str() {
            "udp" => {
                let socket = UdpSocket::bind(if addr.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" })
                    .await
                    .map_err(|e| e.to_string())?;
                socket.connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
                Ok(Conn::Udp(socket))
            }
            scheme => {
                let tcp = TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
                let _ = tcp.set_nodelay(true);
                if scheme != "tls" {
                    return Ok(Conn::Tcp(tcp));
                }
                let config = self.tls.clone().expect("a tls:// sink has a TLS configuration");
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| format!("{}: {e}", self.host))?;
                let stream =
                    TlsConnector::from(config).connect(name, tcp).await.map_err(|e| format!("TLS with {addr}: {e}"))?;
                Ok(Conn::Tls(Box::new(stream)))
            }
        }
    }

    /// One RFC 5424 message.
    fn format(&self, m: &Message) -> Vec<u8> {
        let severity = match m.outcome.as_str() {
            "success" | "pending" => 6,
            "denied" => 4,
            _ => 3,
        };
        let pri = u32::from(self.facility) * 8 + severity;
        let header = format!(
            "<{pri}>1 {} {} {} {} {} [vigil@32473 seq=\"{}\" id=\"{}\" outcome=\"{}\"] ",
            field(&m.ts, 64),
            field(&m.node, 255),
            field(&self.app_name, 48),
            std::process::id(),
            field(&m.kind, 32),
            m.seq,
            param(&m.id),
            param(&m.outcome),
        );
        let mut out = header.into_bytes();
        out.extend_from_slice(&m.body);
        out
    }
}

/// A header field: printable ASCII without spaces, at most `max` long, `-` when empty (RFC 5424 §6).
fn field(s: &str, max: usize) -> String {
    let v: String = s.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn param(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace(']', "\\]")
}

/// Whether the receiver closed the connection since the last batch: a syslog receiver never sends data, so a
/// read that is ready and ends at once means it is gone (a restarted rsyslog, say). One poll, without waiting: a
/// live connection has nothing to read. Checked before each batch, so events are not written into a connection
/// that can no longer deliver them.
fn peer_closed<R: AsyncRead + Unpin>(r: &mut R) -> bool {
    let mut buf = [0u8; 256];
    matches!(r.read(&mut buf).now_or_never(), Some(Ok(0)) | Some(Err(_)))
}

async fn write_frames<W: AsyncWrite + Unpin>(w: &mut W, frames: &[Vec<u8>]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(frames.iter().map(|f| f.len() + 8).sum());
    for f in frames {
        buf.extend_from_slice(format!("{} ", f.len()).as_bytes());
        buf.extend_from_slice(f);
    }
    w.write_all(&buf).await?;
    w.flush().await
}

#[async_trait::async_trait]
impl Transport for Syslog {
    async fn send(&mut self, batch: &[Message]) -> Result<(), String> {
        let closed = match self.conn.as_mut() {
            Some(Conn::Tcp(s)) => peer_closed(s),
            Some(Conn::Tls(s)) => peer_closed(s),
            Some(Conn::Udp(_)) | None => false,
        };
        if closed {
            tracing::info!(addr = self.addr, "the syslog receiver closed the connection; reconnecting");
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let frames: Vec<Vec<u8>> = batch.iter().map(|m| self.format(m)).collect();
        let result = match self.conn.as_mut().expect("connected above") {
            Conn::Tcp(s) => write_frames(s, &frames).await,
            Conn::Tls(s) => write_frames(s, &frames).await,
            Conn::Udp(s) => {
                let mut r = Ok(());
                for f in &frames {
                    if let Err(e) = s.send(f).await {
                        r = Err(e);
                        break;
                    }
                }
                r
            }
        };
        result.map_err(|e| {
            // A broken connection is replaced on the next attempt; the whole batch goes again.
            self.conn = None;
            format!("{}: {e}", self.addr)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            seq: 7,
            id: "a\"b]".into(),
            ts: "2026-12-03T10:00:05.123Z".into(),
            kind: "push_repo".into(),
            outcome: "denied".into(),
            node: "reg 1".into(),
            ts_ms: 0,
            attributes: Vec::new(),
            body: b"{\"x\":1}".to_vec(),
            cloudevent: Vec::new(),
        }
    }

    #[test]
    fn messages_follow_rfc_5424() {
        let spec = NetworkSpec::resolve(
            &vigil_audit::settings::SinkSettings {
                name: "s".into(),
                url: Some("tcp://127.0.0.1:6514".into()),
                ..vigil_audit::settings::SinkSettings::of(vigil_audit::settings::SinkType::Syslog)
            },
            std::path::Path::new("/d"),
        )
        .unwrap()
        .unwrap();
        let s = Syslog::new(&spec).unwrap();
        let line = String::from_utf8(s.format(&message())).unwrap();
        let pid = std::process::id();
        assert_eq!(
            line,
            format!(
                "<84>1 2026-12-03T10:00:05.123Z reg1 vigil {pid} push_repo [vigil@32473 seq=\"7\" id=\"a\\\"b\\]\" \
                 outcome=\"denied\"] {{\"x\":1}}"
            )
        );
    }
}
