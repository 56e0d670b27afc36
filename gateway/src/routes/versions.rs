//! Versions: upload (draft), publish, deprecate, metadata and the Data Package description.
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use catalog::domain::{Access, AgencySlug, VersionRef};
use catalog::records::ingest::{IngestRequest, NoProgress};
use catalog::records::read::VersionTable;
use catalog::service::{Dataset, Version};
use serde::Deserialize;

use super::datasets::dataset_path;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::resolved::Entry;
use crate::upload;
use crate::AppState;

/// A resolved `…/versions/{v}` the caller may read; shares the cached entry (no copies).
pub struct Resolved {
    pub agency: AgencySlug,
    entry: Arc<Entry>,
    pub by_number: bool,
}

impl Resolved {
    pub fn dataset(&self) -> &Dataset {
        &self.entry.dataset
    }

    pub fn version(&self) -> &Version {
        &self.entry.version
    }

    pub fn table(&self) -> &VersionTable {
        &self.entry.table
    }
}

/// Resolves the version and checks read access: drafts are 404 to all but the agency's
/// writers; `registered` datasets need a valid key (or staff).
pub async fn resolve(
    state: &AppState,
    caller: &Caller,
    agency: &str,
    dataset: &str,
    v: &str,
) -> ApiResult<Resolved> {
    let (agency, dataset) = dataset_path(agency, dataset)?;
    let v = VersionRef::parse(v)?;
    let see_drafts = caller.can_write(&agency);
    let entry = state
        .resolved
        .get(&state.catalog, &agency, &dataset, v, see_drafts)
        .await?;
    if entry.dataset.access == Access::Registered && matches!(caller, Caller::Anonymous) {
        return Err(ApiError::unauthorized(
            "this dataset is for registered developers: send X-API-Key",
        ));
    }
    Ok(Resolved {
        agency,
        entry,
        by_number: matches!(v, VersionRef::Number(_)),
    })
}

fn number(v: &str) -> ApiResult<i32> {
    match VersionRef::parse(v)? {
        VersionRef::Number(n) => Ok(n),
        VersionRef::Latest => Err(ApiError::bad_request(
            "name the version by number, not latest",
        )),
    }
}

pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    let view = state
        .catalog
        .get_dataset(&agency, &dataset, caller.can_write(&agency))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": view.versions, "next_cursor": null})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    changelog: Option<String>,
}

/// Uploads a new draft version (CSV, JSON array, NDJSON, or multipart with a Table Schema).
#[tracing::instrument(skip_all, fields(agency = %path.0, dataset = %path.1))]
pub async fn create_version(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    params: web::Query<UploadParams>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    caller.require_writer(&agency)?;
    // Existence first, so a wrong path fails before a large body is read.
    state.catalog.get_dataset(&agency, &dataset, true).await?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?;
    let spooled = upload::receive(
        &req,
        payload,
        state.settings.max_upload_bytes,
        state.settings.upload_dir.as_deref(),
    )
    .await?;
    let request = IngestRequest {
        path: spooled.file.path().to_owned(),
        format: spooled.format,
        schema: spooled.schema,
        timezone: Default::default(),
    };
    let created = state
        .catalog
        .create_version(
            &agency,
            &dataset,
            request,
            params.into_inner().changelog,
            idempotency_key,
            Arc::new(NoProgress),
        )
        .await?;
    drop(spooled.file);
    state
        .dataset_changed(agency.as_str(), dataset.as_str())
        .await;
    let mut body = serde_json::to_value(&created.version).expect("a version serializes");
    body["warnings"] = serde_json::json!(created.warnings);
    let mut res = HttpResponse::Created();
    res.insert_header(("Cache-Control", "no-store"));
    res.insert_header((
        "Location",
        format!(
            "/v1/datasets/{agency}/{dataset}/versions/{}",
            created.version.version
        ),
    ));
    if created.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.json(body))
}

pub async fn get_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let r = resolve(&state, &caller, &path.0, &path.1, &path.2).await?;
    let mut res = HttpResponse::Ok();
    super::records::cache_headers(&mut res, &r);
    Ok(res.json(r.version()))
}

pub async fn publish_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    caller.require_writer(&agency)?;
    let v = state
        .catalog
        .publish_version(&agency, &dataset, number(&path.2)?)
        .await?;
    state
        .dataset_changed(agency.as_str(), dataset.as_str())
        .await;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(v))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeprecateInput {
    sunset: Option<chrono::DateTime<chrono::FixedOffset>>,
}

pub async fn deprecate_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    caller.require_writer(&agency)?;
    let input: DeprecateInput = if body.iter().all(u8::is_ascii_whitespace) {
        DeprecateInput::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the JSON body is not valid: {e}")))?
    };
    let sunset = input.sunset.map(|s| s.with_timezone(&chrono::Utc));
    let v = state
        .catalog
        .deprecate_version(&agency, &dataset, number(&path.2)?, sunset)
        .await?;
    state
        .dataset_changed(agency.as_str(), dataset.as_str())
        .await;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(v))
}

/// A Frictionless Data Package describing the version, its resource being the CSV export.
pub async fn get_datapackage(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let r = resolve(&state, &caller, &path.0, &path.1, &path.2).await?;
    let conn = req.connection_info();
    let base = format!("{}://{}", conn.scheme(), conn.host());
    let fields: Vec<_> = std::iter::once(serde_json::json!({"name": "_id", "type": "integer", "description": "Row number in this version"}))
        .chain(r.version().schema.fields.iter().map(|f| {
            let mut v = serde_json::json!({"name": f.name, "type": f.field_type.as_str()});
            if let Some(d) = &f.description {
                v["description"] = serde_json::json!(d);
            }
            v
        }))
        .collect();
    let d = r.dataset();
    let pkg = serde_json::json!({
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": format!("{}-{}", d.agency, d.slug),
        "title": d.title,
        "description": d.description,
        "version": r.version().version.to_string(),
        "keywords": d.tags,
        "licenses": [{"name": d.license}],
        "created": r.version().created_at,
        "resources": [{
            "name": d.slug,
            "type": "table",
            "path": format!("{base}/v1/datasets/{}/{}/versions/{}/records?format=csv", d.agency, d.slug, r.version().version),
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {"fields": fields, "primaryKey": ["_id"]},
        }],
    });
    let mut res = HttpResponse::Ok();
    super::records::cache_headers(&mut res, &r);
    Ok(res.json(pkg))
}
