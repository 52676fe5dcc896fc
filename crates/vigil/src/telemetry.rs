//! Logs (tracing) and metrics (Prometheus).

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::TryStreamExt;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use vigil_core::Operation;

use crate::config::Config;

pub fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&config.log.level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if config.log.format == "json" { builder.json().try_init() } else { builder.try_init() };
    result.map_err(|e| anyhow::anyhow!("initialising logging: {e}"))
}

pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("vigil_http_request_duration_seconds".into()), &buckets)?
        .install_recorder()?)
}

/// Records one request: count by operation and status, latency, bytes in and out. The operation is the one the
/// protocol router classified (attached to the response), so metrics use the same names as the audit log.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let req = req.map(|body| {
        axum::body::Body::from_stream(body.into_data_stream().inspect_ok(|chunk| {
            metrics::counter!("vigil_http_request_bytes_total").increment(chunk.len() as u64);
        }))
    });
    let resp = next.run(req).await;
    let op = resp.extensions().get::<Operation>().copied().unwrap_or(Operation::Unknown);
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    let labels = [("operation", op.name()), ("status", status_class(status))];
    metrics::counter!("vigil_http_requests_total", &labels).increment(1);
    metrics::histogram!("vigil_http_request_duration_seconds", "operation" => op.name()).record(elapsed.as_secs_f64());
    if let Some(len) = resp.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
        metrics::counter!("vigil_http_response_bytes_total", "operation" => op.name()).increment(len);
    }
    tracing::debug!(%method, path, operation = op.name(), status, elapsed_ms = elapsed.as_millis() as u64, "request");
    resp
}

/// Exact status codes would be fine too, but a bounded label set keeps the scrape small.
fn status_class(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        206 => "206",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        416 => "416",
        429 => "429",
        500 => "500",
        503 => "503",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}
