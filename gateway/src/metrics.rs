//! Prometheus metrics (prometheus-client), rendered at `/metrics`.
//!
//! Counters that tests also read to prove a path was (not) taken: e.g. a mistyped key must not
//! reach `gerbang_key_lookups_total`.
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// Where a rate-limit decision was made.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Local = 0,
    Redis = 1,
    Fallback = 2,
}

pub struct Metrics {
    registry: Registry,
    /// Rate-limit decisions by `backend` (local, redis, fallback) and `result`.
    pub limit_decisions: Family<Labels, Counter>,
    /// 1 while the shared Redis answers, 0 while this node limits on its own.
    pub redis_up: Gauge,
    /// Gateway nodes seen in Redis (the divisor of the fallback limits).
    pub nodes: Gauge,
    /// Key verifications that went to the database, by `result` (found, missing).
    pub key_lookups: Family<Labels, Counter>,
    /// Keys refused, by `reason` (format, unknown, revoked, expired).
    pub key_rejections: Family<Labels, Counter>,
    /// Key-cache invalidations received, by `source` (local, pubsub, poll).
    pub key_invalidations: Family<Labels, Counter>,
    /// Usage counters written to the database.
    pub usage_rows_flushed: Counter,
    /// Usage flushes that failed and were retried.
    pub usage_flush_errors: Counter,
    /// Response-cache lookups in process (`l1`) and in Redis (`l2`).
    pub cache_l1: crate::cache::LayerCounters,
    pub cache_l2: crate::cache::LayerCounters,
    /// The catalog-answer cache (`layer="catalog"`).
    pub cache_catalog: crate::cache::LayerCounters,
    /// Answers repeated by a worker thread's hot answers (`layer="hot"`, hits only: a miss
    /// there is an L1 lookup, counted as such).
    pub cache_hot_hits: Counter,
    /// Reads of record tables (pages, records, aggregates): what the cache saves.
    pub record_reads: Counter,
    /// Statements that looked records up by `_id` on Postgres, batched: `record_reads` of
    /// single records ÷ these is the batch size.
    pub record_lookup_statements: Counter,
    /// Calls to Redis carrying rate-limit decisions: decisions ÷ calls is the batch size.
    pub limit_calls: Counter,
    /// `limit_decisions` resolved once per (backend, result): the hot path only increments.
    decisions: [[Counter; 3]; 3],
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gerbang");
        let up: Gauge = Gauge::default();
        up.set(1);
        registry.register("up", "1 while the process serves", up);
        let limit_decisions = Family::<Labels, Counter>::default();
        registry.register(
            "ratelimit_decisions",
            "Rate-limit decisions by backend and result",
            limit_decisions.clone(),
        );
        let redis_up = Gauge::default();
        registry.register(
            "redis_up",
            "1 while the shared Redis answers (0 also when none is configured)",
            redis_up.clone(),
        );
        let nodes = Gauge::default();
        nodes.set(1);
        registry.register("nodes", "Gateway nodes sharing the limits", nodes.clone());
        let key_lookups = Family::<Labels, Counter>::default();
        registry.register(
            "key_lookups",
            "API-key verifications that reached the database",
            key_lookups.clone(),
        );
        let key_rejections = Family::<Labels, Counter>::default();
        registry.register(
            "key_rejections",
            "API keys refused, by reason",
            key_rejections.clone(),
        );
        let key_invalidations = Family::<Labels, Counter>::default();
        registry.register(
            "key_invalidations",
            "Key-cache invalidations, by source",
            key_invalidations.clone(),
        );
        let usage_rows_flushed = Counter::default();
        registry.register(
            "usage_rows_flushed",
            "Usage counters written to the database",
            usage_rows_flushed.clone(),
        );
        let usage_flush_errors = Counter::default();
        registry.register(
            "usage_flush_errors",
            "Usage flushes that failed and were retried",
            usage_flush_errors.clone(),
        );
        let cache = Family::<Labels, Counter>::default();
        registry.register(
            "cache_requests",
            "Response-cache lookups by layer and result",
            cache.clone(),
        );
        // One statement per label set: `get_or_create` holds a read lock until its statement
        // ends, and creating the next set takes the write lock.
        let counter = |labels: Labels| -> Counter { cache.get_or_create(&labels).clone() };
        let layer = |name: &'static str| {
            let hits = counter(vec![("layer", name), ("result", "hit")]);
            let misses = counter(vec![("layer", name), ("result", "miss")]);
            crate::cache::LayerCounters { hits, misses }
        };
        let (cache_l1, cache_l2, cache_catalog) = (layer("l1"), layer("l2"), layer("catalog"));
        let cache_hot_hits = counter(vec![("layer", "hot"), ("result", "hit")]);
        let record_reads = Counter::default();
        registry.register(
            "record_reads",
            "Reads of record tables (pages, records, aggregates)",
            record_reads.clone(),
        );
        let record_lookup_statements = Counter::default();
        registry.register(
            "record_lookup_statements",
            "Statements that looked records up by _id on Postgres (one batch each)",
            record_lookup_statements.clone(),
        );
        let limit_calls = Counter::default();
        registry.register(
            "ratelimit_redis_calls",
            "Calls to Redis carrying rate-limit decisions (one batch each)",
            limit_calls.clone(),
        );
        let decisions = ["local", "redis", "fallback"].map(|backend| {
            ["allowed", "limited", "quota"].map(|result| {
                limit_decisions
                    .get_or_create(&vec![("backend", backend), ("result", result)])
                    .clone()
            })
        });
        Self {
            registry,
            decisions,
            cache_l1,
            cache_l2,
            cache_catalog,
            cache_hot_hits,
            record_reads,
            record_lookup_statements,
            limit_calls,
            limit_decisions,
            redis_up,
            nodes,
            key_lookups,
            key_rejections,
            key_invalidations,
            usage_rows_flushed,
            usage_flush_errors,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    pub fn decision(&self, backend: Backend, verdict: crate::limits::Verdict) {
        let result = match verdict {
            crate::limits::Verdict::Allowed => 0,
            crate::limits::Verdict::RateLimited => 1,
            crate::limits::Verdict::QuotaExceeded => 2,
        };
        self.decisions[backend as usize][result].inc();
    }

    pub fn count(family: &Family<Labels, Counter>, labels: &[(&'static str, &'static str)]) {
        family.get_or_create(&labels.to_vec()).inc();
    }
}
