//! Liveness, readiness, metrics and the platform document.
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct StatusView {
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ReadyView {
    #[schema(example = "ready")]
    status: &'static str,
    #[schema(example = "ok")]
    database: &'static str,
    /// `ok`, `not configured` (one node) or `down (limiting locally)`.
    #[schema(example = "not configured")]
    redis: &'static str,
}

/// The liveness answer, shared by `/healthz` and `/v1/status`.
pub fn alive() -> HttpResponse {
    HttpResponse::Ok().json(StatusView { status: "ok" })
}

/// Alive
///
/// Answers while the process serves; it touches nothing else.
#[utoipa::path(tag = "platform", responses((status = 200, body = StatusView)), security(()))]
#[get("/healthz")]
pub async fn get_health() -> HttpResponse {
    alive()
}

/// Status behind the gate
///
/// The liveness answer after key checks and rate limits: what a caller's credentials and
/// allowance look like (see the `RateLimit` headers).
#[utoipa::path(
    tag = "platform",
    responses((status = 200, body = StatusView)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/status")]
pub async fn get_status() -> HttpResponse {
    alive()
}

/// Ready
///
/// Ready when the database answers. Redis being down does not make a node unready: it keeps
/// serving on local limits, and says so here.
#[utoipa::path(tag = "platform", responses((status = 200, body = ReadyView)), security(()))]
#[get("/readyz")]
pub async fn get_readiness(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    catalog::db::ping(&state.catalog.db).await.map_err(|e| {
        tracing::error!(error = ?e, "database not reachable");
        ApiError::new(
            catalog::ErrorCode::Unavailable,
            "the database is not reachable",
        )
    })?;
    let redis = match &state.cluster {
        None => "not configured",
        Some(c) if c.is_up() => "ok",
        Some(_) => "down (limiting locally)",
    };
    Ok(HttpResponse::Ok().json(ReadyView {
        status: "ready",
        database: "ok",
        redis,
    }))
}

/// Metrics
///
/// Prometheus / OpenMetrics text: rate-limit decisions, cache hits and misses per layer, key
/// lookups, Redis health, usage flushes.
#[utoipa::path(
    tag = "platform",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)),
    security(())
)]
#[get("/metrics")]
pub async fn get_metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

/// The platform's OpenAPI document
///
/// OpenAPI 3.1 of every endpoint of this API, made from the handlers themselves.
#[utoipa::path(
    tag = "platform",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/openapi.json")]
pub async fn get_openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(state.platform_spec.clone())
}
