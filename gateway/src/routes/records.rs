//! The records API: filtered, sorted, paged or streamed reads of one version, one record by
//! `_id`, and aggregates. Caching headers follow the contract (immutable numbered versions).
use std::ops::ControlFlow;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse, HttpResponseBuilder};
use catalog::domain::{Access, VersionStatus};
use catalog::records::encode::{
    self, Columns, CsvEncoder, GeojsonEncoder, JsonArrayEncoder, NdjsonEncoder, RowEncoder,
};
use catalog::records::query::{self, RecordFormat};
use catalog::records::read;
use futures::StreamExt as _;
use openapi::bodies::{AggregateView, RecordPage};
use openapi::params::{AggregateQuery, RecordPath, RecordQuery, VersionPath};

use super::versions::{resolve, Resolved};
use crate::auth::Caller;
use crate::cache::{etag_of, records_key, Cached, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// `Cache-Control`, `Content-Location` and deprecation headers for a read of `r`.
pub fn cache_headers(res: &mut HttpResponseBuilder, r: &Resolved) {
    let v = r.version();
    let cache = if v.status == VersionStatus::Draft {
        "private, no-store"
    } else if r.dataset().access == Access::Registered {
        "private, no-cache"
    } else if r.by_number {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    res.insert_header((header::CACHE_CONTROL, cache));
    if !r.by_number {
        res.insert_header((
            header::CONTENT_LOCATION,
            format!(
                "/v1/datasets/{}/{}/versions/{}",
                r.agency,
                r.dataset().slug,
                v.version
            ),
        ));
    }
    if v.status == VersionStatus::Deprecated {
        if let Some(at) = v.deprecated_at {
            res.insert_header(("Deprecation", format!("@{}", at.timestamp())));
        }
        if let Some(sunset) = v.sunset {
            res.insert_header((
                "Sunset",
                sunset.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            ));
        }
    }
}

fn params_of(req: &HttpRequest) -> ApiResult<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("the query string is not valid: {e}")))
}

/// Starts a read's response: caching headers and `ETag`; `Break` holds the 304 to answer when the
/// client's `If-None-Match` already matches.
fn conditional(
    req: &HttpRequest,
    r: &Resolved,
    tag: String,
) -> ControlFlow<HttpResponse, HttpResponseBuilder> {
    let mut res = HttpResponse::Ok();
    cache_headers(&mut res, r);
    let matched = super::not_modified(req, tag.as_bytes());
    res.insert_header((header::ETAG, tag));
    if matched {
        res.status(actix_web::http::StatusCode::NOT_MODIFIED);
        return ControlFlow::Break(res.finish());
    }
    ControlFlow::Continue(res)
}

/// The format `Accept` asks for, when the query names none: JSON unless it prefers another.
pub(crate) fn format_from_accept(req: &HttpRequest) -> RecordFormat {
    const OFFERED: [(&str, RecordFormat); 5] = [
        ("application/json", RecordFormat::Json),
        ("text/csv", RecordFormat::Csv),
        ("application/x-ndjson", RecordFormat::Ndjson),
        ("application/ndjson", RecordFormat::Ndjson),
        ("application/geo+json", RecordFormat::Geojson),
    ];
    super::negotiate(req, &OFFERED).unwrap_or(RecordFormat::Json)
}

fn content_type(format: RecordFormat) -> &'static str {
    match format {
        RecordFormat::Json => "application/json",
        RecordFormat::Csv => "text/csv; charset=utf-8",
        RecordFormat::Ndjson => "application/x-ndjson",
        RecordFormat::Geojson => "application/geo+json",
    }
}

fn next_link(req: &HttpRequest, params: &[(String, String)], cursor: &str) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "cursor" && k != "offset" && k != "api_key")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    kept.push(("cursor", cursor));
    let qs = serde_urlencoded::to_string(&kept).unwrap_or_default();
    format!("<{}?{}>; rel=\"next\"", req.path(), qs)
}

/// Query records
///
/// Filtered, sorted, paged records of one version — or, for csv, ndjson and geojson without
/// `limit`, the whole selection streamed. Numbered versions are immutable: their answers carry
/// a strong `ETag` and `Cache-Control: public, max-age=31536000, immutable`.
#[utoipa::path(
    tag = "records",
    params(VersionPath, RecordQuery),
    responses(
        (status = 200, description = "A page of records, or the streamed export",
            content(
                (RecordPage = "application/json"),
                (String = "text/csv"),
                (String = "application/x-ndjson"),
                (Object = "application/geo+json"),
            ),
            headers(
                ("ETag" = String, description = "Strong validator of this answer"),
                ("Cache-Control" = String),
                ("Link" = String, description = "`rel=\"next\"` page, when there is one"),
                ("X-Cache" = String, description = "hit or miss"),
            )
        ),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/versions/{v}/records")]
pub async fn query_records(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let generation = state.hot.generation();
    let r = resolve(&state, &caller, &path.0, &path.1, &path.2).await?;
    let params = params_of(&req)?;
    let table = r.table();
    let q = query::parse_records(table.schema(), table.timezone, &params)?;
    let format = q.format.unwrap_or_else(|| format_from_accept(&req));
    let key = records_key(r.version().id, format, &q);
    let mut res = match conditional(&req, &r, etag_of(&key)) {
        ControlFlow::Continue(res) => res,
        ControlFlow::Break(mut not_modified) => {
            not_modified
                .headers_mut()
                .insert(header::VARY, header::HeaderValue::from_static("Accept"));
            return Ok(not_modified);
        }
    };
    res.insert_header((header::VARY, "Accept"));
    let output = || -> Vec<usize> {
        q.select
            .clone()
            .unwrap_or_else(|| (0..table.schema().fields.len()).collect())
    };
    let geo = |output: &[usize]| {
        encode::geo_columns(table.schema(), output).ok_or_else(|| {
            ApiError::bad_request("geojson needs latitude and longitude (or lat and lon) number columns in the selection")
        })
    };
    if format != RecordFormat::Json && q.limit.is_none() {
        let output = output();
        let cols = Columns::new(table.schema(), &output);
        // whole-table streams are never cached
        res.insert_header((header::CONTENT_TYPE, content_type(format)));
        let stream = match format {
            RecordFormat::Csv => {
                res.insert_header((
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}-{}-v{}.csv\"",
                        r.agency,
                        r.dataset().slug,
                        r.version().version
                    ),
                ));
                read::export(
                    state.catalog.db.clone(),
                    state.catalog.cursor_key.clone(),
                    table.clone(),
                    q,
                    CsvEncoder::new(cols, false),
                )?
                .boxed_local()
            }
            RecordFormat::Ndjson => read::export(
                state.catalog.db.clone(),
                state.catalog.cursor_key.clone(),
                table.clone(),
                q,
                NdjsonEncoder(cols),
            )?
            .boxed_local(),
            _ => {
                let g = geo(&output)?;
                read::export(
                    state.catalog.db.clone(),
                    state.catalog.cursor_key.clone(),
                    table.clone(),
                    q,
                    GeojsonEncoder::new(cols, g),
                )?
                .boxed_local()
            }
        };
        return Ok(res.streaming(futures::StreamExt::map(stream, |item| {
            item.map_err(|e| actix_web::Error::from(ApiError::from(e)))
        })));
    }
    let key = cacheable(&r).then_some(key);
    let (answer, outcome) = cached_or_read(&state, key, || async {
        state.metrics.record_reads.inc();
        // columns are set up on a miss only: a hit needs none of them
        let output = output();
        let cols = Columns::new(table.schema(), &output);
        let catalog = &state.catalog;
        let (db, plans, key) = (&catalog.db, &catalog.generic_plans, &catalog.cursor_key);
        let encoder: Box<dyn RowEncoder + Send> = match format {
            RecordFormat::Json => Box::new(JsonArrayEncoder::in_data_envelope(cols)),
            RecordFormat::Csv => Box::new(CsvEncoder::new(cols, false)),
            RecordFormat::Ndjson => Box::new(NdjsonEncoder(cols)),
            RecordFormat::Geojson => Box::new(GeojsonEncoder::new(cols, geo(&output)?)),
        };
        let page = read::query_page_encoded(db, plans, key, table, &q, encoder).await?;
        let body = match format {
            RecordFormat::Json => {
                let mut buf = page.body; // `{"data":[…]`
                buf.extend_from_slice(b",\"next_cursor\":");
                buf.extend_from_slice(&serde_json::to_vec(&page.next_cursor).unwrap_or_default());
                if let Some(t) = page.total {
                    buf.extend_from_slice(format!(",\"total\":{t}").as_bytes());
                }
                buf.push(b'}');
                buf
            }
            _ => page.body,
        };
        Ok(Cached::new(body, content_type(format), page.next_cursor))
    })
    .await?;
    if let Some(c) = &answer.next_cursor {
        // the Link of a hot page is made once, for the first request target that asked
        let target = req.uri().path_and_query().map_or("", |t| t.as_str());
        let memo = !params.iter().any(|(k, _)| k == "api_key");
        if let Some(link) = answer.link_for(target, memo, || next_link(&req, &params, c)) {
            res.insert_header((header::LINK, link));
        }
    }
    let res = respond(res, &answer, outcome);
    state.hot.remember(&req, &r, generation, &answer, &res);
    Ok(res)
}

/// Published and deprecated versions are cached; drafts never are.
fn cacheable(r: &Resolved) -> bool {
    r.version().status != VersionStatus::Draft
}

/// The cached answer for `key`, or `read`'s (stored when `key` is given).
async fn cached_or_read<F, Fut>(
    state: &AppState,
    key: Option<String>,
    read: F,
) -> ApiResult<(Arc<Cached>, Outcome)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<Cached>>,
{
    match key {
        Some(k) => state.responses.get_or_fill(k, read).await,
        None => Ok((Arc::new(read().await?), Outcome::Miss)),
    }
}

/// The body with its diagnosis headers; the caller's rate-limit headers come later, in the gate.
fn respond(mut res: HttpResponseBuilder, answer: &Cached, outcome: Outcome) -> HttpResponse {
    res.insert_header((header::CONTENT_TYPE, answer.content_type));
    res.insert_header(("X-Cache", outcome.header()));
    res.insert_header((header::AGE, answer.age().to_string()));
    res.body(answer.body.clone())
}

/// Get a record
///
/// One record by its `_id`.
#[utoipa::path(
    tag = "records",
    params(RecordPath),
    responses(
        (status = 200, description = "The record", body = Object),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/versions/{v}/records/{id}")]
pub async fn get_record(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> ApiResult<HttpResponse> {
    let generation = state.hot.generation();
    let r = resolve(&state, &caller, &path.0, &path.1, &path.2).await?;
    let id: i64 = path
        .3
        .parse()
        .ok()
        .filter(|i| *i >= 1)
        .ok_or_else(|| ApiError::not_found("_id must be a row number from 1"))?;
    let table = r.table();
    let key = format!("g|{}|{id}", r.version().id);
    let res = match conditional(&req, &r, etag_of(&key)) {
        ControlFlow::Continue(res) => res,
        ControlFlow::Break(not_modified) => return Ok(not_modified),
    };
    let key = cacheable(&r).then_some(key);
    let (answer, outcome) = cached_or_read(&state, key, || async {
        state.metrics.record_reads.inc();
        let row = read::get_record(&state.catalog.db, &state.catalog.lookups, table, id)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "version {} has no record {id}",
                    r.version().version
                ))
            })?;
        let all: Vec<usize> = (0..table.schema().fields.len()).collect();
        let mut buf = Vec::with_capacity(256);
        encode::write_json_record(&mut buf, &Columns::new(table.schema(), &all), &row);
        Ok(Cached::new(buf, "application/json", None))
    })
    .await?;
    let res = respond(res, &answer, outcome);
    state.hot.remember(&req, &r, generation, &answer, &res);
    Ok(res)
}

/// Aggregate records
///
/// Grouped counts and metrics over the filtered records; one row without `group_by`. Column
/// filters and `q` apply as in a records query.
#[utoipa::path(
    tag = "records",
    params(VersionPath, AggregateQuery),
    responses(
        (status = 200, body = AggregateView),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/versions/{v}/aggregate")]
pub async fn aggregate_records(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let generation = state.hot.generation();
    let r = resolve(&state, &caller, &path.0, &path.1, &path.2).await?;
    let params = params_of(&req)?;
    let table = r.table();
    let q = query::parse_aggregate(table.schema(), table.timezone, &params)?;
    let key = format!(
        "a|{}|{}|{:?}|{:?}",
        r.version().id,
        q.selection.fingerprint(),
        q.group_by,
        q.metrics
    );
    let res = match conditional(&req, &r, etag_of(&key)) {
        ControlFlow::Continue(res) => res,
        ControlFlow::Break(not_modified) => return Ok(not_modified),
    };
    let key = cacheable(&r).then_some(key);
    let (answer, outcome) = cached_or_read(&state, key, || async {
        state.metrics.record_reads.inc();
        let data = read::aggregate(&state.catalog.db, table, &q).await?;
        let body = serde_json::to_vec(&serde_json::json!({"data": data}))
            .map_err(|e| ApiError::from(catalog::CatalogError::Internal(e.to_string())))?;
        Ok(Cached::new(body, "application/json", None))
    })
    .await?;
    let res = respond(res, &answer, outcome);
    state.hot.remember(&req, &r, generation, &answer, &res);
    Ok(res)
}
