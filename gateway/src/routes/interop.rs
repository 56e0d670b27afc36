//! The interoperability endpoints as the platform document shows them: CKAN's Action API and
//! datastore dump, DCAT-AP 3 and Project Open Data. The work is done in `ckan/` and `dcat/`;
//! these handlers only give each route its place in `/v1/openapi.json`.
use actix_web::{get, route, web, HttpRequest, HttpResponse};

use super::{ckan, dcat};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::AppState;

/// Call a CKAN action
///
/// CKAN Action API compatible (`ckanapi`, ckanr and harvesters work unchanged): package =
/// dataset, organization = agency, resource = published version. Actions: `package_list`,
/// `package_show`, `package_search`, `organization_list`, `organization_show`,
/// `resource_show`, `datastore_search`, `status_show`. Parameters as a query string (GET) or a
/// JSON body (POST). Answers `{help, success, result}`; errors `{help, success: false, error:
/// {__type, message}}` with CKAN's statuses. Also under `/api/action/{action}`.
#[utoipa::path(
    tag = "interop",
    params(("action" = String, Path, description = "The action's name", example = "package_list")),
    request_body(content = Option<Object>, description = "The action's parameters (POST)"),
    responses(
        (status = 200, description = "`{help, success: true, result}`", body = Object),
        (status = 400, description = "Bad Request or Search Query Error", body = Object, content_type = "application/json"),
        (status = 403, description = "Authorization Error", body = Object, content_type = "application/json"),
        (status = 404, description = "Not Found Error", body = Object, content_type = "application/json"),
        (status = 409, description = "Validation Error", body = Object, content_type = "application/json"),
        (status = 429, description = "Rate Limit Error (with `Retry-After`)", body = Object, content_type = "application/json"),
    ),
    security((), ("api_key" = []), ("bearer" = []))
)]
#[route("/api/3/action/{action}", method = "GET", method = "POST")]
pub async fn call_ckan_action(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    action: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ckan::CkanError> {
    ckan::call_action(state, caller, req, action, body).await
}

/// Call a CKAN action (unversioned path)
///
/// The same as `/api/3/action/{action}`, where older CKAN clients look for it.
#[utoipa::path(
    tag = "interop",
    params(("action" = String, Path, description = "The action's name", example = "package_list")),
    request_body(content = Option<Object>, description = "The action's parameters (POST)"),
    responses(
        (status = 200, description = "`{help, success: true, result}`", body = Object),
        (status = 400, description = "Bad Request or Search Query Error", body = Object, content_type = "application/json"),
        (status = 403, description = "Authorization Error", body = Object, content_type = "application/json"),
        (status = 404, description = "Not Found Error", body = Object, content_type = "application/json"),
        (status = 409, description = "Validation Error", body = Object, content_type = "application/json"),
        (status = 429, description = "Rate Limit Error (with `Retry-After`)", body = Object, content_type = "application/json"),
    ),
    security((), ("api_key" = []), ("bearer" = []))
)]
#[route("/api/action/{action}", method = "GET", method = "POST")]
pub async fn call_ckan_action_unversioned(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    action: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ckan::CkanError> {
    ckan::call_action(state, caller, req, action, body).await
}

/// Dump a resource as CSV
///
/// The whole version as CSV, streamed (CKAN's datastore dump); `bom=true` adds a UTF-8 BOM.
#[utoipa::path(
    tag = "interop",
    params(
        ("resource_id" = String, Path, description = "`{agency}_{dataset}_v{n}`", example = "dinas-pu_laporan-jalan_v2"),
        ("bom" = Option<bool>, Query, description = "Start with a UTF-8 byte order mark (for spreadsheet programs)"),
    ),
    responses((status = 200, description = "CSV with a header row", body = String, content_type = "text/csv")),
    security((), ("api_key" = []), ("bearer" = []))
)]
#[get("/datastore/dump/{resource_id}")]
pub async fn dump_datastore(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    resource_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    ckan::dump_datastore(state, caller, req, resource_id).await
}

/// The catalog as DCAT-AP 3 (JSON-LD)
///
/// Datasets, their published versions as distributions and their APIs as data services.
/// `Accept: text/turtle` answers Turtle.
#[utoipa::path(
    tag = "interop",
    responses((status = 200, description = "DCAT-AP 3", content(
        (Object = "application/ld+json"),
        (String = "text/turtle"),
    ))),
    security(())
)]
#[get("/catalog.jsonld")]
pub async fn get_catalog_jsonld(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    dcat::get_catalog_jsonld(state, req).await
}

/// The catalog as DCAT-AP 3 (Turtle)
#[utoipa::path(
    tag = "interop",
    responses((status = 200, description = "DCAT-AP 3", body = String, content_type = "text/turtle")),
    security(())
)]
#[get("/catalog.ttl")]
pub async fn get_catalog_turtle(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    dcat::get_catalog_turtle(state, req).await
}

/// The catalog as Project Open Data 1.1
#[utoipa::path(
    tag = "interop",
    responses((status = 200, description = "data.json", body = Object)),
    security(())
)]
#[get("/data.json")]
pub async fn get_data_json(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    dcat::get_data_json(state, req).await
}
