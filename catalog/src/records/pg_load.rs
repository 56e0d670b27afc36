//! The Postgres loader: rows by binary `COPY` into a new table, then its b-tree indexes and its
//! full-text (GIN) index built at the same time, on two connections.
//!
//! Postgres builds a b-tree with parallel workers but a GIN index on one process only, so
//! building them one after the other left a core idle for the whole GIN build. Two connections
//! can only build indexes on a table both can see, so the rows are committed first:
//!
//! 1. The loading connection takes a session advisory lock on the table's name, then creates
//!    the table and copies the rows in one transaction, committed once the reader says the
//!    file was whole. A reader that stops (a bad row) rolls it back: nothing was ever
//!    committed.
//! 2. The b-trees (on the loading connection) and the GIN index (on a second one) are built
//!    together, then the table is analysed. A failure drops the table.
//! 3. The caller keeps the returned [`TableLock`] until the version row names the table.
//!
//! A load killed between 1 and 3 leaves a committed table that no version names and whose lock
//! ended with its connection; the next load drops it ([`sweep_orphans`]). A table being loaded
//! elsewhere (any gateway node) is locked, and one that a version names is kept.
use sea_orm::{DatabaseBackend, DatabaseConnection};
use sea_query::PostgresQueryBuilder;
use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, PgConnection, Postgres};

use super::ingest::{drop_table, reader_stopped, Load, Progress};
use super::layout::Layout;
use super::pg_copy::{RowWriter, HEADER, TRAILER};
use crate::error::{CatalogError, Result};

/// The advisory lock key of the record table named by `$1`. Every lock, try and unlock goes
/// through it: a sweep that hashed differently from a load would drop the table being loaded.
const LOCK_KEY: &str = "hashtextextended($1, 0)";

/// The load lock of one record table: a session advisory lock on the connection that loaded
/// it. Dropping this closes that connection (it never returns to the pool holding the lock),
/// which ends the lock.
#[derive(Debug)]
pub struct TableLock {
    _conn: PoolConnection<Postgres>,
}

/// Loads the rows received on `rx` into a new table laid out as `layout`, and commits them
/// once the reader says the file was whole ([`Load::Done`]). Returns the row count and the
/// table's lock.
pub(super) async fn load(
    db: &DatabaseConnection,
    layout: &Layout,
    mut rx: tokio::sync::mpsc::Receiver<Load>,
    progress: &dyn Progress,
) -> Result<(u64, TableLock)> {
    let pool = db.get_postgres_connection_pool();
    let mut conn = pool.acquire().await?;
    conn.close_on_drop();
    sqlx::query(&format!("SELECT pg_advisory_lock({LOCK_KEY})"))
        .bind(&layout.table)
        .execute(&mut *conn)
        .await?;
    sweep_orphans(&mut conn).await;

    let mut tx = conn.begin().await?;
    let backend = DatabaseBackend::Postgres;
    let create = layout.create_table(backend).to_string(PostgresQueryBuilder);
    sqlx::raw_sql(&create).execute(&mut *tx).await?;
    // FREEZE: the table was made in this transaction, so rows can be written already frozen
    // and all-visible (no hint-bit rewrites later; index-only scans work at once).
    let copy_sql = format!(
        "COPY \"{}\" ({}) FROM STDIN (FORMAT binary, FREEZE)",
        layout.table,
        layout.loaded_columns(backend).join(",")
    );
    let mut copy = tx.copy_in_raw(&copy_sql).await?;
    let mut writer = RowWriter::new(layout);
    let mut next_id: i64 = 1;
    let mut buf = Vec::with_capacity(1 << 20);
    buf.extend_from_slice(HEADER);
    let mut max_len = None;
    while let Some(batch) = rx.recv().await.and_then(|m| m.rows(&mut max_len)) {
        let n = batch.len() as u64;
        for row in &batch {
            writer.row(next_id, row, &mut buf);
            next_id += 1;
        }
        if buf.len() >= 1 << 20 {
            if let Err(e) = copy.send(std::mem::take(&mut buf)).await {
                let _ = copy.abort("load failed").await;
                return Err(e.into());
            }
        }
        progress.advance(n);
    }
    // The channel closes without `Done` when the reader stops at a bad row: nothing is
    // committed (the transaction rolls back as it drops).
    let Some(max_len) = max_len else {
        let _ = copy.abort("the reader stopped").await;
        return Err(reader_stopped());
    };
    buf.extend_from_slice(&TRAILER);
    copy.send(buf).await?;
    copy.finish().await?;
    tx.commit().await?;

    if let Err(e) = build(db, &mut conn, layout, &max_len, progress).await {
        drop_table(db, layout).await;
        return Err(e);
    }
    Ok(((next_id - 1) as u64, TableLock { _conn: conn }))
}

/// Builds the b-trees on `conn` and the full-text index on another connection, together;
/// then analyses the table. (Letting the second connection take b-trees once its GIN index is
/// done measured no faster.)
async fn build(
    db: &DatabaseConnection,
    conn: &mut PgConnection,
    layout: &Layout,
    max_len: &[usize],
    progress: &dyn Progress,
) -> Result<()> {
    let [(_, btrees), (_, full_text)] = layout.build_steps(DatabaseBackend::Postgres, max_len);
    progress.phase("indexing", 0);
    let btrees = async {
        let mut tx = conn.begin().await?;
        // Index builds sort in memory rather than in temp files (this transaction only).
        sqlx::raw_sql("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *tx)
            .await?;
        for sql in &btrees {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<_, CatalogError>(())
    };
    // GIN builds as fast with the default 64 MB (1m rows: 4.4 s with 64 MB and with 256 MB).
    let full_text = async {
        if full_text.is_empty() {
            return Ok(());
        }
        let mut other = db.get_postgres_connection_pool().acquire().await?;
        for sql in &full_text {
            sqlx::raw_sql(sql).execute(&mut *other).await?;
        }
        Ok::<_, CatalogError>(())
    };
    // Both run to their end, so a failure leaves no statement running on a returned connection.
    let (btrees, full_text) = tokio::join!(btrees, full_text);
    btrees?;
    full_text?;
    progress.phase("analysing", 0);
    sqlx::raw_sql(&layout.analyze_statement(DatabaseBackend::Postgres))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Drops the record tables that no version names and no load holds (see the module's
/// documentation). The reference is checked again under the table's lock: a load elsewhere
/// names its table in a version row before it lets go of the lock. Best effort.
async fn sweep_orphans(conn: &mut PgConnection) {
    const UNNAMED: &str = "NOT EXISTS (SELECT 1 FROM versions v WHERE v.table_name = $1)";
    let found: Vec<String> = match sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c \
         WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace \
         AND c.relname ~ '^rec_[0-9a-f]{16}$' \
         AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.table_name = c.relname)",
    )
    .fetch_all(&mut *conn)
    .await
    {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for orphaned record tables");
            return;
        }
    };
    for table in found {
        let sweep = async {
            let locked: bool =
                sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({LOCK_KEY})"))
                    .bind(&table)
                    .fetch_one(&mut *conn)
                    .await?;
            if !locked {
                return Ok::<_, sqlx::Error>(false); // being loaded
            }
            let orphan: bool = sqlx::query_scalar(&format!("SELECT {UNNAMED}"))
                .bind(&table)
                .fetch_one(&mut *conn)
                .await?;
            if orphan {
                // the name matched `rec_` and 16 hex digits: nothing to quote
                sqlx::raw_sql(&format!("DROP TABLE IF EXISTS \"{table}\""))
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
                .bind(&table)
                .execute(&mut *conn)
                .await?;
            Ok(orphan)
        };
        match sweep.await {
            Ok(true) => tracing::info!(%table, "orphaned record table dropped"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, %table, "could not drop an orphaned record table"),
        }
    }
}
