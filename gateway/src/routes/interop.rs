//! CKAN's Action API as the platform document shows it, under both of CKAN's paths (one actix
//! route macro names one path, so each path has its own annotated handler). The work is done in
//! `ckan/`; the dump, DCAT and data.json handlers carry their own annotations there and in `dcat/`.
use actix_web::{route, web, HttpRequest, HttpResponse};

use super::ckan;
use crate::auth::Caller;
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
