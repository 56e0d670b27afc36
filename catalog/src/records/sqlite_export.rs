//! Whole-result exports on SQLite, read and encoded on one blocking thread.
//!
//! sqlx runs each SQLite connection on its own worker thread and hands every row to the async
//! side through a channel, so a streamed export switched threads once per row: profiled at 1m
//! rows, a third of the server's CPU went to context switches and futex contention. Here the
//! same sea-query statement runs through `rusqlite` (the same bundled SQLite library) on a
//! read-only connection of its own, in a `spawn_blocking` thread that encodes the rows straight
//! into chunks: one hand-off per 128 KiB chunk, not per row. A statement is one read
//! transaction, so the export sees one snapshot, as through sqlx.
use std::path::PathBuf;

use rusqlite::types::Value as SqlValue;
use rusqlite::{OpenFlags, Row as SqlRow};
use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement};
use sea_query::Value;

use super::encode::RowEncoder;
use super::read::{decode_into, Row, RowSource, VersionTable};
use crate::error::{CatalogError, Result};

/// Bytes per chunk handed to the response.
const CHUNK: usize = 128 * 1024;

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
        let options = db.get_sqlite_connection_pool().connect_options();
        let path = options.get_filename();
        let name = path.to_string_lossy();
        if name.is_empty() || name.contains(":memory:") || name.starts_with("file:") {
            return None;
        }
        let values = match &statement.values {
            Some(v) => v.0.iter().map(sql_value).collect::<Option<Vec<_>>>()?,
            None => vec![],
        };
        Some(Self {
            path: path.to_path_buf(),
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
        mut encoder: E,
        tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
    ) {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        encoder.start(&mut buf);
        let result = (|| -> Result<bool> {
            let conn = rusqlite::Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sqlite_error)?;
            // SQLite's default page cache (2 MiB) and temporary files: a scan gains little from
            // a bigger cache, and a sort for an unindexed `order` must not grow in memory.
            conn.busy_timeout(std::time::Duration::from_secs(30))
                .map_err(sqlite_error)?;
            let mut stmt = conn.prepare(&self.sql).map_err(sqlite_error)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(self.values.iter()))
                .map_err(sqlite_error)?;
            let mut row = Row {
                id: 0,
                cells: Vec::with_capacity(fields.len()),
            };
            while let Some(r) = rows.next().map_err(sqlite_error)? {
                decode_into(table.schema(), fields, r, &mut row)?;
                encoder.row(&mut buf, &row);
                if buf.len() >= CHUNK {
                    let chunk = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096));
                    if tx.blocking_send(Ok(bytes::Bytes::from(chunk))).is_err() {
                        return Ok(false); // the client went away
                    }
                }
            }
            Ok(true)
        })();
        match result {
            Ok(true) => {
                encoder.finish(&mut buf);
                let _ = tx.blocking_send(Ok(bytes::Bytes::from(buf)));
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = ?e, "export failed mid-stream");
                let _ = tx.blocking_send(Err(e));
            }
        }
    }
}

/// A bound value as rusqlite takes it; `None` for kinds record queries never bind.
fn sql_value(v: &Value) -> Option<SqlValue> {
    Some(match v {
        Value::Bool(b) => b.map_or(SqlValue::Null, |b| SqlValue::Integer(i64::from(b))),
        Value::TinyInt(i) => i.map_or(SqlValue::Null, |i| SqlValue::Integer(i.into())),
        Value::SmallInt(i) => i.map_or(SqlValue::Null, |i| SqlValue::Integer(i.into())),
        Value::Int(i) => i.map_or(SqlValue::Null, |i| SqlValue::Integer(i.into())),
        Value::BigInt(i) => i.map_or(SqlValue::Null, SqlValue::Integer),
        Value::Double(f) => f.map_or(SqlValue::Null, SqlValue::Real),
        Value::String(s) => s
            .as_ref()
            .map_or(SqlValue::Null, |s| SqlValue::Text(s.to_string())),
        _ => return None,
    })
}

fn sqlite_error(e: rusqlite::Error) -> CatalogError {
    CatalogError::Internal(format!("export: {e}"))
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
    fn text(&self, at: usize) -> Result<Option<String>> {
        self.get(at).map_err(sqlite_error)
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
    use crate::records::read;
    use crate::schema::{Field, FieldType, TableSchema};

    fn field(name: &str, field_type: FieldType) -> Field {
        Field {
            name: name.into(),
            field_type,
            description: None,
            nullable: true,
        }
    }

    #[tokio::test]
    async fn a_file_database_is_exported_apart_with_every_cell_as_the_pool_reads_it() {
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
        };
        let table = VersionTable {
            version_id: 1,
            layout: Layout::new("rec_t".into(), schema.clone()),
            timezone: TimeZone::default(),
        };
        let key = CursorKey::derive(b"test");
        let all: Vec<usize> = (0..schema.fields.len()).collect();
        let sql = Statement::from_string(DatabaseBackend::Sqlite, "SELECT 1");
        assert!(Plan::new(&db, &sql).is_some(), "a file is read apart");
        let memory = crate::db::connect("sqlite::memory:").await.unwrap();
        assert!(
            Plan::new(&memory, &sql).is_none(),
            "memory goes through the pool"
        );

        for (params, csv) in [(vec![], true), (vec![("n", "lt.100")], false)] {
            let params: Vec<(String, String)> = params
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let q = parse_records(&schema, TimeZone::default(), &params).unwrap();
            let cols = Columns::new(&schema, &all);
            let page = read::query_page(&db, &key, &table, &q).await.unwrap();
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
}
