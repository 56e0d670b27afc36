//! Usage metering without a database write per request: counters aggregate in memory, a ticker
//! hands them every second through a bounded channel to one writer, which upserts them in a
//! single transaction. A failed write keeps its batch and retries; shutdown drains everything.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use catalog::developers::{self, KeyRecord, UsageKey};
use chrono::{NaiveDate, Utc};
use hashbrown::{Equivalent, HashMap};
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

/// A counter in memory.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Pending {
    day: NaiveDate,
    key: Option<ById>,
    dataset: Option<(String, String)>,
}

/// A counter as a request names it, borrowed: the map is searched without allocating. Its
/// derived `Hash` writes the same as [`Pending`]'s (`ById` hashes its id as a `str`, like
/// `&str`; `String` hashes like `&str`), as `hashbrown`'s [`Equivalent`] lookup needs.
#[derive(Hash)]
struct PendingRef<'a> {
    day: NaiveDate,
    key: Option<&'a str>,
    dataset: Option<(&'a str, &'a str)>,
}

impl Equivalent<Pending> for PendingRef<'_> {
    fn equivalent(&self, p: &Pending) -> bool {
        self.day == p.day
            && self.key == p.key.as_ref().map(|k| k.0.id.as_str())
            && self.dataset == p.dataset.as_ref().map(|(a, d)| (a.as_str(), d.as_str()))
    }
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

    /// Counts one request by `key` (none: anonymous) on `dataset` (agency, dataset) on `day`.
    /// A map update under a short lock; no I/O, and no allocation once the counter exists.
    pub fn record(
        &self,
        key: Option<&Arc<KeyRecord>>,
        dataset: Option<(&str, &str)>,
        day: NaiveDate,
    ) {
        let lookup = PendingRef {
            day,
            key: key.map(|k| k.id.as_str()),
            dataset,
        };
        let mut pending = self.pending.lock().expect("lock");
        if let Some(n) = pending.get_mut(&lookup) {
            *n += 1;
            return;
        }
        let counter = Pending {
            day,
            key: key.map(|k| ById(Arc::clone(k))),
            dataset: dataset.map(|(a, d)| (a.to_owned(), d.to_owned())),
        };
        pending.insert(counter, 1);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Arc<KeyRecord> {
        Arc::new(KeyRecord {
            id: id.to_owned(),
            developer_id: "dev".to_owned(),
            tier: "free".to_owned(),
            expires_at: None,
            revoked: false,
        })
    }

    #[test]
    fn borrowed_lookups_find_the_counters_they_name_and_no_other() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let k1 = key("k1");
        let mut map: HashMap<Pending, u64> = HashMap::new();
        let counters = [
            (None, None),
            (Some("k1"), None),
            (None, Some(("dlh", "udara"))),
            (Some("k1"), Some(("dlh", "udara"))),
            (Some("k1"), Some(("dlh", "sampah"))),
        ];
        for (n, (k, dataset)) in counters.iter().enumerate() {
            let p = Pending {
                day,
                key: k.map(|_| ById(Arc::clone(&k1))),
                dataset: dataset.map(|(a, d)| (a.to_owned(), d.to_owned())),
            };
            map.insert(p, n as u64);
        }
        for (n, (k, dataset)) in counters.iter().enumerate() {
            let r = PendingRef {
                day,
                key: *k,
                dataset: *dataset,
            };
            assert_eq!(map.get(&r), Some(&(n as u64)), "{k:?} {dataset:?}");
        }
        let other_day = PendingRef {
            day: day.succ_opt().unwrap(),
            key: None,
            dataset: None,
        };
        assert_eq!(map.get(&other_day), None);
        let other_key = PendingRef {
            day,
            key: Some("k2"),
            dataset: None,
        };
        assert_eq!(map.get(&other_key), None);
    }
}
