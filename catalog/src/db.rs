//! Connecting to the catalog database (SQLite or Postgres) and applying migrations.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

use crate::error::{CatalogError, Result};

/// Opens a pool for `url` (`sqlite://file.db` or `postgres://…`); SQLite files are created.
#[tracing::instrument(skip_all)]
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let url = if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    };
    let tls_on_loopback_by_default = is_loopback_without_sslmode(&url);
    let mut options = ConnectOptions::new(url.clone());
    options
        .sqlx_logging(false)
        .max_connections(16)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|opts| {
            // 16 KiB pages (4 KiB by default) for a file created here; an existing file keeps
            // its own. A record table is written once, in bulk: fewer, larger pages make its
            // load, index builds and commit faster (1m-row import: 12.3 s -> 10.8 s), while
            // random lookups by `_id` and pages measured the same in paired runs.
            opts.page_size(16384)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                // 16 MiB of page cache per connection (16 connections: at most 256 MiB);
                // the OS page cache holds the rest of the file.
                .pragma("cache_size", "-16384")
                .pragma("temp_store", "memory")
        })
        .map_sqlx_postgres_opts(move |opts| match tls_on_loopback_by_default {
            // sslmode's default, `prefer`, encrypts when the server offers TLS, which on
            // loopback protects nothing and costs every query (uncached W1: 6.4-6.9k ->
            // 7.7-8.5k req/s without it). `prefer` never promised TLS: whoever needs it
            // asks with `sslmode=require` or stricter, which is kept.
            true => opts.ssl_mode(sqlx::postgres::PgSslMode::Disable),
            false => opts,
        });
    match Database::connect(options).await {
        Ok(db) => Ok(db),
        Err(e) => Err(CatalogError::Unavailable(format!(
            "cannot open the database at {}: {}",
            place(&url),
            why_not(&url, e).await
        ))),
    }
}

/// Where `url` points, without its user, password or options: `postgres://db:5432/gerbang`.
fn place(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.has_host() => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        _ => url.split('?').next().unwrap_or_default().to_owned(),
    }
}

/// Why the pool could not connect. A Postgres server that refuses or cannot be reached leaves
/// the pool retrying until its timeout, which says only that; one direct connection tells why.
async fn why_not(url: &str, e: sea_orm::DbErr) -> String {
    if url.starts_with("postgres") {
        use sqlx::Connection as _;
        if let Err(direct) = sqlx::PgConnection::connect(url).await {
            return direct.to_string();
        }
    }
    e.to_string()
}

/// A Postgres URL to this machine (`localhost`, `127.0.0.1`, `::1`) that names no `sslmode`.
fn is_loopback_without_sslmode(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    matches!(url.scheme(), "postgres" | "postgresql")
        && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        && !url
            .query_pairs()
            .any(|(k, _)| k == "sslmode" || k == "ssl-mode")
}

/// Applies pending migrations.
#[tracing::instrument(skip_all)]
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// A cheap round trip, for readiness checks.
pub async fn ping(db: &DatabaseConnection) -> Result<()> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// Runs a short transaction again when SQLite refused it as busy. A deferred SQLite transaction
/// that reads and then writes gets `SQLITE_BUSY` at once (no busy wait applies) if another
/// connection wrote in between; the whole transaction is simply retried, a few times.
pub async fn retry_busy<T, F, Fut>(f: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0u64;
    loop {
        match f().await {
            Err(e) if attempt < 20 && is_busy(&e) => {
                attempt += 1;
                // back off so the other writer can finish
                tokio::time::sleep(Duration::from_millis(2 * attempt)).await;
            }
            other => return other,
        }
    }
}

fn is_busy(e: &crate::CatalogError) -> bool {
    let text = match e {
        crate::CatalogError::Database(db) => db.to_string(),
        crate::CatalogError::Sqlx(sq) => sq.to_string(),
        _ => return false,
    };
    text.contains("database is locked")
        || text.contains("(code: 5)")
        || text.contains("(code: 517)")
}

pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DatabaseBackend::Postgres
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement};

    async fn page_size(db: &DatabaseConnection) -> i64 {
        let row = db
            .query_one(Statement::from_string(
                DatabaseBackend::Sqlite,
                "PRAGMA page_size",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    }

    #[test]
    fn only_loopback_urls_without_an_sslmode_go_without_tls() {
        for (url, plain) in [
            ("postgres://postgres@127.0.0.1:5432/test", true),
            ("postgres://u:p@localhost/db", true),
            ("postgresql://[::1]:5433/db?application_name=g", true),
            ("postgres://u:p%40x@127.0.0.1/db", true),
            ("postgres://127.0.0.1/db?sslmode=require", false),
            ("postgres://127.0.0.1/db?x=1&sslmode=prefer", false),
            ("postgres://127.0.0.1/db?ssl-mode=verify-full", false),
            ("postgres://db.example.org/db", false),
            ("postgres://127.0.0.1.example.org/db", false),
            ("postgres://u@10.0.0.5:5432/db", false),
            ("sqlite://127.0.0.1.db", false),
        ] {
            assert_eq!(super::is_loopback_without_sslmode(url), plain, "{url}");
        }
    }

    /// A file created by `connect` gets 16 KiB pages; one that exists keeps its own.
    #[tokio::test]
    async fn new_files_get_16_kib_pages_and_old_ones_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let new = super::connect(&format!("sqlite://{}", dir.path().join("new.db").display()))
            .await
            .unwrap();
        new.execute_unprepared("CREATE TABLE t (x)").await.unwrap();
        assert_eq!(page_size(&new).await, 16384);

        let old_path = dir.path().join("old.db");
        rusqlite::Connection::open(&old_path)
            .unwrap()
            .execute_batch("PRAGMA page_size=4096; CREATE TABLE t (x); INSERT INTO t VALUES (1)")
            .unwrap();
        let old = super::connect(&format!("sqlite://{}", old_path.display()))
            .await
            .unwrap();
        assert_eq!(page_size(&old).await, 4096);
        let n: i64 = old
            .query_one(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT count(*) FROM t",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(n, 1);
    }

    /// Migrating a file whose tables were analysed before ingestion dropped STAT4 samples
    /// removes those samples and keeps `sqlite_stat1`.
    #[tokio::test]
    async fn migrating_drops_stat4_samples_and_keeps_stat1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let count = |conn: &rusqlite::Connection, table: &str| -> i64 {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE t (x); CREATE INDEX t_x ON t (x);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
                 INSERT INTO t SELECT i % 7 FROM n; ANALYZE",
            )
            .unwrap();
            assert!(count(&conn, "sqlite_stat4") > 0, "ANALYZE wrote samples");
        }
        let db = super::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        super::migrate(&db).await.unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(count(&conn, "sqlite_stat4"), 0);
        assert!(count(&conn, "sqlite_stat1") > 0);
    }
}
