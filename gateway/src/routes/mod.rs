//! The route table. Each resource module has its handlers; this file reads as the map.
//!
//! Every API handler carries its `#[utoipa::path]` and is registered with `.service(handler)`
//! through `utoipa_actix_web`, which collects the platform document from the very table that
//! routes requests: an API route cannot exist without appearing in `/v1/openapi.json`. Only the
//! HTML pages (portal, `/docs`) are plain routes, outside the document.
use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};

use crate::error::ApiError;

mod agencies;
mod auth;
pub(crate) mod ckan;
mod datasets;
mod dcat;
mod developers;
mod docs;
mod health;
mod interop;
mod portal;
pub(crate) mod records;
pub(crate) mod versions;
mod views;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(query_config())
        // The API first: actix tries routes in registration order, one pattern match each, so
        // the hot reads should not wait behind the portal's and the interop faces' patterns.
        .service(
            scope::scope("/v1")
                // actix tries routes in order. Fixed paths first: comparing one costs the routes
                // behind it a string comparison, while each pattern tried costs a regex match.
                // The liveness answer behind the gate measures what key auth and limits cost
                // (load-tests/access.sh).
                .service(health::get_status)
                .service(health::get_openapi)
                // then the hot reads
                .service(records::query_records)
                .service(records::get_record)
                .service(records::aggregate_records)
                .service(auth::create_token)
                .service(auth::create_user)
                .service(developers::register)
                .service(developers::list_developers)
                .service(developers::set_tier)
                .service(developers::me)
                .service(developers::list_keys)
                .service(developers::create_key)
                .service(developers::revoke_key)
                .service(developers::roll_key)
                .service(developers::my_usage)
                .service(agencies::list_agencies)
                .service(agencies::create_agency)
                .service(agencies::get_agency)
                .service(datasets::list_datasets)
                .service(datasets::create_dataset)
                .service(datasets::get_dataset)
                .service(datasets::update_dataset)
                .service(developers::dataset_usage)
                .service(versions::list_versions)
                .service(versions::create_version)
                .service(versions::get_version)
                .service(versions::publish_version)
                .service(versions::deprecate_version)
                .service(versions::get_datapackage)
                .service(docs::get_version_openapi),
        )
        .service(health::get_health)
        .service(health::get_readiness)
        .service(health::get_metrics)
        // the portal's app shell and files (HTML, outside the document)
        .map(|c| {
            portal::configure(c);
            c
        })
        .route("/docs", web::get().to(docs::platform_docs))
        .route(
            "/docs/assets/{version}/{file}",
            web::get().to(docs::docs_asset),
        )
        .route(
            "/docs/{agency}/{dataset}",
            web::get().to(docs::dataset_docs),
        )
        // Interoperability: CKAN Action API and datastore dump, DCAT-AP 3, Project Open Data.
        .service(interop::call_ckan_action)
        .service(interop::call_ckan_action_unversioned)
        .service(ckan::dump_datastore)
        .service(dcat::get_catalog_jsonld)
        .service(dcat::get_catalog_turtle)
        .service(dcat::get_data_json)
        .default_service(web::to(not_found));
}

/// The platform document, collected from [`configure`]'s handlers.
pub fn platform_spec() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .configure(configure)
        .split_for_parts();
    openapi::platform::finish(doc)
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

/// The offered value whose media type `Accept` names with the highest weight above zero (the
/// first named of equal weight), as RFC 9110 (12.5.1) weighs them; `None` when it names none of
/// them with a weight above zero (no header, `*/*`, other types only): the caller's default.
/// `text/csv;q=0` refuses CSV; `text/csv;q=0.5, application/json` prefers JSON.
pub(crate) fn negotiate<T: Copy>(req: &HttpRequest, offered: &[(&str, T)]) -> Option<T> {
    use actix_web::http::header::{Accept, Header as _, Quality};
    // no header (wrk, most API clients): nothing to parse
    req.headers().get(header::ACCEPT)?;
    let accept = Accept::parse(req).ok()?;
    let mut best: Option<(Quality, T)> = None;
    for named in accept.iter() {
        let Some(&(_, value)) = offered
            .iter()
            .find(|(media, _)| named.item.essence_str().eq_ignore_ascii_case(media))
        else {
            continue;
        };
        if named.quality > best.map_or(Quality::ZERO, |(q, _)| q) {
            best = Some((named.quality, value));
        }
    }
    best.map(|(_, value)| value)
}

/// Whether `If-None-Match` names `etag` (or `*`), by the weak comparison it asks for (RFC 9110,
/// 13.1.2): `W/"x"` matches `"x"`, as a proxy that compressed the answer (nginx's gzip) sends
/// it back. Every `If-None-Match` line counts.
pub(crate) fn not_modified(req: &HttpRequest, etag: &[u8]) -> bool {
    fn opaque(tag: &[u8]) -> &[u8] {
        tag.strip_prefix(b"W/").unwrap_or(tag)
    }
    let etag = opaque(etag);
    req.headers().get_all(header::IF_NONE_MATCH).any(|v| {
        v.as_bytes().split(|b| *b == b',').any(|t| {
            let t = t.trim_ascii();
            t == b"*" || opaque(t) == etag
        })
    })
}

/// Public reads allow any origin; preflights are answered here.
///
/// HEAD is GET without the content (RFC 9110, 9.3.2), done here rather than in a layer of its
/// own (one more layer cost uncached W1 about 6 %): the request is routed, authorised, limited and
/// counted as a GET, and actix sends the answer's headers only (a sized body's
/// `Content-Length` stays). A streamed body (a whole-result export) is dropped unread, which
/// ends its query. Link checkers, download managers and CKAN harvesters ask this way.
pub async fn cors(
    mut req: ServiceRequest,
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
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
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
    Ok(
        res.map_body(|_, body| match head && body.size() == BodySize::Stream {
            true => EitherBody::right(BoxBody::new(actix_web::body::None::new())),
            false => EitherBody::left(body),
        }),
    )
}
