//! `datastore_search` and `/datastore/dump/{resource_id}` on the records API's own query engine.
//!
//! CKAN's parameters are translated into the `/v1` records parameters ([`translate`]) and parsed
//! by the same `query::parse_records` against the version's schema, so filtering, sorting, typing
//! and access rules have one implementation: `filters` equality → `eq.`, a list → `in.(…)`, the
//! range form `{"gte": …, "lte": …}` → `gte.` / `lte.`, `null` → `is.null`, `sort "a, b desc"` →
//! `order=a.asc,b.desc`, `fields` → `select`, `include_total` → `count=exact`.
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use catalog::records::encode::{self, Columns, CsvEncoder, RowEncoder};
use catalog::records::query::{self, RecordQuery, MAX_LIMIT};
use catalog::records::read;
use catalog::schema::{FieldType, RESERVED_NAMES};
use futures::StreamExt as _;
use serde_json::{json, Value};

use super::packages::parse_resource_id;
use super::{CkanError, CkanResult, Ctx, Kind, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routes::records::cache_headers;
use crate::routes::versions::{resolve, Resolved};
use crate::AppState;

/// CKAN's default page size for `datastore_search`.
const DEFAULT_LIMIT: u64 = 100;

/// How `records` are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordsFormat {
    Objects,
    Lists,
    Csv,
}

/// A `datastore_search` call in the records API's terms.
#[derive(Debug)]
struct Translated {
    /// `/v1` records parameters (filters, q, select, order, limit, offset, count).
    params: Vec<(String, String)>,
    limit: u64,
    offset: u64,
    include_total: bool,
    format: RecordsFormat,
}

/// CKAN's type name of a field.
fn ckan_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Integer => "int",
        FieldType::Number => "numeric",
        FieldType::Boolean => "bool",
        FieldType::String => "text",
        FieldType::Date => "date",
        FieldType::Datetime => "timestamp",
    }
}

/// A scalar filter value as the records API's text.
fn scalar(column: &str, v: &Value) -> CkanResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(CkanError::invalid(
            "filters",
            format!("filters: the value for '{column}' must be a string, number or boolean"),
        )),
    }
}

/// `a,"b ""c"""`: items quoted as the records API's `in.(…)` list expects.
fn in_list(column: &str, items: &[Value]) -> CkanResult<String> {
    if items.is_empty() {
        return Err(CkanError::invalid(
            "filters",
            format!("filters: the list for '{column}' is empty"),
        ));
    }
    let quoted = items
        .iter()
        .map(|i| scalar(column, i).map(|s| format!("\"{}\"", s.replace('"', "\"\""))))
        .collect::<CkanResult<Vec<_>>>()?;
    Ok(format!("in.({})", quoted.join(",")))
}

fn translate_filters(filters: &Value, out: &mut Vec<(String, String)>) -> CkanResult<()> {
    let Value::Object(map) = filters else {
        return Err(CkanError::invalid(
            "filters",
            "filters: must be a JSON object of column: value",
        ));
    };
    for (column, v) in map {
        // A reserved name is never a column; refusing it keeps it from acting as a parameter.
        if RESERVED_NAMES.contains(&column.as_str()) {
            return Err(CkanError::invalid(
                "filters",
                format!("filters: '{column}' is not a column of this resource"),
            ));
        }
        match v {
            Value::Null => out.push((column.clone(), "is.null".into())),
            Value::Array(items) => out.push((column.clone(), in_list(column, items)?)),
            Value::Object(range) => {
                if range.is_empty() {
                    return Err(CkanError::invalid(
                        "filters",
                        format!("filters: the range for '{column}' is empty"),
                    ));
                }
                for (op, bound) in range {
                    if !matches!(op.as_str(), "gt" | "gte" | "lt" | "lte" | "eq" | "neq") {
                        return Err(CkanError::invalid(
                            "filters",
                            format!(
                                "filters: '{}' is not a range operator; use gt, gte, lt or lte",
                                op.chars().take(20).collect::<String>()
                            ),
                        ));
                    }
                    out.push((column.clone(), format!("{op}.{}", scalar(column, bound)?)));
                }
            }
            v => out.push((column.clone(), format!("eq.{}", scalar(column, v)?))),
        }
    }
    Ok(())
}

/// `"a, b desc"` → `a.asc,b.desc` (a quoted name keeps its spaces).
fn translate_sort(sort: &str) -> CkanResult<String> {
    let mut terms = vec![];
    for part in sort.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let lower = part.to_ascii_lowercase();
        let (name, dir) = if lower.ends_with(" desc") {
            (&part[..part.len() - 5], "desc")
        } else if lower.ends_with(" asc") {
            (&part[..part.len() - 4], "asc")
        } else {
            (part, "asc")
        };
        let name = name.trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name);
        if name.is_empty() {
            return Err(CkanError::invalid("sort", "sort: a term has no column"));
        }
        terms.push(format!("{name}.{dir}"));
    }
    Ok(terms.join(","))
}

fn translate(p: &Params) -> CkanResult<Translated> {
    let mut params = vec![];
    if let Some(filters) = p.json("filters")? {
        translate_filters(&filters, &mut params)?;
    }
    match p.json_or_text("q")? {
        None => {}
        Some(Value::String(q)) if q.chars().any(char::is_alphanumeric) => {
            params.push(("q".into(), q))
        }
        Some(Value::String(_)) => {}
        Some(_) => {
            return Err(CkanError::invalid(
                "q",
                "q: only a full-text string is supported; filter columns with filters",
            ))
        }
    }
    if let Some(fields) = p.list("fields")? {
        if !fields.is_empty() {
            params.push(("select".into(), fields.join(",")));
        }
    }
    if let Some(sort) = p.text("sort")? {
        let order = translate_sort(&sort)?;
        if !order.is_empty() {
            params.push(("order".into(), order));
        }
    }
    // CKAN lowers a limit above its maximum instead of refusing it.
    let limit = p.number("limit", DEFAULT_LIMIT, u64::from(MAX_LIMIT), true)?;
    if limit > 0 {
        params.push(("limit".into(), limit.to_string()));
    }
    let offset = p.number("offset", 0, u64::from(query::MAX_OFFSET), false)?;
    if offset > 0 {
        params.push(("offset".into(), offset.to_string()));
    }
    let include_total = p.flag("include_total", true)?;
    if include_total {
        params.push(("count".into(), "exact".into()));
    }
    let format = match p.text("records_format")?.as_deref() {
        None | Some("objects") => RecordsFormat::Objects,
        Some("lists") => RecordsFormat::Lists,
        Some("csv") => RecordsFormat::Csv,
        Some(other) => {
            return Err(CkanError::invalid(
                "records_format",
                format!(
                    "records_format: '{}' is not objects, lists or csv",
                    other.chars().take(20).collect::<String>()
                ),
            ))
        }
    };
    Ok(Translated {
        params,
        limit,
        offset,
        include_total,
        format,
    })
}

/// Resolves a resource id to its version, with the same access rules as `/v1`.
async fn resolve_resource(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Resolved> {
    let (a, d, n) = parse_resource_id(id)
        .ok_or_else(|| ApiError::not_found(format!("Resource \"{id}\" was not found.")))?;
    resolve(state, caller, a.as_str(), d.as_str(), &n.to_string()).await
}

fn links(resource_id: &str, p: &Params, t: &Translated) -> CkanResult<Value> {
    let mut kept: Vec<(String, String)> = vec![("resource_id".into(), resource_id.into())];
    for name in ["q", "sort", "records_format"] {
        if let Some(v) = p.text(name)? {
            kept.push((name.into(), v));
        }
    }
    if let Some(f) = p.json("filters")? {
        kept.push(("filters".into(), f.to_string()));
    }
    if let Some(f) = p.list("fields")? {
        kept.push(("fields".into(), f.join(",")));
    }
    if p.text("limit")?.is_some() {
        kept.push(("limit".into(), t.limit.to_string()));
    }
    let path = "/api/3/action/datastore_search";
    let qs = |pairs: &[(String, String)]| serde_urlencoded::to_string(pairs).unwrap_or_default();
    let mut next = vec![("offset".to_owned(), (t.offset + t.limit).to_string())];
    next.extend(kept.iter().cloned());
    Ok(json!({"start": format!("{path}?{}", qs(&kept)), "next": format!("{path}?{}", qs(&next))}))
}

/// `datastore_search`: filtered, sorted, paged records of one published version.
pub async fn datastore_search(ctx: &Ctx<'_>, p: &Params) -> CkanResult<Value> {
    let id = match p.text("resource_id")? {
        Some(id) => id,
        None => p
            .text("id")?
            .ok_or_else(|| CkanError::invalid("resource_id", "Missing value"))?,
    };
    let r = resolve_resource(ctx.state, ctx.caller, &id)
        .await
        .map_err(|e| {
            if e.code == catalog::ErrorCode::NotFound {
                CkanError::new(Kind::NotFound, format!("Resource \"{id}\" was not found."))
            } else {
                e.into()
            }
        })?;
    let t = translate(p)?;
    let table = r.table();
    let q: RecordQuery = query::parse_records(table.schema(), table.timezone, &t.params)?;
    let output: Vec<usize> = q
        .select
        .clone()
        .unwrap_or_else(|| (0..table.schema().fields.len()).collect());
    let mut fields = vec![json!({"id": "_id", "type": "int"})];
    for &i in &output {
        let f = &table.schema().fields[i];
        let mut field = json!({"id": f.name, "type": ckan_type(f.field_type)});
        if let Some(d) = &f.description {
            field["info"] = json!({"notes": d});
        }
        fields.push(field);
    }
    let catalog = &ctx.state.catalog;
    let (db, plans) = (&catalog.db, &*catalog.generic_plans);
    let (rows, total) = if t.limit == 0 {
        let total = if t.include_total {
            Some(read::count(db, plans, table, &q.selection).await?)
        } else {
            None
        };
        (vec![], total)
    } else {
        let page = read::query_page(db, plans, &catalog.cursor_key, table, &q).await?;
        (page.rows, page.total)
    };
    let cols = Columns::new(table.schema(), &output);
    let records = match t.format {
        RecordsFormat::Objects => {
            serde_json::from_slice::<Value>(&encode::json_array(&cols, &rows))
                .map_err(|e| CkanError::new(Kind::Internal, e.to_string()))?
        }
        RecordsFormat::Lists => json!(rows
            .iter()
            .map(|row| {
                std::iter::once(json!(row.id))
                    .chain(row.cells[..output.len()].iter().map(|c| c.to_json()))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()),
        RecordsFormat::Csv => {
            let mut enc = CsvEncoder::new(cols.clone(), false);
            let mut buf = vec![];
            for row in &rows {
                enc.row(&mut buf, row);
            }
            json!(String::from_utf8_lossy(&buf))
        }
    };
    let mut result = json!({
        "resource_id": id,
        "fields": fields,
        "records": records,
        "records_format": match t.format {
            RecordsFormat::Objects => "objects",
            RecordsFormat::Lists => "lists",
            RecordsFormat::Csv => "csv",
        },
        "limit": t.limit,
        "include_total": t.include_total,
        "_links": links(&id, p, &t)?,
    });
    if t.offset > 0 {
        result["offset"] = json!(t.offset);
    }
    for name in ["filters", "q"] {
        if let Some(v) = p.json_or_text(name)? {
            result[name] = v;
        }
    }
    if let Some(s) = p.text("sort")? {
        result["sort"] = json!(s);
    }
    if let Some(total) = total {
        result["total"] = json!(total);
        result["total_was_estimated"] = json!(false);
    }
    Ok(result)
}

/// Dump a resource as CSV
///
/// The whole version as CSV, streamed (CKAN's datastore dump); `bom=true` adds a UTF-8 BOM.
/// `q`, `filters`, `fields` and `sort` narrow it as in `datastore_search`.
#[utoipa::path(
    tag = "interop",
    params(
        ("resource_id" = String, Path, description = "`{agency}_{dataset}_v{n}`", example = "dinas-pu_laporan-jalan_v2"),
        ("bom" = Option<bool>, Query, description = "Start with a UTF-8 byte order mark (for spreadsheet programs)"),
    ),
    responses((status = 200, description = "CSV with a header row", body = String, content_type = "text/csv")),
    security((), ("api_key" = []), ("bearer" = []))
)]
#[get("/datastore/dump/{resource_id}")]
#[tracing::instrument(skip_all, fields(resource_id = %resource_id))]
pub async fn dump_datastore(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    resource_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let r = resolve_resource(&state, &caller, &resource_id).await?;
    let p = Params::parse(&req, &[]).map_err(|e| ApiError::bad_request(e.message))?;
    let bom = p
        .flag("bom", false)
        .map_err(|e| ApiError::bad_request(e.message))?;
    match p.text("format").ok().flatten().as_deref() {
        None | Some("csv") => {}
        Some(_) => return Err(ApiError::bad_request("format: only csv is offered")),
    }
    for unsupported in ["limit", "offset"] {
        if p.raw(unsupported).is_some() {
            return Err(ApiError::bad_request(format!(
                "{unsupported} does not apply to a dump; use datastore_search to page"
            )));
        }
    }
    let mut t = translate(&p).map_err(|e| ApiError::bad_request(e.message))?;
    t.params.retain(|(k, _)| k != "limit" && k != "count");
    let table = r.table();
    let q = query::parse_records(table.schema(), table.timezone, &t.params)?;
    let output: Vec<usize> = q
        .select
        .clone()
        .unwrap_or_else(|| (0..table.schema().fields.len()).collect());
    let cols = Columns::new(table.schema(), &output);
    let stream = read::export(
        state.catalog.db.clone(),
        state.catalog.cursor_key.clone(),
        table.clone(),
        q,
        CsvEncoder::new(cols, bom),
    )?;
    let mut res = HttpResponse::Ok();
    cache_headers(&mut res, &r);
    res.insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"));
    res.insert_header((
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{}.csv\"", resource_id.as_str()),
    ));
    Ok(res
        .streaming(stream.map(|item| item.map_err(|e| actix_web::Error::from(ApiError::from(e))))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> Params {
        let Value::Object(m) = v else { panic!() };
        Params(m)
    }

    #[test]
    fn ckan_parameters_become_records_parameters() {
        let t = translate(&params(json!({
            "filters": {"district": "Balikpapan Kota", "priority": [1, 2], "score": {"gte": 5, "lte": 20}, "note": null},
            "q": "banjir",
            "fields": "district,priority",
            "sort": "priority desc, \"district\"",
            "limit": 5000,
            "offset": 10,
        })))
        .unwrap();
        let pairs: Vec<(&str, &str)> = t
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("district", "eq.Balikpapan Kota"),
                ("note", "is.null"),
                ("priority", "in.(\"1\",\"2\")"),
                ("score", "gte.5"),
                ("score", "lte.20"),
                ("q", "banjir"),
                ("select", "district,priority"),
                ("order", "priority.desc,district.asc"),
                ("limit", "1000"),
                ("offset", "10"),
                ("count", "exact"),
            ]
        );
        assert_eq!(t.limit, 1000, "CKAN lowers limit to its maximum");
    }

    #[test]
    fn bad_filters_are_validation_errors() {
        for bad in [
            json!({"filters": "[1]"}),
            json!({"filters": {"limit": 5}}),
            json!({"filters": {"a": []}}),
            json!({"filters": {"a": {"like": 1}}}),
            json!({"filters": "{not json"}),
            json!({"records_format": "tsv"}),
            json!({"offset": 10_001}),
        ] {
            let e = translate(&params(bad.clone())).unwrap_err();
            assert_eq!(e.kind, Kind::Validation, "{bad}");
        }
    }
}
