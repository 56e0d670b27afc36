//! Bodies the record store writes itself (its encoders stream JSON without serde types), as
//! the platform document shows them. Each version's own document types the records.
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A page of records (their columns depend on the version: see its own document).
#[derive(ToSchema)]
pub struct RecordPage {
    pub data: Vec<Map<String, Value>>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
    /// With `count=exact` only.
    #[schema(required = false)]
    pub total: Option<u64>,
}

/// Aggregate rows: `count` and `{fn}_{column}` beside the `group_by` columns.
#[derive(ToSchema)]
pub struct AggregateView {
    pub data: Vec<Map<String, Value>>,
}
