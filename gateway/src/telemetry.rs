//! Structured logs through `tracing` (human text, or JSON lines with `log_json`), and the access
//! log: one event per request with method, path (never the query string, which may carry
//! `api_key`), status and duration. When `info` is filtered out it costs a level check.
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
    let path = req.path().to_owned();
    let peer = req.peer_addr().map(|a| a.ip());
    let res = next.call(req).await?;
    tracing::info!(
        target: "gerbang::access",
        %method,
        path,
        status = res.status().as_u16(),
        ms = start.elapsed().as_secs_f64() * 1000.0,
        peer = ?peer,
        "request"
    );
    Ok(res)
}

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
