//! The catalog facade: agencies, datasets, versions and their record tables.
//!
//! Agency-owned rows are always read through the agency (`find_dataset_in`), so a missing check
//! cannot leak another agency's data. Returned types are domain views, serialisable as the
//! contract's JSON.
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Access, AgencySlug, DatasetSlug, Frequency, Theme, TimeZone, VersionRef, VersionStatus,
};
use crate::entities::{agency, dataset, version};
use crate::error::{CatalogError, Result};
use crate::records::cursor::CursorKey;
use crate::records::ingest::{self, IngestRequest, Progress};
use crate::records::layout::Layout;
use crate::records::read::VersionTable;
use crate::records::{GenericPlans, Lookups};
use crate::schema::TableSchema;

pub mod listing;

#[derive(Clone)]
pub struct Catalog {
    pub db: DatabaseConnection,
    pub cursor_key: CursorKey,
    /// Postgres lookups by `_id`, batched across requests.
    pub lookups: Arc<Lookups>,
    /// Postgres sessions for statements planned once (made on first use).
    pub generic_plans: Arc<GenericPlans>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Agency {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub dataset_count: u64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyInput {
    pub slug: AgencySlug,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetInput {
    pub slug: DatasetSlug,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub theme: Theme,
    #[serde(default)]
    pub tags: Vec<String>,
    pub license: String,
    pub frequency: Frequency,
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub access: Option<Access>,
    #[serde(default)]
    pub spatial: Option<String>,
    #[serde(default)]
    pub temporal: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub theme: Option<Theme>,
    pub tags: Option<Vec<String>>,
    pub license: Option<String>,
    pub frequency: Option<Frequency>,
    pub contact: Option<Contact>,
    pub access: Option<Access>,
    pub spatial: Option<String>,
    pub temporal: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionSummary {
    pub version: i32,
    pub status: VersionStatus,
    pub published_at: Option<DateTime<Utc>>,
    pub row_count: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatasetSummary {
    pub slug: String,
    pub agency: String,
    pub title: String,
    pub description: String,
    pub theme: Theme,
    pub tags: Vec<String>,
    pub license: String,
    pub access: Access,
    pub updated_at: DateTime<Utc>,
    pub latest_version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dataset {
    pub slug: String,
    pub agency: String,
    pub title: String,
    pub description: String,
    pub theme: Theme,
    pub tags: Vec<String>,
    pub license: String,
    pub frequency: Frequency,
    pub contact: Contact,
    pub spatial: Option<String>,
    pub temporal: Option<String>,
    pub timezone: String,
    pub access: Access,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub latest_version: Option<i32>,
    pub versions: Vec<VersionSummary>,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct SchemaChanges {
    pub compared_to: Option<i32>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    #[schema(value_type = Vec<BTreeMap<String, String>>)]
    pub retyped: Vec<BTreeMap<&'static str, String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub version: i32,
    pub status: VersionStatus,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub sunset: Option<DateTime<Utc>>,
    pub row_count: i64,
    pub byte_size: i64,
    pub sha256: String,
    pub schema: TableSchema,
    pub changelog: Option<String>,
    pub schema_changes: SchemaChanges,
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub access: Access,
    #[serde(skip)]
    pub table_name: String,
    /// Fields whose values never decrease with `_id` (see `records::Layout::ascending`).
    #[serde(skip)]
    pub ascending_fields: Vec<String>,
}

/// A created (or, for a retried `Idempotency-Key`, found) version and what ingestion noticed.
pub struct CreatedVersion {
    pub version: Version,
    pub warnings: Vec<String>,
    pub replayed: bool,
}

#[derive(Debug, Default)]
pub struct DatasetSearch {
    pub q: Option<String>,
    pub agency: Option<String>,
    pub theme: Option<String>,
    pub tag: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub data: Vec<DatasetSummary>,
    pub total: u64,
    #[schema(value_type = BTreeMap<String, Vec<FacetValue>>)]
    pub facets: BTreeMap<&'static str, Vec<FacetValue>>,
    pub next_cursor: Option<String>,
}

fn clean_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(CatalogError::bad_request(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    Ok(v.to_owned())
}

fn clean_tags(tags: &[String]) -> Result<String> {
    if tags.len() > 32 {
        return Err(CatalogError::bad_request("at most 32 tags"));
    }
    let mut out: Vec<String> = vec![];
    for t in tags {
        let t = clean_text("a tag", &t.to_lowercase(), 64)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(serde_json::to_string(&out).expect("strings serialize"))
}

fn clean_license(l: &str) -> Result<String> {
    let l = clean_text("license", l, 64)?;
    if !l
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.+".contains(c))
    {
        return Err(CatalogError::bad_request(
            "license must be an SPDX-like id such as CC-BY-4.0",
        ));
    }
    Ok(l)
}

fn parse_tags(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The newest published version, else the newest deprecated one.
fn latest_of(versions: &[version::Model]) -> Option<&version::Model> {
    let newest = |status: VersionStatus| {
        versions
            .iter()
            .filter(|v| v.status == status.as_str())
            .max_by_key(|v| v.number)
    };
    newest(VersionStatus::Published).or_else(|| newest(VersionStatus::Deprecated))
}

fn schema_changes(current: &TableSchema, previous: Option<(i32, TableSchema)>) -> SchemaChanges {
    let Some((number, prev)) = previous else {
        return SchemaChanges::default();
    };
    let mut changes = SchemaChanges {
        compared_to: Some(number),
        ..Default::default()
    };
    for f in &current.fields {
        match prev.fields.iter().find(|p| p.name == f.name) {
            None => changes.added.push(f.name.clone()),
            Some(p) if p.field_type != f.field_type => changes.retyped.push(BTreeMap::from([
                ("name", f.name.clone()),
                ("from", p.field_type.as_str().to_owned()),
                ("to", f.field_type.as_str().to_owned()),
            ])),
            Some(_) => {}
        }
    }
    for p in &prev.fields {
        if current.field_index(&p.name).is_none() {
            changes.removed.push(p.name.clone());
        }
    }
    changes
}

fn decode_schema(m: &version::Model) -> Result<TableSchema> {
    serde_json::from_str(&m.schema)
        .map_err(|e| CatalogError::Internal(format!("stored schema: {e}")))
}

impl Catalog {
    pub fn new(db: DatabaseConnection, cursor_key: CursorKey, lookups: Lookups) -> Self {
        Self {
            db,
            cursor_key,
            lookups: Arc::new(lookups),
            generic_plans: Arc::default(),
        }
    }

    // ----- agencies -----

    pub async fn list_agencies(&self) -> Result<Vec<Agency>> {
        let agencies = agency::Entity::find()
            .order_by_asc(agency::Column::Slug)
            .all(&self.db)
            .await?;
        let datasets = dataset::Entity::find().all(&self.db).await?;
        Ok(agencies
            .into_iter()
            .map(|a| {
                let dataset_count = datasets.iter().filter(|d| d.agency_id == a.id).count() as u64;
                Agency {
                    slug: a.slug,
                    name: a.name,
                    description: a.description,
                    website: a.website,
                    dataset_count,
                }
            })
            .collect())
    }

    async fn find_agency(&self, slug: &AgencySlug) -> Result<agency::Model> {
        agency::Entity::find()
            .filter(agency::Column::Slug.eq(slug.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| CatalogError::not_found(format!("agency '{slug}' does not exist")))
    }

    pub async fn get_agency(&self, slug: &AgencySlug) -> Result<Agency> {
        let a = self.find_agency(slug).await?;
        let dataset_count = dataset::Entity::find()
            .filter(dataset::Column::AgencyId.eq(a.id))
            .all(&self.db)
            .await?
            .len() as u64;
        Ok(Agency {
            slug: a.slug,
            name: a.name,
            description: a.description,
            website: a.website,
            dataset_count,
        })
    }

    #[tracing::instrument(skip(self, input), fields(agency = %input.slug))]
    pub async fn create_agency(&self, input: AgencyInput) -> Result<Agency> {
        let name = clean_text("name", &input.name, 200)?;
        if agency::Entity::find()
            .filter(agency::Column::Slug.eq(input.slug.as_str()))
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(CatalogError::Conflict(format!(
                "agency '{}' already exists",
                input.slug
            )));
        }
        let a = agency::ActiveModel {
            slug: Set(input.slug.as_str().to_owned()),
            name: Set(name),
            description: Set(input.description.unwrap_or_default()),
            website: Set(input.website),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(Agency {
            slug: a.slug,
            name: a.name,
            description: a.description,
            website: a.website,
            dataset_count: 0,
        })
    }

    // ----- datasets -----

    /// The dataset `slug` of `agency`: the only way to reach an agency-owned row.
    async fn find_dataset_in(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
    ) -> Result<(agency::Model, dataset::Model)> {
        let a = self.find_agency(agency).await?;
        let d = dataset::Entity::find()
            .filter(dataset::Column::AgencyId.eq(a.id))
            .filter(dataset::Column::Slug.eq(slug.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                CatalogError::not_found(format!("dataset '{agency}/{slug}' does not exist"))
            })?;
        Ok((a, d))
    }

    #[tracing::instrument(skip(self, input), fields(dataset = %input.slug))]
    pub async fn create_dataset(
        &self,
        agency: &AgencySlug,
        input: DatasetInput,
    ) -> Result<Dataset> {
        let a = self.find_agency(agency).await?;
        let exists = dataset::Entity::find()
            .filter(dataset::Column::AgencyId.eq(a.id))
            .filter(dataset::Column::Slug.eq(input.slug.as_str()))
            .one(&self.db)
            .await?;
        if exists.is_some() {
            return Err(CatalogError::Conflict(format!(
                "dataset '{agency}/{}' already exists",
                input.slug
            )));
        }
        let tz = input
            .timezone
            .as_deref()
            .map(TimeZone::parse)
            .transpose()?
            .unwrap_or_default();
        let contact = input.contact.unwrap_or(Contact {
            name: None,
            email: None,
        });
        let now = Utc::now();
        let d = dataset::ActiveModel {
            agency_id: Set(a.id),
            slug: Set(input.slug.as_str().to_owned()),
            title: Set(clean_text("title", &input.title, 200)?),
            description: Set(input.description.unwrap_or_default()),
            theme: Set(input.theme.as_str().to_owned()),
            tags: Set(clean_tags(&input.tags)?),
            license: Set(clean_license(&input.license)?),
            frequency: Set(input.frequency.as_str().to_owned()),
            contact_name: Set(contact.name),
            contact_email: Set(contact.email),
            spatial: Set(input.spatial),
            temporal: Set(input.temporal),
            timezone: Set(tz.0.name().to_owned()),
            access: Set(input.access.unwrap_or(Access::Public).as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        self.dataset_view(&a, d, false).await
    }

    #[tracing::instrument(skip(self, patch))]
    pub async fn update_dataset(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
        patch: DatasetPatch,
    ) -> Result<Dataset> {
        let (a, d) = self.find_dataset_in(agency, slug).await?;
        let mut m = d.into_active_model();
        if let Some(t) = patch.title {
            m.title = Set(clean_text("title", &t, 200)?);
        }
        if let Some(v) = patch.description {
            m.description = Set(v);
        }
        if let Some(v) = patch.theme {
            m.theme = Set(v.as_str().to_owned());
        }
        if let Some(v) = patch.tags {
            m.tags = Set(clean_tags(&v)?);
        }
        if let Some(v) = patch.license {
            m.license = Set(clean_license(&v)?);
        }
        if let Some(v) = patch.frequency {
            m.frequency = Set(v.as_str().to_owned());
        }
        if let Some(c) = patch.contact {
            m.contact_name = Set(c.name);
            m.contact_email = Set(c.email);
        }
        if let Some(v) = patch.access {
            m.access = Set(v.as_str().to_owned());
        }
        if let Some(v) = patch.spatial {
            m.spatial = Set(Some(v));
        }
        if let Some(v) = patch.temporal {
            m.temporal = Set(Some(v));
        }
        if let Some(v) = patch.timezone {
            m.timezone = Set(TimeZone::parse(&v)?.0.name().to_owned());
        }
        m.updated_at = Set(Utc::now());
        let d = m.update(&self.db).await?;
        self.dataset_view(&a, d, true).await
    }

    async fn dataset_view(
        &self,
        a: &agency::Model,
        d: dataset::Model,
        see_drafts: bool,
    ) -> Result<Dataset> {
        let versions = self.version_models(&d).await?;
        dataset_view_of(a, d, versions, see_drafts)
    }
}

/// The dataset view from rows already loaded (no query of its own).
fn dataset_view_of(
    a: &agency::Model,
    d: dataset::Model,
    versions: Vec<version::Model>,
    see_drafts: bool,
) -> Result<Dataset> {
    let latest_version = latest_of(&versions).map(|v| v.number);
    let versions = versions
        .into_iter()
        .filter(|v| see_drafts || v.status != VersionStatus::Draft.as_str())
        .map(|v| {
            Ok(VersionSummary {
                version: v.number,
                status: VersionStatus::parse(&v.status)?,
                published_at: v.published_at,
                row_count: v.row_count,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Dataset {
        slug: d.slug,
        agency: a.slug.clone(),
        title: d.title,
        description: d.description,
        theme: Theme::parse(&d.theme)?,
        tags: parse_tags(&d.tags),
        license: d.license,
        frequency: Frequency::parse(&d.frequency)?,
        contact: Contact {
            name: d.contact_name,
            email: d.contact_email,
        },
        spatial: d.spatial,
        temporal: d.temporal,
        timezone: d.timezone,
        access: Access::parse(&d.access)?,
        created_at: d.created_at,
        updated_at: d.updated_at,
        latest_version,
        versions,
    })
}

impl Catalog {
    /// Dataset metadata; drafts are listed only when `see_drafts`.
    pub async fn get_dataset(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
        see_drafts: bool,
    ) -> Result<Dataset> {
        let (a, d) = self.find_dataset_in(agency, slug).await?;
        self.dataset_view(&a, d, see_drafts).await
    }

    /// Searches titles, descriptions and tags; counts facets over the matches.
    pub async fn search_datasets(&self, s: &DatasetSearch) -> Result<SearchResult> {
        let agencies = agency::Entity::find().all(&self.db).await?;
        let datasets = dataset::Entity::find()
            .order_by_desc(dataset::Column::UpdatedAt)
            .all(&self.db)
            .await?;
        let versions = version::Entity::find()
            .filter(version::Column::Status.ne(VersionStatus::Draft.as_str()))
            .all(&self.db)
            .await?;
        let words: Vec<String> =
            s.q.as_deref()
                .unwrap_or("")
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
        let mut matched = vec![];
        for d in datasets {
            let agency_slug = agencies
                .iter()
                .find(|a| a.id == d.agency_id)
                .map(|a| a.slug.clone())
                .unwrap_or_default();
            let tags = parse_tags(&d.tags);
            let haystack =
                format!("{} {} {}", d.title, d.description, tags.join(" ")).to_lowercase();
            if !words.iter().all(|w| haystack.contains(w.as_str())) {
                continue;
            }
            let own: Vec<version::Model> = versions
                .iter()
                .filter(|v| v.dataset_id == d.id)
                .cloned()
                .collect();
            matched.push(DatasetSummary {
                slug: d.slug,
                agency: agency_slug,
                title: d.title,
                description: d.description,
                theme: Theme::parse(&d.theme)?,
                tags,
                license: d.license,
                access: Access::parse(&d.access)?,
                updated_at: d.updated_at,
                latest_version: latest_of(&own).map(|v| v.number),
            });
        }
        // Facets count over the text matches, each ignoring its own filter (drill-sideways).
        let keep = |d: &DatasetSummary, skip: &str| {
            (skip == "agency" || s.agency.as_deref().is_none_or(|a| d.agency == a))
                && (skip == "theme" || s.theme.as_deref().is_none_or(|t| d.theme.as_str() == t))
                && (skip == "tag"
                    || s.tag
                        .as_deref()
                        .is_none_or(|t| d.tags.iter().any(|x| x == t)))
        };
        let mut facets = BTreeMap::new();
        for name in ["agency", "theme", "tag"] {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for d in matched.iter().filter(|d| keep(d, name)) {
                let values: Vec<String> = match name {
                    "agency" => vec![d.agency.clone()],
                    "theme" => vec![d.theme.as_str().to_owned()],
                    _ => d.tags.clone(),
                };
                for v in values {
                    *counts.entry(v).or_default() += 1;
                }
            }
            let mut list: Vec<FacetValue> = counts
                .into_iter()
                .map(|(value, count)| FacetValue { value, count })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
            facets.insert(name, list);
        }
        let all: Vec<DatasetSummary> = matched.into_iter().filter(|d| keep(d, "")).collect();
        let total = all.len() as u64;
        let data = all
            .into_iter()
            .skip(s.offset as usize)
            .take(s.limit as usize)
            .collect();
        Ok(SearchResult {
            data,
            total,
            facets,
            next_cursor: None,
        })
    }

    // ----- versions -----

    async fn version_models(&self, d: &dataset::Model) -> Result<Vec<version::Model>> {
        Ok(version::Entity::find()
            .filter(version::Column::DatasetId.eq(d.id))
            .order_by_asc(version::Column::Number)
            .all(&self.db)
            .await?)
    }

    fn version_view(
        &self,
        d: &dataset::Model,
        all: &[version::Model],
        m: &version::Model,
    ) -> Result<Version> {
        let schema = decode_schema(m)?;
        let previous = all
            .iter()
            .filter(|v| v.number < m.number && v.status != VersionStatus::Draft.as_str())
            .max_by_key(|v| v.number)
            .map(|v| Ok::<_, CatalogError>((v.number, decode_schema(v)?)))
            .transpose()?;
        Ok(Version {
            version: m.number,
            status: VersionStatus::parse(&m.status)?,
            created_at: m.created_at,
            published_at: m.published_at,
            deprecated_at: m.deprecated_at,
            sunset: m.sunset,
            row_count: m.row_count,
            byte_size: m.byte_size,
            sha256: m.sha256.clone(),
            schema_changes: schema_changes(&schema, previous),
            schema,
            changelog: m.changelog.clone(),
            id: m.id,
            access: Access::parse(&d.access)?,
            table_name: m.table_name.clone(),
            // unreadable (never written so) is only a lost optimisation
            ascending_fields: m
                .ascending_fields
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default(),
        })
    }

    /// Resolves `versions/{v}`; drafts resolve only when `see_drafts` (else they are 404).
    pub async fn get_version(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
        v: VersionRef,
        see_drafts: bool,
    ) -> Result<(Dataset, Version)> {
        let (a, d) = self.find_dataset_in(agency, slug).await?;
        let all = self.version_models(&d).await?;
        let found = match v {
            VersionRef::Latest => latest_of(&all),
            VersionRef::Number(n) => all.iter().find(|m| {
                m.number == n && (see_drafts || m.status != VersionStatus::Draft.as_str())
            }),
        };
        let m = found.ok_or_else(|| {
            CatalogError::not_found(match v {
                VersionRef::Latest => {
                    format!("dataset '{agency}/{slug}' has no published version yet")
                }
                VersionRef::Number(n) => format!("dataset '{agency}/{slug}' has no version {n}"),
            })
        })?;
        let view = self.version_view(&d, &all, m)?;
        let dataset = dataset_view_of(&a, d, all, see_drafts)?;
        Ok((dataset, view))
    }

    /// The record table behind a version, for the read path (no query: the view carries it).
    pub fn version_table(version: &Version, timezone: &str) -> VersionTable {
        VersionTable::new(
            version.id,
            Layout::stored(
                version.table_name.clone(),
                version.schema.clone(),
                &version.ascending_fields,
            ),
            TimeZone::parse(timezone).unwrap_or_default(),
        )
    }

    /// Ingests an upload as a new draft version. With an idempotency key already used for this
    /// dataset, answers the first result instead and loads nothing.
    #[tracing::instrument(skip(self, upload, progress, changelog))]
    pub async fn create_version(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
        mut upload: IngestRequest,
        changelog: Option<String>,
        idempotency_key: Option<String>,
        progress: Arc<dyn Progress>,
    ) -> Result<CreatedVersion> {
        let (_, d) = self.find_dataset_in(agency, slug).await?;
        if let Some(key) = &idempotency_key {
            if key.is_empty() || key.len() > 255 {
                return Err(CatalogError::bad_request(
                    "Idempotency-Key must be 1 to 255 characters",
                ));
            }
            if let Some(found) = self.find_by_idempotency(&d, key).await? {
                return Ok(CreatedVersion {
                    version: found,
                    warnings: vec![],
                    replayed: true,
                });
            }
        }
        upload.timezone = TimeZone::parse(&d.timezone).unwrap_or_default();
        let ingested = ingest::ingest(&self.db, upload, progress).await?;
        let all = self.version_models(&d).await?;
        let number = all.iter().map(|v| v.number).max().unwrap_or(0) + 1;
        let inserted = version::ActiveModel {
            dataset_id: Set(d.id),
            number: Set(number),
            status: Set(VersionStatus::Draft.as_str().to_owned()),
            row_count: Set(ingested.row_count as i64),
            byte_size: Set(ingested.byte_size as i64),
            sha256: Set(ingested.sha256.clone()),
            schema: Set(serde_json::to_string(&ingested.layout.schema).expect("schema serializes")),
            changelog: Set(changelog),
            table_name: Set(ingested.layout.table.clone()),
            idempotency_key: Set(idempotency_key.clone()),
            created_at: Set(Utc::now()),
            published_at: Set(None),
            deprecated_at: Set(None),
            sunset: Set(None),
            ascending_fields: Set(Some(
                serde_json::to_string(&ingested.layout.ascending_names()).expect("names serialize"),
            )),
            ..Default::default()
        }
        .insert(&self.db)
        .await;
        let m = match inserted {
            Ok(m) => m,
            Err(e) => {
                ingest::drop_table(&self.db, &ingested.layout).await;
                // A concurrent retry with the same key won the race: answer its result.
                if let Some(key) = &idempotency_key {
                    if let Some(found) = self.find_by_idempotency(&d, key).await? {
                        return Ok(CreatedVersion {
                            version: found,
                            warnings: vec![],
                            replayed: true,
                        });
                    }
                }
                tracing::warn!(error = %e, "version insert failed");
                return Err(CatalogError::Conflict(
                    "another version was created at the same time; retry".into(),
                ));
            }
        };
        let mut all = all;
        all.push(m.clone());
        Ok(CreatedVersion {
            version: self.version_view(&d, &all, &m)?,
            warnings: ingested.warnings,
            replayed: false,
        })
    }

    async fn find_by_idempotency(&self, d: &dataset::Model, key: &str) -> Result<Option<Version>> {
        let all = self.version_models(d).await?;
        all.iter()
            .find(|v| v.idempotency_key.as_deref() == Some(key))
            .map(|m| self.version_view(d, &all, m))
            .transpose()
    }

    async fn set_status(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
        number: i32,
        f: impl FnOnce(&version::Model) -> Result<version::ActiveModel>,
    ) -> Result<Version> {
        let (_, d) = self.find_dataset_in(agency, slug).await?;
        let all = self.version_models(&d).await?;
        let m = all.iter().find(|v| v.number == number).ok_or_else(|| {
            CatalogError::not_found(format!("dataset '{agency}/{slug}' has no version {number}"))
        })?;
        let updated = f(m)?.update(&self.db).await?;
        let mut touched = d.clone().into_active_model();
        touched.updated_at = Set(Utc::now());
        touched.update(&self.db).await?;
        let all = self.version_models(&d).await?;
        self.version_view(&d, &all, &updated)
    }

    /// Publishes a draft: one row update, so `latest` moves atomically. Publishing twice is a no-op.
    pub async fn publish_version(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
        number: i32,
    ) -> Result<Version> {
        self.set_status(agency, slug, number, |m| {
            let mut a = m.clone().into_active_model();
            if m.status == VersionStatus::Draft.as_str() {
                a.status = Set(VersionStatus::Published.as_str().to_owned());
                a.published_at = Set(Some(Utc::now()));
            }
            Ok(a)
        })
        .await
    }

    /// Marks a published version deprecated, with an optional sunset date.
    pub async fn deprecate_version(
        &self,
        agency: &AgencySlug,
        slug: &DatasetSlug,
        number: i32,
        sunset: Option<DateTime<Utc>>,
    ) -> Result<Version> {
        self.set_status(agency, slug, number, |m| {
            if m.status == VersionStatus::Draft.as_str() {
                return Err(CatalogError::Conflict(
                    "a draft cannot be deprecated; publish it first or leave it".into(),
                ));
            }
            let mut a = m.clone().into_active_model();
            a.status = Set(VersionStatus::Deprecated.as_str().to_owned());
            a.deprecated_at = Set(Some(m.deprecated_at.unwrap_or_else(Utc::now)));
            a.sunset = Set(sunset);
            Ok(a)
        })
        .await
    }
}
