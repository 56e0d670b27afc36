//! Reading an uploaded file row by row, in constant memory: CSV (delimiter sniffed, BOM handled),
//! a JSON array of objects, or NDJSON. Every row reaches a callback with its physical line.
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::de::{Deserializer as _, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::error::{CatalogError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    Csv,
    Json,
    Ndjson,
}

/// Where a row came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub enum RowPos {
    Line(u64),
    Element(u64),
}

impl std::fmt::Display for RowPos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowPos::Line(n) => write!(f, "line {n}"),
            RowPos::Element(n) => write!(f, "array element {n}"),
        }
    }
}

/// A reader that hashes what passes through it.
pub struct HashingReader<R> {
    inner: R,
    pub hasher: Sha256,
    pub bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Receives the column names (which may grow for JSON) and each row's cells; `None` is null.
pub trait RowSink {
    fn row(&mut self, pos: RowPos, headers: &[String], cells: &[Option<&str>]) -> Result<()>;
}

/// Reads `path` and feeds every row to `sink`. Returns `(sha256 hex, bytes)` of the file.
pub fn read_rows(
    path: &Path,
    format: UploadFormat,
    sink: &mut dyn RowSink,
) -> Result<(String, u64)> {
    let file = File::open(path)?;
    let mut reader = BufReader::with_capacity(
        256 * 1024,
        HashingReader {
            inner: file,
            hasher: Sha256::new(),
            bytes: 0,
        },
    );
    match format {
        UploadFormat::Csv => read_csv(&mut reader, sink)?,
        UploadFormat::Ndjson => read_ndjson(&mut reader, sink)?,
        UploadFormat::Json => read_json(&mut reader, sink)?,
    }
    // Drain what the parser did not need (trailing whitespace) so the hash covers the file.
    std::io::copy(&mut reader, &mut std::io::sink())?;
    let inner = reader.into_inner();
    Ok((hex::encode(inner.hasher.finalize()), inner.bytes))
}

fn not_utf8(pos: RowPos) -> CatalogError {
    CatalogError::bad_request(format!(
        "{pos}: the file is not valid UTF-8; save it as UTF-8 (CSV UTF-8 in spreadsheet programs)"
    ))
}

fn skip_bom<R: BufRead>(reader: &mut R) -> Result<()> {
    let head = reader.fill_buf()?;
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.consume(3);
    } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(CatalogError::bad_request(
            "line 1: the file is UTF-16; save it as UTF-8",
        ));
    }
    Ok(())
}

/// Picks the delimiter that splits the header line most (outside quotes).
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for b in &head[..line_end] {
        if *b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = candidates.iter().position(|c| c == b) {
                counts[i] += 1;
            }
        }
    }
    let best = (0..4)
        .max_by_key(|i| (counts[*i], usize::from(*i == 0)))
        .unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        candidates[best]
    }
}

fn read_csv<R: BufRead>(reader: &mut R, sink: &mut dyn RowSink) -> Result<()> {
    skip_bom(reader)?;
    let delimiter = sniff_delimiter(reader.fill_buf()?);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let read = |csv: &mut csv::Reader<&mut R>, record: &mut csv::ByteRecord| {
        csv.read_byte_record(record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            CatalogError::bad_request(format!("line {line}: the CSV is malformed ({e})"))
        })
    };
    if !read(&mut csv, &mut record)? {
        return Err(CatalogError::bad_request(
            "the file is empty: expected a header line and rows",
        ));
    }
    let headers = record
        .iter()
        .map(|h| std::str::from_utf8(h).map(|s| s.trim().to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| not_utf8(RowPos::Line(1)))?;
    let mut rows = 0u64;
    while read(&mut csv, &mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        let pos = RowPos::Line(line);
        if record.len() == 1 && record.get(0) == Some(b"") {
            continue; // a blank line
        }
        if record.len() != headers.len() {
            return Err(CatalogError::bad_request(format!(
                "{pos}: the row has {} fields but the header has {}",
                record.len(),
                headers.len()
            )));
        }
        let mut cells: Vec<Option<&str>> = Vec::with_capacity(headers.len());
        for (i, raw) in record.iter().enumerate() {
            let s = std::str::from_utf8(raw).map_err(|_| {
                CatalogError::bad_request(format!(
                    "{pos}, column '{}': the value is not valid UTF-8; save the file as UTF-8",
                    headers[i]
                ))
            })?;
            cells.push(if s.is_empty() { None } else { Some(s) });
        }
        sink.row(pos, &headers, &cells)?;
        rows += 1;
    }
    if rows == 0 {
        return Err(CatalogError::bad_request(
            "the file has a header but no rows",
        ));
    }
    Ok(())
}

/// The keys of one JSON object in file order, values flattened to text.
struct JsonRow(Vec<(String, Option<String>)>);

impl<'de> serde::Deserialize<'de> for JsonRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonRow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonRow, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    let text = match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) if s.is_empty() => None,
                        serde_json::Value::String(s) => Some(s),
                        serde_json::Value::Bool(b) => Some(b.to_string()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        nested => Some(nested.to_string()),
                    };
                    out.push((k, text));
                }
                Ok(JsonRow(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Maps JSON rows onto a growing header list.
struct JsonFeeder<'a> {
    sink: &'a mut dyn RowSink,
    headers: Vec<String>,
    index: std::collections::HashMap<String, usize>,
    rows: u64,
}

impl JsonFeeder<'_> {
    fn feed(&mut self, pos: RowPos, row: JsonRow) -> Result<()> {
        let mut cells: Vec<Option<String>> = vec![None; self.headers.len()];
        for (k, v) in row.0 {
            let i = match self.index.get(&k) {
                Some(i) => *i,
                None => {
                    if self.headers.len() >= crate::schema::MAX_COLUMNS {
                        return Err(CatalogError::bad_request(format!(
                            "{pos}: too many distinct keys; at most {} columns are allowed",
                            crate::schema::MAX_COLUMNS
                        )));
                    }
                    self.index.insert(k.clone(), self.headers.len());
                    self.headers.push(k);
                    cells.push(None);
                    self.headers.len() - 1
                }
            };
            cells[i] = v;
        }
        let refs: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
        self.rows += 1;
        self.sink.row(pos, &self.headers, &refs)
    }
}

fn json_error(pos: RowPos, e: serde_json::Error) -> CatalogError {
    CatalogError::bad_request(format!("{pos}: invalid JSON ({e})"))
}

fn read_ndjson<R: BufRead>(reader: &mut R, sink: &mut dyn RowSink) -> Result<()> {
    skip_bom(reader)?;
    let mut feeder = JsonFeeder {
        sink,
        headers: vec![],
        index: Default::default(),
        rows: 0,
    };
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        n += 1;
        let pos = RowPos::Line(n);
        let text = std::str::from_utf8(&line).map_err(|_| not_utf8(pos))?;
        if text.trim().is_empty() {
            continue;
        }
        let row: JsonRow = serde_json::from_str(text).map_err(|e| json_error(pos, e))?;
        feeder.feed(pos, row)?;
    }
    if feeder.rows == 0 {
        return Err(CatalogError::bad_request("the file has no rows"));
    }
    Ok(())
}

fn read_json<R: BufRead>(reader: &mut R, sink: &mut dyn RowSink) -> Result<()> {
    skip_bom(reader)?;
    let mut feeder = JsonFeeder {
        sink,
        headers: vec![],
        index: Default::default(),
        rows: 0,
    };
    struct Elements<'a, 'b> {
        feeder: &'a mut JsonFeeder<'b>,
        failure: &'a mut Option<CatalogError>,
    }
    impl<'de> Visitor<'de> for Elements<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut n = 0u64;
            loop {
                n += 1;
                let pos = RowPos::Element(n);
                match seq.next_element::<JsonRow>() {
                    Ok(Some(row)) => {
                        if let Err(e) = self.feeder.feed(pos, row) {
                            *self.failure = Some(e);
                            return Err(serde::de::Error::custom("stopped"));
                        }
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        *self.failure = Some(CatalogError::bad_request(format!("{pos}: {e}")));
                        return Err(e);
                    }
                }
            }
        }
    }
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = (&mut de).deserialize_seq(Elements {
        feeder: &mut feeder,
        failure: &mut failure,
    });
    if let Some(e) = failure {
        return Err(e);
    }
    result.map_err(|e| {
        CatalogError::bad_request(format!("invalid JSON: expected an array of objects ({e})"))
    })?;
    de.end()
        .map_err(|e| CatalogError::bad_request(format!("invalid JSON after the array ({e})")))?;
    if feeder.rows == 0 {
        return Err(CatalogError::bad_request("the file has no rows"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<String>, Vec<Vec<Option<String>>>);
    impl RowSink for Collect {
        fn row(&mut self, _pos: RowPos, headers: &[String], cells: &[Option<&str>]) -> Result<()> {
            self.0 = headers.to_vec();
            self.1
                .push(cells.iter().map(|c| c.map(str::to_owned)).collect());
            Ok(())
        }
    }

    fn read(bytes: &[u8], format: UploadFormat) -> Result<Collect> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        let mut c = Collect::default();
        read_rows(f.path(), format, &mut c)?;
        Ok(c)
    }

    #[test]
    fn csv_with_bom_and_semicolons() {
        let c = read(b"\xEF\xBB\xBFa;b\n1;\n2;x\n", UploadFormat::Csv).unwrap();
        assert_eq!(c.0, ["a", "b"]);
        assert_eq!(c.1[0], [Some("1".into()), None]);
    }

    #[test]
    fn ragged_csv_names_the_line() {
        let e = read(b"a,b\n1,2\n3\n", UploadFormat::Csv).err().unwrap();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn non_utf8_is_refused_with_line_and_column() {
        let e = read(b"a,b\n1,caf\xe9\n", UploadFormat::Csv).err().unwrap();
        assert!(e.to_string().contains("line 2, column 'b'"), "{e}");
    }

    #[test]
    fn json_keeps_key_order_and_grows_columns() {
        let c = read(
            br#"[{"z":1,"a":"x"},{"a":"y","n":{"k":1}}]"#,
            UploadFormat::Json,
        )
        .unwrap();
        assert_eq!(c.0, ["z", "a", "n"]);
        assert_eq!(c.1[1], [None, Some("y".into()), Some(r#"{"k":1}"#.into())]);
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash() {
        let mut doc = String::from("[{\"a\":");
        doc.push_str(&"[".repeat(100_000));
        doc.push_str(&"]".repeat(100_000));
        doc.push_str("}]");
        assert!(read(doc.as_bytes(), UploadFormat::Json).is_err());
    }
}
