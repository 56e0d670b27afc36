//! Parameters the gateway parses by hand (path segments, the records query string) described
//! once for the documents. The parser of record queries is `catalog::records::query`; a
//! parameter documented here and refused there (or the other way round) is a bug that
//! schemathesis finds in CI.
use std::collections::HashMap;

use utoipa::{IntoParams, ToSchema};

/// `{agency}` in a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AgencyPath {
    /// The agency's slug.
    #[param(example = "dinas-pu")]
    pub agency: String,
}

/// `{agency}/{dataset}` in a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DatasetPath {
    /// The agency's slug.
    #[param(example = "dinas-pu")]
    pub agency: String,
    /// The dataset's slug, unique within its agency.
    #[param(example = "laporan-jalan")]
    pub dataset: String,
}

/// `{agency}/{dataset}/versions/{v}` in a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// The agency's slug.
    #[param(example = "dinas-pu")]
    pub agency: String,
    /// The dataset's slug, unique within its agency.
    #[param(example = "laporan-jalan")]
    pub dataset: String,
    /// A version number (`1`, `2`, …; immutable, cached for a year) or `latest` (the newest
    /// published version; answers carry `Content-Location` with its number).
    #[param(example = "latest", pattern = "^([1-9][0-9]{0,8}|latest)$")]
    pub v: String,
}

/// `{agency}/{dataset}/versions/{v}/records/{id}` in a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RecordPath {
    /// The agency's slug.
    #[param(example = "dinas-pu")]
    pub agency: String,
    /// The dataset's slug.
    #[param(example = "laporan-jalan")]
    pub dataset: String,
    /// A version number or `latest`.
    #[param(example = "latest", pattern = "^([1-9][0-9]{0,8}|latest)$")]
    pub v: String,
    /// The record's `_id` (its 1-based row number in the version).
    #[param(example = 1, minimum = 1)]
    pub id: i64,
}

/// `{id}` of a developer key or a developer.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The id (a UUID).
    pub id: String,
}

/// The paging, search and output parameters of a records query (filters are the columns).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// Full-text search over the text columns (words are ANDed; diacritics ignored).
    #[param(example = "banjir")]
    pub q: Option<String>,
    /// Columns to return, comma-separated (`_id` is always allowed).
    #[param(example = "_id,district")]
    pub select: Option<String>,
    /// Sort: comma-separated `column` or `column.asc|desc` (nulls last); `_id` breaks ties.
    #[param(example = "_id.desc")]
    pub order: Option<String>,
    /// Page size, 1–1000 (default 100). Above 1000 is a 400, not clamped.
    #[param(minimum = 1, maximum = 1000, example = 10)]
    pub limit: Option<u32>,
    /// The opaque keyset cursor of the previous page's `next_cursor` (tamper-proof: an edited
    /// or foreign cursor is a 400).
    pub cursor: Option<String>,
    /// Rows to skip, at most 10000 (prefer `cursor`).
    #[param(minimum = 0, maximum = 10000)]
    pub offset: Option<u32>,
    /// `exact` adds `total` (the number of matching records) to a JSON page.
    #[param(inline)]
    pub count: Option<CountMode>,
    /// Output format; `Accept` works too. csv, ndjson and geojson without `limit` stream the
    /// whole selection.
    #[param(inline)]
    pub format: Option<RecordFormatParam>,
    /// Column filters, one query parameter per column: `{column}={op}.{value}` with ops eq,
    /// neq, gt, gte, lt, lte, in (`in.(a,b,c)`), contains (case-insensitive substring), is
    /// (`is.null`, `is.notnull`). Filters combine with AND and a column may repeat
    /// (`priority=gte.2&priority=lte.4`); an unknown column is a 400 `unknown_column`. The
    /// version's own document lists its columns with their types.
    #[param(style = Form, explode, example = json!({"priority": "gte.4"}))]
    pub filters: Option<HashMap<String, String>>,
}

/// The parameters of an aggregate query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AggregateQuery {
    /// Full-text search applied before grouping.
    pub q: Option<String>,
    /// Columns to group by, comma-separated (at most 8).
    #[param(example = "district")]
    pub group_by: Option<String>,
    /// Comma-separated `count` or `fn:column` with fn `avg`, `sum` (numeric columns), `min`,
    /// `max`. Result columns are `count` and `{fn}_{column}`. Default `count`.
    #[param(example = "count,avg:resolved_days")]
    pub metrics: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CountMode {
    Exact,
}

#[derive(ToSchema)]
#[schema(as = RecordFormat, rename_all = "lowercase")]
pub enum RecordFormatParam {
    Json,
    Csv,
    Ndjson,
    Geojson,
}

/// The operators of a column filter, `{column}={op}.{value}`.
pub const FILTER_OPERATORS: &str = "eq, neq, gt, gte, lt, lte, in (`in.(a,b,c)`), contains \
    (case-insensitive substring), is (`is.null`, `is.notnull`)";
