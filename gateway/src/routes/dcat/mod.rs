//! The catalog for harvesters: DCAT-AP 3 as JSON-LD (`/catalog.jsonld`) or Turtle
//! (`/catalog.ttl`, or `Accept: text/turtle` on `/catalog.jsonld`), and Project Open Data 1.1
//! (`/data.json`, in [`data_json`]).
//!
//! One RDF graph ([`dcat_graph`], built with oxrdf so every IRI is checked) is serialised both
//! ways. Each dataset is a `dcat:Dataset` with a `dcat:Distribution` per readable version and
//! format (the CSV one with the `dcat:byteSize` and `spdx:checksum` of exactly the bytes its
//! `downloadURL` serves), one `dcat:DataService` (its API, described by the version's OpenAPI document), and its
//! versions as `dcat:hasVersion` datasets chained with `dcat:previousVersion`. Only datasets are
//! linked from the catalog with `dcat:dataset`, so harvesters see each dataset once.
use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use catalog::domain::{Access, Frequency, Theme};
use catalog::records::encode::{Columns, CsvEncoder};
use catalog::records::{query, read};
use catalog::service::listing::Listed;
use catalog::service::{Catalog, Version};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{BlankNode, Literal, NamedNode, NamedOrBlankNode, Term, Triple};
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use super::ckan::base_url;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

mod data_json;

pub use data_json::get_data_json;

const PREFIXES: &[(&str, &str)] = &[
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("dct", "http://purl.org/dc/terms/"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("vcard", "http://www.w3.org/2006/vcard/ns#"),
    ("skos", "http://www.w3.org/2004/02/skos/core#"),
    ("spdx", "http://spdx.org/rdf/terms#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
];

const EU: &str = "http://publications.europa.eu/resource/authority";

/// The EU frequency vocabulary's term for a dataset's frequency.
fn frequency_iri(f: Frequency) -> String {
    let code = match f {
        Frequency::Daily => "DAILY",
        Frequency::Weekly => "WEEKLY",
        Frequency::Monthly => "MONTHLY",
        Frequency::Quarterly => "QUARTERLY",
        Frequency::Annual => "ANNUAL",
        Frequency::Irregular => "IRREG",
    };
    format!("{EU}/frequency/{code}")
}

/// The EU data-theme closest to each smart-city dimension.
fn theme_iri(t: Theme) -> String {
    let code = match t {
        Theme::Governance => "GOVE",
        Theme::Branding => "EDUC", // city branding: culture, tourism and sport
        Theme::Economy => "ECON",
        Theme::Living => "REGI", // quality of life in the city
        Theme::Society => "SOCI",
        Theme::Environment => "ENVI",
    };
    format!("{EU}/data-theme/{code}")
}

/// A `start/end` period of dates, when `temporal` is one.
fn period(temporal: &str) -> Option<(String, String)> {
    let (a, b) = temporal.split_once('/')?;
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    Some((date(a)?.to_string(), date(b)?.to_string()))
}

fn dcat(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("http://www.w3.org/ns/dcat#{local}"))
}

fn dct(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("http://purl.org/dc/terms/{local}"))
}

fn foaf(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("http://xmlns.com/foaf/0.1/{local}"))
}

fn vcard(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("http://www.w3.org/2006/vcard/ns#{local}"))
}

fn spdx(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("http://spdx.org/rdf/terms#{local}"))
}

fn text(s: &str) -> Term {
    Literal::new_simple_literal(s).into()
}

fn date_time(t: DateTime<Utc>) -> Term {
    Literal::new_typed_literal(
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        xsd::DATE_TIME,
    )
    .into()
}

/// Triples in the order they were added (so each subject's statements stay together).
struct Graph {
    triples: Vec<Triple>,
}

impl Graph {
    fn add(&mut self, s: impl Into<NamedOrBlankNode>, p: NamedNode, o: impl Into<Term>) {
        self.triples.push(Triple::new(s, p, o));
    }
}

/// An IRI under this server; the host comes from the request, so it is checked.
fn iri(s: String) -> ApiResult<NamedNode> {
    NamedNode::new(s)
        .map_err(|_| ApiError::bad_request("the Host header does not make a valid IRI"))
}

/// Size and SHA-256 of each version's CSV export (the bytes its `downloadURL` serves), keyed by
/// the version's record table. Published and deprecated tables never change, so each is hashed
/// once per process; the first catalog request after start pays for streaming them.
static CSV_DIGESTS: LazyLock<moka::sync::Cache<String, (u64, String)>> =
    LazyLock::new(|| moka::sync::Cache::new(100_000));

async fn csv_digest(state: &AppState, v: &Version, timezone: &str) -> ApiResult<(u64, String)> {
    if let Some(d) = CSV_DIGESTS.get(&v.table_name) {
        return Ok(d);
    }
    let table = Catalog::version_table(v, timezone);
    // What `records?format=csv` streams: every field, in `_id` order.
    let q = query::parse_records(table.schema(), table.timezone, &[])?;
    let all: Vec<usize> = (0..table.schema().fields.len()).collect();
    let cols = Columns::new(table.schema(), &all);
    let stream = read::export(
        state.catalog.db.clone(),
        state.catalog.cursor_key.clone(),
        table,
        q,
        CsvEncoder::new(cols, false),
    )?;
    let mut stream = std::pin::pin!(stream);
    let mut hash = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        hash.update(&chunk);
    }
    let d = (size, hex::encode(hash.finalize()));
    CSV_DIGESTS.insert(v.table_name.clone(), d.clone());
    Ok(d)
}

type Digests = HashMap<String, (u64, String)>;

/// The DCAT-AP 3 graph of the whole catalog.
fn dcat_graph(base: &str, listed: &[Listed], digests: &Digests) -> ApiResult<Graph> {
    let mut g = Graph { triples: vec![] };
    let catalog = iri(format!("{base}/catalog"))?;
    let site = iri(format!("{base}/"))?;
    g.add(catalog.clone(), rdf::TYPE.into(), dcat("Catalog"));
    g.add(catalog.clone(), dct("title"), text("Gerbang"));
    g.add(
        catalog.clone(),
        dct("description"),
        text("Katalog data terbuka yang dilayani Gerbang: dataset, versi, dan API-nya."),
    );
    g.add(catalog.clone(), dct("publisher"), site.clone());
    g.add(catalog.clone(), foaf("homepage"), site.clone());
    if let Some(m) = listed.iter().map(|l| l.dataset.updated_at).max() {
        g.add(catalog.clone(), dct("modified"), date_time(m));
    }
    g.add(site.clone(), rdf::TYPE.into(), foaf("Agent"));
    g.add(site.clone(), foaf("name"), text("Gerbang"));

    let mut agencies_done = vec![];
    for l in listed {
        let d = &l.dataset;
        let root = format!("{base}/v1/datasets/{}/{}", d.agency, d.slug);
        let ds = iri(root.clone())?;
        g.add(catalog.clone(), dcat("dataset"), ds.clone());

        let publisher = iri(format!("{base}/v1/agencies/{}", d.agency))?;
        if !agencies_done.contains(&d.agency) {
            agencies_done.push(d.agency.clone());
            g.add(publisher.clone(), rdf::TYPE.into(), foaf("Organization"));
            g.add(publisher.clone(), foaf("name"), text(&l.agency.name));
            if let Some(w) = l
                .agency
                .website
                .as_deref()
                .and_then(|w| NamedNode::new(w).ok())
            {
                g.add(publisher.clone(), foaf("homepage"), w);
            }
        }
        let license = iri(format!("http://spdx.org/licenses/{}", d.license))?;

        g.add(ds.clone(), rdf::TYPE.into(), dcat("Dataset"));
        g.add(
            ds.clone(),
            dct("identifier"),
            text(&format!("{}/{}", d.agency, d.slug)),
        );
        g.add(ds.clone(), dct("title"), text(&d.title));
        g.add(ds.clone(), dct("description"), text(&d.description));
        for t in &d.tags {
            g.add(ds.clone(), dcat("keyword"), text(t));
        }
        g.add(ds.clone(), dcat("theme"), iri(theme_iri(d.theme))?);
        g.add(ds.clone(), dct("publisher"), publisher.clone());
        g.add(ds.clone(), dct("issued"), date_time(d.created_at));
        g.add(ds.clone(), dct("modified"), date_time(d.updated_at));
        g.add(
            ds.clone(),
            dct("accrualPeriodicity"),
            iri(frequency_iri(d.frequency))?,
        );
        g.add(ds.clone(), dct("license"), license.clone());
        let access = match d.access {
            Access::Public => "PUBLIC",
            Access::Registered => "RESTRICTED",
        };
        g.add(
            ds.clone(),
            dct("accessRights"),
            iri(format!("{EU}/access-right/{access}"))?,
        );
        if d.contact.name.is_some() || d.contact.email.is_some() {
            let c = BlankNode::default();
            g.add(ds.clone(), dcat("contactPoint"), c.clone());
            g.add(c.clone(), rdf::TYPE.into(), vcard("Kind"));
            if let Some(n) = &d.contact.name {
                g.add(c.clone(), vcard("fn"), text(n));
            }
            if let Some(e) = d
                .contact
                .email
                .as_deref()
                .and_then(|e| NamedNode::new(format!("mailto:{e}")).ok())
            {
                g.add(c.clone(), vcard("hasEmail"), e);
            }
        }
        if let Some(s) = &d.spatial {
            let loc = BlankNode::default();
            g.add(ds.clone(), dct("spatial"), loc.clone());
            g.add(loc.clone(), rdf::TYPE.into(), dct("Location"));
            g.add(
                loc,
                NamedNode::new_unchecked("http://www.w3.org/2004/02/skos/core#prefLabel"),
                text(s),
            );
        }
        if let Some((start, end)) = d.temporal.as_deref().and_then(period) {
            let p = BlankNode::default();
            g.add(ds.clone(), dct("temporal"), p.clone());
            g.add(p.clone(), rdf::TYPE.into(), dct("PeriodOfTime"));
            g.add(
                p.clone(),
                dcat("startDate"),
                Literal::new_typed_literal(start, xsd::DATE),
            );
            g.add(
                p,
                dcat("endDate"),
                Literal::new_typed_literal(end, xsd::DATE),
            );
        }
        if let Some(latest) = d.latest_version {
            g.add(ds.clone(), dcat("version"), text(&latest.to_string()));
        }

        let service = iri(format!("{root}#api"))?;
        let mut previous: Option<NamedNode> = None;
        for v in &l.versions {
            let vroot = format!("{root}/versions/{}", v.version);
            let vn = iri(vroot.clone())?;
            g.add(ds.clone(), dcat("hasVersion"), vn.clone());
            g.add(vn.clone(), rdf::TYPE.into(), dcat("Dataset"));
            g.add(
                vn.clone(),
                dct("title"),
                text(&format!("{} (versi {})", d.title, v.version)),
            );
            g.add(
                vn.clone(),
                dct("description"),
                text(v.changelog.as_deref().unwrap_or(&d.description)),
            );
            g.add(vn.clone(), dcat("version"), text(&v.version.to_string()));
            g.add(vn.clone(), dcat("isVersionOf"), ds.clone());
            if let Some(p) = v.published_at {
                g.add(vn.clone(), dct("issued"), date_time(p));
            }
            if let Some(p) = previous.replace(vn.clone()) {
                g.add(vn.clone(), dcat("previousVersion"), p);
            }
            for (format, media, file_type) in [
                ("csv", "text/csv", Some("CSV")),
                ("ndjson", "application/x-ndjson", None),
            ] {
                let dist = iri(format!("{vroot}#{format}"))?;
                g.add(ds.clone(), dcat("distribution"), dist.clone());
                g.add(vn.clone(), dcat("distribution"), dist.clone());
                g.add(dist.clone(), rdf::TYPE.into(), dcat("Distribution"));
                g.add(
                    dist.clone(),
                    dct("title"),
                    text(&format!(
                        "{} (versi {}, {})",
                        d.title,
                        v.version,
                        format.to_uppercase()
                    )),
                );
                g.add(
                    dist.clone(),
                    dcat("accessURL"),
                    iri(format!("{vroot}/records"))?,
                );
                g.add(
                    dist.clone(),
                    dcat("downloadURL"),
                    iri(format!("{vroot}/records?format={format}"))?,
                );
                g.add(
                    dist.clone(),
                    dcat("mediaType"),
                    iri(format!(
                        "http://www.iana.org/assignments/media-types/{media}"
                    ))?,
                );
                if let Some(ft) = file_type {
                    g.add(
                        dist.clone(),
                        dct("format"),
                        iri(format!("{EU}/file-type/{ft}"))?,
                    );
                }
                if let (Some((size, sha)), "csv") = (digests.get(&v.table_name), format) {
                    g.add(
                        dist.clone(),
                        dcat("byteSize"),
                        Literal::new_typed_literal(size.to_string(), xsd::NON_NEGATIVE_INTEGER),
                    );
                    let c = BlankNode::default();
                    g.add(dist.clone(), spdx("checksum"), c.clone());
                    g.add(c.clone(), rdf::TYPE.into(), spdx("Checksum"));
                    g.add(
                        c.clone(),
                        spdx("algorithm"),
                        spdx("checksumAlgorithm_sha256"),
                    );
                    g.add(
                        c,
                        spdx("checksumValue"),
                        Literal::new_typed_literal(sha.as_str(), xsd::HEX_BINARY),
                    );
                }
                g.add(dist.clone(), dct("license"), license.clone());
                g.add(dist.clone(), dcat("accessService"), service.clone());
                if let Some(p) = v.published_at {
                    g.add(dist.clone(), dct("issued"), date_time(p));
                }
            }
        }
        if let Some(latest) = d.latest_version {
            g.add(catalog.clone(), dcat("service"), service.clone());
            g.add(service.clone(), rdf::TYPE.into(), dcat("DataService"));
            g.add(
                service.clone(),
                dct("title"),
                text(&format!("API {}", d.title)),
            );
            g.add(service.clone(), dcat("endpointURL"), ds.clone());
            g.add(
                service.clone(),
                dcat("endpointDescription"),
                iri(format!("{root}/versions/{latest}/openapi.json"))?,
            );
            g.add(service.clone(), dcat("servesDataset"), ds.clone());
            g.add(service.clone(), dct("publisher"), publisher.clone());
            g.add(service, dct("license"), license);
        }
    }
    Ok(g)
}

/// `prefix:local` when a known prefix covers the IRI.
fn compact(iri: &str) -> String {
    for (p, ns) in PREFIXES {
        if let Some(local) = iri.strip_prefix(ns) {
            if !local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return format!("{p}:{local}");
            }
        }
    }
    iri.to_owned()
}

fn subject_id(s: &NamedOrBlankNode) -> String {
    match s {
        NamedOrBlankNode::NamedNode(n) => n.as_str().to_owned(),
        NamedOrBlankNode::BlankNode(b) => format!("_:{}", b.as_str()),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

fn json_term(t: &Term) -> Value {
    match t {
        Term::NamedNode(n) => json!({"@id": n.as_str()}),
        Term::BlankNode(b) => json!({"@id": format!("_:{}", b.as_str())}),
        Term::Literal(l) => match (l.language(), l.datatype()) {
            (Some(lang), _) => json!({"@value": l.value(), "@language": lang}),
            (None, dt) if dt == xsd::STRING => json!(l.value()),
            (None, dt) => json!({"@value": l.value(), "@type": compact(dt.as_str())}),
        },
        #[allow(unreachable_patterns)]
        _ => Value::Null,
    }
}

/// JSON-LD: one node object per subject under `@graph`, with the prefixes as `@context`.
fn to_jsonld(g: &Graph) -> Value {
    let mut nodes: Vec<Map<String, Value>> = vec![];
    let mut at: HashMap<String, usize> = HashMap::new();
    for t in &g.triples {
        let id = subject_id(&t.subject);
        let i = *at.entry(id.clone()).or_insert_with(|| {
            let mut m = Map::new();
            m.insert("@id".into(), json!(id));
            nodes.push(m);
            nodes.len() - 1
        });
        let node = &mut nodes[i];
        let (key, value) = if t.predicate.as_ref() == rdf::TYPE {
            let Term::NamedNode(n) = &t.object else {
                continue;
            };
            ("@type".to_owned(), json!(compact(n.as_str())))
        } else {
            (compact(t.predicate.as_str()), json_term(&t.object))
        };
        match node.get_mut(&key) {
            Some(Value::Array(list)) => list.push(value),
            _ => {
                node.insert(key, json!([value]));
            }
        }
    }
    let context: Map<String, Value> = PREFIXES
        .iter()
        .map(|(p, ns)| ((*p).to_owned(), json!(ns)))
        .collect();
    json!({"@context": context, "@graph": nodes})
}

fn to_turtle(g: &Graph) -> ApiResult<Vec<u8>> {
    let fail =
        |e: std::io::Error| ApiError::from(catalog::CatalogError::Internal(format!("turtle: {e}")));
    let mut s = oxttl::TurtleSerializer::new();
    for (p, ns) in PREFIXES {
        s = s
            .with_prefix(*p, *ns)
            .map_err(|e| catalog::CatalogError::Internal(e.to_string()))?;
    }
    let mut w = s.for_writer(Vec::new());
    for t in &g.triples {
        w.serialize_triple(t).map_err(fail)?;
    }
    w.finish().map_err(fail)
}

fn wants_turtle(req: &HttpRequest) -> bool {
    const OFFERED: [(&str, bool); 3] = [
        ("application/ld+json", false),
        ("application/json", false),
        ("text/turtle", true),
    ];
    crate::routes::negotiate(req, &OFFERED).unwrap_or(false)
}

async fn graph_for(state: &AppState, req: &HttpRequest) -> ApiResult<Graph> {
    let listed = state.catalog.list_published().await?;
    let mut digests = Digests::new();
    for l in &listed {
        for v in &l.versions {
            let d = csv_digest(state, v, &l.dataset.timezone).await?;
            digests.insert(v.table_name.clone(), d);
        }
    }
    dcat_graph(&base_url(req), &listed, &digests)
}

fn turtle_response(g: &Graph) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/turtle; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .insert_header((header::VARY, "Accept"))
        .body(to_turtle(g)?))
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
    let g = graph_for(&state, &req).await?;
    if wants_turtle(&req) {
        return turtle_response(&g);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/ld+json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .insert_header((header::VARY, "Accept"))
        .json(to_jsonld(&g)))
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
    turtle_response(&graph_for(&state, &req).await?)
}
