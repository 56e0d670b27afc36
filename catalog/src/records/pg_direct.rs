//! Record reads on Postgres (pages, counts and whole-result exports), straight through sqlx.
//!
//! sea-orm's row stream wraps every row in its own layers (an instrumented stream, error
//! mapping, a `QueryResult`) and its getters check each value's type against the column's; at
//! 1m rows those layers and checks took about a third of the server's CPU in an export. Here
//! the same sea-query statement runs through the pool's sqlx connection and cells are decoded
//! by position without the type check: the column types are the ones the record table was
//! created with (`layout`), the same the checked getters accept through sea-orm.
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::time::Duration;

use futures::StreamExt as _;
use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement};
use sea_query::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::Postgres;
use sqlx::{Arguments as _, Row as _};

use super::pg_copy::TupleReader;
use super::read::{decode_into, pump_into, Chunker, RowSource, VersionTable};
use crate::error::{CatalogError, Result};

/// A record statement ready to run on Postgres: its pool, its SQL, its bound values as sqlx
/// takes them, and the [`GenericPlans`] whose connections run it, when it is one of theirs.
pub(super) struct Prepared<'a> {
    pub(super) pool: PgPool,
    pub(super) sql: String,
    pub(super) args: PgArguments,
    generic: Option<&'a GenericPlans>,
}

impl Prepared<'_> {
    /// Runs the statement and collects its rows.
    pub(super) async fn fetch_all(self) -> Result<Vec<PgRow>> {
        match self.generic {
            Some(g) => g.held.fetch_all(&self.pool, &self.sql, self.args).await,
            None => Ok(sqlx::query_with(&self.sql, self.args)
                .fetch_all(&self.pool)
                .await?),
        }
    }
}

/// The statement prepared to run on `generic`'s connections, when given, or on the main pool;
/// `None` when the database is not Postgres, or when a value is of a kind this does not bind
/// (the caller then goes through sea-orm, which is correct but slower: debug builds, so the
/// tests, panic instead, since record statements only bind the kinds below).
pub(super) fn prepare<'a>(
    db: &DatabaseConnection,
    statement: &Statement,
    generic: Option<&'a GenericPlans>,
) -> Option<Prepared<'a>> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return None;
    }
    let mut args = PgArguments::default();
    for v in statement.values.iter().flat_map(|v| v.0.iter()) {
        let added = match v {
            Value::Bool(b) => args.add(*b),
            Value::Int(i) => args.add(*i),
            Value::BigInt(i) => args.add(*i),
            // LIMIT and OFFSET (Postgres has no unsigned types; they are far below i64::MAX)
            Value::BigUnsigned(u) => args.add(u.map(i64::try_from).transpose().ok()?),
            Value::Double(f) => args.add(*f),
            Value::String(s) => args.add(s.as_deref().cloned()),
            other => {
                debug_assert!(false, "a record statement binds {other:?}");
                return None;
            }
        };
        added.ok()?;
    }
    let main = db.get_postgres_connection_pool();
    Some(Prepared {
        pool: generic.map_or_else(|| main.clone(), |g| g.pool(main)),
        sql: statement.sql.clone(),
        args,
        generic,
    })
}

/// A whole-result export to run as `COPY` ([`export_by_copy`]).
pub(super) struct CopyExport {
    pub pool: PgPool,
    /// The statement; it binds no values.
    pub sql: String,
    /// When `sql` reads the whole table in no stated order and the export is in `_id` order:
    /// the ordered statement for the rows after a given `_id`.
    pub in_id_order: Option<Box<dyn FnOnce(i64) -> Option<Prepared<'static>> + Send>>,
}

/// How a `COPY` ended.
enum Copied {
    All,
    ClientGone,
    /// The rows came out of `_id` order after the one with this `_id`.
    OutOfOrderAfter(i64),
}

/// Streams the rows of `copy` to `tx` as [`super::read::export`] does, through a binary
/// `COPY (…) TO STDOUT`.
///
/// A query's rows come through sqlx one by one, each decoded into a `PgRow` (its cells'
/// ranges, its columns' types, each value checked on the way out). `COPY` sends the same
/// values in the same binary form, which [`TupleReader`] reads in place: in a 1m-row export,
/// ordered as before, the gateway's CPU fell about 11 % and Postgres' 9 % (10 exports each).
///
/// When the client goes away mid-export, the connection is closed rather than given back: the
/// pool would otherwise read the rest of the result before lending it again.
pub(super) async fn export_by_copy<E: super::encode::RowEncoder>(
    copy: CopyExport,
    table: &VersionTable,
    fields: &[usize],
    encoder: E,
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
) {
    let mut out = Chunker::new(encoder, fields.len());
    let mut conn = None;
    let checked = copy.in_id_order.is_some();
    let copied = async {
        let conn = conn.insert(copy.pool.acquire().await?);
        copy_rows(conn, &copy.sql, checked, table, fields, &mut out, tx).await
    }
    .await;
    if !matches!(copied, Ok(Copied::All)) {
        if let Some(conn) = conn.as_mut() {
            conn.close_on_drop();
        }
    }
    drop(conn);
    let result = match copied {
        Ok(Copied::All) => Ok(true),
        Ok(Copied::ClientGone) => Ok(false),
        Ok(Copied::OutOfOrderAfter(last)) => {
            tracing::warn!(
                table = %table.layout.table,
                after = last,
                "a record table's rows are not stored in _id order; the export goes on ordered"
            );
            match copy.in_id_order.and_then(|rest| rest(last)) {
                Some(Prepared {
                    pool, sql, args, ..
                }) => {
                    let rows = sqlx::query_with(&sql, args)
                        .fetch(&pool)
                        .map(|r| r.map_err(CatalogError::from));
                    pump_into(rows, table, fields, &mut out, tx).await
                }
                None => Err(CatalogError::Internal(
                    "an ordered export statement could not be prepared".into(),
                )),
            }
        }
        Err(e) => Err(e),
    };
    if let Some(last) = out.end(result) {
        let _ = tx.send(last).await;
    }
}

/// Runs `sql` as `COPY` on `conn`, encoding its rows into `out`; when `checked`, stops at the
/// first row whose `_id` is not the one after the last (the first must be 1).
async fn copy_rows<E: super::encode::RowEncoder>(
    conn: &mut PgConnection,
    sql: &str,
    checked: bool,
    table: &VersionTable,
    fields: &[usize],
    out: &mut Chunker<E>,
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes>>,
) -> Result<Copied> {
    let mut db_tx = sqlx::Connection::begin(conn).await?;
    // A scan that joins another already under way starts mid-table; a parallel one interleaves.
    sqlx::Executor::execute(
        &mut *db_tx,
        "SET LOCAL synchronize_seqscans = off; SET LOCAL max_parallel_workers_per_gather = 0",
    )
    .await?;
    let mut messages = db_tx
        .copy_out_raw(&format!("COPY ({sql}) TO STDOUT (FORMAT binary)"))
        .await?;
    let mut reader = TupleReader::default();
    let mut chunks = Vec::new();
    let mut last_id = 0;
    while let Some(message) = messages.next().await {
        let flow = reader.read(&message?, |tuple| {
            if checked {
                if tuple.int(0)? != Some(last_id + 1) {
                    return Ok(ControlFlow::Break(()));
                }
                last_id += 1;
            }
            decode_into(table.schema(), fields, tuple, &mut out.row)?;
            chunks.extend(out.encode_row());
            Ok(ControlFlow::Continue(()))
        })?;
        for chunk in chunks.drain(..) {
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(Copied::ClientGone);
            }
        }
        if flow.is_break() {
            return Ok(Copied::OutOfOrderAfter(last_id));
        }
    }
    if !reader.ended() {
        return Err(CatalogError::Internal(
            "binary COPY data ended without its trailer".into(),
        ));
    }
    drop(messages);
    db_tx.commit().await?;
    Ok(Copied::All)
}

/// What the connections of [`GenericPlans`] call themselves in `pg_stat_activity`.
pub const GENERIC_PLANS_APPLICATION: &str = "gerbang-generic-plans";

/// A second pool whose sessions plan each prepared statement once and keep that plan
/// (`plan_cache_mode = force_generic_plan`), for the statements that one plan serves whatever
/// values they bind ([`super::plan::one_plan_serves`]).
///
/// With the default (`auto`), Postgres planned W2's statement again on every run: its generic
/// plan, costed with average selectivities, came out dearer than the custom ones, although it
/// is the same index scan. Planning was about 0.09 ms of the statement's 0.25 ms, on a core the
/// gateway shares. Uncached W2 at 1m rows, `load-tests/pair.sh`, 5 rounds: median 1 149 req/s
/// on the main pool, 1 340 on this one, which won every round. The main pool stays `auto`:
/// there a generic plan could, say, walk the sort column's index for a filter value that almost
/// no row has.
///
/// Its statements run on connections kept out of the pool between them ([`Held`]).
#[derive(Debug)]
pub struct GenericPlans {
    pool: OnceLock<PgPool>,
    held: Held,
}

impl Default for GenericPlans {
    fn default() -> Self {
        Self {
            pool: OnceLock::new(),
            held: Held::new(Self::MAX_CONNECTIONS as usize),
        }
    }
}

impl GenericPlans {
    /// At most this many connections, opened on first use. The pool closes one idle for a
    /// minute; [`Held`] keeps up to all of them, for as long as they work.
    const MAX_CONNECTIONS: u32 = 8;

    /// The pool, made on first use with `main`'s settings (user, database, TLS, `options`).
    fn pool(&self, main: &PgPool) -> PgPool {
        self.pool
            .get_or_init(|| {
                let options = (*main.connect_options())
                    .clone()
                    .options([("plan_cache_mode", "force_generic_plan")])
                    .application_name(GENERIC_PLANS_APPLICATION);
                PgPoolOptions::new()
                    .max_connections(Self::MAX_CONNECTIONS)
                    .min_connections(0)
                    .idle_timeout(Duration::from_secs(60))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_lazy_with(options)
            })
            .clone()
    }
}

/// Connections kept out of their pool between statements.
///
/// sqlx's pool makes a round trip to the server (an empty `Sync`) when it hands a connection
/// out (`test_before_acquire`) and again when it gets it back (always: it flushes what a
/// cancelled statement left). For a page that was two of its three round trips, each one
/// waking a Postgres backend and the gateway. A kept connection goes from one statement to the
/// next without either; sqlx still waits, before each statement, for the server to be ready.
///
/// A statement cancelled midway (its request gone) drops its connection, which goes back to
/// the pool and its test. A kept connection that the server closed (a restart) fails its next
/// statement: it goes back to the pool, which closes it, and the statement, a read, runs again
/// once on a connection from the pool.
#[derive(Debug)]
struct Held {
    /// One per connection out of the pool: a statement waits here, not in the pool, when all
    /// are busy.
    permits: tokio::sync::Semaphore,
    idle: std::sync::Mutex<Vec<PoolConnection<Postgres>>>,
}

impl Held {
    /// How long a statement waits for a connection, as the pool does (then a 503).
    const WAIT: Duration = Duration::from_secs(10);

    fn new(connections: usize) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(connections),
            idle: std::sync::Mutex::new(Vec::with_capacity(connections)),
        }
    }

    async fn fetch_all(&self, pool: &PgPool, sql: &str, args: PgArguments) -> Result<Vec<PgRow>> {
        let _permit = tokio::time::timeout(Self::WAIT, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .expect("the semaphore is never closed");
        let kept = self.idle().pop();
        let was_kept = kept.is_some();
        let mut conn = match kept {
            Some(conn) => conn,
            None => pool.acquire().await?,
        };
        let rows = match sqlx::query_with(sql, args.clone())
            .fetch_all(&mut *conn)
            .await
        {
            Err(e) if was_kept && connection_lost(&e) => {
                tracing::info!(error = %e, "a kept Postgres connection was lost; running again");
                drop(conn);
                conn = pool.acquire().await?;
                sqlx::query_with(sql, args).fetch_all(&mut *conn).await
            }
            other => other,
        }?;
        self.idle().push(conn);
        Ok(rows)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PoolConnection<Postgres>>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether `e` says the connection is gone: broken, or closed by the server (shut down,
/// restarted, or the session ended by an administrator).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some("57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006")
        ),
        _ => false,
    }
}

impl RowSource for PgRow {
    fn int(&self, at: usize) -> Result<Option<i64>> {
        Ok(self.try_get_unchecked(at)?)
    }
    fn num(&self, at: usize) -> Result<Option<f64>> {
        Ok(self.try_get_unchecked(at)?)
    }
    fn boolean(&self, at: usize) -> Result<Option<bool>> {
        Ok(self.try_get_unchecked(at)?)
    }
    fn text_into(&self, at: usize, out: &mut String) -> Result<bool> {
        let text: Option<&str> = self.try_get_unchecked(at)?;
        Ok(text.map(|t| out.push_str(t)).is_some())
    }
    fn offset(&self, at: usize) -> Result<Option<i32>> {
        Ok(self.try_get_unchecked(at)?)
    }
}
