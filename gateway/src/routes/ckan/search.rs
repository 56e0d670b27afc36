//! `package_search`: CKAN's dataset search (`q`, `fq` with `organization:` / `tags:` /
//! `res_format:` / `groups:` / `license_id:` / `name:` terms joined by AND, `rows`, `start`,
//! `sort`, `facet.field`) over the catalog listing.
use std::collections::BTreeMap;

use catalog::service::listing::Listed;
use serde_json::{json, Value};

use super::packages::{package_name, package_view};
use super::{CkanError, CkanResult, Ctx, Kind, Params};

/// Most packages `package_search` answers per call (CKAN's `ckan.search.rows_max`).
const ROWS_MAX: u64 = 1000;

/// One `field:value` condition of `fq` (or of `q`).
#[derive(Debug, PartialEq)]
struct Term {
    field: String,
    value: String,
}

fn search_error(msg: impl Into<String>) -> CkanError {
    CkanError::new(Kind::SearchQuery, msg)
}

/// Splits a Solr-style filter into `field:value` terms joined by AND (spaces, `+`, `AND`).
fn parse_fq(fq: &str) -> CkanResult<Vec<Term>> {
    let mut tokens = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    for c in fq.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(search_error("fq: unbalanced quotes"));
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut terms = vec![];
    for t in tokens {
        if t == "AND" || t == "+" {
            continue;
        }
        if t == "OR" || t == "NOT" || t.starts_with('-') || t.starts_with('(') {
            return Err(search_error(format!(
                "fq: only AND of field:value terms is supported, not '{}'",
                t.chars().take(40).collect::<String>()
            )));
        }
        let t = t.strip_prefix('+').unwrap_or(&t);
        let (field, value) = t.split_once(':').ok_or_else(|| {
            search_error(format!(
                "fq: '{}' is not field:value",
                t.chars().take(40).collect::<String>()
            ))
        })?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if !matches!(
            field,
            "organization"
                | "owner_org"
                | "tags"
                | "res_format"
                | "groups"
                | "license_id"
                | "name"
                | "id"
        ) {
            return Err(search_error(format!(
                "fq: cannot filter on '{}'; use organization, tags, res_format, groups, license_id or name",
                field.chars().take(40).collect::<String>()
            )));
        }
        terms.push(Term {
            field: field.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(terms)
}

/// The values of a facet field for one dataset.
fn facet_values(l: &Listed, field: &str) -> Vec<String> {
    let d = &l.dataset;
    match field {
        "organization" | "owner_org" => vec![d.agency.clone()],
        "tags" => d.tags.clone(),
        "res_format" if !l.versions.is_empty() => vec!["CSV".into()],
        "res_format" => vec![],
        "groups" => vec![d.theme.as_str().to_owned()],
        "license_id" => vec![d.license.clone()],
        _ => vec![package_name(&d.agency, &d.slug)],
    }
}

fn matches_term(l: &Listed, t: &Term) -> bool {
    if t.value == "*" {
        return true;
    }
    let values = facet_values(l, &t.field);
    if t.field == "res_format" {
        values.iter().any(|v| v.eq_ignore_ascii_case(&t.value))
    } else {
        values.contains(&t.value)
    }
}

/// `package_search`: `q`, `fq`, `rows`, `start`, `sort` and `facet.field`.
pub async fn package_search(ctx: &Ctx<'_>, p: &Params) -> CkanResult<Value> {
    let rows = p.number("rows", 10, ROWS_MAX, true)?;
    let start = p.number("start", 0, u64::MAX, true)?;
    let mut terms = match p.text("fq")? {
        Some(fq) => parse_fq(&fq)?,
        None => vec![],
    };
    let mut words = vec![];
    let q = p.text("q")?.unwrap_or_default();
    for token in q.split_whitespace() {
        if token == "*:*" {
            continue;
        }
        if token.contains(':') {
            terms.extend(parse_fq(token)?);
        } else {
            words.extend(
                token
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(str::to_lowercase),
            );
        }
    }
    let sort = p
        .text("sort")?
        .unwrap_or_else(|| "score desc, metadata_modified desc".into());
    let mut order = vec![];
    for part in sort.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut it = part.split_whitespace();
        let field = it.next().unwrap_or_default();
        let desc = match it.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(d) => {
                return Err(search_error(format!(
                    "sort: '{}' is not asc or desc",
                    d.chars().take(20).collect::<String>()
                )))
            }
        };
        match field {
            "score" | "rank" => {}
            "name" | "title" | "title_string" | "metadata_modified" | "metadata_created" => {
                order.push((field.to_owned(), desc));
            }
            other => {
                return Err(search_error(format!(
                    "sort: cannot sort by '{}'",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    let facet_fields = p.list("facet.field")?.unwrap_or_default();
    for f in &facet_fields {
        if !matches!(
            f.as_str(),
            "organization" | "tags" | "res_format" | "groups" | "license_id"
        ) {
            return Err(search_error(format!(
                "facet.field: cannot facet on '{}'",
                f.chars().take(40).collect::<String>()
            )));
        }
    }
    let facet_limit = match p.text("facet.limit")?.as_deref() {
        Some("-1") => usize::MAX,
        _ => p.number("facet.limit", 50, u64::MAX, true)? as usize,
    };

    let mut matched: Vec<Listed> = ctx
        .state
        .catalog
        .list_published()
        .await?
        .into_iter()
        .filter(|l| {
            let d = &l.dataset;
            let haystack =
                format!("{} {} {}", d.title, d.description, d.tags.join(" ")).to_lowercase();
            words.iter().all(|w| haystack.contains(w.as_str()))
                && terms.iter().all(|t| matches_term(l, t))
        })
        .collect();
    if order.is_empty() {
        order.push(("metadata_modified".into(), true));
    }
    matched.sort_by(|a, b| {
        let (a, b) = (&a.dataset, &b.dataset);
        let mut o = std::cmp::Ordering::Equal;
        for (field, desc) in &order {
            let c = match field.as_str() {
                "name" => package_name(&a.agency, &a.slug).cmp(&package_name(&b.agency, &b.slug)),
                "title" | "title_string" => a.title.cmp(&b.title),
                "metadata_created" => a.created_at.cmp(&b.created_at),
                _ => a.updated_at.cmp(&b.updated_at),
            };
            o = o.then(if *desc { c.reverse() } else { c });
        }
        o.then_with(|| package_name(&a.agency, &a.slug).cmp(&package_name(&b.agency, &b.slug)))
    });

    let mut facets = serde_json::Map::new();
    let mut search_facets = serde_json::Map::new();
    for f in &facet_fields {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for l in &matched {
            for v in facet_values(l, f) {
                *counts.entry(v).or_default() += 1;
            }
        }
        let mut items: Vec<(String, u64)> = counts.into_iter().collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        items.truncate(facet_limit);
        facets.insert(
            f.clone(),
            Value::Object(
                items
                    .iter()
                    .map(|(name, count)| (name.clone(), json!(count)))
                    .collect(),
            ),
        );
        search_facets.insert(
            f.clone(),
            json!({
                "title": f,
                "items": items
                    .iter()
                    .map(|(name, count)| json!({"name": name, "display_name": name, "count": count}))
                    .collect::<Vec<_>>(),
            }),
        );
    }
    let count = matched.len();
    let results: Vec<Value> = matched
        .iter()
        .skip(start as usize)
        .take(rows as usize)
        .map(|l| package_view(l, &ctx.base))
        .collect();
    Ok(json!({
        "count": count,
        "sort": sort,
        "facets": facets,
        "search_facets": search_facets,
        "results": results,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fq_takes_and_of_terms() {
        let t = parse_fq("organization:dlh +tags:\"bank sampah\" AND res_format:CSV").unwrap();
        assert_eq!(
            t,
            vec![
                Term {
                    field: "organization".into(),
                    value: "dlh".into()
                },
                Term {
                    field: "tags".into(),
                    value: "bank sampah".into()
                },
                Term {
                    field: "res_format".into(),
                    value: "CSV".into()
                },
            ]
        );
        assert!(parse_fq("organization:a OR organization:b").is_err());
        assert!(parse_fq("author:x").is_err());
        assert!(parse_fq("tags:\"open").is_err());
    }
}
