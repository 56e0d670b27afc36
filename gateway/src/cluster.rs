//! The link between gateway nodes: one Redis, optional.
//!
//! It carries shared rate limits (see `limits`), a pub/sub channel for events every node must
//! hear (key revocations now, cache purges later) and a heartbeat so each node knows how many
//! nodes share the limits. Redis is never trusted to be up: every call gives up after
//! [`CALL_TIMEOUT`], a failure marks the link down so requests stop waiting on it, and a
//! background task reconnects and marks it up again.
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

use crate::metrics::Metrics;

/// The longest any request waits on Redis.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(100);
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);
const HEARTBEAT_EVERY: u32 = 4; // health ticks: a heartbeat every 2 s
const NODE_TTL_SECONDS: u32 = 10;

/// Something every node must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Keys (by hash) were revoked, rolled or changed tier: drop them from key caches.
    KeysChanged(Vec<String>),
    /// A dataset's metadata or versions changed: drop what was resolved for it.
    DatasetChanged { agency: String, dataset: String },
    /// Something else in the catalog changed (an agency): drop the catalog answers.
    CatalogChanged,
}

impl Event {
    fn encode(&self) -> String {
        match self {
            Event::KeysChanged(hashes) => format!("keys:{}", hashes.join(",")),
            Event::DatasetChanged { agency, dataset } => format!("dataset:{agency}/{dataset}"),
            Event::CatalogChanged => "catalog:".to_owned(),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        let (kind, rest) = s.split_once(':')?;
        match kind {
            "keys" => Some(Event::KeysChanged(
                rest.split(',')
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(str::to_owned)
                    .collect(),
            )),
            "dataset" => {
                let (agency, dataset) = rest.split_once('/')?;
                let slug = |s: &str| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                };
                (slug(agency) && slug(dataset)).then(|| Event::DatasetChanged {
                    agency: agency.to_owned(),
                    dataset: dataset.to_owned(),
                })
            }
            "catalog" => Some(Event::CatalogChanged),
            _ => None,
        }
    }
}

pub struct Cluster {
    client: redis::Client,
    prefix: String,
    node_id: String,
    conn: Mutex<Option<MultiplexedConnection>>,
    up: AtomicBool,
    subscribed: AtomicBool,
    nodes: AtomicU32,
    heartbeat: redis::Script,
    metrics: Arc<Metrics>,
}

const HEARTBEAT: &str = r"
local t = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], t, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])
";

fn connection_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_millis(500))
        .set_response_timeout(CALL_TIMEOUT)
}

impl Cluster {
    /// Builds the link; it connects in the background, so a Redis that is down at start only
    /// means this node starts on its local limits.
    pub fn new(url: &str, prefix: &str, metrics: Arc<Metrics>) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("redis_url is not a valid Redis URL: {e}"))?;
        Ok(Arc::new(Self {
            client,
            prefix: prefix.to_owned(),
            node_id: uuid::Uuid::new_v4().to_string(),
            conn: Mutex::new(None),
            up: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            nodes: AtomicU32::new(1),
            heartbeat: redis::Script::new(HEARTBEAT),
            metrics,
        }))
    }

    /// A key in this deployment's namespace.
    pub fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    /// This deployment's namespace, the first part of every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn channel(&self) -> String {
        self.key("events")
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Whether this node hears events through pub/sub right now (else it polls).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    /// Nodes that sent a heartbeat recently (at least 1); the last known value while Redis is down.
    pub fn nodes(&self) -> u32 {
        self.nodes.load(Ordering::Relaxed).max(1)
    }

    /// The connection, or `None` while the link is down (callers then act locally at once).
    pub fn connection(&self) -> Option<MultiplexedConnection> {
        if !self.is_up() {
            return None;
        }
        self.conn.lock().expect("lock").clone()
    }

    /// Marks the link down after a failed or slow call; the health task brings it back.
    pub fn mark_down(&self, why: &str) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                reason = why,
                nodes = self.nodes(),
                "Redis is unreachable: limiting locally at limit ÷ nodes until it is back"
            );
        }
        self.metrics.redis_up.set(0);
        *self.conn.lock().expect("lock") = None;
    }

    fn mark_up(&self, conn: MultiplexedConnection) {
        *self.conn.lock().expect("lock") = Some(conn);
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis is reachable: limits are shared again");
        }
        self.metrics.redis_up.set(1);
    }

    /// Tells every node (this one included, through its subscription). Best effort: on failure
    /// the other nodes' polling and cache TTLs are the backstop.
    pub async fn publish(&self, event: &Event) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let cmd = redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(event.encode())
            .to_owned();
        let sent: Result<Result<i64, _>, _> =
            tokio::time::timeout(CALL_TIMEOUT, cmd.query_async(&mut conn)).await;
        if !matches!(sent, Ok(Ok(_))) {
            self.mark_down("publish failed");
        }
    }

    /// A new connection, driven by a task on the calling thread's runtime.
    pub(crate) async fn connect(&self) -> Option<MultiplexedConnection> {
        let config = connection_config();
        let attempt = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(Duration::from_secs(1), attempt).await {
            Ok(Ok(c)) => Some(c),
            _ => None,
        }
    }

    async fn ping(conn: &mut MultiplexedConnection) -> bool {
        let ping = redis::cmd("PING").to_owned();
        matches!(
            tokio::time::timeout(CALL_TIMEOUT, ping.query_async::<String>(conn)).await,
            Ok(Ok(_))
        )
    }

    async fn heartbeat(&self, conn: &mut MultiplexedConnection) {
        let mut call = self.heartbeat.key(self.key("nodes"));
        call.arg(&self.node_id).arg(NODE_TTL_SECONDS);
        if let Ok(Ok(n)) = tokio::time::timeout(CALL_TIMEOUT, call.invoke_async::<u32>(conn)).await
        {
            self.nodes.store(n.max(1), Ordering::Relaxed);
            self.metrics.nodes.set(n.max(1) as i64);
        }
    }

    /// Keeps the link healthy: reconnects, pings, sends heartbeats. Runs until the process ends.
    pub fn spawn_health(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = 0u32;
            let mut interval = tokio::time::interval(HEALTH_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let current = this.conn.lock().expect("lock").clone();
                let conn = match current {
                    Some(mut c) => {
                        if Self::ping(&mut c).await {
                            Some(c)
                        } else {
                            this.mark_down("ping failed");
                            None
                        }
                    }
                    None => match this.connect().await {
                        Some(mut c) => Self::ping(&mut c).await.then_some(c),
                        None => None,
                    },
                };
                if let Some(mut c) = conn {
                    if !this.is_up() || tick.is_multiple_of(HEARTBEAT_EVERY) {
                        this.heartbeat(&mut c).await;
                    }
                    this.mark_up(c);
                }
                tick = tick.wrapping_add(1);
            }
        });
    }

    /// Delivers every event on the channel to `on_event`, resubscribing after failures.
    pub fn spawn_subscriber(self: &Arc<Self>, on_event: impl Fn(Event) + Send + Sync + 'static) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let pubsub = tokio::time::timeout(Duration::from_secs(1), async {
                    let mut ps = this.client.get_async_pubsub().await?;
                    ps.subscribe(this.channel()).await?;
                    Ok::<_, redis::RedisError>(ps)
                })
                .await;
                if let Ok(Ok(mut ps)) = pubsub {
                    this.subscribed.store(true, Ordering::Relaxed);
                    tracing::debug!("subscribed to cluster events");
                    let mut messages = ps.on_message();
                    while let Some(msg) = messages.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        if let Some(event) = Event::decode(&payload) {
                            on_event(event);
                        }
                    }
                    this.subscribed.store(false, Ordering::Relaxed);
                    tracing::warn!("cluster event subscription lost; polling until it is back");
                }
                tokio::time::sleep(HEALTH_INTERVAL).await;
            }
        });
    }

    /// Removes this node from the heartbeat set (on graceful shutdown).
    pub async fn leave(&self) {
        if let Some(mut conn) = self.connection() {
            let cmd = redis::cmd("ZREM")
                .arg(self.key("nodes"))
                .arg(&self.node_id)
                .to_owned();
            let _ = tokio::time::timeout(CALL_TIMEOUT, cmd.query_async::<i64>(&mut conn)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_junk_is_dropped() {
        let h = "a".repeat(64);
        let e = Event::KeysChanged(vec![h.clone(), h.clone()]);
        assert_eq!(Event::decode(&e.encode()), Some(e));
        assert_eq!(
            Event::decode("keys:not-a-hash,'; DROP"),
            Some(Event::KeysChanged(vec![]))
        );
        let d = Event::DatasetChanged {
            agency: "dlh".into(),
            dataset: "titik-sampah".into(),
        };
        assert_eq!(Event::decode(&d.encode()), Some(d));
        assert_eq!(Event::decode("dataset:x/Y;"), None);
        assert_eq!(
            Event::decode(&Event::CatalogChanged.encode()),
            Some(Event::CatalogChanged)
        );
        assert_eq!(Event::decode("purge:x"), None);
        assert_eq!(Event::decode("nonsense"), None);
    }
}
