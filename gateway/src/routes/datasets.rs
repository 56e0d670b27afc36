//! Datasets: search with facets, metadata, registration and edits by the agency's publishers.
use actix_web::{web, HttpResponse};
use catalog::domain::{AgencySlug, DatasetSlug};
use catalog::service::{DatasetInput, DatasetPatch, DatasetSearch};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Parses `{agency}/{dataset}` path segments; a malformed slug is simply not found.
pub fn dataset_path(agency: &str, dataset: &str) -> ApiResult<(AgencySlug, DatasetSlug)> {
    let a = AgencySlug::parse(agency).map_err(|_| ApiError::not_found("no such agency"))?;
    let d = DatasetSlug::parse(dataset).map_err(|_| ApiError::not_found("no such dataset"))?;
    Ok((a, d))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSearchParams {
    q: Option<String>,
    agency: Option<String>,
    theme: Option<String>,
    tag: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    api_key: Option<String>,
}

pub async fn list_datasets(
    state: web::Data<AppState>,
    params: web::Query<DatasetSearchParams>,
) -> ApiResult<HttpResponse> {
    let p = params.into_inner();
    let _ = p.api_key;
    let number = |name: &str, v: Option<String>, default: u64, max: u64| -> ApiResult<u64> {
        match v {
            None => Ok(default),
            Some(s) => match s.parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "{name} must be a whole number from 0 to {max}"
                ))),
            },
        }
    };
    let limit = number("limit", p.limit, 20, 100)?;
    let offset = number("offset", p.offset, 0, 10_000)?;
    if limit == 0 {
        return Err(ApiError::bad_request("limit must be at least 1"));
    }
    let search = DatasetSearch {
        q: p.q,
        agency: p.agency,
        theme: p.theme,
        tag: p.tag,
        limit,
        offset,
    };
    Ok(HttpResponse::Ok().json(state.catalog.search_datasets(&search).await?))
}

pub async fn get_dataset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    let see_drafts = caller.can_write(&agency);
    let view = state
        .catalog
        .get_dataset(&agency, &dataset, see_drafts)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn create_dataset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    input: web::Json<DatasetInput>,
) -> ApiResult<HttpResponse> {
    let agency = AgencySlug::parse(&path).map_err(|_| ApiError::not_found("no such agency"))?;
    caller.require_writer(&agency)?;
    Ok(HttpResponse::Created().json(
        state
            .catalog
            .create_dataset(&agency, input.into_inner())
            .await?,
    ))
}

pub async fn update_dataset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    input: web::Json<DatasetPatch>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    caller.require_writer(&agency)?;
    let updated = state
        .catalog
        .update_dataset(&agency, &dataset, input.into_inner())
        .await?;
    state
        .dataset_changed(agency.as_str(), dataset.as_str())
        .await;
    Ok(HttpResponse::Ok().json(updated))
}
