//! Liveness, readiness and metrics.
use actix_web::{web, HttpResponse};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers. Redis being down does not make a node unready: it keeps
/// serving on local limits, and says so here.
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
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
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"status": "ready", "database": "ok", "redis": redis})))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
