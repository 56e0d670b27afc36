//! CKAN's catalogue actions over the Gerbang catalog: `package_*` (datasets), `organization_*`
//! (agencies) and `resource_show` (published versions). Names are stable: a package is
//! `{agency}_{dataset}` and a resource `{agency}_{dataset}_v{n}` (slugs never hold `_`).
use catalog::domain::{AgencySlug, DatasetSlug};
use catalog::service::listing::Listed;
use catalog::service::{Agency, Version};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{CkanError, CkanResult, Ctx, Kind, Params};

/// The CKAN name of a dataset.
pub fn package_name(agency: &str, dataset: &str) -> String {
    format!("{agency}_{dataset}")
}

/// The CKAN id of a published version.
pub fn resource_id(agency: &str, dataset: &str, version: i32) -> String {
    format!("{agency}_{dataset}_v{version}")
}

fn parse_package_name(name: &str) -> Option<(AgencySlug, DatasetSlug)> {
    let (a, d) = name.split_once('_')?;
    Some((AgencySlug::parse(a).ok()?, DatasetSlug::parse(d).ok()?))
}

/// `(agency, dataset, version)` of a resource id; `None` when it is not one of ours.
pub fn parse_resource_id(id: &str) -> Option<(AgencySlug, DatasetSlug, i32)> {
    let (package, v) = id.rsplit_once("_v")?;
    let (a, d) = parse_package_name(package)?;
    let n = v
        .parse::<i32>()
        .ok()
        .filter(|n| *n >= 1 && !v.starts_with('0'))?;
    Some((a, d, n))
}

/// CKAN's timestamp shape: naive UTC with microseconds.
fn ckan_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn organization_view(a: &Agency, with_count: bool) -> Value {
    let mut v = json!({
        "id": a.slug,
        "name": a.slug,
        "title": a.name,
        "display_name": a.name,
        "description": a.description,
        "image_url": "",
        "image_display_url": "",
        "is_organization": true,
        "type": "organization",
        "state": "active",
        "approval_status": "approved",
    });
    if with_count {
        v["package_count"] = json!(a.dataset_count);
    }
    v
}

/// The CSV export of a version: what a resource's `url` points at.
pub fn csv_url(base: &str, agency: &str, dataset: &str, version: i32) -> String {
    format!("{base}/v1/datasets/{agency}/{dataset}/versions/{version}/records?format=csv")
}

fn resource_view(l: &Listed, v: &Version, position: usize, base: &str) -> Value {
    let d = &l.dataset;
    json!({
        "id": resource_id(&d.agency, &d.slug, v.version),
        "package_id": package_name(&d.agency, &d.slug),
        "name": format!("{} (versi {})", d.title, v.version),
        "description": v.changelog.clone().unwrap_or_default(),
        "format": "CSV",
        "mimetype": "text/csv",
        "url": csv_url(base, &d.agency, &d.slug, v.version),
        "url_type": null,
        "datastore_active": true,
        "position": position,
        "state": "active",
        "created": ckan_time(v.created_at),
        "last_modified": v.published_at.map(ckan_time),
        "metadata_modified": ckan_time(v.deprecated_at.or(v.published_at).unwrap_or(v.created_at)),
        "size": null,
        "hash": "",
        "version": v.version,
        "status": v.status,
        "row_count": v.row_count,
    })
}

pub(super) fn package_view(l: &Listed, base: &str) -> Value {
    let d = &l.dataset;
    let name = package_name(&d.agency, &d.slug);
    let tags: Vec<Value> = d
        .tags
        .iter()
        .map(|t| json!({"name": t, "display_name": t, "state": "active", "vocabulary_id": null}))
        .collect();
    let resources: Vec<Value> = l
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| resource_view(l, v, i, base))
        .collect();
    let extra = |k: &str, v: &str| json!({"key": k, "value": v});
    let mut extras = vec![
        extra("theme", d.theme.as_str()),
        extra("frequency", d.frequency.as_str()),
        extra("access", d.access.as_str()),
        extra("timezone", &d.timezone),
    ];
    if let Some(s) = &d.spatial {
        extras.push(extra("spatial_text", s));
    }
    if let Some(t) = &d.temporal {
        extras.push(extra("temporal", t));
    }
    json!({
        "id": name,
        "name": name,
        "title": d.title,
        "notes": d.description,
        "type": "dataset",
        "state": "active",
        "private": false,
        "isopen": true,
        "license_id": d.license,
        "license_title": d.license,
        "license_url": format!("https://spdx.org/licenses/{}.html", d.license),
        "author": d.contact.name,
        "author_email": null,
        "maintainer": d.contact.name,
        "maintainer_email": d.contact.email,
        "url": format!("{base}/v1/datasets/{}/{}", d.agency, d.slug),
        "version": d.latest_version.map(|v| v.to_string()),
        "metadata_created": ckan_time(d.created_at),
        "metadata_modified": ckan_time(d.updated_at),
        "owner_org": d.agency,
        "organization": organization_view(&l.agency, false),
        "tags": tags,
        "num_tags": d.tags.len(),
        "groups": [{"id": d.theme.as_str(), "name": d.theme.as_str(), "title": d.theme.as_str(), "display_name": d.theme.as_str()}],
        "extras": extras,
        "resources": resources,
        "num_resources": l.versions.len(),
        "relationships_as_object": [],
        "relationships_as_subject": [],
    })
}

/// `package_list`: every dataset's name, sorted (`limit`, `offset`).
pub async fn package_list(ctx: &Ctx<'_>, p: &Params) -> CkanResult<Value> {
    let limit = p.number("limit", u64::MAX, u64::MAX, true)?;
    let offset = p.number("offset", 0, u64::MAX, true)?;
    let mut names: Vec<String> = ctx
        .state
        .catalog
        .list_published()
        .await?
        .iter()
        .map(|l| package_name(&l.dataset.agency, &l.dataset.slug))
        .collect();
    names.sort();
    Ok(json!(names
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect::<Vec<_>>()))
}

async fn find_package(ctx: &Ctx<'_>, id: &str) -> CkanResult<Listed> {
    let not_found = || CkanError::new(Kind::NotFound, "Not found");
    let (a, d) = parse_package_name(id).ok_or_else(not_found)?;
    ctx.state
        .catalog
        .published_dataset(&a, &d)
        .await
        .map_err(|e| match e {
            catalog::CatalogError::NotFound(_) => not_found(),
            other => other.into(),
        })
}

/// `package_show`: one dataset by name (`id`).
pub async fn package_show(ctx: &Ctx<'_>, p: &Params) -> CkanResult<Value> {
    let id = p.required("id")?;
    Ok(package_view(&find_package(ctx, &id).await?, &ctx.base))
}

/// `resource_show`: one published version by resource id.
pub async fn resource_show(ctx: &Ctx<'_>, p: &Params) -> CkanResult<Value> {
    let id = p.required("id")?;
    let not_found = || CkanError::new(Kind::NotFound, "Resource was not found.");
    let (a, d, n) = parse_resource_id(&id).ok_or_else(not_found)?;
    let l = find_package(ctx, &format!("{a}_{d}"))
        .await
        .map_err(|_| not_found())?;
    let (i, v) = l
        .versions
        .iter()
        .enumerate()
        .find(|(_, v)| v.version == n)
        .ok_or_else(not_found)?;
    Ok(resource_view(&l, v, i, &ctx.base))
}

/// `organization_list`: agency names, or whole dicts with `all_fields`.
pub async fn organization_list(ctx: &Ctx<'_>, p: &Params) -> CkanResult<Value> {
    let all_fields = p.flag("all_fields", false)?;
    let limit = p.number("limit", u64::MAX, u64::MAX, true)?;
    let offset = p.number("offset", 0, u64::MAX, true)?;
    let only = p.list("organizations")?;
    let mut agencies = ctx.state.catalog.list_agencies().await?;
    if let Some(only) = only {
        agencies.retain(|a| only.contains(&a.slug));
    }
    match p.text("sort")?.as_deref().map(str::trim) {
        None | Some("") | Some("name") | Some("name asc") => {}
        Some("name desc") => agencies.reverse(),
        Some("title") | Some("title asc") => agencies.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("package_count") | Some("package_count desc") => {
            agencies.sort_by_key(|a| std::cmp::Reverse(a.dataset_count))
        }
        Some(other) => {
            return Err(CkanError::invalid(
                "sort",
                format!(
                    "cannot sort by '{}'; use name, title or package_count",
                    other.chars().take(40).collect::<String>()
                ),
            ))
        }
    }
    let page = agencies.iter().skip(offset as usize).take(limit as usize);
    Ok(if all_fields {
        json!(page.map(|a| organization_view(a, true)).collect::<Vec<_>>())
    } else {
        json!(page.map(|a| a.slug.clone()).collect::<Vec<_>>())
    })
}

/// `organization_show`: one agency; its datasets with `include_datasets`.
pub async fn organization_show(ctx: &Ctx<'_>, p: &Params) -> CkanResult<Value> {
    let id = p.required("id")?;
    let not_found = || CkanError::new(Kind::NotFound, "Organization was not found.");
    let slug = AgencySlug::parse(&id).map_err(|_| not_found())?;
    let agency = ctx
        .state
        .catalog
        .get_agency(&slug)
        .await
        .map_err(|_| not_found())?;
    let mut view = organization_view(&agency, true);
    if p.flag("include_datasets", false)? {
        let packages: Vec<Value> = ctx
            .state
            .catalog
            .list_published()
            .await?
            .iter()
            .filter(|l| l.dataset.agency == agency.slug)
            .map(|l| package_view(l, &ctx.base))
            .collect();
        view["packages"] = json!(packages);
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = resource_id("dinas-pu", "laporan-jalan", 12);
        let (a, d, n) = parse_resource_id(&id).unwrap();
        assert_eq!(
            (a.as_str(), d.as_str(), n),
            ("dinas-pu", "laporan-jalan", 12)
        );
        assert!(parse_resource_id("dinas-pu_laporan_v0").is_none());
        assert!(parse_resource_id("dinas-pu_laporan").is_none());
        assert!(parse_package_name("no-underscore").is_none());
    }
}
