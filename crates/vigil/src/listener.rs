//! vigil's accept loop: every connection served by hyper (HTTP/1.1 and HTTP/2, over TLS when configured) with the
//! slow-client limits, at most `http.max_connections` at once, finished gracefully on shutdown.
//!
//! It is vigil's own rather than a library's so that requests hyper refuses itself — a malformed request line or
//! header (400), a head too large (431), a URI too long (414) — are accounted for: no handler ever sees them, so
//! the audit layer cannot journal them, and they are counted here and journaled as one `http_refused` event per
//! network, status and interval instead.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::Service;
use vigil_audit::event::{Origin, UserRef};
use vigil_audit::recorder::Recorder;
use vigil_audit::tally::{self, Tally};
use vigil_core::Operation;

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How often refusals are journaled (as for the anonymous rate limit).
const REFUSAL_SUMMARY: Duration = Duration::from_secs(10);
/// How long the loop pauses when accepting fails for want of descriptors or memory, rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Refusals by network and status.
pub type Refusals = Tally<(IpAddr, u16)>;

pub struct Listener {
    pub listener: std::net::TcpListener,
    /// Connections served at once; while all are in use no more are accepted and clients wait in the backlog, so
    /// a flood of idle connections cannot take every file descriptor.
    pub max_connections: usize,
    /// A request's headers must arrive within this (slowloris), also the TLS handshake and an idle keep-alive.
    pub header_timeout: Duration,
    pub tls: Option<TlsAcceptor>,
}

/// Loads the PEM certificate chain and private key; the server offers HTTP/2 and HTTP/1.1 by ALPN.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading the TLS key {}", key.display()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not form a usable pair")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl Listener {
    /// Serves `app` until `shutdown` completes, then lets requests in flight finish (for up to 30 s).
    pub async fn serve(
        self,
        app: Router,
        recorder: Arc<Recorder>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        self.listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(self.listener).context("listening")?;
        let refusals = Arc::new(Refusals::default());
        tokio::spawn(tally::summarize(refusals.clone(), recorder, REFUSAL_SUMMARY, describe));
        let permits = Arc::new(Semaphore::new(self.max_connections));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        limit_slow_clients(&mut builder, self.header_timeout);
        let conn = Arc::new(Conn { app, builder, tls: self.tls, header_timeout: self.header_timeout, refusals });
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            // The permit first: with every connection in use, nothing more is accepted.
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        if !is_per_connection(&e) {
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                        }
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            tokio::spawn(conn.clone().serve(stream, peer, graceful.watcher(), permit));
        }
        drop(listener);
        tracing::info!("shutting down: finishing requests in flight");
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("requests still in flight after the grace period"),
        }
        Ok(())
    }
}

/// What every connection shares.
struct Conn {
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    refusals: Arc<Refusals>,
}

impl Conn {
    async fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        watcher: Watcher,
        _permit: OwnedSemaphorePermit,
    ) {
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => self.http(stream, peer, watcher).await,
            Some(tls) => match tokio::time::timeout(self.header_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => self.http(stream, peer, watcher).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            },
        }
    }

    async fn http<I>(&self, io: I, peer: SocketAddr, watcher: Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Handlers read the client's address from `ConnectInfo`, as with axum's own server.
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            app.clone().call(request)
        });
        let connection = self.builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(connection).await {
            match refused_status(e.as_ref()) {
                Some(status) => self.refusals.add((vigil_core::network::of(peer.ip()), status)),
                // Timeouts and resets: an idle keep-alive ends the same way, so they are not refusals.
                None => tracing::debug!(%peer, error = %e, "connection ended with an error"),
            }
        }
    }
}

/// The status hyper answered a request it could not parse with (it writes the response itself, then ends the
/// connection with the parse error).
fn refused_status(error: &(dyn std::error::Error + 'static)) -> Option<u16> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<hyper::Error>() {
            if e.is_parse_too_large() {
                // hyper tells a long URI from a large head only in its message.
                return Some(if e.to_string().contains("URI too long") { 414 } else { 431 });
            }
            return e.is_parse().then_some(400);
        }
        source = e.source();
    }
    None
}

/// Errors that concern one connection that never arrived (it was reset while queued), not the listener.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted)
}

/// A client must send a request's headers within `timeout` (on a kept-alive connection too, so an idle one is
/// closed after it): a slowloris client cannot hold a connection open by trickling bytes.
fn limit_slow_clients(builder: &mut auto::Builder<TokioExecutor>, timeout: Duration) {
    builder.http1().timer(TokioTimer::new()).header_read_timeout(timeout);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(timeout).keep_alive_timeout(timeout);
}

/// One `http_refused` event per network and status with refusals in the last interval.
fn describe(recorder: &Recorder, counts: tally::Counts<(IpAddr, u16)>) -> Vec<vigil_audit::event::EventDraft> {
    let secs = REFUSAL_SUMMARY.as_secs();
    let event = |net: String, status: u16, count: u64, why: &str| {
        recorder
            .background(Origin::System, Operation::RefuseRequest, UserRef::system("system"))
            .artifact(net.clone())
            .status(status)
            .detail(format!(
                "{count} requests from {net} refused with {why} before any handler ran, in the last {secs} s"
            ))
    };
    let overflow = (counts.overflow > 0).then(|| {
        event("other networks".into(), 400, counts.overflow, "400, 414 or 431 (too many networks to count apart)")
    });
    let refusal = |((net, status), count): ((IpAddr, u16), u64)| {
        let why = match status {
            414 => "414 (a URI too long)",
            431 => "431 (a request head too large)",
            _ => "400 (a malformed request)",
        };
        event(net.to_string(), status, count, why)
    };
    counts.by_key.into_iter().map(refusal).chain(overflow).collect()
}
