//! Serialising records: JSON objects, CSV, NDJSON and GeoJSON, written straight into byte buffers.
//!
//! Each format is a [`RowEncoder`], used the same way for a page and for a streamed export.
use std::io::Write as _;

use super::read::Row;
use crate::schema::{write_datetime, Cell, FieldType, TableSchema};

pub trait RowEncoder {
    fn start(&mut self, _buf: &mut Vec<u8>) {}
    fn row(&mut self, buf: &mut Vec<u8>, row: &Row);
    fn finish(&mut self, _buf: &mut Vec<u8>) {}
}

/// An encoder chosen at run time (a page's format), so one call serves every format.
impl RowEncoder for Box<dyn RowEncoder + Send> {
    fn start(&mut self, buf: &mut Vec<u8>) {
        (**self).start(buf);
    }
    fn row(&mut self, buf: &mut Vec<u8>, row: &Row) {
        (**self).row(buf, row);
    }
    fn finish(&mut self, buf: &mut Vec<u8>) {
        (**self).finish(buf);
    }
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
        Cell::Int(i) => buf.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Cell::Num(f) => write_json_num(buf, *f),
        Cell::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Cell::Str(s) => write_json_str(buf, s),
        Cell::Date(d) => {
            let _ = write!(buf, "\"{}\"", d.format("%Y-%m-%d"));
        }
        Cell::DateTime(dt) => {
            buf.push(b'"');
            write_datetime(buf, dt);
            buf.push(b'"');
        }
    }
}

/// A JSON number as serde_json writes one: zmij's shortest round-trip digits (`1.0` for a
/// whole number); `null` for a value JSON cannot hold (NaN, infinities).
fn write_json_num(buf: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        buf.extend_from_slice(zmij::Buffer::new().format_finite(f).as_bytes());
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// A JSON string. Most values need no escape: they are checked eight bytes at a time and
/// copied whole; the others go through serde_json, whose escapes these are (a control
/// character, `"` or `\\`; nothing else is escaped).
fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    if needs_json_escape(s.as_bytes()) {
        let _ = serde_json::to_writer(&mut *buf, s);
        return;
    }
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    buf.extend_from_slice(s.as_bytes());
    buf.push(b'"');
}

/// Whether `bytes` holds a byte below 0x20, a `"` or a `\\` (the SWAR tests "has a byte
/// less than n" and "has a zero byte", exact as yes-or-no answers for a whole word).
fn needs_json_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let word_needs = |w: u64| {
        w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0
            || has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')))
    };
    let mut words = bytes.chunks_exact(8);
    let found = words.by_ref().any(|w| {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        word_needs(u64::from_ne_bytes(word))
    });
    found
        || words
            .remainder()
            .iter()
            .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// `{"_id":1,"col":value,…}`
pub fn write_json_record(buf: &mut Vec<u8>, cols: &Columns, row: &Row) {
    buf.extend_from_slice(b"{\"_id\":");
    buf.extend_from_slice(itoa::Buffer::new().format(row.id).as_bytes());
    for (name, cell) in cols.names.iter().zip(&row.cells) {
        buf.push(b',');
        write_json_str(buf, name);
        buf.push(b':');
        write_json_cell(buf, cell);
    }
    buf.push(b'}');
}

/// The records of a JSON page as a `[…]` array, one at a time.
pub struct JsonArrayEncoder {
    cols: Columns,
    first: bool,
    /// What the output starts with, before the `[`.
    opening: &'static [u8],
}

impl JsonArrayEncoder {
    pub fn new(cols: Columns) -> Self {
        Self {
            cols,
            first: true,
            opening: b"",
        }
    }

    /// The array as the value of `{"data":` (the caller writes the rest of the object), so a
    /// page is written into one buffer instead of being copied into its envelope.
    pub fn in_data_envelope(cols: Columns) -> Self {
        Self {
            opening: b"{\"data\":",
            ..Self::new(cols)
        }
    }
}

impl RowEncoder for JsonArrayEncoder {
    fn start(&mut self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(self.opening);
        buf.push(b'[');
    }
    fn row(&mut self, buf: &mut Vec<u8>, row: &Row) {
        if !std::mem::take(&mut self.first) {
            buf.push(b',');
        }
        write_json_record(buf, &self.cols, row);
    }
    fn finish(&mut self, buf: &mut Vec<u8>) {
        buf.push(b']');
    }
}

/// The records of a JSON page, as a `[…]` array.
pub fn json_array(cols: &Columns, rows: &[Row]) -> Vec<u8> {
    encode_all(&mut JsonArrayEncoder::new(cols.clone()), rows)
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

/// A CSV field: quoted (quotes doubled) when it holds a delimiter, quote or line break, or
/// starts or ends with a space. The scans are memchr's (SIMD): long texts are the bulk of an
/// export.
fn write_csv_text(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let quote = s.starts_with(' ')
        || s.ends_with(' ')
        || memchr::memchr3(b',', b'"', b'\n', bytes).is_some()
        || memchr::memchr(b'\r', bytes).is_some();
    if !quote {
        buf.extend_from_slice(bytes);
        return;
    }
    write_quoted(buf, s);
}

/// `s` in double quotes, its quotes doubled: CSV's quoting, which Postgres' `COPY … CSV` reads
/// too.
pub(crate) fn write_quoted(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let mut rest = s.as_bytes();
    while let Some(at) = memchr::memchr(b'"', rest) {
        buf.extend_from_slice(&rest[..=at]);
        buf.push(b'"');
        rest = &rest[at + 1..];
    }
    buf.extend_from_slice(rest);
    buf.push(b'"');
}

/// A CSV number: the shortest digits that read back as `f`, never with an exponent. Written by
/// zmij, as JSON numbers are ([`write_json_num`]), without JSON's `.0` on whole numbers;
/// magnitudes for which zmij would use an exponent (≥ 1e16, < 1e-5) and non-finite values go
/// through `Display`. Both are shortest round-trip forms; they can differ in the last digit when
/// two are equally short (zmij takes the closer one).
///
/// zmij replaced ryu here (the same output: compared on 80m values, random bits, rounded
/// decimals, whole numbers and powers of ten): in a Postgres export ryu was 9 % of the
/// server's CPU.
fn write_num(buf: &mut Vec<u8>, f: f64) {
    let mut digits = zmij::Buffer::new();
    let s = digits.format(f);
    if f.is_finite() && !s.contains('e') {
        buf.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
    } else {
        let _ = write!(buf, "{f}");
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
        let mut int = itoa::Buffer::new();
        buf.extend_from_slice(int.format(row.id).as_bytes());
        for cell in &row.cells[..self.cols.names.len()] {
            buf.push(b',');
            match cell {
                Cell::Null => {}
                Cell::Int(i) => buf.extend_from_slice(int.format(*i).as_bytes()),
                Cell::Num(f) => write_num(buf, *f),
                Cell::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
                Cell::Str(s) => write_csv_text(buf, s),
                Cell::Date(d) => {
                    let _ = write!(buf, "{}", d.format("%Y-%m-%d"));
                }
                Cell::DateTime(dt) => write_datetime(buf, dt),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain byte-by-byte quoting the memchr version must match.
    fn reference_csv_text(s: &str) -> Vec<u8> {
        let mut buf = vec![];
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
        buf
    }

    #[test]
    fn json_strings_are_written_as_serde_json_writes_them() {
        // every byte value at every position of words shorter than, as long as and longer
        // than one eight-byte word: the word test must find exactly what a byte loop finds
        for len in 1..=19 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let want = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(needs_json_escape(&bytes), want, "{b:#x} at {at} of {len}");
                }
            }
        }
        for s in [
            "",
            "Balikpapan Utara",
            "kutip \" dan garis \\ miring",
            "tab\tbaris\nbaru\u{0}\u{1f}",
            "Kecamatan Balikpapan Selatan — jalan berlubang ±20 cm, ümlaut, 日本",
            "\u{7f} del and / slash stay as they are",
        ] {
            let mut buf = vec![];
            write_json_str(&mut buf, s);
            assert_eq!(buf, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn csv_texts_are_quoted_exactly_when_needed() {
        let long = "jalan berlubang di depan pasar, \"parah\" sekali".repeat(20);
        for s in [
            "",
            "biasa",
            "a,b",
            "\"",
            "\"\"",
            "kata \"kutip\" di tengah",
            "baris\nbaru",
            "cr\r",
            " depan",
            "belakang ",
            " ",
            "ends with quote\"",
            "ünïcödé, ok",
            long.as_str(),
        ] {
            let mut buf = vec![];
            write_csv_text(&mut buf, s);
            assert_eq!(buf, reference_csv_text(s), "{s:?}");
        }
    }

    #[test]
    fn numbers_are_serde_json_s_digits_in_json_and_read_back_exactly_without_exponent_in_csv() {
        let mut cases = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.3,
            2.5,
            1e15,
            1e16,
            1e17,
            123456789012345680.0,
            1e-4,
            1e-5,
            1e-6,
            1e-7,
            -1.1624,
            116.8472,
            -1149636667324797.2,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        // deterministic pseudo-random bit patterns and coordinates with 6 decimals
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                cases.push(f);
            }
            cases.push((x % 360_000_000) as f64 / 1e6 - 180.0);
            cases.push(f64::from(i) * 0.25);
        }
        for f in cases {
            let mut buf = vec![];
            write_num(&mut buf, f);
            let s = String::from_utf8(buf).unwrap();
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{s}");
            assert!(!s.contains(['e', 'E']), "{s}");
            assert!(s.len() <= format!("{f}").len(), "{s} is not shortest");
            let json = serde_json::to_string(&f).unwrap();
            let mut written = vec![];
            write_json_num(&mut written, f);
            assert_eq!(written, json.as_bytes(), "JSON as serde_json writes it");
            if !json.contains('e') {
                assert_eq!(s, json.strip_suffix(".0").unwrap_or(&json), "{f:e}");
            }
        }
        for (f, s) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (1.5, "1.5"),
            (3.0, "3"),
        ] {
            let mut buf = vec![];
            write_num(&mut buf, f);
            assert_eq!(buf, s.as_bytes());
        }
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut buf = vec![];
            write_json_num(&mut buf, f);
            assert_eq!(buf, b"null");
        }
    }
}
