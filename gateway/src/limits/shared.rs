//! Shared decisions in Redis, batched.
//!
//! Every decision is one GCRA step in a Lua script, on Redis' clock, so any number of nodes
//! enforce one limit exactly. Decisions are not sent one call each: those that arrive while a
//! call is in flight wait for it and then go out together, as one script run over all of them
//! (in arrival order, so two decisions on one bucket see each other). An idle node sends each
//! decision at once; a busy one sends one call per round trip instead of one per request,
//! which is what the Redis limiter's speed rests on. There is no timer: batching only ever
//! waits for a call that is already under way.
//!
//! The batches go over a connection of their own, opened by the sending task, so its I/O runs
//! on the worker thread that serves the requests rather than handing each call to another
//! thread and back.
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use prometheus_client::metrics::counter::Counter;
use redis::aio::MultiplexedConnection;
use tokio::sync::oneshot;

use crate::cluster::{Cluster, CALL_TIMEOUT};

/// The most decisions in one call; the rest wait for the next.
const MAX_BATCH: usize = 256;

/// GCRA with a daily quota for each decision of a batch, atomically, on Redis' clock.
///
/// The batch comes grouped by bucket: `KEYS` holds each group's rate key and quota key,
/// `ARGV` its emission interval (µs), burst, daily quota (0: none) and number of decisions.
/// A group's decisions are taken one after the other, as separate calls at the same instant
/// would be, and its state is read once and written once. Returns four numbers per decision,
/// group by group: `verdict (1 allowed, 0 limited, 2 quota), remaining, reset_us, retry_us`.
const BATCH_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out, o = {}, 0
for g = 1, #KEYS / 2 do
  local rk, qk = KEYS[2 * g - 1], KEYS[2 * g]
  local T = tonumber(ARGV[4 * g - 3])
  local burst = tonumber(ARGV[4 * g - 2])
  local per_day = tonumber(ARGV[4 * g - 1])
  local n = tonumber(ARGV[4 * g])
  local used, counted = 0, 0
  if per_day > 0 then used = tonumber(redis.call('GET', qk) or '0') end
  local tat = tonumber(redis.call('GET', rk) or '0')
  if tat < now then tat = now end
  for i = 1, n do
    if per_day > 0 and used + counted >= per_day then
      out[o + 1] = 2; out[o + 2] = 0; out[o + 3] = 0; out[o + 4] = 0
    else
      local new_tat = tat + T
      local allow_at = new_tat - burst * T
      if now < allow_at then
        out[o + 1] = 0; out[o + 2] = 0; out[o + 3] = tat - now; out[o + 4] = allow_at - now
      else
        tat = new_tat
        counted = counted + 1
        out[o + 1] = 1; out[o + 2] = math.floor((now - allow_at) / T)
        out[o + 3] = new_tat - now; out[o + 4] = 0
      end
    end
    o = o + 4
  end
  if counted > 0 then
    redis.call('SET', rk, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
    if per_day > 0 and redis.call('INCRBY', qk, counted) == counted then
      redis.call('EXPIRE', qk, 172800)
    end
  end
end
return out
";

/// Made once: a `Script` holds its source, which a clone would copy.
static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(BATCH_LUA));

/// One decision to make in Redis.
pub struct Ask {
    /// The rate key followed by the quota key; the quota key starts at `split`.
    pub keys: String,
    pub split: usize,
    pub emission_us: u64,
    pub burst: u32,
    pub per_day: u64,
}

/// Redis' answer to one [`Ask`]: `verdict, remaining, reset_us, retry_us` (see [`BATCH_LUA`]).
pub type Answer = [i64; 4];

type Waiting = (Ask, oneshot::Sender<Option<Answer>>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Whether a sender task is running; it drains the queue until it finds it empty.
    sending: bool,
}

/// The batching sender. Cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    queue: Arc<Mutex<Queue>>,
    cluster: Arc<Cluster>,
    conn: Arc<Mutex<Option<MultiplexedConnection>>>,
    calls: Counter,
}

impl Batcher {
    /// `calls` counts the calls sent.
    pub fn new(cluster: Arc<Cluster>, calls: Counter) -> Self {
        Self {
            queue: Arc::default(),
            cluster,
            conn: Arc::default(),
            calls,
        }
    }

    /// The link these decisions go over.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Redis' decision, or `None` when Redis failed or is down (the caller decides locally).
    pub async fn decide(&self, ask: Ask) -> Option<Answer> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().expect("lock");
            q.waiting.push((ask, tx));
            !std::mem::replace(&mut q.sending, true)
        };
        if start {
            tokio::spawn(self.clone().send_all());
        }
        // No timer per request: the sender answers each ask it takes within CALL_TIMEOUT, twice
        // that when it must first open its connection (after a failure the link is down and the
        // rest are answered at once), and if it dies
        // (its runtime stopped) it drops every waiting ask, which the caller sees here and
        // then decides locally.
        rx.await.ok().flatten()
    }

    /// Sends what is queued, one call per batch, until the queue is empty.
    async fn send_all(self) {
        // If this task is dropped mid-way (its runtime stopped), the asks waiting are dropped
        // too (their callers decide locally), and the next ask starts a new sender.
        struct Dropped(Option<Arc<Mutex<Queue>>>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                if let Some(mut q) = self.0.as_ref().and_then(|q| q.lock().ok()) {
                    q.waiting.clear();
                    q.sending = false;
                }
            }
        }
        let mut dropped = Dropped(Some(Arc::clone(&self.queue)));
        loop {
            let batch: Vec<Waiting> = {
                let mut q = self.queue.lock().expect("lock");
                if q.waiting.is_empty() {
                    // Under the lock that saw the queue empty: the next ask starts a sender.
                    q.sending = false;
                    dropped.0 = None;
                    return;
                }
                let mut batch = std::mem::take(&mut q.waiting);
                if batch.len() > MAX_BATCH {
                    q.waiting = batch.split_off(MAX_BATCH);
                }
                batch
            };
            let answers = self.call(&batch).await;
            for (i, (_, reply)) in batch.into_iter().enumerate() {
                let answer = answers.as_ref().map(|a| a[i]);
                // The request may have gone (client closed): nothing to tell.
                let _ = reply.send(answer);
            }
        }
    }

    /// The batches' connection, opened on first use and after the link was down.
    async fn connection(&self) -> Option<MultiplexedConnection> {
        if !self.cluster.is_up() {
            *self.conn.lock().expect("lock") = None;
            return None;
        }
        if let Some(c) = self.conn.lock().expect("lock").clone() {
            return Some(c);
        }
        let Ok(Some(c)) = tokio::time::timeout(CALL_TIMEOUT, self.cluster.connect()).await else {
            self.cluster
                .mark_down("could not open the rate-limit connection");
            return None;
        };
        *self.conn.lock().expect("lock") = Some(c.clone());
        Some(c)
    }

    fn failed(&self, why: &str) {
        *self.conn.lock().expect("lock") = None;
        self.cluster.mark_down(why);
    }

    /// One script call for the batch; the answers in the batch's order.
    async fn call(&self, batch: &[Waiting]) -> Option<Vec<Answer>> {
        let mut conn = self.connection().await?;
        // Group by bucket (in order of first appearance; each group keeps arrival order): a
        // hot key sends its keys and arguments once, not once per request.
        let mut groups: Vec<((&str, &str), &Ask, Vec<usize>)> = Vec::new();
        let mut index: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, (ask, _)) in batch.iter().enumerate() {
            let keys = ask.keys.split_at(ask.split);
            let g = *index.entry(keys).or_insert_with(|| {
                groups.push((keys, ask, Vec::new()));
                groups.len() - 1
            });
            groups[g].2.push(i);
        }
        let mut invocation = SCRIPT.prepare_invoke();
        for ((rate_key, quota_key), ask, members) in &groups {
            invocation.key(*rate_key).key(*quota_key);
            invocation
                .arg(ask.emission_us)
                .arg(ask.burst)
                .arg(ask.per_day)
                .arg(members.len());
        }
        self.calls.inc();
        let answer =
            tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async::<Vec<i64>>(&mut conn))
                .await;
        match answer {
            Ok(Ok(v)) if v.len() == 4 * batch.len() => {
                let mut answers = vec![[0; 4]; batch.len()];
                let mut next = v.chunks_exact(4);
                for (_, _, members) in &groups {
                    for &i in members {
                        answers[i].copy_from_slice(next.next().expect("length checked"));
                    }
                }
                Some(answers)
            }
            Ok(Ok(_)) | Ok(Err(_)) => {
                self.failed("rate-limit script failed");
                None
            }
            Err(_) => {
                self.failed("rate-limit script timed out");
                None
            }
        }
    }
}
