//! Loading a record table into a SQLite file through `rusqlite` (the same bundled SQLite) on a
//! blocking thread, with one prepared insert bound straight from the parsed cells. Through
//! sea-orm, every batch became boxed `Value`s, a multi-row statement and a hand-off to sqlx's
//! worker thread, which made the loader, not the parser, the slow side of the load.
//!
//! The table, its rows, its indexes and its full-text index are written in one transaction on a
//! connection of its own, as the sea-orm path does ([`super::ingest`] keeps that path for
//! in-memory databases); an error rolls it all back.
use std::fmt::Write as _;
use std::path::Path;

use rusqlite::{OpenFlags, Statement};
use sea_orm::DatabaseBackend;
use sea_query::SqliteQueryBuilder;

use super::ingest::Progress;
use super::layout::Layout;
use super::sqlite_direct::sqlite_error;
use crate::error::Result;
use crate::schema::{Cell, FieldType};

/// Loads the rows received on `rx` into a new table laid out as `layout` in the database file
/// at `path`, then builds its indexes and full-text index and analyses it; the row count.
/// Blocks; run it on a blocking thread.
pub(super) fn load(
    path: &Path,
    layout: &Layout,
    max_len: &[usize],
    rx: &mut tokio::sync::mpsc::Receiver<Vec<Vec<Cell>>>,
    progress: &dyn Progress,
) -> Result<u64> {
    let mut conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    // as the pool's connections (`db::connect`): other writers may hold the lock a while
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sqlite_error)?;
    // No checkpoint at commit (`wal_autocheckpoint`): one runs beside ANALYZE instead, below.
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL; PRAGMA temp_store=memory; PRAGMA cache_size=-16384; \
         PRAGMA wal_autocheckpoint=0",
    )
    .map_err(sqlite_error)?;
    let tx = conn.transaction().map_err(sqlite_error)?;
    let backend = DatabaseBackend::Sqlite;
    tx.execute_batch(&layout.create_table(backend).to_string(SqliteQueryBuilder))
        .map_err(sqlite_error)?;
    let cols = layout.loaded_columns(backend);
    let insert = format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        layout.table,
        cols.join(","),
        vec!["?"; cols.len()].join(",")
    );
    let types: Vec<FieldType> = layout.schema.fields.iter().map(|f| f.field_type).collect();
    let mut next_id: i64 = 1;
    {
        let mut stmt = tx.prepare(&insert).map_err(sqlite_error)?;
        let mut date = String::new();
        while let Some(batch) = rx.blocking_recv() {
            let n = batch.len() as u64;
            for row in &batch {
                bind_row(&mut stmt, next_id, row, &types, &mut date)?;
                stmt.raw_execute().map_err(sqlite_error)?;
                next_id += 1;
            }
            progress.advance(n);
        }
    }
    for (phase, statements) in layout.build_steps(backend, max_len) {
        progress.phase(phase, 0);
        for sql in statements {
            tx.execute_batch(&sql).map_err(sqlite_error)?;
        }
    }
    progress.phase("committing", 0);
    tx.commit().map_err(sqlite_error)?;
    progress.phase("analysing", 0);
    // The whole table is in the WAL now. Copying it into the database file (a checkpoint,
    // otherwise run by the commit) takes about as long as ANALYZE, which only reads: the two
    // run side by side, the checkpoint on a connection of its own.
    let (analysed, checkpointed) = std::thread::scope(|scope| {
        let checkpoint = scope.spawn(|| checkpoint(path));
        let analysed = conn
            .execute_batch(&layout.analyze_statement(backend))
            .map_err(sqlite_error);
        (analysed, checkpoint.join())
    });
    analysed?;
    // the rows are committed either way; the pool's connections checkpoint them later
    match checkpointed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "checkpoint after loading failed"),
        Err(_) => tracing::warn!("checkpoint after loading panicked"),
    }
    Ok((next_id - 1) as u64)
}

/// Copies what the WAL holds into the database file, without waiting for readers or writers
/// (a `PASSIVE` checkpoint: what a reader still needs is copied by a later one).
fn checkpoint(path: &Path) -> Result<()> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(sqlite_error)
}

/// Binds `_id` and a row's cells as the sea-orm path stores them (`ingest::cell_values`).
fn bind_row(
    stmt: &mut Statement<'_>,
    id: i64,
    row: &[Cell],
    types: &[FieldType],
    date: &mut String,
) -> Result<()> {
    use rusqlite::types::Null;
    let mut at = 1;
    let mut bind = |value: &dyn rusqlite::ToSql| -> Result<()> {
        stmt.raw_bind_parameter(at, value).map_err(sqlite_error)?;
        at += 1;
        Ok(())
    };
    bind(&id)?;
    for (cell, ty) in row.iter().zip(types) {
        match cell {
            Cell::Null if *ty == FieldType::Datetime => {
                bind(&Null)?;
                bind(&Null)?;
            }
            Cell::Null => bind(&Null)?,
            Cell::Int(i) => bind(i)?,
            Cell::Num(f) => bind(f)?,
            Cell::Bool(b) => bind(b)?,
            Cell::Str(s) => bind(&s.as_str())?,
            Cell::Date(d) => {
                date.clear();
                let _ = write!(date, "{}", d.format("%Y-%m-%d"));
                bind(&date.as_str())?;
            }
            Cell::DateTime(dt) => {
                bind(&dt.timestamp_micros())?;
                bind(&dt.offset().local_minus_utc())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};

    use crate::domain::TimeZone;
    use crate::records::ingest::{ingest, IngestRequest, NoProgress};
    use crate::records::source::UploadFormat;

    /// Every stored value of a table, in `_id` order, each cell written with its SQLite type.
    async fn dump(db: &DatabaseConnection, table: &str) -> Vec<String> {
        let cols: Vec<String> = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect();
        let cells = cols
            .iter()
            .map(|c| format!("typeof(\"{c}\") || ':' || coalesce(quote(\"{c}\"), '')"))
            .collect::<Vec<_>>()
            .join(" || ' | ' || ");
        db.query_all(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT {cells} FROM \"{table}\" ORDER BY _id"),
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
    }

    /// A file database is loaded through rusqlite, an in-memory one through sea-orm: the same
    /// file gives the same stored values, and the same search answers, either way.
    #[tokio::test]
    async fn a_file_is_loaded_apart_into_the_same_values_as_through_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        std::fs::write(
            &path,
            "n,x,ok,day,at,note\n\
             1,2.5,true,2024-02-29,2024-03-01T08:00:00+08:00,\"a, \"\"b\"\"\"\n\
             ,,,,,\n\
             -9007199254740993,-0.1,false,1999-12-31,1970-01-01T00:00:00-01:00, lead banjir\n",
        )
        .unwrap();
        let request = || IngestRequest {
            path: path.clone(),
            format: UploadFormat::Csv,
            schema: None,
            timezone: TimeZone::default(),
        };
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let file = crate::db::connect(&url).await.unwrap();
        let memory = crate::db::connect("sqlite::memory:").await.unwrap();
        assert!(crate::records::sqlite_direct::file_path(&file).is_some());
        assert!(crate::records::sqlite_direct::file_path(&memory).is_none());
        // another connection stays open, as a server's would: closing the loader's is then
        // no checkpoint
        file.execute_unprepared("SELECT 1").await.unwrap();
        let held = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        held.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .unwrap();
        let a = ingest(&file, request(), Arc::new(NoProgress))
            .await
            .unwrap();
        let b = ingest(&memory, request(), Arc::new(NoProgress))
            .await
            .unwrap();
        assert_eq!(a.row_count, 3);
        assert_eq!(a.layout.schema, b.layout.schema);
        let (rows_a, rows_b) = (
            dump(&file, &a.layout.table).await,
            dump(&memory, &b.layout.table).await,
        );
        assert_eq!(rows_a.len(), 3);
        assert_eq!(rows_a, rows_b);
        // the loader checkpointed: the database file alone, read as if no WAL were there,
        // holds the rows
        let alone = rusqlite::Connection::open_with_flags(
            format!("file:{}?immutable=1", dir.path().join("t.db").display()),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let in_file: i64 = alone
            .query_row(
                &format!("SELECT count(*) FROM \"{}\"", a.layout.table),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(in_file, 3);
        drop(held);
        for (db, t) in [(&file, &a.layout), (&memory, &b.layout)] {
            let hits = db
                .query_all(Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT rowid FROM \"{0}\" WHERE \"{0}\" MATCH 'banjir'",
                        t.fts_table()
                    ),
                ))
                .await
                .unwrap();
            assert_eq!(hits.len(), 1);
        }
    }
}
