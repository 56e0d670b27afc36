//! Agencies (OPD): public list and detail; admins create them.
use actix_web::{web, HttpResponse};
use catalog::domain::AgencySlug;
use catalog::service::AgencyInput;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::AppState;

pub async fn list_agencies(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let data = state.catalog.list_agencies().await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"data": data, "next_cursor": null, "total": data.len()})))
}

pub async fn get_agency(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = AgencySlug::parse(&path)
        .map_err(|_| crate::error::ApiError::not_found("no such agency"))?;
    Ok(HttpResponse::Ok().json(state.catalog.get_agency(&slug).await?))
}

pub async fn create_agency(
    state: web::Data<AppState>,
    caller: Caller,
    input: web::Json<AgencyInput>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    Ok(HttpResponse::Created().json(state.catalog.create_agency(input.into_inner()).await?))
}
