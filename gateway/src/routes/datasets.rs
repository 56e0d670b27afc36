//! Datasets: search with facets, metadata, registration and edits by the agency's publishers.
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use catalog::domain::{AgencySlug, DatasetSlug};
use catalog::service::{Dataset, DatasetInput, DatasetPatch, DatasetSearch, SearchResult};
use openapi::params::{AgencyPath, DatasetPath};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::catalog_cache::to_json;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Parses `{agency}/{dataset}` path segments; a malformed slug is simply not found.
pub fn dataset_path(agency: &str, dataset: &str) -> ApiResult<(AgencySlug, DatasetSlug)> {
    let a = AgencySlug::parse(agency).map_err(|_| ApiError::not_found("no such agency"))?;
    let d = DatasetSlug::parse(dataset).map_err(|_| ApiError::not_found("no such dataset"))?;
    Ok((a, d))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DatasetSearchParams {
    /// Words to find in titles, descriptions and tags.
    #[param(example = "jalan")]
    q: Option<String>,
    /// Only this agency's datasets (slug).
    #[param(example = "dinas-pu")]
    agency: Option<String>,
    /// Only this smart-city theme.
    #[param(value_type = Option<catalog::domain::Theme>)]
    theme: Option<String>,
    /// Only datasets with this tag.
    tag: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Results to skip, at most 10000.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000)]
    offset: Option<String>,
    /// Your key, when you cannot send `X-API-Key`.
    #[param(ignore)]
    api_key: Option<String>,
}

/// Search datasets
///
/// Dataset summaries matching the search, with `total` and facet counts per agency, theme and
/// tag. Drafts and their datasets' unpublished changes are not shown.
#[utoipa::path(
    tag = "catalog",
    params(DatasetSearchParams),
    responses((status = 200, body = SearchResult)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets")]
pub async fn list_datasets(
    state: web::Data<AppState>,
    req: HttpRequest,
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
    state
        .catalog_answers
        .json(&req, true, || async {
            to_json(&state.catalog.search_datasets(&search).await?)
        })
        .await
}

/// Get a dataset
///
/// Its metadata and versions (drafts only for the agency's writers).
#[utoipa::path(
    tag = "catalog",
    params(DatasetPath),
    responses((status = 200, body = Dataset)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}")]
pub async fn get_dataset(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    let see_drafts = caller.can_write(&agency);
    state
        .catalog_answers
        .json(&req, !caller.is_staff(), || async {
            to_json(
                &state
                    .catalog
                    .get_dataset(&agency, &dataset, see_drafts)
                    .await?,
            )
        })
        .await
}

/// Register a dataset
///
/// For the agency's publishers and admins. Versions are uploaded separately.
#[utoipa::path(
    tag = "publishing",
    params(AgencyPath),
    request_body = DatasetInput,
    responses(
        (status = 201, body = Dataset),
        (status = 409, description = "The agency has a dataset with this slug"),
    ),
    security(("bearer" = []))
)]
#[post("/datasets/{agency}")]
pub async fn create_dataset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    input: web::Json<DatasetInput>,
) -> ApiResult<HttpResponse> {
    let agency = AgencySlug::parse(&path).map_err(|_| ApiError::not_found("no such agency"))?;
    caller.require_writer(&agency)?;
    let dataset = state
        .catalog
        .create_dataset(&agency, input.into_inner())
        .await?;
    state
        .dataset_changed(agency.as_str(), dataset.slug.as_str())
        .await;
    Ok(HttpResponse::Created().json(dataset))
}

/// Edit a dataset's metadata
///
/// Only the fields sent change. Versions are immutable and keep their data.
#[utoipa::path(
    tag = "publishing",
    params(DatasetPath),
    request_body = DatasetPatch,
    responses((status = 200, body = Dataset)),
    security(("bearer" = []))
)]
#[patch("/datasets/{agency}/{dataset}")]
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
