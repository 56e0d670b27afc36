//! Serialising records: JSON objects, CSV, NDJSON and GeoJSON, written straight into byte buffers.
//!
//! Each format is a [`RowEncoder`], used the same way for a page and for a streamed export.
use std::io::Write as _;

use super::read::Row;
use crate::schema::{format_datetime, Cell, FieldType, TableSchema};

pub trait RowEncoder {
    fn start(&mut self, _buf: &mut Vec<u8>) {}
    fn row(&mut self, buf: &mut Vec<u8>, row: &Row);
    fn finish(&mut self, _buf: &mut Vec<u8>) {}
}

/// Column names and positions (within a row's cells) of the output.
#[derive(Clone)]
pub struct Columns {
    names: Vec<String>,
}

impl Columns {
    pub fn new(schema: &TableSchema, output: &[usize]) -> Self {
        Self {
            names: output
                .iter()
                .map(|i| schema.fields[*i].name.clone())
                .collect(),
        }
    }
}

fn write_json_cell(buf: &mut Vec<u8>, cell: &Cell) {
    match cell {
        Cell::Null => buf.extend_from_slice(b"null"),
        Cell::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        Cell::Num(f) if f.is_finite() => {
            let _ = serde_json::to_writer(&mut *buf, f);
        }
        Cell::Num(_) => buf.extend_from_slice(b"null"),
        Cell::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Cell::Str(s) => {
            let _ = serde_json::to_writer(&mut *buf, s);
        }
        Cell::Date(d) => {
            let _ = write!(buf, "\"{}\"", d.format("%Y-%m-%d"));
        }
        Cell::DateTime(dt) => {
            let _ = write!(buf, "\"{}\"", format_datetime(dt));
        }
    }
}

/// `{"_id":1,"col":value,…}`
pub fn write_json_record(buf: &mut Vec<u8>, cols: &Columns, row: &Row) {
    let _ = write!(buf, "{{\"_id\":{}", row.id);
    for (name, cell) in cols.names.iter().zip(&row.cells) {
        buf.push(b',');
        let _ = serde_json::to_writer(&mut *buf, name);
        buf.push(b':');
        write_json_cell(buf, cell);
    }
    buf.push(b'}');
}

/// The records of a JSON page, as a `[…]` array.
pub fn json_array(cols: &Columns, rows: &[Row]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(rows.len() * 128 + 2);
    buf.push(b'[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_json_record(&mut buf, cols, row);
    }
    buf.push(b']');
    buf
}

pub struct NdjsonEncoder(pub Columns);

impl RowEncoder for NdjsonEncoder {
    fn row(&mut self, buf: &mut Vec<u8>, row: &Row) {
        write_json_record(buf, &self.0, row);
        buf.push(b'\n');
    }
}

pub struct CsvEncoder {
    cols: Columns,
    bom: bool,
}

impl CsvEncoder {
    pub fn new(cols: Columns, bom: bool) -> Self {
        Self { cols, bom }
    }
}

fn write_csv_text(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || s.starts_with(' ')
        || s.ends_with(' ')
    {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

impl RowEncoder for CsvEncoder {
    fn start(&mut self, buf: &mut Vec<u8>) {
        if self.bom {
            buf.extend_from_slice(b"\xEF\xBB\xBF");
        }
        buf.extend_from_slice(b"_id");
        for n in &self.cols.names {
            buf.push(b',');
            write_csv_text(buf, n);
        }
        buf.push(b'\n');
    }

    fn row(&mut self, buf: &mut Vec<u8>, row: &Row) {
        let _ = write!(buf, "{}", row.id);
        for cell in &row.cells[..self.cols.names.len()] {
            buf.push(b',');
            match cell {
                Cell::Null => {}
                Cell::Int(i) => {
                    let _ = write!(buf, "{i}");
                }
                Cell::Num(f) => {
                    let _ = write!(buf, "{f}");
                }
                Cell::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
                Cell::Str(s) => write_csv_text(buf, s),
                Cell::Date(d) => {
                    let _ = write!(buf, "{}", d.format("%Y-%m-%d"));
                }
                Cell::DateTime(dt) => buf.extend_from_slice(format_datetime(dt).as_bytes()),
            }
        }
        buf.push(b'\n');
    }
}

/// Which output positions hold latitude and longitude, when the schema has such a pair.
pub fn geo_columns(schema: &TableSchema, output: &[usize]) -> Option<(usize, usize)> {
    let find = |names: &[&str]| {
        output.iter().position(|i| {
            let f = &schema.fields[*i];
            matches!(f.field_type, FieldType::Number | FieldType::Integer)
                && names.contains(&f.name.to_lowercase().as_str())
        })
    };
    Some((
        find(&["latitude", "lat"])?,
        find(&["longitude", "lon", "lng"])?,
    ))
}

pub struct GeojsonEncoder {
    cols: Columns,
    lat: usize,
    lon: usize,
    first: bool,
}

impl GeojsonEncoder {
    pub fn new(cols: Columns, (lat, lon): (usize, usize)) -> Self {
        Self {
            cols,
            lat,
            lon,
            first: true,
        }
    }
}

fn coordinate(cell: &Cell) -> Option<f64> {
    match cell {
        Cell::Num(f) => Some(*f),
        Cell::Int(i) => Some(*i as f64),
        _ => None,
    }
}

impl RowEncoder for GeojsonEncoder {
    fn start(&mut self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[");
    }

    fn row(&mut self, buf: &mut Vec<u8>, row: &Row) {
        if !self.first {
            buf.push(b',');
        }
        self.first = false;
        let _ = write!(
            buf,
            "{{\"type\":\"Feature\",\"id\":{},\"geometry\":",
            row.id
        );
        match (
            coordinate(&row.cells[self.lon]),
            coordinate(&row.cells[self.lat]),
        ) {
            (Some(lon), Some(lat)) => {
                let _ = write!(buf, "{{\"type\":\"Point\",\"coordinates\":[{lon},{lat}]}}");
            }
            _ => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"properties\":");
        write_json_record(buf, &self.cols, row);
        buf.push(b'}');
    }

    fn finish(&mut self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"]}");
    }
}

/// Encodes whole rows of a page with any encoder.
pub fn encode_all(encoder: &mut dyn RowEncoder, rows: &[Row]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(rows.len() * 128 + 64);
    encoder.start(&mut buf);
    for r in rows {
        encoder.row(&mut buf, r);
    }
    encoder.finish(&mut buf);
    buf
}
