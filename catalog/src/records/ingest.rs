//! Ingestion: an uploaded file (already on disk) becomes a typed, indexed record table.
//!
//! Two streaming passes in constant memory: [`scan`] infers types (or checks an explicit schema)
//! and hashes the file; [`load`] parses each cell into its type on a blocking thread and feeds
//! batches to the database (batched multi-row inserts in one SQLite transaction, binary `COPY`
//! on Postgres). On SQLite the table, its indexes and its full-text index are built inside one
//! transaction; on Postgres the rows are committed first so that two connections can build the
//! indexes together, and a failure drops the table (`pg_load`). Either way an error leaves
//! nothing behind. Use [`ingest`].
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

struct Scan {
    headers: Vec<String>,
    inference: Vec<Inference>,
    rows: u64,
    sha256: String,
    bytes: u64,
}

struct ScanSink {
    tz: TimeZone,
    inference: Vec<Inference>,
    headers: Vec<String>,
    rows: u64,
}

impl RowSink for ScanSink {
    fn row(&mut self, _pos: RowPos, headers: &[String], cells: &[Option<&str>]) -> Result<()> {
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
        }
        for inf in self.inference.iter_mut().skip(cells.len()) {
            inf.nulls = true;
        }
        self.rows += 1;
        Ok(())
    }
}

fn scan(req: &IngestRequest) -> Result<Scan> {
    let mut sink = ScanSink {
        tz: req.timezone,
        inference: vec![],
        headers: vec![],
        rows: 0,
    };
    let (sha256, bytes) = read_rows(&req.path, req.format, &mut sink)?;
    Ok(Scan {
        headers: sink.headers,
        inference: sink.inference,
        rows: sink.rows,
        sha256,
        bytes,
    })
}

/// The version's schema and, per field, the header position it is read from.
fn resolve_schema(
    req: &IngestRequest,
    scan: &Scan,
    warnings: &mut Vec<String>,
) -> Result<(TableSchema, Vec<usize>)> {
    validate_names(scan.headers.iter().map(String::as_str))?;
    let Some(given) = &req.schema else {
        let fields = scan
            .headers
            .iter()
            .zip(&scan.inference)
            .map(|(name, inf)| {
                if inf.max_len == 0 {
                    warnings.push(format!("column '{name}' has no values; typed as string"));
                }
                Field {
                    name: name.clone(),
                    field_type: inf.field_type(),
                    description: None,
                    nullable: inf.nulls,
                }
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

/// Parses raw rows into typed batches and hands them to the loader.
struct ParseSink {
    ascending: AscendingFields,
    schema: TableSchema,
    positions: Vec<usize>,
    tz: TimeZone,
    batch: Vec<Vec<Cell>>,
    tx: tokio::sync::mpsc::Sender<Vec<Vec<Cell>>>,
}

impl ParseSink {
    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_ROWS));
        self.tx
            .blocking_send(batch)
            .map_err(|_| CatalogError::Internal("the loader stopped".into()))
    }
}

impl RowSink for ParseSink {
    fn row(&mut self, pos: RowPos, _headers: &[String], cells: &[Option<&str>]) -> Result<()> {
        let mut row = Vec::with_capacity(self.schema.fields.len());
        for (f, p) in self.schema.fields.iter().zip(&self.positions) {
            let cell = match cells.get(*p).copied().flatten() {
                None => Cell::Null,
                Some(raw) => f.field_type.parse_cell(raw, self.tz).map_err(|why| {
                    CatalogError::bad_request(format!("{pos}, column '{}': {why}", f.name))
                })?,
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

/// Loads the file at `req.path` into a new record table. Nothing remains if it fails.
#[tracing::instrument(skip_all, fields(path = %req.path.display()))]
pub async fn ingest(
    db: &DatabaseConnection,
    req: IngestRequest,
    progress: Arc<dyn Progress>,
) -> Result<Ingested> {
    let timed = Arc::new(Timed::new(progress));
    let progress: &dyn Progress = &*timed;
    let req = Arc::new(req);
    progress.phase("scanning", 0);
    let scan = {
        let req = req.clone();
        tokio::task::spawn_blocking(move || scan(&req))
            .await
            .map_err(|e| CatalogError::Internal(e.to_string()))??
    };
    let mut warnings = vec![];
    let (mut schema, positions) = resolve_schema(&req, &scan, &mut warnings)?;
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
    let layout = Layout::new(Layout::fresh_table_name(), schema.clone());

    let texts = super::sqlite_load::TextSource {
        path: req.path.clone(),
        format: req.format,
        positions: layout.text_fields().iter().map(|i| positions[*i]).collect(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let producer = {
        let req = req.clone();
        tokio::task::spawn_blocking(move || {
            let mut sink = ParseSink {
                ascending: AscendingFields::new(&schema),
                schema,
                positions,
                tz: req.timezone,
                batch: Vec::with_capacity(BATCH_ROWS),
                tx,
            };
            read_rows(&req.path, req.format, &mut sink)?;
            sink.flush()?;
            Ok(sink.ascending.fields())
        })
    };
    progress.phase("loading", scan.rows);
    let backend = db.get_database_backend();
    let producer = async {
        producer
            .await
            .map_err(|e| CatalogError::Internal(e.to_string()))?
    };
    let (rows, ascending, lock) = if backend == DatabaseBackend::Postgres {
        // The loader awaits the reader before it commits anything.
        let (rows, ascending, lock) =
            super::pg_load::load(db, &layout, &max_len, rx, producer, progress).await?;
        (rows, ascending, Some(lock))
    } else {
        let loaded = match super::sqlite_direct::file_path(db) {
            Some(path) => {
                let (layout, max_len, timed) = (layout.clone(), max_len.clone(), timed.clone());
                let mut rx = rx;
                tokio::task::spawn_blocking(move || {
                    super::sqlite_load::load(&path, &layout, &max_len, &mut rx, &texts, &*timed)
                })
                .await
                .map_err(|e| CatalogError::Internal(e.to_string()))
                .and_then(|loaded| loaded)
            }
            // in memory: through the pool's connection
            None => load_sqlite(db, &layout, &max_len, rx, progress).await,
        };
        match (loaded, producer.await) {
            // The loader failed first; the producer only saw the channel close.
            (Err(e), _) => return Err(e),
            // A parse error closes the channel early, so the loader committed a partial table.
            (Ok(_), Err(e)) => {
                drop_table(db, &layout).await;
                return Err(e);
            }
            (Ok(rows), Ok(ascending)) => (rows, ascending, None),
        }
    };
    timed.end();
    let mut layout = layout;
    layout.ascending = ascending;
    debug_assert_eq!(rows, scan.rows);
    Ok(Ingested {
        layout,
        row_count: rows,
        sha256: scan.sha256,
        byte_size: scan.bytes,
        warnings,
        lock,
    })
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
    max_len: &[usize],
    mut rx: tokio::sync::mpsc::Receiver<Vec<Vec<Cell>>>,
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
    while let Some(batch) = rx.recv().await {
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
    for (phase, statements) in layout.build_steps(backend, max_len) {
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
