//! Reads of SQLite files that bypass sqlx's worker thread, through `rusqlite` (the same bundled
//! SQLite library) on read-only connections of their own, with the same sea-query statements.
//!
//! sqlx runs each SQLite connection on its own worker thread and hands every row, and every
//! answer, to the async side through a channel:
//!
//! - **Exports**: a streamed export switched threads once per row (profiled at 1m rows, a
//!   third of the server's CPU went to context switches and futex contention). Here an export
//!   runs in a `spawn_blocking` thread that encodes rows straight into chunks: one hand-off per
//!   128 KiB chunk. A statement is one read transaction, so the export sees one snapshot.
//! - **One record by `_id`**: a primary-key lookup reads a few pages, less work than the two
//!   thread hand-offs around it. It runs on the calling thread, through a connection each
//!   thread keeps per database file, with the statement prepared once.
//! - **Pages**: a page of 100 rows made 100 hand-offs (profiled on a full-text page, a third of
//!   the CPU went to context switches in the channel). A page runs on a blocking thread, through
//!   that thread's connection, and comes back whole: one hand-off. At most 16 run at once. A page
//!   that one index range serves in order is a bounded read, like a lookup by `_id`, and runs on
//!   the calling thread ([`Where::Inline`]).
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::types::Value as SqlValue;
use rusqlite::{OpenFlags, Row as SqlRow};
use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement};
use sea_query::Value;
use sqlx::sqlite::SqliteConnectOptions;

use super::encode::RowEncoder;
use super::read::{decode_into, Chunker, PageBuilder, Row, RowSource, VersionTable};
use crate::error::{CatalogError, Result};
use crate::schema::TableSchema;

/// Exports running at once, each on a blocking thread with its own connection (the pool's 16
/// connections bounded them before); more wait their turn.
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// A statement ready to run outside sqlx: the database file and the bound values.
pub(super) struct Plan {
    path: PathBuf,
    sql: String,
    values: Vec<SqlValue>,
}

impl Plan {
    /// `None` when the statement cannot run this way (not SQLite, an in-memory database, a
    /// value of a kind the record queries never bind): the caller then streams through sqlx.
    pub(super) fn new(db: &DatabaseConnection, statement: &Statement) -> Option<Self> {
        if db.get_database_backend() != DatabaseBackend::Sqlite {
            return None;
        }
        let path = file_options(db)?.get_filename().to_path_buf();
        let values = match &statement.values {
            Some(v) => v.0.iter().map(sql_value).collect::<Option<Vec<_>>>()?,
            None => vec![],
        };
        Some(Self {
            path,
            sql: statement.sql.clone(),
            values,
        })
    }

    /// Starts the export on a blocking thread once one of the [`RUNNING`] places is free.
    pub(super) fn spawn<E: RowEncoder + Send + 'static>(
        self,
        table: VersionTable,
        fields: Vec<usize>,
        encoder: E,
        tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
    ) {
        tokio::spawn(async move {
            let Ok(place) = RUNNING.acquire().await else {
                return; // never closed
            };
            let _ = tokio::task::spawn_blocking(move || {
                let _place = place;
                self.run(&table, &fields, encoder, &tx);
            })
            .await;
        });
    }

    /// Runs the export, sending chunks (then an error, if one happens) to `tx`; returns when the
    /// result ends or the receiver is gone. Blocks.
    fn run<E: RowEncoder>(
        self,
        table: &VersionTable,
        fields: &[usize],
        encoder: E,
        tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
    ) {
        let mut out = Chunker::new(encoder, fields.len());
        let result = (|| -> Result<bool> {
            // SQLite's default page cache (2 MiB) and temporary files: a scan gains little from
            // a bigger cache, and a sort for an unindexed `order` must not grow in memory.
            let conn = open(&self.path, std::time::Duration::from_secs(30))?;
            let mut stmt = conn.prepare(&self.sql).map_err(sqlite_error)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(self.values.iter()))
                .map_err(sqlite_error)?;
            while let Some(r) = rows.next().map_err(sqlite_error)? {
                decode_into(table.schema(), fields, r, &mut out.row)?;
                if let Some(chunk) = out.encode_row() {
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        return Ok(false); // the client went away
                    }
                }
            }
            Ok(true)
        })();
        if let Some(last) = out.end(result) {
            let _ = tx.blocking_send(last);
        }
    }
}

/// The database file of a SQLite pool; `None` for other backends and in-memory databases.
pub(super) fn file_path(db: &DatabaseConnection) -> Option<PathBuf> {
    Some(file_options(db)?.get_filename().to_path_buf())
}

/// The options of a SQLite pool on a file (they name it); `None` for other backends and
/// in-memory databases.
fn file_options(db: &DatabaseConnection) -> Option<Arc<SqliteConnectOptions>> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let name = options.get_filename().to_string_lossy();
    if name.is_empty() || name.contains(":memory:") || name.starts_with("file:") {
        return None;
    }
    Some(options)
}

fn open(path: &Path, busy: std::time::Duration) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    conn.busy_timeout(busy).map_err(sqlite_error)?;
    Ok(conn)
}

/// Database files a thread keeps a connection to (more empties the list).
const THREAD_FILES: usize = 4;

/// How much of the file a thread's connection maps (SQLite caps it at 2 GiB; the rest is read).
/// A page that misses the connection's cache is then a memory load from the kernel's page
/// cache rather than a `pread` copying it (1m rows, uncached, paired: W1 38.4-39.0k -> 42.3-47.3k
/// req/s, W2 744-765 -> 849-876, W4 4.1k -> 4.5-4.7k). The mapped pages are that page cache,
/// shared and reclaimable, and count in the process's RSS as file pages (240 MB after those
/// runs, while anonymous memory stayed at 60-80 MB). Exports open a connection of their own
/// without it, so a pass over a whole table does not show as resident memory.
const MAPPED_BYTES: i64 = 1 << 31;

/// A thread's read-only connection to one database file.
struct Kept {
    path: PathBuf,
    conn: rusqlite::Connection,
    /// Whether a read transaction is open on it, left open by [`Kept::begin`] for the
    /// statements of this scheduler tick.
    open: bool,
}

impl Kept {
    /// On a thread that [`hold_reads_per_tick`] marked, opens a read transaction that the
    /// next statements on this connection share, and queues the task that ends it behind the
    /// tasks ready now. Elsewhere each statement is its own transaction, as before.
    ///
    /// SQLite begins and ends a read transaction around every statement outside one: a shared
    /// lock on the file (two `fcntl` calls), a read mark in the WAL index, the b-tree's
    /// transaction. For a record by `_id` that was about a tenth of the server's CPU. Records
    /// of a version never change once loaded, so statements a tick apart read the same rows
    /// from one snapshot; a table newer than the snapshot (a version published this tick) is
    /// read again outside it ([`Kept::read`]).
    fn begin(&mut self) -> Result<()> {
        if self.open || !HOLD.get() {
            return Ok(());
        }
        self.conn.execute_batch("BEGIN").map_err(sqlite_error)?;
        self.open = true;
        let path = self.path.clone();
        tokio::task::spawn_local(async move {
            CONNECTIONS.with_borrow_mut(|kept| {
                if let Some(k) = kept.iter_mut().find(|k| k.path == path) {
                    k.end();
                }
            });
        });
        Ok(())
    }

    /// Ends the read transaction [`Kept::begin`] left open, if one is.
    fn end(&mut self) {
        if std::mem::take(&mut self.open) {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                // a read transaction has nothing to commit; should its end fail all the
                // same, it is rolled back, and the next read begins afresh
                tracing::warn!(error = %e, "ending a SQLite read transaction failed");
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
    }

    /// Runs `f` on the statement `sql`, prepared (once: it stays cached) in this tick's read
    /// transaction ([`Kept::begin`]). A statement that does not prepare there is prepared
    /// again outside it: the snapshot may predate its table, a version published since.
    fn read<T>(
        &mut self,
        sql: &str,
        f: impl FnOnce(&mut rusqlite::CachedStatement<'_>) -> Result<T>,
    ) -> Result<T> {
        self.begin()?;
        match self.conn.prepare_cached(sql) {
            Ok(mut stmt) => return f(&mut stmt),
            Err(e) if !self.open => return Err(sqlite_error(e)),
            Err(_) => {}
        }
        self.end();
        f(&mut self.conn.prepare_cached(sql).map_err(sqlite_error)?)
    }
}

thread_local! {
    static CONNECTIONS: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
    /// Set on the threads whose reads share a transaction per tick ([`hold_reads_per_tick`]).
    static HOLD: Cell<bool> = const { Cell::new(false) };
}

/// Lets the reads on the worker connections of the calling thread share one read transaction
/// per scheduler tick ([`Kept::begin`]). The thread must run a `tokio::task::LocalSet` (as
/// actix-web's workers do): the transaction is ended by a task spawned on it.
pub fn hold_reads_per_tick() {
    HOLD.set(true);
}

/// Runs `f` on this thread's read-only connection to the database file at `path`, opening it
/// the first time with a page cache of `cache_kib`. Statements prepared with `prepare_cached`
/// stay prepared on it.
fn with_connection<T>(
    path: &Path,
    cache_kib: u32,
    f: impl FnOnce(&mut Kept) -> Result<T>,
) -> Result<T> {
    CONNECTIONS.with_borrow_mut(|kept| {
        let at = match kept.iter().position(|k| k.path == path) {
            Some(at) => at,
            None => {
                // WAL readers do not wait on writers; the timeout covers a checkpoint's restart
                let conn = open(path, std::time::Duration::from_secs(1))?;
                conn.pragma_update(None, "cache_size", -i64::from(cache_kib))
                    .map_err(sqlite_error)?;
                conn.pragma_update(None, "mmap_size", MAPPED_BYTES)
                    .map_err(sqlite_error)?;
                if kept.len() >= THREAD_FILES {
                    kept.clear();
                }
                kept.push(Kept {
                    path: path.to_path_buf(),
                    conn,
                    open: false,
                });
                kept.len() - 1
            }
        };
        f(&mut kept[at])
    })
}

/// The page cache of a worker thread's connection, in KiB: 8 MiB, so the inner pages of the
/// tables' b-trees stay at hand for lookups by `_id` and the pages read inline.
const WORKER_CACHE_KIB: u32 = 8 << 10;

/// One record by `_id` when `db` is a SQLite file, read on this thread (see the module's
/// comment); `None` when `db` is not one, and the caller reads through the pool. `sql` selects
/// the row with `_id` as its one parameter.
pub(super) fn get_record(
    db: &DatabaseConnection,
    sql: &str,
    id: i64,
    table: &VersionTable,
    fields: &[usize],
) -> Option<Result<Option<Row>>> {
    let options = file_options(db)?;
    Some(with_connection(
        options.get_filename(),
        WORKER_CACHE_KIB,
        |kept| {
            kept.read(sql, |stmt| {
                let mut rows = stmt.query([id]).map_err(sqlite_error)?;
                match rows.next().map_err(sqlite_error)? {
                    Some(r) => {
                        let mut row = Row::for_fields(fields.len());
                        decode_into(table.schema(), fields, r, &mut row)?;
                        Ok(Some(row))
                    }
                    None => Ok(None),
                }
            })
        },
    ))
}

/// Pages read at once on blocking threads (as many as the pool has connections); more wait.
static PAGES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(16);

/// How a page is read: on the calling worker thread, or handed to a blocking thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Where {
    /// A page that one index range serves in order (`plan::one_plan_serves`): at most
    /// `limit + 1` index entries and their rows, a bounded read like a lookup by `_id`, so the
    /// two thread hand-offs around it would cost more than they spare the worker (uncached W2:
    /// the hand-offs were a tenth of the server's CPU).
    Inline,
    /// Anything else, whose cost the plan does not bound, off the worker thread.
    Blocking,
}

/// Reads a page of a SQLite file through a connection of the reading thread's own, into
/// `page`.
pub(super) async fn read_page<E: RowEncoder + Send + 'static>(
    plan: Plan,
    table: &VersionTable,
    fields: &[usize],
    at: Where,
    mut page: PageBuilder<E>,
) -> Result<PageBuilder<E>> {
    if at == Where::Inline {
        // the worker thread's connection, as for a record by `_id`
        with_connection(&plan.path, WORKER_CACHE_KIB, |kept| {
            kept.read(&plan.sql, |stmt| {
                fill_page(stmt, &plan, table.schema(), fields, &mut page)
            })
        })?;
        return Ok(page);
    }
    let (schema, fields) = (table.schema().clone(), fields.to_vec());
    let place = PAGES.acquire().await.expect("never closed");
    let read = tokio::task::spawn_blocking(move || {
        let _place = place;
        // SQLite's default 2 MiB on each of the (at most 16 busy) blocking threads; the OS
        // page cache holds the rest
        with_connection(&plan.path, 2 << 10, |kept| {
            kept.read(&plan.sql, |stmt| {
                fill_page(stmt, &plan, &schema, &fields, &mut page)
            })
        })?;
        Ok(page)
    })
    .await;
    read.unwrap_or_else(|e| Err(CatalogError::Internal(e.to_string())))
}

fn fill_page<E: RowEncoder>(
    stmt: &mut rusqlite::CachedStatement<'_>,
    plan: &Plan,
    schema: &TableSchema,
    fields: &[usize],
    page: &mut PageBuilder<E>,
) -> Result<()> {
    let mut rows = stmt
        .query(rusqlite::params_from_iter(plan.values.iter()))
        .map_err(sqlite_error)?;
    while let Some(r) = rows.next().map_err(sqlite_error)? {
        decode_into(schema, fields, r, &mut page.row)?;
        if !page.take() {
            break;
        }
    }
    Ok(())
}

/// A bound value as rusqlite takes it; `None` for kinds record queries never bind.
fn sql_value(v: &Value) -> Option<SqlValue> {
    Some(match v {
        Value::Bool(b) => b.map_or(SqlValue::Null, |b| SqlValue::Integer(i64::from(b))),
        Value::TinyInt(i) => i.map_or(SqlValue::Null, |i| SqlValue::Integer(i.into())),
        Value::SmallInt(i) => i.map_or(SqlValue::Null, |i| SqlValue::Integer(i.into())),
        Value::Int(i) => i.map_or(SqlValue::Null, |i| SqlValue::Integer(i.into())),
        Value::BigInt(i) => i.map_or(SqlValue::Null, SqlValue::Integer),
        // LIMIT and OFFSET
        Value::BigUnsigned(Some(u)) => SqlValue::Integer(i64::try_from(*u).ok()?),
        Value::Double(f) => f.map_or(SqlValue::Null, SqlValue::Real),
        Value::String(s) => s
            .as_ref()
            .map_or(SqlValue::Null, |s| SqlValue::Text(s.to_string())),
        _ => return None,
    })
}

pub(super) fn sqlite_error(e: rusqlite::Error) -> CatalogError {
    CatalogError::Internal(format!("sqlite: {e}"))
}

impl RowSource for SqlRow<'_> {
    fn int(&self, at: usize) -> Result<Option<i64>> {
        self.get(at).map_err(sqlite_error)
    }
    fn num(&self, at: usize) -> Result<Option<f64>> {
        self.get(at).map_err(sqlite_error)
    }
    fn boolean(&self, at: usize) -> Result<Option<bool>> {
        self.get(at).map_err(sqlite_error)
    }
    fn text_into(&self, at: usize, out: &mut String) -> Result<bool> {
        match self.get_ref(at).map_err(sqlite_error)? {
            rusqlite::types::ValueRef::Null => Ok(false),
            value => {
                let text = value.as_str().map_err(|e| sqlite_error(e.into()))?;
                out.push_str(text);
                Ok(true)
            }
        }
    }
    fn offset(&self, at: usize) -> Result<Option<i32>> {
        self.get(at).map_err(sqlite_error)
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;
    use sea_orm::ConnectionTrait as _;

    use super::*;
    use crate::domain::TimeZone;
    use crate::records::cursor::CursorKey;
    use crate::records::encode::{encode_all, Columns, CsvEncoder, NdjsonEncoder};
    use crate::records::layout::Layout;
    use crate::records::query::parse_records;
    use crate::records::read::{self, KeepRows};
    use crate::schema::{Cell, Field, FieldType, TableSchema};

    fn field(name: &str, field_type: FieldType) -> Field {
        Field {
            name: name.into(),
            field_type,
            description: None,
            nullable: true,
        }
    }

    #[tokio::test]
    async fn a_file_database_is_read_apart_with_every_cell_as_the_pool_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE rec_t (_id INTEGER PRIMARY KEY, c0 INTEGER, c1 REAL, c2 INTEGER, \
             c3 TEXT, c4 TEXT, c5 INTEGER, c5_off INTEGER)",
        )
        .await
        .unwrap();
        db.execute_unprepared(
            "INSERT INTO rec_t VALUES \
             (1, 7, 2.5, 1, 'a, \"b\"', '2024-02-29', 1700000000000000, 28800), \
             (2, NULL, 3, 0, NULL, NULL, NULL, NULL), \
             (3, -9007199254740993, -0.1, NULL, ' lead', '1999-12-31', 0, -3600)",
        )
        .await
        .unwrap();
        let schema = TableSchema {
            fields: vec![
                field("n", FieldType::Integer),
                field("x", FieldType::Number),
                field("b", FieldType::Boolean),
                field("s", FieldType::String),
                field("d", FieldType::Date),
                field("t", FieldType::Datetime),
            ],
            primary_key: vec![],
            indexes: vec![],
        };
        let table = VersionTable::new(
            1,
            Layout::new("rec_t".into(), schema.clone()),
            TimeZone::default(),
        );
        let key = CursorKey::derive(b"test");
        let all: Vec<usize> = (0..schema.fields.len()).collect();
        let sql = Statement::from_string(DatabaseBackend::Sqlite, "SELECT 1");
        assert!(Plan::new(&db, &sql).is_some(), "a file is read apart");
        let memory = crate::db::connect("sqlite::memory:").await.unwrap();
        assert!(
            Plan::new(&memory, &sql).is_none(),
            "memory goes through the pool"
        );

        // one record by `_id`: read on this thread, the same cells as the page's
        let first = read::query_page(
            &db,
            &Default::default(),
            &key,
            &table,
            &parse_records(&schema, TimeZone::default(), &[]).unwrap(),
        )
        .await
        .unwrap();
        let cols = Columns::new(&schema, &all);
        // that page came through `read_page`; the pool reads its statement to the same cells
        let everything = parse_records(&schema, TimeZone::default(), &[]).unwrap();
        let (_, fetch, statement) = read::page_statement(&db, &key, &table, &everything)
            .await
            .unwrap();
        assert!(Plan::new(&memory, &statement).is_none());
        let read = |at| {
            let plan = Plan::new(&db, &statement).unwrap();
            let page = PageBuilder::new(KeepRows::default(), fetch.fields.len(), 10);
            let (table, fields) = (&table, &fetch.fields);
            async move { read_page(plan, table, fields, at, page).await.unwrap() }
        };
        let (KeepRows(direct), _) = read(Where::Blocking).await.finish();
        let (KeepRows(inline), _) = read(Where::Inline).await.finish();
        let pooled: Vec<Row> = db
            .query_all(statement)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let mut row = Row::for_fields(fetch.fields.len());
                decode_into(&schema, &fetch.fields, r, &mut row).unwrap();
                row
            })
            .collect();
        assert_eq!(direct.len(), 3);
        assert_eq!(
            encode_all(&mut NdjsonEncoder(cols.clone()), &direct),
            encode_all(&mut NdjsonEncoder(cols.clone()), &pooled)
        );
        assert_eq!(
            encode_all(&mut NdjsonEncoder(cols.clone()), &inline),
            encode_all(&mut NdjsonEncoder(cols.clone()), &pooled)
        );
        for row in &first.rows {
            let sql = "SELECT \"_id\", \"c0\" FROM \"rec_t\" WHERE \"_id\" = ?";
            assert!(get_record(&db, sql, row.id, &table, &[0]).is_some());
            assert!(get_record(&memory, sql, row.id, &table, &[0]).is_none());
            let found = read::get_record(&db, &Default::default(), &table, row.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                encode_all(&mut NdjsonEncoder(cols.clone()), &[found]),
                encode_all(&mut NdjsonEncoder(cols.clone()), std::slice::from_ref(row))
            );
        }
        assert!(read::get_record(&db, &Default::default(), &table, 99)
            .await
            .unwrap()
            .is_none());
        // the lookups' connection on this thread maps the file
        let path = file_path(&db).unwrap();
        let mapped = with_connection(&path, WORKER_CACHE_KIB, |kept| {
            kept.conn
                .pragma_query_value(None, "mmap_size", |r| r.get::<_, i64>(0))
                .map_err(sqlite_error)
        });
        assert!(mapped.unwrap() > 0);

        for (params, csv) in [(vec![], true), (vec![("n", "lt.100")], false)] {
            let params: Vec<(String, String)> = params
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let q = parse_records(&schema, TimeZone::default(), &params).unwrap();
            let cols = Columns::new(&schema, &all);
            let page = read::query_page(&db, &Default::default(), &key, &table, &q)
                .await
                .unwrap();
            let (exported, expected) = if csv {
                let stream = read::export(
                    db.clone(),
                    key.clone(),
                    table.clone(),
                    q,
                    CsvEncoder::new(cols.clone(), false),
                )
                .unwrap();
                let expected = encode_all(&mut CsvEncoder::new(cols, false), &page.rows);
                (stream.boxed(), expected)
            } else {
                let stream = read::export(
                    db.clone(),
                    key.clone(),
                    table.clone(),
                    q,
                    NdjsonEncoder(cols.clone()),
                )
                .unwrap();
                let expected = encode_all(&mut NdjsonEncoder(cols), &page.rows);
                (stream.boxed(), expected)
            };
            let chunks: Vec<_> = exported.collect().await;
            let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap()).collect();
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{params:?}"
            );
        }
    }

    /// Whether this thread's connection to `path` has a read transaction open.
    fn held(path: &Path) -> bool {
        CONNECTIONS.with_borrow(|kept| kept.iter().any(|k| k.path == path && k.open))
    }

    #[tokio::test]
    async fn a_worker_s_reads_share_a_snapshot_until_its_tick_ends_and_see_tables_made_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = crate::db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        db.execute_unprepared("CREATE TABLE rec_a (_id INTEGER PRIMARY KEY, c0 TEXT)")
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO rec_a VALUES (1, 'satu')")
            .await
            .unwrap();
        // writes below run on a connection of their own, without awaiting: nothing else
        // runs on this thread in between, as within one tick of a worker
        let writer = rusqlite::Connection::open(&path).unwrap();
        let table = |name: &str| {
            let schema = TableSchema {
                fields: vec![field("s", FieldType::String)],
                primary_key: vec![],
                indexes: vec![],
            };
            VersionTable::new(1, Layout::new(name.into(), schema), TimeZone::default())
        };
        let (a, b) = (table("rec_a"), table("rec_b"));
        let read = |t: &VersionTable, id: i64| {
            let sql = format!("SELECT _id, c0 FROM {} WHERE _id = ?1", t.layout.table);
            let found = get_record(&db, &sql, id, t, &[0]).expect("a file is read apart");
            let row = found.expect("the read succeeds");
            row.map(|r| match &r.cells[0] {
                Cell::Str(s) => s.clone(),
                other => panic!("{other:?}"),
            })
        };

        // a thread not marked: each read is its own transaction
        assert_eq!(read(&a, 1).as_deref(), Some("satu"));
        assert!(!held(&path));

        tokio::task::LocalSet::new()
            .run_until(async {
                hold_reads_per_tick();
                assert_eq!(read(&a, 1).as_deref(), Some("satu"));
                assert!(held(&path), "the transaction stays open after the read");
                // the next read shares its snapshot: a row written since is not in it
                writer
                    .execute("INSERT INTO rec_a VALUES (2, 'dua')", [])
                    .unwrap();
                assert_eq!(read(&a, 2), None);
                // a table made since (a version published this tick) is read outside it
                writer
                    .execute_batch(
                        "CREATE TABLE rec_b (_id INTEGER PRIMARY KEY, c0 TEXT); \
                         INSERT INTO rec_b VALUES (1, 'baru');",
                    )
                    .unwrap();
                assert_eq!(read(&b, 1).as_deref(), Some("baru"));
                assert!(!held(&path), "that read ended the transaction");
                assert_eq!(read(&a, 2).as_deref(), Some("dua"));
                assert!(held(&path), "and the next read began another");

                // the task queued behind this one ends it
                for _ in 0..100 {
                    if !held(&path) {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                assert!(!held(&path), "the transaction ends with the tick");
            })
            .await;
        // with no reader left in the WAL, a checkpoint can reset it
        let (busy, _, _): (i64, i64, i64) = writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0, "no reader holds the checkpoint back");
    }
}
