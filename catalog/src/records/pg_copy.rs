//! Rows in Postgres' binary `COPY` format, which the Postgres loader streams.
//!
//! Text `COPY` made the server parse every value back from text: the `tsvector` literal alone
//! (`tsvectorin`: quoting, multibyte scanning, sorting) was a third of its time while loading,
//! and CSV splitting and `strtod` more. In binary each value arrives as the server stores it:
//! integers and floats as big-endian bytes, text as its bytes, a `tsvector` as its lexemes
//! already sorted and unique. See "COPY … Binary Format" in Postgres' manual.
use std::io::Write as _;

use super::layout::Layout;
use super::words;
use crate::schema::{Cell, FieldType};

/// The file header: signature, flags (none) and header extension length (none).
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The file trailer: a field count of -1.
pub const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// Writes rows of one layout; holds its field types and a scratch buffer for words.
pub struct RowWriter {
    types: Vec<FieldType>,
    text_fields: Vec<usize>,
    tsvector: bool,
    /// Columns per row: `_id`, each field (a datetime is two), the `tsvector`.
    columns: i16,
    scratch: String,
}

impl RowWriter {
    pub fn new(layout: &Layout) -> Self {
        let backend = sea_orm::DatabaseBackend::Postgres;
        Self {
            types: layout.schema.fields.iter().map(|f| f.field_type).collect(),
            text_fields: layout.text_fields(),
            tsvector: layout.has_tsvector(backend),
            // Postgres allows 1,600 columns, and schemas far fewer (`schema::MAX_COLUMNS`).
            columns: i16::try_from(layout.loaded_columns(backend).len()).unwrap_or(i16::MAX),
            scratch: String::new(),
        }
    }

    /// Appends the row `id` with `cells` (parsed by `FieldType::parse_cell`, so each cell
    /// matches its field's type) to `buf`.
    pub fn row(&mut self, id: i64, cells: &[Cell], buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.columns.to_be_bytes());
        field(buf, &id.to_be_bytes());
        for (cell, ty) in cells.iter().zip(&self.types) {
            match cell {
                Cell::Null => {
                    null(buf);
                    if *ty == FieldType::Datetime {
                        null(buf); // its offset column
                    }
                }
                Cell::Int(i) => field(buf, &i.to_be_bytes()),
                Cell::Num(f) => field(buf, &f.to_bits().to_be_bytes()),
                Cell::Bool(b) => field(buf, &[u8::from(*b)]),
                Cell::Str(s) => field(buf, s.as_bytes()),
                // a text column, as SQLite stores it: ISO 8601 sorts as the dates do
                Cell::Date(d) => field_with(buf, |buf| {
                    let _ = write!(buf, "{}", d.format("%Y-%m-%d"));
                }),
                Cell::DateTime(dt) => {
                    field(buf, &dt.timestamp_micros().to_be_bytes());
                    field(buf, &dt.offset().local_minus_utc().to_be_bytes());
                }
            }
        }
        if self.tsvector {
            let texts = self.text_fields.iter().filter_map(|i| match &cells[*i] {
                Cell::Str(s) => Some(s.as_str()),
                _ => None,
            });
            let lexemes = words::lexemes(texts, &mut self.scratch);
            field_with(buf, |buf| {
                // `tsvectorrecv`: a count, then each lexeme NUL-terminated with no positions.
                // Words hold only letters and digits, never a NUL.
                buf.extend_from_slice(&(lexemes.len() as i32).to_be_bytes());
                for w in &lexemes {
                    buf.extend_from_slice(w.as_bytes());
                    buf.push(0);
                    buf.extend_from_slice(&0u16.to_be_bytes());
                }
            });
        }
    }
}

fn null(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(-1i32).to_be_bytes());
}

fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
    // A cell is far under 2 GiB: uploads are capped well below it and a row is one line.
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// A field whose length is known once `write` has written it.
fn field_with(buf: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    write(buf);
    let len = (buf.len() - at - 4) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}
