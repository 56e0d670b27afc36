//! Liveness, readiness and metrics.
use actix_web::{web, HttpResponse};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    catalog::db::ping(&state.catalog.db).await.map_err(|e| {
        tracing::error!(error = ?e, "database not reachable");
        ApiError::new(
            catalog::ErrorCode::Unavailable,
            "the database is not reachable",
        )
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready", "database": "ok"})))
}

pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(
            "# HELP gerbang_up Whether the gateway is up.\n# TYPE gerbang_up gauge\ngerbang_up 1\n",
        )
}
