//! Versions: upload (draft), publish, deprecate, metadata and the Data Package description.
use std::sync::Arc;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use catalog::domain::{Access, AgencySlug, VersionRef};
use catalog::records::ingest::{IngestRequest, NoProgress};
use catalog::records::read::VersionTable;
use catalog::schema::parse_index_list;
use catalog::service::{Dataset, Version, VersionSummary};
use openapi::params::{DatasetPath, VersionPath};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::datasets::dataset_path;
use super::views::ListView;
use crate::auth::Caller;
use crate::catalog_cache::to_json;
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

/// List a dataset's versions
#[utoipa::path(
    tag = "catalog",
    params(DatasetPath),
    responses((status = 200, body = ListView<VersionSummary>)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    state
        .catalog_answers
        .json(&req, !caller.is_staff(), || async {
            let view = state
                .catalog
                .get_dataset(&agency, &dataset, caller.can_write(&agency))
                .await?;
            to_json(&ListView::all(view.versions))
        })
        .await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// What changed in this version, for the dataset's readers.
    changelog: Option<String>,
    /// Indexes to build beside the one every field gets: the fields of each comma-separated,
    /// indexes separated by `;` (also read from the Table Schema's `indexes`). An index over
    /// `district,category,reported_at` serves equality filters on the first two sorted by the
    /// third.
    #[param(example = "district,category,reported_at")]
    indexes: Option<String>,
}

/// A new draft and what ingestion noticed.
#[derive(Serialize, ToSchema)]
pub struct CreatedVersionView<'a> {
    #[serde(flatten)]
    version: &'a Version,
    /// Things worth a look before publishing (e.g. columns typed as text because of a few
    /// odd values).
    warnings: &'a [String],
}

/// Upload a new version
///
/// The body is CSV (comma or semicolon, BOM handled), a JSON array of objects, NDJSON, or
/// multipart with the data in part `file` and an optional Table Schema in part `schema`.
/// Types are inferred unless a schema is given. The version is a draft until published; a
/// failed or cut-off upload leaves nothing behind, and a retry with the same
/// `Idempotency-Key` answers the first result.
#[utoipa::path(
    tag = "publishing",
    params(
        DatasetPath,
        UploadParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried upload answer the first result instead of making a second version."),
    ),
    request_body(
        description = "The data",
        content(
            (String = "text/csv"),
            (Object = "application/json"),
            (String = "application/x-ndjson"),
            (Object = "multipart/form-data"),
        )
    ),
    responses(
        (status = 201, body = CreatedVersionView, headers(("Location" = String, description = "The new version"))),
        (status = 409, description = "The Idempotency-Key was used for a different body"),
    ),
    security(("bearer" = []))
)]
#[post("/datasets/{agency}/{dataset}/versions")]
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
        indexes: params
            .indexes
            .as_deref()
            .map(parse_index_list)
            .unwrap_or_default(),
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
    let body = CreatedVersionView {
        version: &created.version,
        warnings: &created.warnings,
    };
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

/// Get a version
///
/// Its schema, row count, checksum, changelog and schema changes against the previous
/// version. `latest` is the newest published version.
#[utoipa::path(
    tag = "catalog",
    params(VersionPath),
    responses((status = 200, body = Version)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/versions/{v}")]
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

/// Publish a version
///
/// The draft becomes public and `latest` at once, on every node.
#[utoipa::path(
    tag = "publishing",
    params(VersionPath),
    responses(
        (status = 200, body = Version),
        (status = 409, description = "The version is not a draft"),
    ),
    security(("bearer" = []))
)]
#[post("/datasets/{agency}/{dataset}/versions/{v}/publish")]
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

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeprecateInput {
    /// When the version stops being served (sent as the `Sunset` header meanwhile).
    sunset: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// Deprecate a version
///
/// It keeps answering, with `Deprecation` (and `Sunset`, if given) headers.
#[utoipa::path(
    tag = "publishing",
    params(VersionPath),
    request_body(content = Option<DeprecateInput>, description = "Optional; an empty body is fine"),
    responses(
        (status = 200, body = Version),
        (status = 409, description = "Only a published version can be deprecated"),
    ),
    security(("bearer" = []))
)]
#[post("/datasets/{agency}/{dataset}/versions/{v}/deprecate")]
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

/// The version as a Data Package
///
/// A Frictionless Data Package (v2) whose one resource is the version's CSV export, with its
/// Table Schema.
#[utoipa::path(
    tag = "catalog",
    params(VersionPath),
    responses((status = 200, description = "datapackage.json", body = Object)),
    security((), ("api_key" = []), ("api_key_query" = []), ("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/versions/{v}/datapackage.json")]
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
