//! Usage metering without a database write per request: counters aggregate in memory, a ticker
//! hands them every second through a bounded channel to one writer, which upserts them in a
//! single transaction. A failed write keeps its batch and retries; shutdown drains everything.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use catalog::developers::{self, KeyRecord, UsageKey};
use chrono::{NaiveDate, Utc};
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
const CHANNEL_BATCHES: usize = 8;

type Batch = Vec<(UsageKey, u64)>;

/// The writer's parts, kept until the meter is started.
type Idle = (DatabaseConnection, mpsc::Receiver<Batch>, Arc<Metrics>);

/// A key, compared by id; cloning it is a reference count, not a copy of its strings.
#[derive(Clone)]
struct ById(Arc<KeyRecord>);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ById {}

impl std::hash::Hash for ById {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

/// A counter in memory: cheap to build per request.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Pending {
    day: NaiveDate,
    key: Option<ById>,
    dataset: Option<(String, String)>,
}

impl Pending {
    fn to_usage_key(&self) -> UsageKey {
        let (key_id, developer_id) = match &self.key {
            Some(k) => (k.0.id.clone(), k.0.developer_id.clone()),
            None => (String::new(), String::new()),
        };
        let (agency, dataset) = self.dataset.clone().unwrap_or_default();
        UsageKey {
            day: self.day,
            key_id,
            developer_id,
            agency,
            dataset,
        }
    }
}

pub struct UsageMeter {
    pending: Mutex<HashMap<Pending, u64>>,
    /// Held across a whole flush, so shutdown never races a half-done one.
    tx: tokio::sync::Mutex<Option<mpsc::Sender<Batch>>>,
    /// What the writer needs, until it is started.
    idle: Mutex<Option<Idle>>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl UsageMeter {
    /// A meter that counts but does not write until [`UsageMeter::start`] (only a serving node
    /// starts it; the CLI never does).
    pub fn new(db: DatabaseConnection, metrics: Arc<Metrics>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Batch>(CHANNEL_BATCHES);
        Arc::new(Self {
            pending: Mutex::new(HashMap::new()),
            tx: tokio::sync::Mutex::new(Some(tx)),
            idle: Mutex::new(Some((db, rx, metrics))),
            ticker: Mutex::new(None),
            writer: Mutex::new(None),
        })
    }

    /// Starts the ticker and the writer (once).
    pub fn start(self: &Arc<Self>) {
        let Some((db, rx, metrics)) = self.idle.lock().expect("lock").take() else {
            return;
        };
        let writer = tokio::spawn(write_batches(db, rx, metrics));
        let ticker = {
            let meter = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(FLUSH_EVERY);
                loop {
                    interval.tick().await;
                    let Some(meter) = meter.upgrade() else { break };
                    if !meter.flush().await {
                        break;
                    }
                }
            })
        };
        *self.ticker.lock().expect("lock") = Some(ticker);
        *self.writer.lock().expect("lock") = Some(writer);
    }

    /// Counts one request by `key` (none: anonymous) on `dataset` (agency, dataset), today.
    /// A map update under a short lock; no I/O.
    pub fn record(&self, key: Option<&Arc<KeyRecord>>, dataset: Option<(&str, &str)>) {
        let pending = Pending {
            day: Utc::now().date_naive(),
            key: key.map(|k| ById(Arc::clone(k))),
            dataset: dataset.map(|(a, d)| (a.to_owned(), d.to_owned())),
        };
        *self
            .pending
            .lock()
            .expect("lock")
            .entry(pending)
            .or_insert(0) += 1;
    }

    /// Counts not yet handed to the writer, for one developer (merged into `/v1/me/usage`).
    pub fn pending_for(&self, developer_id: &str) -> Vec<(UsageKey, u64)> {
        self.pending
            .lock()
            .expect("lock")
            .iter()
            .filter(|(k, _)| {
                k.key
                    .as_ref()
                    .is_some_and(|k| k.0.developer_id == developer_id)
            })
            .map(|(k, n)| (k.to_usage_key(), *n))
            .collect()
    }

    /// Hands pending counters to the writer; waits when the channel is full (back-pressure on
    /// the ticker, never on requests). Returns false once the meter is shut down.
    async fn flush(&self) -> bool {
        let tx = self.tx.lock().await;
        self.flush_with(&tx).await
    }

    async fn flush_with(&self, tx: &Option<mpsc::Sender<Batch>>) -> bool {
        let Some(tx) = tx else {
            return false;
        };
        let batch: Batch = std::mem::take(&mut *self.pending.lock().expect("lock"))
            .into_iter()
            .map(|(k, n)| (k.to_usage_key(), n))
            .collect();
        if batch.is_empty() {
            return true;
        }
        tx.send(batch).await.is_ok()
    }

    /// Flushes everything and waits until the writer has stored it (graceful shutdown).
    pub async fn shutdown(&self) {
        let mut tx = self.tx.lock().await;
        // Holding the lock: the ticker is not mid-flush, so stopping it loses nothing.
        if let Some(t) = self.ticker.lock().expect("lock").take() {
            t.abort();
        }
        self.flush_with(&tx).await;
        tx.take();
        drop(tx);
        let writer = self.writer.lock().expect("lock").take();
        if let Some(w) = writer {
            let _ = w.await;
        }
    }
}

async fn write_batches(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<Batch>,
    metrics: Arc<Metrics>,
) {
    while let Some(batch) = rx.recv().await {
        // One id per batch, kept across retries: the store adds a batch once.
        let batch_id = uuid::Uuid::new_v4().to_string();
        let mut attempt = 0u32;
        loop {
            match developers::record_usage(&db, &batch_id, &batch, Utc::now()).await {
                Ok(()) => {
                    metrics.usage_rows_flushed.inc_by(batch.len() as u64);
                    break;
                }
                Err(e) => {
                    attempt += 1;
                    metrics.usage_flush_errors.inc();
                    tracing::warn!(error = ?e, attempt, rows = batch.len(), "usage flush failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt.min(25) as u64)).await;
                }
            }
        }
    }
}
