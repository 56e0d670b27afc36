//! Example values of a version's columns, taken from its data, for its typed OpenAPI document:
//! the first non-null value of each column (one page read, then one small read per column that
//! was null all through that page).
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::cursor::CursorKey;
use super::encode::{json_array, Columns};
use super::pg_direct::GenericPlans;
use super::query::parse_records;
use super::read::{query_page, VersionTable};
use crate::error::Result;

/// How many rows the first read looks at.
const FIRST_PAGE: &str = "50";

/// One example per field, in schema order (`None`: the column is null everywhere).
pub async fn column_examples(
    db: &DatabaseConnection,
    plans: &GenericPlans,
    key: &CursorKey,
    table: &VersionTable,
) -> Result<Vec<Option<Value>>> {
    let schema = table.schema();
    let mut out: Vec<Option<Value>> = vec![None; schema.fields.len()];
    let page = read(
        db,
        plans,
        key,
        table,
        &[("limit".into(), FIRST_PAGE.into())],
    )
    .await?;
    for row in &page {
        fill(&mut out, schema.fields.iter().map(|f| f.name.as_str()), row);
    }
    for (i, f) in schema.fields.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let params = [
            (f.name.clone(), "is.notnull".to_owned()),
            ("select".to_owned(), f.name.clone()),
            ("limit".to_owned(), "1".to_owned()),
        ];
        // A column named like a parameter cannot be filtered by name; it keeps no example.
        if let Ok(rows) = read(db, plans, key, table, &params).await {
            if let Some(row) = rows.first() {
                out[i] = row.get(&f.name).filter(|v| !v.is_null()).cloned();
            }
        }
    }
    Ok(out)
}

async fn read(
    db: &DatabaseConnection,
    plans: &GenericPlans,
    key: &CursorKey,
    table: &VersionTable,
    params: &[(String, String)],
) -> Result<Vec<serde_json::Map<String, Value>>> {
    let query = parse_records(table.schema(), table.timezone, params)?;
    let page = query_page(db, plans, key, table, &query).await?;
    let cols = Columns::new(table.schema(), page.fetch.output_fields());
    let json = json_array(&cols, &page.rows);
    Ok(serde_json::from_slice(&json).unwrap_or_default())
}

fn fill<'a>(
    out: &mut [Option<Value>],
    names: impl Iterator<Item = &'a str>,
    row: &serde_json::Map<String, Value>,
) {
    for (slot, name) in out.iter_mut().zip(names) {
        if slot.is_none() {
            *slot = row.get(name).filter(|v| !v.is_null()).cloned();
        }
    }
}
