//! Parsing the records API's query string into a typed [`RecordQuery`] against a version's schema.
//!
//! Unknown parameters are columns; a filter on an unknown column is `unknown_column`, a value that
//! does not parse as the column's type is `invalid_filter`. Nothing here touches the database.
use chrono::TimeZone as _;

use crate::domain::TimeZone;
use crate::error::{CatalogError, Result};
use crate::schema::{Cell, FieldType, TableSchema};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
pub const MAX_OFFSET: u32 = 10_000;
const MAX_IN_VALUES: usize = 1000;
const MAX_ORDER_TERMS: usize = 8;
const MAX_Q_TERMS: usize = 32;

/// A column of the record table: `_id` or a schema field by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColRef {
    Id,
    Field(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Contains,
    IsNull,
    IsNotNull,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub col: ColRef,
    pub op: Op,
    /// One value for comparisons, several for `in`, none for `is`; `contains` holds a `Str`.
    pub values: Vec<Cell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderTerm {
    pub col: ColRef,
    pub dir: Dir,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    Json,
    Csv,
    Ndjson,
    Geojson,
}

impl RecordFormat {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "ndjson" => Ok(Self::Ndjson),
            "geojson" => Ok(Self::Geojson),
            _ => Err(CatalogError::bad_request(format!(
                "format '{}' is not offered; use json, csv, ndjson or geojson",
                s.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// Filters and search shared by records and aggregate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub filters: Vec<Filter>,
    /// Full-text search terms (words), all of which must match.
    pub q: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordQuery {
    pub selection: Selection,
    /// Fields to return, in order; `None` is all of them. `_id` always comes first.
    pub select: Option<Vec<usize>>,
    /// Ends with `_id`, so the order is total and keyset cursors are exact.
    pub order: Vec<OrderTerm>,
    pub limit: Option<u32>,
    pub offset: u32,
    pub cursor: Option<String>,
    pub count: bool,
    pub format: Option<RecordFormat>,
}

/// Appends `s` length-prefixed, so no value can run into the next one.
fn push_text(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    let _ = write!(out, "{}:", s.len());
    out.push_str(s);
}

fn push_col(out: &mut String, col: ColRef) {
    use std::fmt::Write as _;
    match col {
        ColRef::Id => out.push('_'),
        ColRef::Field(i) => {
            let _ = write!(out, "{i}");
        }
    }
}

/// A typed, unambiguous text of one value (floats by their bits, times as instant and offset).
fn push_cell(out: &mut String, cell: &Cell) {
    use std::fmt::Write as _;
    let _ = match cell {
        Cell::Null => write!(out, "n,"),
        Cell::Int(i) => write!(out, "i{i},"),
        Cell::Num(f) => write!(out, "f{:x},", f.to_bits()),
        Cell::Bool(b) => write!(out, "b{},", u8::from(*b)),
        Cell::Str(s) => {
            out.push('s');
            push_text(out, s);
            Ok(())
        }
        Cell::Date(d) => write!(out, "d{d},"),
        Cell::DateTime(t) => write!(
            out,
            "t{}.{}@{},",
            t.timestamp(),
            t.timestamp_subsec_nanos(),
            t.offset().local_minus_utc()
        ),
    };
}

impl Filter {
    fn canonical(&self) -> String {
        let mut out = String::with_capacity(16);
        push_col(&mut out, self.col);
        out.push_str(match self.op {
            Op::Eq => ":eq:",
            Op::Neq => ":neq:",
            Op::Gt => ":gt:",
            Op::Gte => ":gte:",
            Op::Lt => ":lt:",
            Op::Lte => ":lte:",
            Op::In => ":in:",
            Op::Contains => ":contains:",
            Op::IsNull => ":isnull:",
            Op::IsNotNull => ":isnotnull:",
        });
        for v in &self.values {
            push_cell(&mut out, v);
        }
        out
    }
}

impl Selection {
    /// A canonical text of which rows match: filters in a fixed order, then the words. Values
    /// are typed and length-prefixed, so two different selections never share a text. Built on
    /// every cached read (it is part of the cache key), hence no `Debug` formatting here.
    pub fn fingerprint(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write_fingerprint(&mut out);
        out
    }

    fn write_fingerprint(&self, out: &mut String) {
        let mut filters: Vec<String> = self.filters.iter().map(Filter::canonical).collect();
        filters.sort_unstable();
        for f in &filters {
            out.push_str(f);
            out.push(';');
        }
        out.push('|');
        for word in &self.q {
            push_text(out, word);
        }
    }
}

impl RecordQuery {
    /// A canonical text of what decides the rows and their order (the cursor is bound to it).
    pub fn fingerprint(&self) -> String {
        let mut out = String::with_capacity(96);
        self.write_fingerprint(&mut out);
        out
    }

    /// Appends [`RecordQuery::fingerprint`] to `out`.
    pub fn write_fingerprint(&self, out: &mut String) {
        self.selection.write_fingerprint(out);
        out.push('|');
        for term in &self.order {
            push_col(out, term.col);
            out.push(match term.dir {
                Dir::Asc => '+',
                Dir::Desc => '-',
            });
        }
    }

    /// The page size: the `limit` given, else the default for paged formats.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }
}

pub struct AggregateQuery {
    pub selection: Selection,
    pub group_by: Vec<usize>,
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricFn {
    Count,
    Avg,
    Sum,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub func: MetricFn,
    /// `None` for `count`.
    pub field: Option<usize>,
}

fn column(schema: &TableSchema, name: &str) -> Result<ColRef> {
    if name == "_id" {
        return Ok(ColRef::Id);
    }
    schema.field_index(name).map(ColRef::Field).ok_or_else(|| {
        CatalogError::UnknownColumn(format!(
            "'{}' is not a column of this version",
            name.chars().take(80).collect::<String>()
        ))
    })
}

pub fn col_type(schema: &TableSchema, col: ColRef) -> FieldType {
    match col {
        ColRef::Id => FieldType::Integer,
        ColRef::Field(i) => schema.fields[i].field_type,
    }
}

pub fn col_name(schema: &TableSchema, col: ColRef) -> &str {
    match col {
        ColRef::Id => "_id",
        ColRef::Field(i) => &schema.fields[i].name,
    }
}

/// A filter's value as a cell of the column's type. On a datetime column a date alone
/// (`2024-06-01`) stands for its midnight in the dataset's zone, as Postgres (and so PostgREST)
/// reads a date compared with a timestamp: `gte.2024-06-01` is from the start of that day.
fn parse_value(schema: &TableSchema, col: ColRef, raw: &str, tz: TimeZone) -> Result<Cell> {
    let ty = col_type(schema, col);
    let midnight = || {
        let day = crate::schema::parse_date(raw)?;
        let local =
            tz.0.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN));
        local.earliest().map(|dt| Cell::DateTime(dt.fixed_offset()))
    };
    ty.parse_cell(raw, tz)
        .or_else(|why| match ty {
            FieldType::Datetime => {
                midnight().ok_or_else(|| format!("{why} or a date (YYYY-MM-DD)"))
            }
            _ => Err(why),
        })
        .map_err(|why| {
            CatalogError::InvalidFilter(format!("filter on '{}': {why}", col_name(schema, col)))
        })
}

/// Splits `(a,"b,c",d)` into its items.
fn parse_list(raw: &str) -> Option<Vec<String>> {
    let inner = raw.strip_prefix('(')?.strip_suffix(')')?;
    let mut items = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    items.push(cur);
    Some(items)
}

fn parse_filter(schema: &TableSchema, name: &str, raw: &str, tz: TimeZone) -> Result<Filter> {
    let col = column(schema, name)?;
    let invalid =
        |why: String| CatalogError::InvalidFilter(format!("filter '{name}={raw}': {why}"));
    let (op, rest) = raw
        .split_once('.')
        .ok_or_else(|| invalid("expected {op}.{value}, e.g. eq.5 or in.(a,b)".into()))?;
    let ty = col_type(schema, col);
    let op = match op {
        "eq" => Op::Eq,
        "neq" => Op::Neq,
        "gt" => Op::Gt,
        "gte" => Op::Gte,
        "lt" => Op::Lt,
        "lte" => Op::Lte,
        "in" => Op::In,
        "contains" => Op::Contains,
        "is" => match rest {
            "null" => Op::IsNull,
            "notnull" => Op::IsNotNull,
            _ => return Err(invalid("'is' takes null or notnull".into())),
        },
        other => {
            return Err(invalid(format!(
                "unknown operator '{}'; use eq, neq, gt, gte, lt, lte, in, contains or is",
                other.chars().take(20).collect::<String>()
            )))
        }
    };
    let values = match op {
        Op::IsNull | Op::IsNotNull => vec![],
        Op::In => {
            let items =
                parse_list(rest).ok_or_else(|| invalid("'in' takes a list: in.(a,b,c)".into()))?;
            if items.len() > MAX_IN_VALUES {
                return Err(invalid(format!(
                    "'in' takes at most {MAX_IN_VALUES} values"
                )));
            }
            items
                .iter()
                .map(|v| parse_value(schema, col, v, tz))
                .collect::<Result<Vec<_>>>()?
        }
        Op::Contains => {
            if ty != FieldType::String {
                return Err(invalid("'contains' works on text columns only".into()));
            }
            if rest.is_empty() {
                return Err(invalid("'contains' needs some text".into()));
            }
            vec![Cell::Str(rest.to_owned())]
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte if ty == FieldType::Boolean => {
            return Err(invalid("booleans take eq, neq, in or is".into()));
        }
        _ => vec![parse_value(schema, col, rest, tz)?],
    };
    Ok(Filter { col, op, values })
}

fn parse_q(raw: &str) -> Result<Vec<String>> {
    let terms: Vec<String> = raw
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect();
    if terms.is_empty() {
        return Err(CatalogError::bad_request("q needs at least one word"));
    }
    if terms.len() > MAX_Q_TERMS {
        return Err(CatalogError::bad_request(format!(
            "q takes at most {MAX_Q_TERMS} words"
        )));
    }
    Ok(terms)
}

fn parse_u32(name: &str, raw: &str) -> Result<u32> {
    raw.parse::<u32>().map_err(|_| {
        CatalogError::bad_request(format!(
            "{name} must be a whole number, got '{}'",
            raw.chars().take(40).collect::<String>()
        ))
    })
}

/// Parses the records endpoint's parameters. `api_key` is the gateway's and is skipped here.
pub fn parse_records(
    schema: &TableSchema,
    tz: TimeZone,
    params: &[(String, String)],
) -> Result<RecordQuery> {
    let mut query = RecordQuery {
        selection: Selection::default(),
        select: None,
        order: vec![],
        limit: None,
        offset: 0,
        cursor: None,
        count: false,
        format: None,
    };
    for (k, v) in params {
        match k.as_str() {
            "api_key" => {}
            "q" => query.selection.q.extend(parse_q(v)?),
            "select" => {
                let mut fields = vec![];
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if let ColRef::Field(i) = column(schema, name)? {
                        if !fields.contains(&i) {
                            fields.push(i);
                        }
                    }
                }
                query.select = Some(fields);
            }
            "order" => {
                for term in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (name, dir) = match term.rsplit_once('.') {
                        Some((n, "asc")) => (n, Dir::Asc),
                        Some((n, "desc")) => (n, Dir::Desc),
                        Some((_, d)) => {
                            return Err(CatalogError::bad_request(format!(
                                "order direction '{}' is not asc or desc",
                                d.chars().take(20).collect::<String>()
                            )))
                        }
                        None => (term, Dir::Asc),
                    };
                    let col = column(schema, name)?;
                    if query.order.iter().all(|t: &OrderTerm| t.col != col) {
                        query.order.push(OrderTerm { col, dir });
                    }
                }
                if query.order.len() > MAX_ORDER_TERMS {
                    return Err(CatalogError::bad_request(format!(
                        "order takes at most {MAX_ORDER_TERMS} columns"
                    )));
                }
            }
            "limit" => {
                let limit = parse_u32("limit", v)?;
                if !(1..=MAX_LIMIT).contains(&limit) {
                    return Err(CatalogError::bad_request(format!(
                        "limit must be between 1 and {MAX_LIMIT}; page with cursor, or export with format=csv or ndjson"
                    )));
                }
                query.limit = Some(limit);
            }
            "offset" => {
                let offset = parse_u32("offset", v).map_err(|_| {
                    CatalogError::bad_request(format!(
                        "offset must be a whole number up to {MAX_OFFSET}; past that, follow next_cursor"
                    ))
                })?;
                if offset > MAX_OFFSET {
                    return Err(CatalogError::bad_request(format!(
                        "offset may not exceed {MAX_OFFSET}; follow next_cursor (cursor=…) to page deeper"
                    )));
                }
                query.offset = offset;
            }
            "cursor" => query.cursor = Some(v.clone()),
            "count" => {
                if v != "exact" {
                    return Err(CatalogError::bad_request("count takes the value exact"));
                }
                query.count = true;
            }
            "format" => query.format = Some(RecordFormat::parse(v)?),
            name => query
                .selection
                .filters
                .push(parse_filter(schema, name, v, tz)?),
        }
    }
    if query.cursor.is_some() && query.offset > 0 {
        return Err(CatalogError::bad_request(
            "use either cursor or offset, not both",
        ));
    }
    let last_dir = query.order.last().map_or(Dir::Asc, |t| t.dir);
    if query.order.iter().all(|t| t.col != ColRef::Id) {
        query.order.push(OrderTerm {
            col: ColRef::Id,
            dir: last_dir,
        });
    } else {
        // Terms after `_id` cannot change a total order.
        let at = query
            .order
            .iter()
            .position(|t| t.col == ColRef::Id)
            .unwrap_or(0);
        query.order.truncate(at + 1);
    }
    Ok(query)
}

/// Parses the aggregate endpoint's parameters.
pub fn parse_aggregate(
    schema: &TableSchema,
    tz: TimeZone,
    params: &[(String, String)],
) -> Result<AggregateQuery> {
    let mut selection = Selection::default();
    let mut group_by = vec![];
    let mut metrics = vec![];
    for (k, v) in params {
        match k.as_str() {
            "api_key" => {}
            "q" => selection.q.extend(parse_q(v)?),
            "group_by" => {
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match column(schema, name)? {
                        ColRef::Field(i) if !group_by.contains(&i) => group_by.push(i),
                        ColRef::Field(_) => {}
                        ColRef::Id => return Err(CatalogError::bad_request("cannot group by _id")),
                    }
                }
            }
            "metrics" => {
                for m in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    metrics.push(parse_metric(schema, m)?);
                }
            }
            "limit" | "offset" | "order" | "select" | "cursor" | "count" | "format" => {
                return Err(CatalogError::bad_request(format!(
                    "'{k}' does not apply to aggregate"
                )))
            }
            name => selection.filters.push(parse_filter(schema, name, v, tz)?),
        }
    }
    if group_by.len() > 8 {
        return Err(CatalogError::bad_request(
            "group_by takes at most 8 columns",
        ));
    }
    if metrics.is_empty() {
        metrics.push(Metric {
            func: MetricFn::Count,
            field: None,
        });
    }
    if metrics.len() > 32 {
        return Err(CatalogError::bad_request(
            "metrics takes at most 32 entries",
        ));
    }
    Ok(AggregateQuery {
        selection,
        group_by,
        metrics,
    })
}

fn parse_metric(schema: &TableSchema, raw: &str) -> Result<Metric> {
    if raw == "count" {
        return Ok(Metric {
            func: MetricFn::Count,
            field: None,
        });
    }
    let (func, name) = raw.split_once(':').ok_or_else(|| {
        CatalogError::bad_request(format!(
            "metric '{}' is not count or fn:column (avg, sum, min, max)",
            raw.chars().take(60).collect::<String>()
        ))
    })?;
    let func = match func {
        "avg" => MetricFn::Avg,
        "sum" => MetricFn::Sum,
        "min" => MetricFn::Min,
        "max" => MetricFn::Max,
        _ => {
            return Err(CatalogError::bad_request(format!(
                "unknown metric function '{}'",
                func.chars().take(20).collect::<String>()
            )))
        }
    };
    let ColRef::Field(i) = column(schema, name)? else {
        return Err(CatalogError::bad_request(
            "metrics over _id are not offered",
        ));
    };
    let ty = schema.fields[i].field_type;
    if matches!(func, MetricFn::Avg | MetricFn::Sum)
        && !matches!(ty, FieldType::Integer | FieldType::Number)
    {
        return Err(CatalogError::bad_request(format!(
            "{raw}: avg and sum need a numeric column"
        )));
    }
    Ok(Metric {
        func,
        field: Some(i),
    })
}

impl Metric {
    pub fn output_name(&self, schema: &TableSchema) -> String {
        let f = match self.func {
            MetricFn::Count => return "count".into(),
            MetricFn::Avg => "avg",
            MetricFn::Sum => "sum",
            MetricFn::Min => "min",
            MetricFn::Max => "max",
        };
        format!("{f}_{}", schema.fields[self.field.unwrap_or(0)].name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Field;

    fn schema() -> TableSchema {
        let field = |name: &str, field_type| Field {
            name: name.into(),
            field_type,
            description: None,
            nullable: true,
        };
        TableSchema {
            fields: vec![
                field("district", FieldType::String),
                field("priority", FieldType::Integer),
                field("reported_at", FieldType::Datetime),
            ],
            primary_key: vec![],
            indexes: vec![],
        }
    }

    fn fingerprint(qs: &str) -> String {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(qs).unwrap();
        parse_records(&schema(), TimeZone::default(), &params)
            .unwrap()
            .fingerprint()
    }

    #[test]
    fn fingerprints_separate_what_selects_different_rows() {
        let distinct = [
            "district=eq.a,b",
            "district=in.(a,b)",
            "district=in.(b,a)",
            "district=eq.a;",
            "district=eq.1",
            "priority=eq.1",
            "priority=gt.1",
            "district=is.null",
            "district=is.notnull",
            "q=banjir rob",
            "q=banjirrob",
            "reported_at=gt.2024-01-01T00:00:00%2B07:00",
            "reported_at=gt.2024-01-01T00:00:00Z",
            "order=priority.asc",
            "order=priority.desc",
            "",
        ];
        let prints: Vec<String> = distinct.iter().map(|qs| fingerprint(qs)).collect();
        for (i, a) in prints.iter().enumerate() {
            for (j, b) in prints.iter().enumerate().skip(i + 1) {
                assert_ne!(
                    a, b,
                    "{} and {} share a fingerprint",
                    distinct[i], distinct[j]
                );
            }
        }
    }

    #[test]
    fn fingerprints_ignore_the_order_of_filters_and_paging() {
        assert_eq!(
            fingerprint("district=eq.a&priority=gt.2"),
            fingerprint("priority=gt.2&district=eq.a")
        );
        assert_eq!(
            fingerprint("district=eq.a"),
            fingerprint("district=eq.a&limit=5&offset=10")
        );
    }
}
