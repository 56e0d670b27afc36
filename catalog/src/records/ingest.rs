//! Ingestion: an uploaded file (already on disk) becomes a typed, indexed record table.
//!
//! Streaming, in constant memory: [`scan`] infers the types of the first rows (or checks an
//! explicit schema against them); [`load`] parses each cell into its type on a blocking thread,
//! checks that the rows keep to those types, hashes the file and feeds batches to the database
//! (prepared inserts in one SQLite transaction, binary `COPY` on Postgres). A file that breaks
//! the types of its first rows is scanned whole and loaded again ([`ingest`]).
//!
//! On SQLite the table, its indexes and its full-text index are built inside one transaction;
//! on Postgres the rows are committed first so that two connections can build the indexes
//! together, and a failure drops the table (`pg_load`). Either way an error leaves nothing
//! behind. Use [`ingest`].
use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait};
use sea_query::Value;

use super::layout::Layout;
use super::source::{read_rows, RowPos, RowSink, UploadFormat};
use crate::domain::TimeZone;
use crate::error::{CatalogError, Result};
use crate::schema::{validate_names, Cell, Field, FieldType, Inference, TableSchema};

const BATCH_ROWS: usize = 2_000;
/// SQLite's bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER) in recent versions.
const SQLITE_MAX_PARAMS: usize = 32_766;

/// Reports ingestion progress (the CLI draws a bar with it).
pub trait Progress: Send + Sync {
    fn phase(&self, _name: &str, _total_rows: u64) {}
    fn advance(&self, _rows: u64) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

/// Passes progress on and logs how long each phase took (`tracing`, at info).
struct Timed {
    inner: Arc<dyn Progress>,
    current: std::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl Timed {
    fn new(inner: Arc<dyn Progress>) -> Self {
        Self {
            inner,
            current: std::sync::Mutex::new(None),
        }
    }

    /// Ends the current phase.
    fn end(&self) {
        let ended = self.current.lock().map(|mut c| c.take());
        if let Ok(Some((phase, start))) = ended {
            tracing::info!(
                phase,
                ms = start.elapsed().as_millis() as u64,
                "ingest phase done"
            );
        }
    }
}

impl Progress for Timed {
    fn phase(&self, name: &str, total_rows: u64) {
        self.end();
        if let Ok(mut c) = self.current.lock() {
            *c = Some((name.to_owned(), std::time::Instant::now()));
        }
        self.inner.phase(name, total_rows);
    }
    fn advance(&self, rows: u64) {
        self.inner.advance(rows);
    }
}

pub struct IngestRequest {
    pub path: PathBuf,
    pub format: UploadFormat,
    pub schema: Option<TableSchema>,
    pub timezone: TimeZone,
    /// Indexes declared beside the schema (each a list of field names; see
    /// [`TableSchema::indexes`]), added to any the schema declares.
    pub indexes: Vec<Vec<String>>,
}

#[derive(Debug)]
pub struct Ingested {
    pub layout: Layout,
    pub row_count: u64,
    pub sha256: String,
    pub byte_size: u64,
    pub warnings: Vec<String>,
    /// Postgres: hold it until a version row names the table (`pg_load`).
    pub lock: Option<super::pg_load::TableLock>,
}

/// Rows read for the types of a file before loading it. A file that keeps to them is loaded in
/// one pass; one that does not is scanned whole and loaded again (see [`ingest`]).
const SAMPLE_ROWS: u64 = 10_000;

struct Scan {
    headers: Vec<String>,
    inference: Vec<Inference>,
    rows: u64,
    /// The bytes of the cells read, plus one per cell for its separator: about the bytes of
    /// the rows, to tell how many rows a file holds from a sample of them.
    cell_bytes: u64,
    /// Whether every row of the file was read.
    whole: bool,
}

struct ScanSink {
    tz: TimeZone,
    inference: Vec<Inference>,
    headers: Vec<String>,
    rows: u64,
    cell_bytes: u64,
    /// Rows to read before stopping.
    limit: u64,
}

impl RowSink for ScanSink {
    fn row(&mut self, _pos: RowPos, headers: &[String], cells: &[Option<&str>]) -> Result<()> {
        if self.rows == self.limit {
            return Err(stopped()); // `scan` knows why
        }
        while self.inference.len() < headers.len() {
            let mut fresh = Inference::default();
            fresh.nulls = self.rows > 0;
            self.inference.push(fresh);
        }
        if self.headers.len() != headers.len() {
            self.headers = headers.to_vec();
        }
        for (inf, cell) in self.inference.iter_mut().zip(cells) {
            inf.observe(*cell, self.tz);
            self.cell_bytes += 1 + cell.map_or(0, str::len) as u64;
        }
        for inf in self.inference.iter_mut().skip(cells.len()) {
            inf.nulls = true;
        }
        self.rows += 1;
        Ok(())
    }
}

/// A loader's error when the reader stops before the end of the file (its own error, or
/// [`Read::Retyped`], says why).
pub(super) fn reader_stopped() -> CatalogError {
    CatalogError::Internal("the reader stopped before the end of the file".into())
}

/// The error a sink stops the reader with when it knows why (it keeps the reason itself).
fn stopped() -> CatalogError {
    CatalogError::Internal("stopped".into())
}

/// Reads the types of the first `limit` rows of the file (all of them with `u64::MAX`).
fn scan(req: &IngestRequest, limit: u64) -> Result<Scan> {
    let mut sink = ScanSink {
        tz: req.timezone,
        inference: vec![],
        headers: vec![],
        rows: 0,
        cell_bytes: 0,
        limit,
    };
    let whole = match read_rows(&req.path, req.format, &mut sink) {
        Ok(_) => true,
        Err(_) if sink.rows == limit => false,
        Err(e) => return Err(e),
    };
    Ok(Scan {
        headers: sink.headers,
        inference: sink.inference,
        rows: sink.rows,
        cell_bytes: sink.cell_bytes,
        whole,
    })
}

async fn scan_blocking(req: &Arc<IngestRequest>, limit: u64) -> Result<Scan> {
    let req = req.clone();
    tokio::task::spawn_blocking(move || scan(&req, limit))
        .await
        .map_err(|e| CatalogError::Internal(e.to_string()))?
}

/// How a file is loaded, from a scan of it.
struct Plan {
    layout: Layout,
    /// Per field, the position of its cells in the file's rows.
    positions: Vec<usize>,
    /// When the scan read only the first rows: how many columns they had. The types it found
    /// are then checked on every row as the load reads them (see [`ParseSink`]).
    sampled: Option<usize>,
    /// Per field, whether the load still has to find its type: a field the scan inferred but
    /// saw no value of (typed as string for now).
    infer: Vec<bool>,
    /// The rows the file holds, or about as many.
    rows: u64,
}

fn plan(req: &IngestRequest, scan: &Scan) -> Result<Plan> {
    let (mut schema, positions) = resolve_schema(req, scan)?;
    let max_len: Vec<usize> = positions
        .iter()
        .map(|p| scan.inference[*p].max_len)
        .collect();
    let indexable: Vec<bool> = (schema.fields.iter().zip(&max_len))
        .map(|(f, len)| Layout::indexable(f.field_type, *len))
        .collect();
    let mut declared = std::mem::take(&mut schema.indexes);
    declared.extend(req.indexes.iter().cloned());
    schema.declare_indexes(declared, |i| indexable[i])?;
    let infer = positions
        .iter()
        .map(|p| !scan.whole && req.schema.is_none() && !scan.inference[*p].has_values())
        .collect();
    let rows = match scan.whole {
        true => scan.rows,
        false => {
            let size = std::fs::metadata(&req.path)?.len();
            (size as f64 * scan.rows as f64 / scan.cell_bytes.max(1) as f64) as u64
        }
    };
    Ok(Plan {
        layout: Layout::new(Layout::fresh_table_name(), schema),
        positions,
        sampled: (!scan.whole).then_some(scan.headers.len()),
        infer,
        rows,
    })
}

/// The version's schema and, per field, the header position it is read from. Whether a field
/// is nullable is settled by the load (which reads every row).
fn resolve_schema(req: &IngestRequest, scan: &Scan) -> Result<(TableSchema, Vec<usize>)> {
    validate_names(scan.headers.iter().map(String::as_str))?;
    let Some(given) = &req.schema else {
        let fields = scan
            .headers
            .iter()
            .zip(&scan.inference)
            .map(|(name, inf)| Field {
                name: name.clone(),
                field_type: inf.field_type(),
                description: None,
                nullable: inf.nulls,
            })
            .collect();
        let positions = (0..scan.headers.len()).collect();
        return Ok((
            TableSchema {
                fields,
                primary_key: vec![],
                indexes: vec![],
            },
            positions,
        ));
    };
    for h in &scan.headers {
        if given.field_index(h).is_none() {
            return Err(CatalogError::bad_request(format!(
                "line 1: column '{h}' is not in the schema"
            )));
        }
    }
    let mut schema = given.clone();
    let mut positions = Vec::with_capacity(schema.fields.len());
    for f in &mut schema.fields {
        let pos = scan
            .headers
            .iter()
            .position(|h| *h == f.name)
            .ok_or_else(|| {
                CatalogError::bad_request(format!(
                    "line 1: schema field '{}' is missing from the file",
                    f.name
                ))
            })?;
        f.nullable = scan.inference[pos].nulls;
        positions.push(pos);
    }
    Ok((schema, positions))
}

/// Finds the fields whose values never decrease from one row to the next and are never null:
/// sorting by them is sorting by `_id` (see [`Layout::ascending`]). Text is left out, because
/// Postgres sorts it by the database's collation rather than by bytes.
struct AscendingFields {
    /// Per field: the last value while it still ascends, `None` once it does not (or cannot).
    last: Vec<Option<Cell>>,
    rows: u64,
}

impl AscendingFields {
    fn new(schema: &TableSchema) -> Self {
        let last = schema
            .fields
            .iter()
            .map(|f| match f.field_type {
                FieldType::String => None,
                _ if f.nullable => None,
                _ => Some(Cell::Null),
            })
            .collect();
        Self { last, rows: 0 }
    }

    fn observe(&mut self, row: &[Cell]) {
        for (last, cell) in self.last.iter_mut().zip(row) {
            let Some(prev) = last else { continue };
            let in_order = match (&*prev, cell) {
                (_, Cell::Null) => false,
                (Cell::Null, _) => true,
                (Cell::Int(a), Cell::Int(b)) => a <= b,
                // false for NaN
                (Cell::Num(a), Cell::Num(b)) => a <= b,
                (Cell::Bool(a), Cell::Bool(b)) => a <= b,
                (Cell::Date(a), Cell::Date(b)) => a <= b,
                // as stored: microseconds since the epoch
                (Cell::DateTime(a), Cell::DateTime(b)) => {
                    a.timestamp_micros() <= b.timestamp_micros()
                }
                _ => false,
            };
            *last = in_order.then(|| cell.clone());
        }
        self.rows += 1;
    }

    /// The ascending fields' positions; none for an empty file (nothing was seen).
    fn fields(&self) -> Vec<usize> {
        if self.rows == 0 {
            return vec![];
        }
        (0..self.last.len())
            .filter(|i| self.last[*i].is_some())
            .collect()
    }
}

/// What the reader sends the loader. A loader commits nothing unless `Done` comes: a channel
/// that closes without it means the reader stopped (a bad row, or types to find again).
pub(super) enum Load {
    Rows(Vec<Vec<Cell>>),
    /// Every row was sent, each cell of its field's type. Per field, its longest value in
    /// bytes (the index builds need it).
    Done(Vec<usize>),
}

impl Load {
    /// The rows of a `Rows`; `None` for `Done`, whose longest values go to `done`. A loader
    /// reads its channel as `while let Some(rows) = rx.recv().await.and_then(|m| m.rows(..))`.
    pub(super) fn rows(self, done: &mut Option<Vec<usize>>) -> Option<Vec<Vec<Cell>>> {
        match self {
            Load::Rows(rows) => Some(rows),
            Load::Done(longest) => {
                *done = Some(longest);
                None
            }
        }
    }
}

/// How the reader ended.
enum Read {
    /// It read the whole file and sent every row, then `Done`.
    Whole(Whole),
    /// The file did not keep to the types its first rows gave (why); it sent no `Done`.
    Retyped(String),
    /// The loader stopped first; its error says why.
    LoaderGone,
}

/// A whole file, read.
struct Whole {
    sha256: String,
    bytes: u64,
    rows: u64,
    ascending: Vec<usize>,
    /// Per field, its values as read: nulls, longest, and for the fields it inferred, type.
    fields: Vec<Inference>,
}

/// Parses raw rows into typed batches and hands them to the loader.
struct ParseSink {
    ascending: AscendingFields,
    schema: TableSchema,
    positions: Vec<usize>,
    tz: TimeZone,
    batch: Vec<Vec<Cell>>,
    tx: tokio::sync::mpsc::Sender<Load>,
    /// Per field, its values as read (see [`Whole`]).
    fields: Vec<Inference>,
    /// Per field, whether to infer its type (see [`Plan::infer`]).
    infer: Vec<bool>,
    /// When the types came from the first rows only: the number of columns those rows had. A
    /// cell of another type, or a new column, then means the types were wrong (`retyped`),
    /// not that the file is.
    sampled: Option<usize>,
    retyped: Option<String>,
    loader_gone: bool,
}

impl ParseSink {
    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_ROWS));
        self.send(Load::Rows(batch))
    }

    fn send(&mut self, message: Load) -> Result<()> {
        self.tx.blocking_send(message).map_err(|_| {
            self.loader_gone = true;
            stopped()
        })
    }

    /// Stops the read: the types taken from the first rows do not hold, as `why` says.
    fn retype(&mut self, why: String) -> Result<()> {
        self.retyped = Some(why);
        Err(stopped())
    }

    /// Once every row is read: why the types taken from the first rows do not hold for the
    /// whole file, if they do not. A field seen empty in those rows may have values of another
    /// type later, and a field of a declared index may have text too long to index.
    fn recheck(&self) -> Option<String> {
        self.sampled?;
        for ((f, values), infer) in self.schema.fields.iter().zip(&self.fields).zip(&self.infer) {
            if *infer && values.field_type() != f.field_type {
                return Some(format!(
                    "column '{}' has no values in the first {SAMPLE_ROWS} rows, then {} values",
                    f.name,
                    values.field_type().as_str()
                ));
            }
        }
        for name in self.schema.indexes.iter().flatten() {
            let Some(i) = self.schema.field_index(name) else {
                continue; // not reached: declared indexes name fields
            };
            let f = &self.schema.fields[i];
            if !Layout::indexable(f.field_type, self.fields[i].max_len) {
                return Some(format!("column '{name}' of a declared index has long text"));
            }
        }
        None
    }
}

impl RowSink for ParseSink {
    fn row(&mut self, pos: RowPos, headers: &[String], cells: &[Option<&str>]) -> Result<()> {
        if self.sampled.is_some_and(|n| n != headers.len()) {
            return self.retype(format!("{pos}: a new column appears"));
        }
        let mut row = Vec::with_capacity(self.schema.fields.len());
        for (i, (f, p)) in self.schema.fields.iter().zip(&self.positions).enumerate() {
            let raw = cells.get(*p).copied().flatten();
            match self.infer[i] {
                true => self.fields[i].observe(raw, self.tz),
                false => self.fields[i].measure(raw),
            }
            let cell = match raw {
                None => Cell::Null,
                Some(raw) => match f.field_type.parse_cell(raw, self.tz) {
                    Ok(cell) => cell,
                    Err(why) => {
                        let why = format!("{pos}, column '{}': {why}", f.name);
                        if self.sampled.is_some() {
                            return self.retype(why);
                        }
                        return Err(CatalogError::bad_request(why));
                    }
                },
            };
            row.push(cell);
        }
        self.ascending.observe(&row);
        self.batch.push(row);
        if self.batch.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }
}

/// Reads the whole file into `sink`, which sends its rows to the loader, then `Done` if they
/// kept to the plan's types. Blocks.
fn read(req: &IngestRequest, mut sink: ParseSink) -> Result<Read> {
    let read = read_rows(&req.path, req.format, &mut sink).and_then(|hash| {
        sink.flush()?;
        Ok(hash)
    });
    if sink.loader_gone {
        return Ok(Read::LoaderGone);
    }
    if let Some(why) = sink.retyped.take() {
        return Ok(Read::Retyped(why));
    }
    let (sha256, bytes) = read?;
    if let Some(why) = sink.recheck() {
        return Ok(Read::Retyped(why));
    }
    let max_len = sink.fields.iter().map(|f| f.max_len).collect();
    if sink.send(Load::Done(max_len)).is_err() {
        return Ok(Read::LoaderGone);
    }
    Ok(Read::Whole(Whole {
        sha256,
        bytes,
        rows: sink.ascending.rows,
        ascending: sink.ascending.fields(),
        fields: sink.fields,
    }))
}

/// What one load came to.
enum Outcome {
    Loaded(Ingested),
    /// The file did not keep to the plan's types (why); nothing remains of the load.
    Retyped(String),
}

/// Loads the file at `req.path` into a new record table. Nothing remains if it fails.
///
/// The types of a file are taken from its first [`SAMPLE_ROWS`] rows, and the file is loaded
/// in one pass that checks them on every row. Should a later row break them (a cell that is
/// not of its column's type, a column with no values in the first rows that has values of
/// another type later, a new column in JSON, long text in a declared index's column), the
/// load is undone, the whole file is scanned for its types, and loaded again. The types are
/// then those a scan of the whole file gives, either way. (1m rows: the scan that ran before
/// every load took 0.7-1.2 s.)
#[tracing::instrument(skip_all, fields(path = %req.path.display()))]
pub async fn ingest(
    db: &DatabaseConnection,
    req: IngestRequest,
    progress: Arc<dyn Progress>,
) -> Result<Ingested> {
    let timed = Arc::new(Timed::new(progress));
    let req = Arc::new(req);
    timed.phase("sampling", 0);
    let sample = scan_blocking(&req, SAMPLE_ROWS).await?;
    // A CSV's first rows hold all its columns, so the plan of its sample fails only where the
    // whole file's would. JSON's may not (a key first seen later): the whole file decides.
    let planned = match sample.whole || req.format == UploadFormat::Csv {
        true => Some(plan(&req, &sample)?),
        false => plan(&req, &sample).ok(),
    };
    if let Some(plan) = planned {
        match load(db, &req, plan, &timed).await? {
            Outcome::Loaded(done) => return Ok(done),
            Outcome::Retyped(why) => {
                tracing::info!(%why, "the first rows did not give the file's types; scanning it whole");
            }
        }
    }
    timed.phase("scanning", 0);
    let scan = scan_blocking(&req, u64::MAX).await?;
    match load(db, &req, plan(&req, &scan)?, &timed).await? {
        Outcome::Loaded(done) => Ok(done),
        // types from the whole file always hold
        Outcome::Retyped(why) => Err(CatalogError::Internal(why)),
    }
}

/// Loads the file as `plan` says: the reader parses the rows on a blocking thread and the
/// loader writes them (see the module's documentation).
async fn load(
    db: &DatabaseConnection,
    req: &Arc<IngestRequest>,
    plan: Plan,
    timed: &Arc<Timed>,
) -> Result<Outcome> {
    let progress: &dyn Progress = &**timed;
    let Plan {
        layout,
        positions,
        sampled,
        infer,
        rows,
    } = plan;
    let texts = super::sqlite_load::TextSource {
        path: req.path.clone(),
        format: req.format,
        positions: layout.text_fields().iter().map(|i| positions[*i]).collect(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let producer = {
        let req = req.clone();
        let schema = layout.schema.clone();
        let sink = ParseSink {
            ascending: AscendingFields::new(&schema),
            fields: vec![Inference::default(); schema.fields.len()],
            schema,
            positions,
            tz: req.timezone,
            batch: Vec::with_capacity(BATCH_ROWS),
            tx,
            infer,
            sampled,
            retyped: None,
            loader_gone: false,
        };
        tokio::task::spawn_blocking(move || read(&req, sink))
    };
    progress.phase("loading", rows);
    let backend = db.get_database_backend();
    let loaded = if backend == DatabaseBackend::Postgres {
        super::pg_load::load(db, &layout, rx, progress)
            .await
            .map(|(rows, lock)| (rows, Some(lock)))
    } else {
        let loaded = match super::sqlite_direct::file_path(db) {
            Some(path) => {
                let (layout, timed) = (layout.clone(), timed.clone());
                let mut rx = rx;
                tokio::task::spawn_blocking(move || {
                    super::sqlite_load::load(&path, &layout, &mut rx, &texts, &*timed)
                })
                .await
                .map_err(|e| CatalogError::Internal(e.to_string()))
                .and_then(|loaded| loaded)
            }
            // in memory: through the pool's connection
            None => load_sqlite(db, &layout, rx, progress).await,
        };
        loaded.map(|rows| (rows, None))
    };
    let read = producer
        .await
        .map_err(|e| CatalogError::Internal(e.to_string()))
        .and_then(|read| read);
    let (whole, (rows, lock)) = match (read, loaded) {
        (Ok(Read::Whole(whole)), Ok(loaded)) => (whole, loaded),
        (Ok(Read::Retyped(why)), Err(_)) => return Ok(Outcome::Retyped(why)),
        // the reader's error is the cause; the loader only saw it stop
        (Err(e), Err(_)) => return Err(e),
        // the loader stopped first, or failed after `Done`
        (Ok(_), Err(e)) => return Err(e),
        // A loader commits only after `Done`, which the reader sends last: not reached.
        (read, Ok(_)) => {
            drop_table(db, &layout).await;
            return Err(read.err().unwrap_or_else(|| {
                CatalogError::Internal("the load ended without the whole file".into())
            }));
        }
    };
    timed.end();
    debug_assert_eq!(rows, whole.rows);
    let mut layout = layout;
    layout.ascending = whole.ascending;
    let mut warnings = vec![];
    for (f, values) in layout.schema.fields.iter_mut().zip(&whole.fields) {
        f.nullable = values.nulls;
        if req.schema.is_none() && values.max_len == 0 {
            warnings.push(format!(
                "column '{}' has no values; typed as string",
                f.name
            ));
        }
    }
    Ok(Outcome::Loaded(Ingested {
        layout,
        row_count: rows,
        sha256: whole.sha256,
        byte_size: whole.bytes,
        warnings,
        lock,
    }))
}

/// Removes a record table (after a failure, or when its version is gone).
pub async fn drop_table(db: &DatabaseConnection, layout: &Layout) {
    for sql in layout.drop_statements(db.get_database_backend()) {
        if let Err(e) = db.execute_unprepared(&sql).await {
            tracing::error!(error = %e, table = %layout.table, "could not drop record table");
        }
    }
}

fn cell_values(cell: Cell, ty: FieldType, out: &mut Vec<Value>) {
    match (cell, ty) {
        (Cell::Null, FieldType::Integer) => out.push(Value::BigInt(None)),
        (Cell::Null, FieldType::Number) => out.push(Value::Double(None)),
        (Cell::Null, FieldType::Boolean) => out.push(Value::Bool(None)),
        (Cell::Null, FieldType::String | FieldType::Date) => out.push(Value::String(None)),
        (Cell::Null, FieldType::Datetime) => {
            out.push(Value::BigInt(None));
            out.push(Value::Int(None));
        }
        (Cell::Int(i), _) => out.push(Value::BigInt(Some(i))),
        (Cell::Num(f), _) => out.push(Value::Double(Some(f))),
        (Cell::Bool(b), _) => out.push(Value::Bool(Some(b))),
        (Cell::Str(s), _) => out.push(Value::String(Some(Box::new(s)))),
        (Cell::Date(d), _) => out.push(Value::String(Some(Box::new(
            d.format("%Y-%m-%d").to_string(),
        )))),
        (Cell::DateTime(dt), _) => {
            out.push(Value::BigInt(Some(dt.timestamp_micros())));
            out.push(Value::Int(Some(dt.offset().local_minus_utc())));
        }
    }
}

async fn load_sqlite(
    db: &DatabaseConnection,
    layout: &Layout,
    mut rx: tokio::sync::mpsc::Receiver<Load>,
    progress: &dyn Progress,
) -> Result<u64> {
    let backend = DatabaseBackend::Sqlite;
    let txn = db.begin().await?;
    txn.execute(backend.build(&layout.create_table(backend)))
        .await?;
    let cols = layout.loaded_columns(backend);
    let width = cols.len();
    let per_stmt = (SQLITE_MAX_PARAMS / width).clamp(1, 500);
    let insert_sql = |rows: usize| {
        let one = format!("({})", vec!["?"; width].join(","));
        format!(
            "INSERT INTO \"{}\" ({}) VALUES {}",
            layout.table,
            cols.join(","),
            vec![one.as_str(); rows].join(",")
        )
    };
    let full_sql = insert_sql(per_stmt);
    let types: Vec<FieldType> = layout.schema.fields.iter().map(|f| f.field_type).collect();
    let mut next_id: i64 = 1;
    let mut max_len = None;
    while let Some(batch) = rx.recv().await.and_then(|m| m.rows(&mut max_len)) {
        let n = batch.len() as u64;
        let mut rows = batch.into_iter().peekable();
        while rows.peek().is_some() {
            let mut values = Vec::with_capacity(per_stmt * width);
            let mut count = 0;
            for row in rows.by_ref().take(per_stmt) {
                values.push(Value::BigInt(Some(next_id)));
                next_id += 1;
                for (cell, ty) in row.into_iter().zip(&types) {
                    cell_values(cell, *ty, &mut values);
                }
                count += 1;
            }
            let sql = if count == per_stmt {
                full_sql.clone()
            } else {
                insert_sql(count)
            };
            txn.execute(Statement::from_sql_and_values(backend, sql, values))
                .await?;
        }
        progress.advance(n);
    }
    // dropping the transaction rolls it back
    let max_len = max_len.ok_or_else(reader_stopped)?;
    for (phase, statements) in layout.build_steps(backend, &max_len) {
        progress.phase(phase, 0);
        for sql in statements {
            txn.execute_unprepared(&sql).await?;
        }
    }
    progress.phase("committing", 0);
    txn.commit().await?;
    progress.phase("analysing", 0);
    db.execute_unprepared(&layout.analyze_statement(backend))
        .await?;
    Ok((next_id - 1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the ingest phases that read the file.
    #[derive(Default)]
    struct Phases(std::sync::Mutex<Vec<String>>);

    impl Progress for Phases {
        fn phase(&self, name: &str, _total_rows: u64) {
            if ["sampling", "scanning", "loading"].contains(&name) {
                self.0.lock().unwrap().push(name.to_owned());
            }
        }
    }

    /// A file that keeps to the types of its first rows is loaded in one pass after them; one
    /// that breaks them is scanned whole, then loaded again.
    #[tokio::test]
    async fn a_file_is_scanned_whole_only_when_its_first_rows_mislead() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let request = |path| IngestRequest {
            path,
            format: UploadFormat::Csv,
            schema: None,
            timezone: TimeZone::default(),
            indexes: vec![],
        };
        let whole = ["sampling", "loading"];
        let misled = ["sampling", "loading", "scanning", "loading"];
        for (last, phases, field_type) in [
            ("7", &whole[..], FieldType::Integer),
            ("7.5", &misled[..], FieldType::Number),
        ] {
            let path = dir.path().join(format!("{last}.csv"));
            let mut csv = String::from("n\n");
            for i in 0..SAMPLE_ROWS + 100 {
                csv.push_str(&format!("{i}\n"));
            }
            csv.push_str(&format!("{last}\n"));
            std::fs::write(&path, csv).unwrap();
            let seen = Arc::new(Phases::default());
            let ingested = ingest(&db, request(path), seen.clone()).await.unwrap();
            assert_eq!(*seen.0.lock().unwrap(), phases);
            assert_eq!(ingested.layout.schema.fields[0].field_type, field_type);
            assert_eq!(ingested.row_count, SAMPLE_ROWS + 101);
        }
        // A CSV whose header is refused is refused after its first rows, not after a scan.
        let path = dir.path().join("twice.csv");
        std::fs::write(
            &path,
            format!("n,n\n{}", "1,2\n".repeat(SAMPLE_ROWS as usize + 1)),
        )
        .unwrap();
        let seen = Arc::new(Phases::default());
        let refused = ingest(&db, request(path), seen.clone()).await.unwrap_err();
        assert!(matches!(refused, CatalogError::BadRequest(_)), "{refused}");
        assert_eq!(*seen.0.lock().unwrap(), ["sampling"]);
    }
}
