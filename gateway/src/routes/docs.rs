//! The API reference: the typed document of each version and the interactive `/docs` pages
//! (Swagger UI served from the binary; nothing from a CDN).
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use catalog::domain::VersionStatus;
use catalog::records::encode::geo_columns;
use catalog::records::examples::column_examples;
use openapi::assets;
use openapi::params::VersionPath;
use openapi::version::{version_spec, VersionDoc};

use super::datasets::dataset_path;
use super::versions::resolve;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// A version's OpenAPI document
///
/// Generated from the version's schema: each column a typed filter parameter with its
/// operators, the record schema with formats, nullability and example values from the data.
#[utoipa::path(
    tag = "catalog",
    params(VersionPath),
    responses((status = 200, description = "The version's OpenAPI 3.1 document", body = Object)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/versions/{v}/openapi.json")]
pub async fn get_version_openapi(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let r = resolve(&state, &caller, &path.0, &path.1, &path.2).await?;
    let (d, v) = (r.dataset(), r.version());
    // Versions are immutable; the metadata around them is not, hence `updated_at` in the key.
    let key = (v.id, d.updated_at.timestamp_micros());
    let body = if v.status == VersionStatus::Draft {
        None
    } else {
        state.version_specs.get(&key).await
    };
    let body = match body {
        Some(b) => b,
        None => {
            let table = r.table();
            let examples = column_examples(
                &state.catalog.db,
                &state.catalog.generic_plans,
                &state.catalog.cursor_key,
                table,
            )
            .await?;
            let all: Vec<usize> = (0..table.schema().fields.len()).collect();
            let doc = version_spec(&VersionDoc {
                agency: &d.agency,
                dataset: &d.slug,
                title: &d.title,
                description: &d.description,
                license: &d.license,
                version: v.version,
                schema: table.schema(),
                examples: &examples,
                geojson: geo_columns(table.schema(), &all).is_some(),
                registered: d.access == catalog::domain::Access::Registered,
            });
            let bytes = web::Bytes::from(
                serde_json::to_vec(&doc)
                    .map_err(|e| ApiError::from(catalog::CatalogError::Internal(e.to_string())))?,
            );
            if v.status != VersionStatus::Draft {
                state.version_specs.insert(key, bytes.clone()).await;
            }
            bytes
        }
    };
    let mut res = HttpResponse::Ok();
    super::records::cache_headers(&mut res, &r);
    Ok(res.content_type("application/json").body(body))
}

fn html(page: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(page)
}

/// `/docs`: the platform reference.
pub async fn platform_docs() -> HttpResponse {
    html(assets::docs_page("Gerbang API", "/v1/openapi.json"))
}

/// `/docs/{agency}/{dataset}`: the reference of the dataset's latest published version.
pub async fn dataset_docs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    let d = state
        .catalog
        .get_dataset(&agency, &dataset, caller.can_write(&agency))
        .await?;
    // The latest published version; a writer with only drafts sees the newest draft.
    let Some(v) = d
        .latest_version
        .or_else(|| d.versions.iter().map(|v| v.version).max())
    else {
        return Err(ApiError::not_found("this dataset has no version yet"));
    };
    Ok(html(assets::docs_page(
        &d.title,
        &format!(
            "/v1/datasets/{}/{}/versions/{v}/openapi.json",
            d.agency, d.slug
        ),
    )))
}

/// The vendored Swagger UI files; their URL names the version, so they are immutable.
pub async fn docs_asset(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (version, file) = path.into_inner();
    let found = match file.as_str() {
        _ if version != assets::SWAGGER_UI_VERSION => None,
        "swagger-ui-bundle.js" => Some((assets::SWAGGER_UI_JS, "text/javascript; charset=utf-8")),
        "swagger-ui.css" => Some((assets::SWAGGER_UI_CSS, "text/css; charset=utf-8")),
        _ => None,
    };
    let Some((body, content_type)) = found else {
        return actix_web::ResponseError::error_response(&ApiError::not_found(format!(
            "no such file: {}",
            req.path()
        )));
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(body)
}
