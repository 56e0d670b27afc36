//! Record reads on Postgres (pages, counts and whole-result exports), straight through sqlx.
//!
//! sea-orm's row stream wraps every row in its own layers (an instrumented stream, error
//! mapping, a `QueryResult`) and its getters check each value's type against the column's; at
//! 1m rows those layers and checks took about a third of the server's CPU in an export. Here
//! the same sea-query statement runs through the pool's sqlx connection and cells are decoded
//! by position without the type check: the column types are the ones the record table was
//! created with (`layout`), the same the checked getters accept through sea-orm.
use std::sync::OnceLock;
use std::time::Duration;

use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement};
use sea_query::Value;
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow};
use sqlx::{Arguments as _, Row as _};

use super::read::RowSource;
use crate::error::Result;

/// The pool to run the statement on (`generic`'s, when given), its SQL and its bound values as
/// sqlx takes them; `None` when the database is not Postgres, or when a value is of a kind
/// this does not bind (the caller then goes through sea-orm, which is correct but slower:
/// debug builds, so the tests, panic instead, since record statements only bind the kinds
/// below).
pub(super) fn prepare(
    db: &DatabaseConnection,
    statement: &Statement,
    generic: Option<&GenericPlans>,
) -> Option<(sqlx::PgPool, String, PgArguments)> {
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
    let pool = db.get_postgres_connection_pool();
    let pool = generic.map_or_else(|| pool.clone(), |g| g.pool(pool));
    Some((pool, statement.sql.clone(), args))
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
#[derive(Debug, Default)]
pub struct GenericPlans(OnceLock<PgPool>);

impl GenericPlans {
    /// At most this many connections, opened on first use and closed when idle for a minute.
    const MAX_CONNECTIONS: u32 = 8;

    /// The pool, made on first use with `main`'s settings (user, database, TLS, `options`).
    pub(super) fn pool(&self, main: &PgPool) -> PgPool {
        self.0
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
