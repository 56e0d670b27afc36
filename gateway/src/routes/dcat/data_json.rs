//! Project Open Data 1.1 (`/data.json`): the catalog for data.gov-style harvesters, from the
//! same listing as the DCAT-AP graph.
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use catalog::domain::{Access, Frequency};
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::routes::ckan::base_url;
use crate::AppState;

/// ISO 8601 repeating durations for Project Open Data's `accrualPeriodicity`.
fn frequency_iso(f: Frequency) -> &'static str {
    match f {
        Frequency::Daily => "R/P1D",
        Frequency::Weekly => "R/P1W",
        Frequency::Monthly => "R/P1M",
        Frequency::Quarterly => "R/P3M",
        Frequency::Annual => "R/P1Y",
        Frequency::Irregular => "irregular",
    }
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
    let base = base_url(&req);
    let listed = state.catalog.list_published().await?;
    let datasets: Vec<Value> = listed
        .iter()
        .map(|l| {
            let d = &l.dataset;
            let root = format!("{base}/v1/datasets/{}/{}", d.agency, d.slug);
            let root_ref = &root;
            let distribution: Vec<Value> = l
                .versions
                .iter()
                .flat_map(|v| {
                    [("csv", "text/csv", "CSV"), ("ndjson", "application/x-ndjson", "NDJSON")]
                        .into_iter()
                        .map(move |(f, media, name)| {
                            json!({
                                "@type": "dcat:Distribution",
                                "title": format!("{} (versi {}, {name})", d.title, v.version),
                                "downloadURL": format!("{root_ref}/versions/{}/records?format={f}", v.version),
                                "mediaType": media,
                                "format": name,
                            })
                        })
                })
                .collect();
            let mut ds = json!({
                "@type": "dcat:Dataset",
                "identifier": root,
                "title": d.title,
                "description": d.description,
                "keyword": if d.tags.is_empty() { vec![d.theme.as_str().to_owned()] } else { d.tags.clone() },
                "issued": d.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "modified": d.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "publisher": {"@type": "org:Organization", "name": l.agency.name},
                "contactPoint": {
                    "@type": "vcard:Contact",
                    "fn": d.contact.name.clone().unwrap_or_else(|| l.agency.name.clone()),
                    "hasEmail": format!("mailto:{}", d.contact.email.clone().unwrap_or_default()),
                },
                "accessLevel": match d.access { Access::Public => "public", Access::Registered => "restricted public" },
                "license": format!("https://spdx.org/licenses/{}.html", d.license),
                "accrualPeriodicity": frequency_iso(d.frequency),
                "theme": [d.theme.as_str()],
                "landingPage": root,
                "distribution": distribution,
            });
            if let Some(s) = &d.spatial {
                ds["spatial"] = json!(s);
            }
            if let Some(t) = &d.temporal {
                ds["temporal"] = json!(t);
            }
            if let Some(v) = d.latest_version {
                ds["describedBy"] = json!(format!("{root}/versions/{v}/datapackage.json"));
                ds["describedByType"] = json!("application/json");
            }
            ds
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(json!({
            "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
            "@id": format!("{base}/data.json"),
            "@type": "dcat:Catalog",
            "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
            "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
            "dataset": datasets,
        })))
}
