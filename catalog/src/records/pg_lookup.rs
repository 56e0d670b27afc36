//! Records by `_id` on Postgres, looked up in batches.
//!
//! One record per request (W1) spent its time in what every statement costs, not in the index
//! probe: a pool checkout, a round trip, the executor's start and end, and sea-orm's layers on
//! each side. Here lookups in one record table that arrive while its statements are in flight wait,
//! then go together as one `_id = ANY($1)` statement (group commit). Nothing waits for a timer:
//! a lone lookup goes at once, and a batch only forms from requests that arrived while the
//! previous statements ran, so a batch costs no request more than one statement's time.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus_client::metrics::counter::Counter;
use sea_query::{Alias, Expr, PostgresQueryBuilder, Query};
use tokio::sync::oneshot;

use super::read::{decode_into, select_columns, Row, VersionTable};
use crate::error::{CatalogError, Result};

/// Statements in flight per record table; lookups that find them all busy wait for the next
/// batch. (W1, paired: 1 in flight 35-38k req/s, 2 41k, 4 39-43k.)
const IN_FLIGHT: usize = 2;
/// Most ids in one statement.
const MAX_BATCH: usize = 256;
/// Queues kept before idle ones are let go.
const MAX_QUEUES: usize = 1024;

type Answer = oneshot::Sender<Result<Option<Row>>>;

/// The batching queues, one per record table read by `_id` (a table never changes, so its
/// queue's statement stays right).
#[derive(Debug, Default)]
pub struct Lookups {
    tables: Mutex<HashMap<String, Arc<Queue>>>,
    /// Statements run: lookups ÷ statements is the batch size.
    statements: Counter,
}

impl Lookups {
    /// Lookups that count their statements in `statements`.
    pub fn new(statements: Counter) -> Self {
        Self {
            tables: Mutex::default(),
            statements,
        }
    }

    /// The record `id` of `table`, found by the next statement of its table's queue.
    pub(super) async fn get(
        &self,
        pool: &sqlx::PgPool,
        table: &VersionTable,
        id: i64,
    ) -> Result<Option<Row>> {
        let queue = self.queue(table);
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut pending = queue.pending();
            pending.waiting.push((id, tx));
            let lead = pending.in_flight < IN_FLIGHT;
            if lead {
                pending.in_flight += 1;
            }
            lead
        };
        if lead {
            // A task of its own, so a client that goes away cannot strand the others' answers.
            tokio::spawn(Flight { queue, done: false }.run(pool.clone()));
        }
        rx.await
            .map_err(|_| CatalogError::Internal("a record lookup ended without an answer".into()))?
    }

    fn queue(&self, table: &VersionTable) -> Arc<Queue> {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = tables.get(&table.layout.table) {
            return Arc::clone(queue);
        }
        if tables.len() >= MAX_QUEUES {
            // tables of deleted versions, or of too many to keep: a new queue is cheap
            tables.retain(|_, q| q.pending().in_flight > 0);
        }
        let queue = Arc::new(Queue::new(table, self.statements.clone()));
        tables.insert(table.layout.table.clone(), Arc::clone(&queue));
        queue
    }
}

#[derive(Debug)]
struct Queue {
    table: VersionTable,
    /// Every field, in schema order: what a record by `_id` shows.
    fields: Vec<usize>,
    sql: String,
    state: Mutex<Pending>,
    statements: Counter,
}

#[derive(Debug, Default)]
struct Pending {
    waiting: Vec<(i64, Answer)>,
    in_flight: usize,
}

impl Queue {
    fn new(table: &VersionTable, statements: Counter) -> Self {
        let fields: Vec<usize> = (0..table.schema().fields.len()).collect();
        let mut stmt = Query::select();
        stmt.from(Alias::new(&table.layout.table));
        select_columns(&mut stmt, table.schema(), &fields);
        stmt.and_where(Expr::cust(r#""_id" = ANY($1)"#));
        Self {
            table: table.clone(),
            fields,
            sql: stmt.to_string(PostgresQueryBuilder),
            state: Mutex::default(),
            statements,
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self, pool: &sqlx::PgPool, ids: &[i64]) -> Result<HashMap<i64, Row>> {
        self.statements.inc();
        let rows = sqlx::query(&self.sql).bind(ids).fetch_all(pool).await?;
        rows.iter()
            .map(|r| {
                let mut row = Row::for_fields(self.fields.len());
                decode_into(self.table.schema(), &self.fields, r, &mut row)?;
                Ok((row.id, row))
            })
            .collect()
    }
}

/// One of a queue's statements in flight: it runs batches until nobody waits.
struct Flight {
    queue: Arc<Queue>,
    done: bool,
}

impl Flight {
    async fn run(mut self, pool: sqlx::PgPool) {
        let mut ids = Vec::new();
        loop {
            let batch: Vec<(i64, Answer)> = {
                let mut pending = self.queue.pending();
                if pending.waiting.is_empty() {
                    // In the same critical section as the check, so a lookup that arrives now
                    // sees a free slot and leads a flight of its own.
                    pending.in_flight -= 1;
                    self.done = true;
                    return;
                }
                let n = pending.waiting.len().min(MAX_BATCH);
                pending.waiting.drain(..n).collect()
            };
            ids.clear();
            ids.extend(batch.iter().map(|(id, _)| *id));
            match self.queue.fetch(&pool, &ids).await {
                Ok(found) => {
                    for (id, tx) in batch {
                        let _ = tx.send(Ok(found.get(&id).cloned()));
                    }
                }
                Err(e) => {
                    for (_, tx) in batch {
                        let _ = tx.send(Err(e.reclone()));
                    }
                }
            }
        }
    }
}

impl Drop for Flight {
    /// A flight that ended without seeing its queue empty (a panic) gives its slot back; the
    /// next lookup leads a new one for whoever still waits.
    fn drop(&mut self) {
        if !self.done {
            self.queue.pending().in_flight -= 1;
        }
    }
}
