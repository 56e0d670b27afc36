//! Structured logs through `tracing` (human text, or JSON lines with `log_json`), and the access
//! log: one event per request with method, path (never the query string, which may carry
//! `api_key`), status, duration in microseconds and peer. When `info` is filtered out it costs a
//! level check.
use std::io::IsTerminal as _;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing_subscriber::EnvFilter;

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !tracing::enabled!(target: "gerbang::access", tracing::Level::INFO)
        || req.path() == "/healthz"
    {
        return next.call(req).await;
    }
    let start = Instant::now();
    let method = req.method().clone();
    let peer = req.peer_addr().map(|a| a.ip());
    let res = next.call(req).await?;
    // Display, not Debug, and integers: this event is formatted once per request
    let peer = peer.map_or_else(String::new, |ip| ip.to_string());
    tracing::info!(
        target: "gerbang::access",
        %method,
        path = %res.request().path(),
        status = res.status().as_u16(),
        us = start.elapsed().as_micros() as u64,
        %peer,
        "request"
    );
    Ok(res)
}

/// Installs the subscriber. Events are formatted on the thread that emits them and written by
/// a background thread through a buffer (one `write` per burst, not one per request); the
/// returned guard flushes what is left when dropped, so keep it until the process ends. Lines
/// are never dropped: when the writer falls behind, emitting waits.
pub fn init(json: bool) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("gerbang-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    // colours only for a person at a terminal: escape codes cost time per event and clutter files
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    installed.is_ok().then_some(guard)
}
