//! Loading a record table into a SQLite file through `rusqlite` (the same bundled SQLite) on a
//! blocking thread, with one prepared insert bound straight from the parsed cells. Through
//! sea-orm, every batch became boxed `Value`s, a multi-row statement and a hand-off to sqlx's
//! worker thread, which made the loader, not the parser, the slow side of the load.
//!
//! The table, its rows, its indexes and its full-text index are written in one transaction on a
//! connection of its own, as the sea-orm path does ([`super::ingest`] keeps that path for
//! in-memory databases); an error rolls it all back.
//!
//! The full-text index is built apart, while SQLite builds the b-tree indexes on the other
//! core: a second thread reads the uploaded file again and inserts each row's text into a
//! contentless FTS5 index in a scratch database; once the b-trees are done, that index's pages
//! are copied into the table's own (external-content) FTS5 index, which stores the same data.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{OpenFlags, Statement};
use sea_orm::DatabaseBackend;
use sea_query::SqliteQueryBuilder;

use super::ingest::{reader_stopped, Load, Progress};
use super::layout::Layout;
use super::source::{read_rows, RowPos, RowSink, UploadFormat};
use super::sqlite_direct::sqlite_error;
use crate::error::{CatalogError, Result};
use crate::schema::{Cell, FieldType};

/// Where the text of the rows is read again for the full-text index built apart: the
/// uploaded file, and the position in its rows of each text field (in
/// [`Layout::text_fields`] order).
pub(super) struct TextSource {
    pub(super) path: PathBuf,
    pub(super) format: UploadFormat,
    pub(super) positions: Vec<usize>,
}

/// How scratch databases are named, next to the database.
const SCRATCH_PREFIX: &str = ".gerbang-fts-";
/// A scratch database this old was left by a load that was killed (a load's removes its own).
const SCRATCH_STALE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes the scratch databases in `dir` that loads killed mid-way left behind (untouched for
/// [`SCRATCH_STALE`]; a running load's is written from its start). Best effort.
fn sweep_scratch(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = name.to_string_lossy().starts_with(SCRATCH_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > SCRATCH_STALE));
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            tracing::info!(file = %entry.path().display(), "stale full-text scratch database removed");
        }
    }
}

/// The scratch database's name on the loading connection, and its FTS5 table's.
const APART: &str = "apart";
const APART_FTS: &str = "fts";

/// Loads the rows received on `rx` into a new table laid out as `layout` in the database file
/// at `path`; once the reader says the file was whole ([`Load::Done`]), builds its indexes and
/// full-text index, commits and analyses it. The row count.
/// Blocks; run it on a blocking thread.
pub(super) fn load(
    path: &Path,
    layout: &Layout,
    rx: &mut tokio::sync::mpsc::Receiver<Load>,
    texts: &TextSource,
    progress: &dyn Progress,
) -> Result<u64> {
    let mut conn = open_write(path)?;
    // as the pool's connections (`db::connect`): other writers may hold the lock a while
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sqlite_error)?;
    // No checkpoint at commit (`wal_autocheckpoint`): one runs beside ANALYZE instead, below.
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL; PRAGMA temp_store=memory; PRAGMA cache_size=-16384; \
         PRAGMA wal_autocheckpoint=0",
    )
    .map_err(sqlite_error)?;
    // the scratch database of the full-text index built apart, next to the database (removed
    // when this returns); attached now, as ATTACH cannot run inside a transaction
    let scratch = match layout.text_fields().is_empty() {
        true => None,
        false => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            let dir = dir.unwrap_or(Path::new("."));
            sweep_scratch(dir);
            let file = tempfile::Builder::new()
                .prefix(SCRATCH_PREFIX)
                .suffix(".db")
                .tempfile_in(dir)?;
            conn.execute(
                &format!("ATTACH DATABASE ?1 AS {APART}"),
                [file.path().to_string_lossy()],
            )
            .map_err(sqlite_error)?;
            Some(file)
        }
    };
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
    let mut max_len = None;
    {
        let mut stmt = tx.prepare(&insert).map_err(sqlite_error)?;
        let mut date = String::new();
        while let Some(batch) = rx.blocking_recv().and_then(|m| m.rows(&mut max_len)) {
            let n = batch.len() as u64;
            for row in &batch {
                bind_row(&mut stmt, next_id, row, &types, &mut date)?;
                stmt.raw_execute().map_err(sqlite_error)?;
                next_id += 1;
            }
            progress.advance(n);
        }
    }
    // Without `Done` the reader stopped (a bad row): dropping `tx` rolls the load back.
    let max_len = max_len.ok_or_else(reader_stopped)?;
    let rows = next_id - 1;
    let [(indexing, indexes), (full_text, fts)] = layout.build_steps(backend, &max_len);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let apart = scratch
            .as_ref()
            .map(|file| scope.spawn(|| build_apart(file.path(), layout, texts, &stop)));
        let built = (|| {
            progress.phase(indexing, 0);
            for sql in indexes {
                tx.execute_batch(&sql).map_err(sqlite_error)?;
            }
            progress.phase(full_text, 0);
            let apart = apart.map(|t| t.join());
            match apart {
                Some(Ok(Ok(read))) if read == rows => copy_apart(&tx, layout),
                _ => {
                    // Not built apart (no text, or the file gave other rows: the load is
                    // failing and its table is dropped): built in place, from the table.
                    if let Some(why) = apart {
                        tracing::warn!(?why, rows, "full-text index built apart not used");
                    }
                    fts.iter()
                        .try_for_each(|sql| tx.execute_batch(sql).map_err(sqlite_error))
                }
            }
        })();
        if built.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        built
    })?;
    progress.phase("committing", 0);
    tx.commit().map_err(sqlite_error)?;
    if scratch.is_some() {
        conn.execute_batch(&format!("DETACH DATABASE {APART}"))
            .map_err(sqlite_error)?;
    }
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
    Ok(rows as u64)
}

/// Builds the full-text index of the rows of `texts` in the scratch database `file`: a
/// contentless FTS5 table, each row inserted under its `_id` (its place in the file, from 1);
/// the rows read. Stops early when `stop` is set.
fn build_apart(file: &Path, layout: &Layout, texts: &TextSource, stop: &AtomicBool) -> Result<i64> {
    let conn = open_write(file)?;
    // scratch: no journal, no sync; a failure discards the file
    conn.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=memory; \
         PRAGMA cache_size=-16384",
    )
    .map_err(sqlite_error)?;
    for sql in layout.fts5_create(APART_FTS, "''") {
        conn.execute_batch(&sql).map_err(sqlite_error)?;
    }
    conn.execute_batch("BEGIN").map_err(sqlite_error)?;
    let cols: Vec<String> = layout.text_fields().into_iter().map(Layout::col).collect();
    let insert = format!(
        "INSERT INTO \"{APART_FTS}\"(rowid, {}) VALUES (?{})",
        cols.join(", "),
        ", ?".repeat(cols.len())
    );
    let mut sink = TextSink {
        stmt: conn.prepare(&insert).map_err(sqlite_error)?,
        positions: &texts.positions,
        rows: 0,
        stop,
    };
    read_rows(&texts.path, texts.format, &mut sink)?;
    let rows = sink.rows;
    drop(sink);
    conn.execute_batch("COMMIT").map_err(sqlite_error)?;
    Ok(rows)
}

/// Inserts each row's text into the index built apart.
struct TextSink<'a> {
    stmt: Statement<'a>,
    positions: &'a [usize],
    rows: i64,
    stop: &'a AtomicBool,
}

impl RowSink for TextSink<'_> {
    fn row(&mut self, _pos: RowPos, _headers: &[String], cells: &[Option<&str>]) -> Result<()> {
        if self.rows % 1024 == 0 && self.stop.load(Ordering::Relaxed) {
            return Err(CatalogError::Internal("the load stopped".into()));
        }
        self.rows += 1;
        self.stmt
            .raw_bind_parameter(1, self.rows)
            .map_err(sqlite_error)?;
        for (at, p) in self.positions.iter().enumerate() {
            // as the table stores it: a missing or empty cell is null, text is as read
            let text = cells.get(*p).copied().flatten();
            self.stmt
                .raw_bind_parameter(at + 2, text)
                .map_err(sqlite_error)?;
        }
        self.stmt.raw_execute().map_err(sqlite_error)?;
        Ok(())
    }
}

/// Creates the table's full-text index and fills it with the pages of the one built apart:
/// the same words under the same rowids, so the same segments and totals.
fn copy_apart(tx: &rusqlite::Transaction<'_>, layout: &Layout) -> Result<()> {
    let fts = layout.fts_table();
    // no bulk build follows here: the build settings are not needed
    let [create, _] = layout.fts5_create(&fts, &format!("'{}'", layout.table));
    tx.execute_batch(&create).map_err(sqlite_error)?;
    for shadow in ["data", "idx"] {
        tx.execute_batch(&format!(
            "DELETE FROM main.\"{fts}_{shadow}\"; \
             INSERT INTO main.\"{fts}_{shadow}\" SELECT * FROM {APART}.\"{APART_FTS}_{shadow}\""
        ))
        .map_err(sqlite_error)?;
    }
    Ok(())
}

/// A read-write connection to the SQLite file at `path`, used by one thread.
fn open_write(path: &Path) -> Result<rusqlite::Connection> {
    rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)
}

/// Copies what the WAL holds into the database file, without waiting for readers or writers
/// (a `PASSIVE` checkpoint: what a reader still needs is copied by a later one).
fn checkpoint(path: &Path) -> Result<()> {
    let conn = open_write(path)?;
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
    use crate::records::ingest::{ingest, IngestRequest, Ingested, NoProgress};
    use crate::records::source::UploadFormat;

    /// The first column of every row `sql` returns, as text.
    async fn strings(db: &DatabaseConnection, sql: String) -> Vec<String> {
        db.query_all(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect()
    }

    /// Every stored value of a table, in `_id` order, each cell written with its SQLite type.
    async fn dump(db: &DatabaseConnection, table: &str) -> Vec<String> {
        let cols = strings(
            db,
            format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
        )
        .await;
        let cells = cols
            .iter()
            .map(|c| format!("typeof(\"{c}\") || ':' || coalesce(quote(\"{c}\"), '')"))
            .collect::<Vec<_>>()
            .join(" || ' | ' || ");
        strings(db, format!("SELECT {cells} FROM \"{table}\" ORDER BY _id")).await
    }

    /// One file ingested twice: into `t.db` in a directory, through rusqlite (`a`), and into an
    /// in-memory database, through the pool (`b`).
    struct Both {
        file: DatabaseConnection,
        memory: DatabaseConnection,
        a: Ingested,
        b: Ingested,
        /// Another connection to `t.db`, open through the load as a server's would be (closing
        /// the loader's connection is then no checkpoint).
        held: rusqlite::Connection,
    }

    async fn ingest_both(dir: &std::path::Path, path: &std::path::Path) -> Both {
        let request = || IngestRequest {
            path: path.to_owned(),
            format: UploadFormat::Csv,
            schema: None,
            timezone: TimeZone::default(),
            indexes: vec![],
        };
        let url = format!("sqlite://{}", dir.join("t.db").display());
        let file = crate::db::connect(&url).await.unwrap();
        let memory = crate::db::connect("sqlite::memory:").await.unwrap();
        assert!(crate::records::sqlite_direct::file_path(&file).is_some());
        assert!(crate::records::sqlite_direct::file_path(&memory).is_none());
        file.execute_unprepared("SELECT 1").await.unwrap();
        let held = rusqlite::Connection::open(dir.join("t.db")).unwrap();
        held.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .unwrap();
        let a = ingest(&file, request(), Arc::new(NoProgress))
            .await
            .unwrap();
        let b = ingest(&memory, request(), Arc::new(NoProgress))
            .await
            .unwrap();
        Both {
            file,
            memory,
            a,
            b,
            held,
        }
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
        let Both {
            file,
            memory,
            a,
            b,
            held,
        } = ingest_both(dir.path(), &path).await;
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
        // no scratch database is left behind
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".gerbang-fts"))
            .collect();
        assert_eq!(left, Vec::<String>::new());
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

    /// Types that change past the first rows (`ingest::SAMPLE_ROWS`) are found on either path:
    /// a column empty at first gets the type of its later values (in the one pass), a column
    /// whole at first then decimal is loaded again as a number; nothing of the undone load
    /// remains.
    #[tokio::test]
    async fn types_past_the_first_rows_are_found_on_either_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        let mut csv = String::from("n,late\n");
        for i in 1..=10_300 {
            let n = if i == 10_200 {
                "2.5".into()
            } else {
                i.to_string()
            };
            let late = if i > 10_100 {
                format!("{}", i % 3 == 0)
            } else {
                String::new()
            };
            csv.push_str(&format!("{n},{late}\n"));
        }
        std::fs::write(&path, csv).unwrap();
        let both = ingest_both(dir.path(), &path).await;
        let types = |i: &Ingested| -> Vec<&str> {
            let fields = &i.layout.schema.fields;
            fields.iter().map(|f| f.field_type.as_str()).collect()
        };
        assert_eq!(types(&both.a), ["number", "boolean"]);
        assert_eq!(types(&both.b), ["number", "boolean"]);
        let (rows_a, rows_b) = (
            dump(&both.file, &both.a.layout.table).await,
            dump(&both.memory, &both.b.layout.table).await,
        );
        assert_eq!(rows_a.len(), 10_300);
        assert_eq!(rows_a, rows_b);
        assert_eq!(rows_a[10_199], "integer:10200 | real:2.5 | integer:1");
        assert_eq!(rows_a[0], "integer:1 | real:1.0 | null:NULL");
        for db in [&both.file, &both.memory] {
            let tables = strings(
                db,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rec_%' \
                 AND name NOT LIKE '%fts%'"
                    .into(),
            )
            .await;
            assert_eq!(tables.len(), 1, "{tables:?}");
        }
    }

    /// A scratch database a killed load left (untouched for a day) is removed by the next load;
    /// a recent one, maybe a running load's, is kept.
    #[tokio::test]
    async fn a_load_removes_stale_scratch_databases_and_keeps_recent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".gerbang-fts-killed.db");
        let recent = dir.path().join(".gerbang-fts-running.db");
        for f in [&stale, &recent] {
            std::fs::write(f, b"").unwrap();
        }
        let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86400);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        let path = dir.path().join("rows.csv");
        std::fs::write(&path, "n,note\n1,banjir\n").unwrap();
        let both = ingest_both(dir.path(), &path).await;
        assert_eq!(both.a.row_count, 1);
        assert!(!stale.exists());
        assert!(recent.exists());
    }

    /// The full-text index built apart (file database) holds exactly what FTS5's own rebuild
    /// from the table writes (in-memory database): the same pages, and FTS5 finds it
    /// consistent with the table.
    #[tokio::test]
    async fn the_full_text_index_built_apart_is_the_one_a_rebuild_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        let mut csv = String::from("n,title,body,city\n");
        for i in 0..3000 {
            let body = match i % 7 {
                0 => String::new(),
                1 => "Banjir rob di Jl. Sudirman, café tutup".to_owned(),
                2 => format!("jalan rusak {i} lubang besar Ñandú"),
                _ => format!("laporan {} warga", i * 31 % 97),
            };
            let title = if i % 11 == 0 { "" } else { "aduan" };
            csv.push_str(&format!("{i},{title},\"{body}\",Balikpapan\n"));
        }
        std::fs::write(&path, csv).unwrap();
        let Both {
            file, memory, a, b, ..
        } = ingest_both(dir.path(), &path).await;
        assert_eq!(a.layout.text_fields(), vec![1, 2, 3]);
        let pages = |db: DatabaseConnection, fts: String| async move {
            let sql = format!("SELECT id || ':' || hex(block) FROM \"{fts}_data\" ORDER BY id");
            strings(&db, sql).await
        };
        let apart = pages(file.clone(), a.layout.fts_table()).await;
        assert!(apart.len() > 2, "{apart:?}");
        assert_eq!(apart, pages(memory.clone(), b.layout.fts_table()).await);
        let fts = a.layout.fts_table();
        file.execute_unprepared(&format!(
            "INSERT INTO \"{fts}\"(\"{fts}\", rank) VALUES('integrity-check', 1)"
        ))
        .await
        .unwrap();
        let hits = file
            .query_all(Statement::from_string(
                file.get_database_backend(),
                format!(
                    "SELECT rowid FROM \"{fts}\" WHERE \"{fts}\" MATCH '\"cafe\" \"sudirman\"'"
                ),
            ))
            .await
            .unwrap();
        assert_eq!(hits.len(), 3000 / 7 + 1);
    }
}
