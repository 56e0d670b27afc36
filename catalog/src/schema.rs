//! Table schemas of dataset versions: field types, type inference and typed cell parsing.
//!
//! A version's schema is either given (a Frictionless Table Schema) or inferred while scanning the
//! upload ([`Inference`]). Either way each raw text cell goes through [`FieldType::parse_cell`].
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone as _};
use serde::{Deserialize, Serialize};

use crate::domain::TimeZone;
use crate::error::{CatalogError, Result};

/// Most columns a version may have; wider uploads are refused.
pub const MAX_COLUMNS: usize = 512;
/// Longest column name accepted.
pub const MAX_COLUMN_NAME: usize = 128;
/// Query parameters of the records API: a column may not shadow them.
pub const RESERVED_NAMES: &[&str] = &[
    "select", "order", "limit", "offset", "cursor", "count", "format", "q", "api_key", "group_by",
    "metrics", "bom",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Integer,
    Number,
    Boolean,
    String,
    Date,
    Datetime,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::String => "string",
            Self::Date => "date",
            Self::Datetime => "datetime",
        }
    }

    fn parse_name(s: &str) -> Option<Self> {
        Some(match s {
            "integer" => Self::Integer,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "string" | "any" => Self::String,
            "date" => Self::Date,
            "datetime" => Self::Datetime,
            _ => return None,
        })
    }

    /// Parses one non-empty raw value; the error is a short reason for the client.
    pub fn parse_cell(self, raw: &str, tz: TimeZone) -> std::result::Result<Cell, String> {
        let bad = |what: &str| {
            Err(format!(
                "'{}' is not {what}",
                raw.chars().take(60).collect::<String>()
            ))
        };
        match self {
            // Postgres text cannot hold U+0000; refused on both backends, so one file loads
            // (and one filter matches) the same on either.
            Self::String if raw.contains('\0') => {
                Err("the value contains the NUL character (U+0000), which text cannot hold".into())
            }
            Self::String => Ok(Cell::Str(raw.to_owned())),
            Self::Integer => parse_int(raw)
                .map(Cell::Int)
                .map_or_else(|| bad("an integer"), Ok),
            Self::Number => parse_num(raw)
                .map(Cell::Num)
                .map_or_else(|| bad("a number"), Ok),
            Self::Boolean => parse_bool(raw)
                .map(Cell::Bool)
                .map_or_else(|| bad("a boolean"), Ok),
            Self::Date => parse_date(raw)
                .map(Cell::Date)
                .map_or_else(|| bad("a date (YYYY-MM-DD)"), Ok),
            Self::Datetime => parse_datetime(raw, tz)
                .map(Cell::DateTime)
                .map_or_else(|| bad("a datetime (RFC 3339)"), Ok),
        }
    }
}

/// One typed value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Num(f64),
    Bool(bool),
    Str(String),
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
}

impl Cell {
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Cell::Null => Value::Null,
            Cell::Int(i) => Value::from(*i),
            Cell::Num(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Str(s) => Value::String(s.clone()),
            Cell::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Cell::DateTime(dt) => Value::String(format_datetime(dt)),
        }
    }
}

pub fn format_datetime(dt: &DateTime<FixedOffset>) -> String {
    let mut buf = Vec::with_capacity(32);
    write_datetime(&mut buf, dt);
    String::from_utf8(buf).unwrap_or_default() // only ASCII is written
}

/// Appends `dt` in RFC 3339 with its own offset (`2024-03-05T08:15:00+08:00`; a fraction of 3,
/// 6 or 9 digits when there is one, as chrono's `SecondsFormat::AutoSi`): exports write one per
/// row, and chrono's formatter, with its `String`, cost as much as the rest of a CSV row. Years
/// outside 0–9999, offsets with seconds (historical local mean times) and leap seconds go
/// through chrono.
pub fn write_datetime(buf: &mut Vec<u8>, dt: &DateTime<FixedOffset>) {
    use chrono::{Datelike as _, Timelike as _};
    let local = dt.naive_local();
    let offset = dt.offset().local_minus_utc();
    let nanos = local.nanosecond();
    let year = local.year();
    if !(0..=9999).contains(&year) || offset % 60 != 0 || nanos >= 1_000_000_000 {
        let text = dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
        buf.extend_from_slice(text.as_bytes());
        return;
    }
    let digits = |buf: &mut Vec<u8>, value: u32, width: u32| {
        for place in (0..width).rev() {
            buf.push(b'0' + (value / 10u32.pow(place) % 10) as u8);
        }
    };
    digits(buf, year as u32, 4);
    buf.push(b'-');
    digits(buf, local.month(), 2);
    buf.push(b'-');
    digits(buf, local.day(), 2);
    buf.push(b'T');
    digits(buf, local.hour(), 2);
    buf.push(b':');
    digits(buf, local.minute(), 2);
    buf.push(b':');
    digits(buf, local.second(), 2);
    if nanos != 0 {
        buf.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            digits(buf, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            digits(buf, nanos / 1_000, 6);
        } else {
            digits(buf, nanos, 9);
        }
    }
    buf.push(if offset < 0 { b'-' } else { b'+' });
    let offset = offset.unsigned_abs();
    digits(buf, offset / 3600, 2);
    buf.push(b':');
    digits(buf, offset % 3600 / 60, 2);
}

fn has_leading_zero(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.")
}

pub fn parse_int(s: &str) -> Option<i64> {
    if has_leading_zero(s) || s.starts_with('+') {
        return None;
    }
    s.parse().ok()
}

pub fn parse_num(s: &str) -> Option<f64> {
    if has_leading_zero(s) || s.starts_with('+') {
        return None;
    }
    let bytes_ok = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+'));
    if !bytes_ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// RFC 3339 keeps its offset; a value without an offset is read in the dataset's zone.
pub fn parse_datetime(s: &str, tz: TimeZone) -> Option<DateTime<FixedOffset>> {
    if s.len() < 16 || s.len() > 40 {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt);
    }
    let normalized = s.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&normalized) {
        return Some(dt);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&normalized, fmt) {
            return tz
                .0
                .from_local_datetime(&naive)
                .earliest()
                .map(|dt| dt.fixed_offset());
        }
    }
    None
}

/// One column of a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the loaded data has nulls in this column (known after ingestion).
    #[serde(default)]
    pub nullable: bool,
}

/// Most indexes an upload may declare.
pub const MAX_DECLARED_INDEXES: usize = 8;
/// Most fields in one declared index.
pub const MAX_INDEX_FIELDS: usize = 8;

/// The schema of a dataset version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TableSchema {
    pub fields: Vec<Field>,
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Indexes the publisher declared at upload (as CKAN's `datastore_create` takes
    /// `indexes`), each the names of its fields in order. Every field already has an index of
    /// its own; a declared one over several fields serves equality filters on its leading
    /// fields together with a sort on the next (`district=eq.…&category=eq.…&order=reported_at`)
    /// and counts them from the index alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Vec<String>>,
}

impl TableSchema {
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Reads a Frictionless Table Schema (`fields[].name/type/description`, `primaryKey`).
    pub fn from_table_schema_json(bytes: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        struct RawField {
            name: String,
            #[serde(rename = "type", default)]
            field_type: Option<String>,
            #[serde(default)]
            description: Option<String>,
        }
        #[derive(Deserialize)]
        struct Raw {
            fields: Vec<RawField>,
            #[serde(default, rename = "primaryKey", alias = "primary_key")]
            primary_key: Option<serde_json::Value>,
            #[serde(default)]
            indexes: Vec<Vec<String>>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| {
            CatalogError::bad_request(format!("the schema part is not a Table Schema: {e}"))
        })?;
        let mut fields = Vec::with_capacity(raw.fields.len());
        for f in raw.fields {
            let ty = f.field_type.as_deref().unwrap_or("string");
            let field_type = FieldType::parse_name(ty).ok_or_else(|| {
                CatalogError::bad_request(format!(
                    "schema field '{}' has unsupported type '{ty}'; use integer, number, boolean, string, date or datetime",
                    f.name
                ))
            })?;
            fields.push(Field {
                name: f.name,
                field_type,
                description: f.description,
                nullable: false,
            });
        }
        let primary_key = match raw.primary_key {
            None | Some(serde_json::Value::Null) => vec![],
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(a)) => a
                .into_iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| CatalogError::bad_request("primaryKey must name columns"))?,
            Some(_) => return Err(CatalogError::bad_request("primaryKey must name columns")),
        };
        let schema = TableSchema {
            fields,
            primary_key,
            // checked with the file's columns, at ingestion (`declare_indexes`)
            indexes: raw.indexes,
        };
        validate_names(schema.fields.iter().map(|f| f.name.as_str()))?;
        for pk in &schema.primary_key {
            if schema.field_index(pk).is_none() {
                return Err(CatalogError::bad_request(format!(
                    "primaryKey names unknown field '{pk}'"
                )));
            }
        }
        Ok(schema)
    }

    /// Sets the declared indexes after checking them: each names from 1 to [`MAX_INDEX_FIELDS`]
    /// known fields, none twice, only fields that `indexable` allows (text too long for a
    /// b-tree is searched with `q` instead); at most [`MAX_DECLARED_INDEXES`], none declared
    /// twice.
    pub fn declare_indexes(
        &mut self,
        indexes: Vec<Vec<String>>,
        indexable: impl Fn(usize) -> bool,
    ) -> Result<()> {
        if indexes.len() > MAX_DECLARED_INDEXES {
            return Err(CatalogError::bad_request(format!(
                "{} indexes declared; at most {MAX_DECLARED_INDEXES} are allowed",
                indexes.len()
            )));
        }
        for (n, index) in indexes.iter().enumerate() {
            if index.is_empty() || index.len() > MAX_INDEX_FIELDS {
                return Err(CatalogError::bad_request(format!(
                    "a declared index names from 1 to {MAX_INDEX_FIELDS} fields, not {}",
                    index.len()
                )));
            }
            for (k, name) in index.iter().enumerate() {
                let i = self.field_index(name).ok_or_else(|| {
                    CatalogError::UnknownColumn(format!(
                        "a declared index names '{name}', which is not a column of the upload"
                    ))
                })?;
                if index[..k].contains(name) {
                    return Err(CatalogError::bad_request(format!(
                        "a declared index names '{name}' twice"
                    )));
                }
                if !indexable(i) {
                    return Err(CatalogError::bad_request(format!(
                        "column '{name}' holds text too long to index; search it with q"
                    )));
                }
            }
            if indexes[..n].contains(index) {
                return Err(CatalogError::bad_request(format!(
                    "the index ({}) is declared twice",
                    index.join(", ")
                )));
            }
        }
        self.indexes = indexes;
        Ok(())
    }
}

/// Reads declared indexes as a query parameter or a command-line option writes them: indexes
/// separated by `;`, the fields of each by `,` (`district,category,reported_at;status`).
pub fn parse_index_list(text: &str) -> Vec<Vec<String>> {
    text.split(';')
        .filter(|index| !index.trim().is_empty())
        .map(|index| {
            (index.split(',').map(str::trim))
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// Checks column names of an upload: present, unique, not too many, not reserved.
pub fn validate_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in names.into_iter().enumerate() {
        let column = i + 1;
        if i >= MAX_COLUMNS {
            return Err(CatalogError::bad_request(format!(
                "too many columns: at most {MAX_COLUMNS} are allowed"
            )));
        }
        if name.trim().is_empty() {
            return Err(CatalogError::bad_request(format!(
                "column {column} has an empty name"
            )));
        }
        if name.chars().count() > MAX_COLUMN_NAME {
            return Err(CatalogError::bad_request(format!(
                "column {column} has a name longer than {MAX_COLUMN_NAME} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(CatalogError::bad_request(format!(
                "column {column} has a control character in its name"
            )));
        }
        if name.starts_with('_') || RESERVED_NAMES.contains(&name) {
            return Err(CatalogError::bad_request(format!(
                "column {column} is named '{name}', which is reserved by the records API (names starting with '_', {})",
                RESERVED_NAMES.join(", ")
            )));
        }
        if !seen.insert(name) {
            return Err(CatalogError::bad_request(format!(
                "column {column} repeats the name '{name}'; column names must be unique"
            )));
        }
    }
    Ok(())
}

/// Running type inference for one column: the narrowest type every non-null value fits.
#[derive(Debug, Clone)]
pub struct Inference {
    int: bool,
    num: bool,
    boolean: bool,
    date: bool,
    datetime: bool,
    seen: bool,
    pub nulls: bool,
    pub max_len: usize,
}

impl Default for Inference {
    fn default() -> Self {
        Self {
            int: true,
            num: true,
            boolean: true,
            date: true,
            datetime: true,
            seen: false,
            nulls: false,
            max_len: 0,
        }
    }
}

impl Inference {
    pub fn observe(&mut self, raw: Option<&str>, tz: TimeZone) {
        let Some(s) = raw else {
            self.nulls = true;
            return;
        };
        self.seen = true;
        self.max_len = self.max_len.max(s.len());
        if self.int && parse_int(s).is_none() {
            self.int = false;
        }
        if self.num && !self.int && parse_num(s).is_none() {
            self.num = false;
        }
        if self.boolean && parse_bool(s).is_none() {
            self.boolean = false;
        }
        if self.date && parse_date(s).is_none() {
            self.date = false;
        }
        if self.datetime && parse_datetime(s, tz).is_none() {
            self.datetime = false;
        }
    }

    /// Records whether a value is there and how long it is, not its type: for a field whose
    /// type is settled.
    pub fn measure(&mut self, raw: Option<&str>) {
        match raw {
            None => self.nulls = true,
            Some(s) => {
                self.seen = true;
                self.max_len = self.max_len.max(s.len());
            }
        }
    }

    /// Whether any value was observed (a field with none is typed as string).
    pub fn has_values(&self) -> bool {
        self.seen
    }

    pub fn field_type(&self) -> FieldType {
        match self {
            Self { seen: false, .. } => FieldType::String,
            Self { boolean: true, .. } => FieldType::Boolean,
            Self { int: true, .. } => FieldType::Integer,
            Self { num: true, .. } => FieldType::Number,
            Self { date: true, .. } => FieldType::Date,
            Self { datetime: true, .. } => FieldType::Datetime,
            _ => FieldType::String,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_indexes_name_known_indexable_fields_once_within_limits() {
        let json = br#"{"fields":[{"name":"a"},{"name":"b","type":"integer"},{"name":"long"}],
            "indexes":[["a","b"]]}"#;
        let schema = TableSchema::from_table_schema_json(json).unwrap();
        assert_eq!(schema.indexes, vec![vec!["a".to_owned(), "b".to_owned()]]);
        let declare = |text: &str| {
            let mut s = schema.clone();
            s.declare_indexes(parse_index_list(text), |i| i != 2)
                .map(|()| s.indexes)
        };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            declare(" a , b ;; b,").unwrap(),
            vec![names(&["a", "b"]), names(&["b"])]
        );
        assert!(matches!(
            declare("a,x"),
            Err(CatalogError::UnknownColumn(_))
        ));
        for refused in [
            "a,a",
            "a,long",
            "a,b;b;a,b",
            "a;b;a,b;b,a;a,b,b;b,a,b;a,long;b,long,a;x",
        ] {
            assert!(
                matches!(declare(refused), Err(CatalogError::BadRequest(_))),
                "{refused}"
            );
        }
        let nine = (0..9).map(|_| "a").collect::<Vec<_>>().join(",");
        assert!(matches!(declare(&nine), Err(CatalogError::BadRequest(_))));
    }

    fn infer(values: &[&str]) -> FieldType {
        let mut inf = Inference::default();
        for v in values {
            inf.observe(
                if v.is_empty() { None } else { Some(v) },
                TimeZone::default(),
            );
        }
        inf.field_type()
    }

    #[test]
    fn inference_picks_the_narrowest_type() {
        assert_eq!(infer(&["1", "2", ""]), FieldType::Integer);
        assert_eq!(infer(&["1", "2.5"]), FieldType::Number);
        assert_eq!(infer(&["true", "FALSE"]), FieldType::Boolean);
        assert_eq!(infer(&["2024-01-02", ""]), FieldType::Date);
        assert_eq!(
            infer(&["2024-01-02T10:00:00+08:00", "2024-01-02 10:00:00"]),
            FieldType::Datetime
        );
        assert_eq!(
            infer(&["2024-01-02", "2024-01-02T10:00:00+08:00"]),
            FieldType::String
        );
        assert_eq!(
            infer(&["0812", "1"]),
            FieldType::String,
            "leading zeros are codes, not numbers"
        );
        assert_eq!(infer(&["NaN"]), FieldType::String);
        assert_eq!(infer(&[""]), FieldType::String);
    }

    #[test]
    fn datetimes_keep_their_offset_and_naive_ones_use_the_zone() {
        let tz = TimeZone::default();
        let dt = parse_datetime("2024-03-05T08:15:00+08:00", tz).unwrap();
        assert_eq!(format_datetime(&dt), "2024-03-05T08:15:00+08:00");
        let naive = parse_datetime("2024-03-05 08:15:00", tz).unwrap();
        assert_eq!(format_datetime(&naive), "2024-03-05T08:15:00+07:00");
    }

    #[test]
    fn datetimes_are_written_as_chrono_writes_them() {
        // Offsets of both signs, with and without half hours, one with seconds (Jakarta's
        // local mean time before 1924, through chrono); fractions of every width; the years at
        // the edges and past them.
        let offsets = [
            0,
            7 * 3600,
            8 * 3600,
            9 * 3600,
            19_800,
            -3 * 3600 - 1800,
            25_632,
        ];
        let micros = [
            0i64,
            1_709_597_700_000_000,
            1_709_597_700_123_000,
            1_709_597_700_123_456,
            -62_167_219_200_000_000, // 0000-01-01T00:00:00Z
            -62_167_219_200_000_001,
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999Z
            253_402_300_800_000_000,
            -1_999_999_999_999_999,
        ];
        for off in offsets {
            let zone = FixedOffset::east_opt(off).unwrap();
            for m in micros {
                for extra_nanos in [0, 7] {
                    let utc = chrono::Utc.timestamp_micros(m).unwrap()
                        + chrono::Duration::nanoseconds(extra_nanos);
                    let dt = utc.with_timezone(&zone);
                    let want = dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
                    assert_eq!(
                        format_datetime(&dt),
                        want,
                        "{m} µs + {extra_nanos} ns at {off}"
                    );
                }
            }
        }
    }

    #[test]
    fn hostile_column_names_are_refused() {
        assert!(validate_names(["a", "a"]).is_err());
        assert!(validate_names(["a", ""]).is_err());
        assert!(validate_names(["limit"]).is_err());
        assert!(validate_names(["_id"]).is_err());
        assert!(
            validate_names(["a\"; DROP TABLE x; --"]).is_ok(),
            "quotes are data, never SQL"
        );
        let many: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
        assert!(validate_names(many.iter().map(String::as_str)).is_err());
    }
}
