//! Rows in Postgres' binary `COPY` format: the Postgres loader streams them in ([`RowWriter`]),
//! whole-result exports read them out ([`TupleReader`]).
//!
//! Text `COPY` made the server parse every value back from text: the `tsvector` literal alone
//! (`tsvectorin`: quoting, multibyte scanning, sorting) was a third of its time while loading,
//! and CSV splitting and `strtod` more. In binary each value arrives as the server stores it:
//! integers and floats as big-endian bytes, text as its bytes, a `tsvector` as its lexemes
//! already sorted and unique. See "COPY … Binary Format" in Postgres' manual.
use std::io::Write as _;
use std::ops::ControlFlow;

use super::layout::Layout;
use super::read::RowSource;
use super::words;
use crate::error::{CatalogError, Result};
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

/// Reads the tuples of a binary `COPY … TO STDOUT` from the server's `CopyData` messages.
///
/// Postgres sends a tuple per message (the header rides with the first, the trailer alone),
/// but the format is a byte stream: a tuple split over messages is gathered in `pending`.
#[derive(Debug, Default)]
pub struct TupleReader {
    header_read: bool,
    ended: bool,
    /// Bytes of a tuple not yet whole.
    pending: Vec<u8>,
    /// The current tuple's cells: where each one's bytes are in the message, `None` for null.
    cells: Vec<Option<std::ops::Range<usize>>>,
}

/// One tuple: a [`RowSource`] over the bytes of its message.
pub struct Tuple<'a> {
    data: &'a [u8],
    cells: &'a [Option<std::ops::Range<usize>>],
}

fn malformed(what: &str) -> CatalogError {
    CatalogError::Internal(format!("malformed binary COPY data: {what}"))
}

impl TupleReader {
    /// Whether the trailer has been read.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Calls `each` with every whole tuple of `message`, in order, until it answers `Break`
    /// (then so does this) or fails.
    pub fn read(
        &mut self,
        message: &[u8],
        mut each: impl FnMut(&Tuple<'_>) -> Result<ControlFlow<()>>,
    ) -> Result<ControlFlow<()>> {
        let joined;
        let data = if self.pending.is_empty() {
            message
        } else {
            self.pending.extend_from_slice(message);
            joined = std::mem::take(&mut self.pending);
            &joined[..]
        };
        let mut at = 0;
        if !self.header_read {
            if data.len() < HEADER.len() {
                self.pending = data.to_vec();
                return Ok(ControlFlow::Continue(()));
            }
            if data[..11] != HEADER[..11] {
                return Err(malformed("no signature"));
            }
            let extension = u32::from_be_bytes(data[15..19].try_into().expect("4 bytes"));
            if extension != 0 {
                return Err(malformed("a header extension"));
            }
            self.header_read = true;
            at = HEADER.len();
        }
        while at < data.len() {
            if self.ended {
                return Err(malformed("data after the trailer"));
            }
            match self.split(&data[at..])? {
                Some(0) => {
                    self.ended = true;
                    at += 2;
                }
                Some(len) => {
                    let tuple = Tuple {
                        data: &data[at..at + len],
                        cells: &self.cells,
                    };
                    if each(&tuple)?.is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                    at += len;
                }
                None => break,
            }
        }
        self.pending = data[at..].to_vec();
        Ok(ControlFlow::Continue(()))
    }

    /// Finds the cells of the tuple at the start of `data`: answers its length (0 for the
    /// trailer), or `None` when it is not whole yet.
    fn split(&mut self, data: &[u8]) -> Result<Option<usize>> {
        let Some(count) = data.get(..2) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            return Ok(Some(0));
        }
        let count = usize::try_from(count).map_err(|_| malformed("a negative field count"))?;
        self.cells.clear();
        let mut at = 2;
        for _ in 0..count {
            let Some(len) = data.get(at..at + 4) else {
                return Ok(None);
            };
            let len = i32::from_be_bytes(len.try_into().expect("4 bytes"));
            at += 4;
            if len < 0 {
                self.cells.push(None);
                continue;
            }
            let end = at + len as usize;
            if end > data.len() {
                return Ok(None);
            }
            self.cells.push(Some(at..end));
            at = end;
        }
        Ok(Some(at))
    }
}

impl Tuple<'_> {
    /// The bytes of cell `at`; `None` for null.
    fn bytes(&self, at: usize) -> Result<Option<&[u8]>> {
        let cell = self
            .cells
            .get(at)
            .ok_or_else(|| malformed("too few fields"))?;
        Ok(cell.clone().map(|range| &self.data[range]))
    }

    /// Cell `at`, which must be `N` bytes long; `None` for null.
    fn cell<const N: usize>(&self, at: usize) -> Result<Option<[u8; N]>> {
        self.bytes(at)?
            .map(|b| {
                b.try_into()
                    .map_err(|_| malformed("a value of the wrong size"))
            })
            .transpose()
    }
}

impl RowSource for Tuple<'_> {
    fn int(&self, at: usize) -> Result<Option<i64>> {
        Ok(self.cell(at)?.map(i64::from_be_bytes))
    }
    fn num(&self, at: usize) -> Result<Option<f64>> {
        Ok(self.cell(at)?.map(f64::from_be_bytes))
    }
    fn boolean(&self, at: usize) -> Result<Option<bool>> {
        Ok(self.cell::<1>(at)?.map(|[b]| b != 0))
    }
    fn text_into(&self, at: usize, out: &mut String) -> Result<bool> {
        let Some(bytes) = self.bytes(at)? else {
            return Ok(false);
        };
        out.push_str(std::str::from_utf8(bytes).map_err(|_| malformed("text that is not UTF-8"))?);
        Ok(true)
    }
    fn offset(&self, at: usize) -> Result<Option<i32>> {
        Ok(self.cell(at)?.map(i32::from_be_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a reader makes of a tuple: its cells read as the export reads them.
    fn read_all(messages: &[&[u8]]) -> Result<(Vec<String>, bool)> {
        read_until(messages, usize::MAX)
    }

    /// [`read_all`], stopping after `n` tuples.
    fn read_until(messages: &[&[u8]], n: usize) -> Result<(Vec<String>, bool)> {
        let mut reader = TupleReader::default();
        let mut seen = Vec::new();
        for m in messages {
            let flow = reader.read(m, |t| {
                if seen.len() == n {
                    return Ok(ControlFlow::Break(()));
                }
                let mut text = String::new();
                let has_text = t.text_into(3, &mut text)?;
                seen.push(format!(
                    "{:?} {:?} {:?} {:?} {:?}",
                    t.int(0)?,
                    t.num(1)?,
                    t.boolean(2)?,
                    has_text.then_some(text),
                    t.offset(4)?
                ));
                Ok(ControlFlow::Continue(()))
            })?;
            if flow.is_break() {
                break;
            }
        }
        Ok((seen, reader.ended()))
    }

    fn copy_data() -> Vec<u8> {
        let mut data = HEADER.to_vec();
        for (id, text) in [(1i64, Some("Balikpapan Utara")), (2, None)] {
            data.extend_from_slice(&5i16.to_be_bytes());
            field(&mut data, &id.to_be_bytes());
            field(&mut data, &(id as f64 / 4.0).to_be_bytes());
            field(&mut data, &[u8::from(id == 1)]);
            match text {
                Some(t) => field(&mut data, t.as_bytes()),
                None => null(&mut data),
            }
            null(&mut data);
        }
        data.extend_from_slice(&TRAILER);
        data
    }

    #[test]
    fn tuples_are_read_however_the_stream_is_cut_into_messages() {
        let data = copy_data();
        let expected = vec![
            "Some(1) Some(0.25) Some(true) Some(\"Balikpapan Utara\") None".to_owned(),
            "Some(2) Some(0.5) Some(false) None None".to_owned(),
        ];
        assert_eq!(read_all(&[&data]).unwrap(), (expected.clone(), true));
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(read_all(&bytes).unwrap(), (expected.clone(), true));
        for cut in 1..data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(
                read_all(&[a, b]).unwrap(),
                (expected.clone(), true),
                "{cut}"
            );
        }
        let cut_off = &data[..data.len() - 2];
        assert_eq!(read_all(&[cut_off]).unwrap(), (expected.clone(), false));
        assert_eq!(
            read_until(&[&data], 1).unwrap(),
            (expected[..1].to_vec(), false)
        );
    }

    #[test]
    fn malformed_data_is_an_error_not_a_panic() {
        let data = copy_data();
        let mut unsigned = data.clone();
        unsigned[0] = b'X';
        assert!(read_all(&[&unsigned]).is_err());
        let mut after_trailer = data.clone();
        after_trailer.extend_from_slice(&1i16.to_be_bytes());
        assert!(read_all(&[&after_trailer]).is_err());
        // the second field of the first tuple claims 4 bytes for a float
        let mut short = data.clone();
        let at = HEADER.len() + 2 + 12;
        short[at..at + 4].copy_from_slice(&4i32.to_be_bytes());
        assert!(read_all(&[&short]).is_err());
        let mut not_utf8 = data;
        let at = HEADER.len() + 2 + 12 + 12 + 5 + 4;
        not_utf8[at] = 0xff;
        assert!(read_all(&[&not_utf8]).is_err());
    }
}
