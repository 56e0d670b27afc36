//! Agencies (OPD): public list and detail; admins create them.
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use catalog::domain::AgencySlug;
use catalog::service::{Agency, AgencyInput};
use openapi::params::AgencyPath;

use super::views::ListView;
use crate::auth::Caller;
use crate::catalog_cache::to_json;
use crate::error::ApiResult;
use crate::AppState;

/// List agencies
///
/// Every agency (OPD) with the number of its public datasets.
#[utoipa::path(
    tag = "catalog",
    responses((status = 200, body = ListView<Agency>)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/agencies")]
pub async fn list_agencies(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    state
        .catalog_answers
        .json(&req, true, || async {
            let data = state.catalog.list_agencies().await?;
            to_json(&ListView::all(data).with_total())
        })
        .await
}

/// Get an agency
#[utoipa::path(
    tag = "catalog",
    params(AgencyPath),
    responses((status = 200, body = Agency)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/agencies/{agency}")]
pub async fn get_agency(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let slug = AgencySlug::parse(&path)
        .map_err(|_| crate::error::ApiError::not_found("no such agency"))?;
    state
        .catalog_answers
        .json(&req, true, || async {
            to_json(&state.catalog.get_agency(&slug).await?)
        })
        .await
}

/// Create an agency
///
/// Admins only.
#[utoipa::path(
    tag = "publishing",
    request_body = AgencyInput,
    responses(
        (status = 201, body = Agency),
        (status = 409, description = "The slug is taken"),
    ),
    security(("bearer" = []))
)]
#[post("/agencies")]
pub async fn create_agency(
    state: web::Data<AppState>,
    caller: Caller,
    input: web::Json<AgencyInput>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let agency = state.catalog.create_agency(input.into_inner()).await?;
    state.catalog_changed().await;
    Ok(HttpResponse::Created().json(agency))
}
