//! The route table. Each resource module has its handlers; this file reads as the map.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::error::ApiError;

mod agencies;
mod auth;
mod ckan;
mod datasets;
mod dcat;
mod developers;
mod health;
mod portal;
mod records;
mod versions;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(query_config())
        .route("/healthz", web::get().to(health::alive))
        .route("/readyz", web::get().to(health::ready))
        .route("/metrics", web::get().to(health::metrics))
        .route("/", web::get().to(portal::index))
        // Interoperability: CKAN Action API and datastore dump, DCAT-AP 3, Project Open Data.
        .route("/api/3/action/{action}", web::get().to(ckan::call_action))
        .route("/api/3/action/{action}", web::post().to(ckan::call_action))
        .route("/api/action/{action}", web::get().to(ckan::call_action))
        .route("/api/action/{action}", web::post().to(ckan::call_action))
        .route(
            "/datastore/dump/{resource_id}",
            web::get().to(ckan::dump_datastore),
        )
        .route("/catalog.jsonld", web::get().to(dcat::get_catalog_jsonld))
        .route("/catalog.ttl", web::get().to(dcat::get_catalog_turtle))
        .route("/data.json", web::get().to(dcat::get_data_json))
        .service(
            web::scope("/v1")
                // the liveness answer behind the gate: what key auth and limits cost (load-tests)
                .route("/status", web::get().to(health::alive))
                // The hot reads next: actix tries routes in order, one pattern match each.
                .route(
                    "/datasets/{agency}/{dataset}/versions/{v}/records",
                    web::get().to(records::query_records),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions/{v}/records/{id}",
                    web::get().to(records::get_record),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions/{v}/aggregate",
                    web::get().to(records::aggregate_records),
                )
                .route("/auth/token", web::post().to(auth::create_token))
                .route("/users", web::post().to(auth::create_user))
                .route("/developers", web::post().to(developers::register))
                .route("/developers", web::get().to(developers::list_developers))
                .route("/developers/{id}", web::patch().to(developers::set_tier))
                .route("/me", web::get().to(developers::me))
                .route("/me/keys", web::get().to(developers::list_keys))
                .route("/me/keys", web::post().to(developers::create_key))
                .route("/me/keys/{id}", web::delete().to(developers::revoke_key))
                .route("/me/keys/{id}/roll", web::post().to(developers::roll_key))
                .route("/me/usage", web::get().to(developers::my_usage))
                .route("/agencies", web::get().to(agencies::list_agencies))
                .route("/agencies", web::post().to(agencies::create_agency))
                .route("/agencies/{agency}", web::get().to(agencies::get_agency))
                .route("/datasets", web::get().to(datasets::list_datasets))
                .route(
                    "/datasets/{agency}",
                    web::post().to(datasets::create_dataset),
                )
                .route(
                    "/datasets/{agency}/{dataset}",
                    web::get().to(datasets::get_dataset),
                )
                .route(
                    "/datasets/{agency}/{dataset}",
                    web::patch().to(datasets::update_dataset),
                )
                .route(
                    "/datasets/{agency}/{dataset}/usage",
                    web::get().to(developers::dataset_usage),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions",
                    web::get().to(versions::list_versions),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions",
                    web::post().to(versions::create_version),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions/{v}",
                    web::get().to(versions::get_version),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions/{v}/publish",
                    web::post().to(versions::publish_version),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions/{v}/deprecate",
                    web::post().to(versions::deprecate_version),
                )
                .route(
                    "/datasets/{agency}/{dataset}/versions/{v}/datapackage.json",
                    web::get().to(versions::get_datapackage),
                ),
        )
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "no such endpoint; see /v1/openapi.json",
    ))
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(1 << 20)
        .error_handler(|err, _| {
            use actix_web::error::JsonPayloadError as E;
            let e = match &err {
                E::ContentType => ApiError::new(
                    catalog::ErrorCode::UnsupportedMediaType,
                    "send the body as application/json",
                ),
                E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::new(
                    catalog::ErrorCode::PayloadTooLarge,
                    "the JSON body is larger than 1 MiB",
                ),
                other => ApiError::bad_request(format!("the JSON body is not valid: {other}")),
            };
            e.into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        ApiError::bad_request(format!("the query string is not valid: {err}")).into()
    })
}

/// Public reads allow any origin; preflights are answered here.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let res = HttpResponse::build(StatusCode::NO_CONTENT)
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, HEAD, POST, PATCH, DELETE, OPTIONS",
            ))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, X-API-Key, X-CKAN-API-Key, Content-Type, If-None-Match, Idempotency-Key",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .finish();
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("ETag, Link, RateLimit, RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, Deprecation, Sunset, Content-Location, X-Cache, Age"),
    );
    Ok(res.map_into_left_body())
}
