//! Rate limits and daily quotas.
//!
//! One algorithm, GCRA, in two places: governor in process for one node, and a Lua script in
//! Redis (using Redis' own clock, so node clocks do not matter) when nodes share limits. A
//! decision is one call either way. When Redis fails, the node limits locally at
//! `limit ÷ nodes` (never unlimited) until the link is back.
//!
//! Headers follow the contract: `RateLimit-Limit/Remaining/Reset`, where Reset is the seconds
//! until the whole allowance is back, and the structured `RateLimit-Policy` / `RateLimit` pair.
use std::collections::HashMap;
use std::fmt::Write;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::{BufMut, Bytes, BytesMut};
use chrono::{NaiveDate, Utc};
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::cluster::{Cluster, CALL_TIMEOUT};
use crate::metrics::{Backend, Metrics};

mod shared;

/// A limit: `limit` requests per `window_seconds`, with an optional daily quota. Built once at
/// start, with its in-process limiter and its constant header values.
#[derive(Clone)]
pub struct Policy {
    /// Distinguishes buckets: `tier:free`, `signup`, …
    pub name: String,
    /// The window's name in the structured headers (`minute`, `hour`).
    pub window_name: &'static str,
    pub window_seconds: u32,
    pub limit: u32,
    pub per_day: Option<u64>,
    /// The in-process limiter at the full limit (one node, or no Redis).
    local: Arc<Gcra>,
    limit_header: HeaderValue,
    policy_header: HeaderValue,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("window_seconds", &self.window_seconds)
            .field("per_day", &self.per_day)
            .finish()
    }
}

/// Microseconds between two requests at the steady rate of `limit` per window (at least 1).
fn emission_us(limit: u32, window_seconds: u32) -> u64 {
    (window_seconds as u64 * 1_000_000 / limit.max(1) as u64).max(1)
}

fn gcra(limit: u32, window_seconds: u32) -> Arc<Gcra> {
    let period = Duration::from_micros(emission_us(limit, window_seconds));
    let quota = Quota::with_period(period)
        .expect("period is positive")
        .allow_burst(NonZeroU32::new(limit).expect("limit ≥ 1"));
    Arc::new(RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>())
}

impl Policy {
    fn new(
        name: String,
        window_name: &'static str,
        window_seconds: u32,
        limit: u32,
        per_day: Option<u64>,
    ) -> Self {
        let limit = limit.max(1);
        Self {
            local: gcra(limit, window_seconds),
            limit_header: HeaderValue::from(limit),
            policy_header: policy_header(window_name, limit, window_seconds),
            name,
            window_name,
            window_seconds,
            limit,
            per_day,
        }
    }

    pub fn per_minute(name: impl Into<String>, limit: u32, per_day: Option<u64>) -> Self {
        Self::new(name.into(), "minute", 60, limit, per_day)
    }

    pub fn per_hour(name: impl Into<String>, limit: u32) -> Self {
        Self::new(name.into(), "hour", 3600, limit, None)
    }
}

/// Who a limit counts: a key, a client address or a named guard, with its in-process key
/// hashed once when the bucket is made.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    who: Who<'a>,
    local: u64,
}

#[derive(Debug, Clone, Copy, Hash)]
enum Who<'a> {
    Key(&'a str),
    Ip(IpAddr),
    Named(&'a str),
}

/// The in-process keys' hasher, seeded at random per process.
static LOCAL_HASHER: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

impl<'a> Bucket<'a> {
    fn new(who: Who<'a>) -> Self {
        Self {
            local: LOCAL_HASHER.hash_one(who),
            who,
        }
    }

    /// A developer's key, by its id.
    pub fn key(id: &'a str) -> Self {
        Self::new(Who::Key(id))
    }

    pub fn ip(ip: IpAddr) -> Self {
        Self::new(Who::Ip(ip))
    }

    pub fn named(name: &'a str) -> Self {
        Self::new(Who::Named(name))
    }

    /// The bucket's keys in Redis for `policy`: the rate key, then the quota key of `today`,
    /// written into one string (one allocation per request); [`shared::Ask`] splits them.
    /// Both keys carry the bucket in a hash tag (one Redis Cluster slot per bucket).
    fn redis_keys(&self, prefix: &str, policy: &str, today: NaiveDate) -> (String, usize) {
        let mut keys = String::with_capacity(2 * (prefix.len() + policy.len()) + 80);
        let _ = write!(keys, "{prefix}:rl:{policy}:{{{}}}", self.who);
        let split = keys.len();
        let _ = write!(keys, "{prefix}:q:{policy}:{{{}}}:{today}", self.who);
        (keys, split)
    }
}

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Key(k) => write!(f, "k:{k}"),
            Who::Ip(ip) => write!(f, "ip:{ip}"),
            Who::Named(n) => write!(f, "n:{n}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    RateLimited,
    QuotaExceeded,
}

/// The outcome of one check, with everything the headers need.
#[derive(Debug, Clone)]
pub struct Decision {
    pub verdict: Verdict,
    limit_header: Option<HeaderValue>,
    policy_header: Option<HeaderValue>,
    pub limit: u32,
    pub remaining: u32,
    pub window_name: &'static str,
    pub window_seconds: u32,
    /// Seconds until the whole allowance is back.
    pub reset_seconds: u64,
    /// Seconds to wait before retrying (only when not allowed); never less than the real wait.
    pub retry_after: u64,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.verdict == Verdict::Allowed
    }

    /// Adds the contract's rate-limit headers. The three values that change per request share
    /// one buffer, formatted once: this runs on every gated request.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        // `"minute";r=R;t=T`, with R and T sliced out of it for the two plain headers
        let mut digits = itoa::Buffer::new();
        let mut buf = BytesMut::with_capacity(48);
        for part in ["\"", self.window_name, "\";r="] {
            buf.put_slice(part.as_bytes());
        }
        let remaining_at = buf.len();
        buf.put_slice(digits.format(self.remaining).as_bytes());
        let remaining = remaining_at..buf.len();
        buf.put_slice(b";t=");
        let reset_at = buf.len();
        buf.put_slice(digits.format(self.reset_seconds).as_bytes());
        let reset = reset_at..buf.len();
        let buf = buf.freeze();
        let value = |b: Bytes| HeaderValue::from_maybe_shared(b).expect("digits and ASCII");

        let limit = match &self.limit_header {
            Some(v) => v.clone(),
            None => HeaderValue::from(self.limit),
        };
        headers.insert(RATELIMIT_LIMIT, limit);
        headers.insert(RATELIMIT_REMAINING, value(buf.slice(remaining)));
        headers.insert(RATELIMIT_RESET, value(buf.slice(reset)));
        let policy = self
            .policy_header
            .clone()
            .unwrap_or_else(|| policy_header(self.window_name, self.limit, self.window_seconds));
        headers.insert(RATELIMIT_POLICY, policy);
        headers.insert(RATELIMIT, value(buf));
    }
}

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

fn policy_header(window_name: &str, limit: u32, window_seconds: u32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{window_name}\";q={limit};w={window_seconds}"))
        .expect("ASCII")
}

fn ceil_secs(us: u64) -> u64 {
    us.div_ceil(1_000_000)
}

fn seconds_to_midnight_utc() -> u64 {
    let now = Utc::now();
    let tomorrow = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    (tomorrow - now).num_seconds().max(1) as u64
}

type Gcra = RateLimiter<u64, DefaultKeyedStateStore<u64>, DefaultClock, StateInformationMiddleware>;

/// In-process limits: each policy's own limiter (full limit), limiters at limit ÷ nodes made on
/// demand for the Redis fallback, and daily counters.
#[derive(Default)]
struct Local {
    divided: RwLock<HashMap<(String, u32), Arc<Gcra>>>,
    /// The policies' own limiters, for pruning.
    watched: RwLock<Vec<Arc<Gcra>>>,
    /// bucket key → (day, requests allowed that day)
    quotas: DashMap<u64, (NaiveDate, u64)>,
}

impl Local {
    fn limiter(&self, policy: &Policy, divisor: u32) -> (Arc<Gcra>, u32) {
        if divisor <= 1 {
            return (Arc::clone(&policy.local), policy.limit);
        }
        let limit = (policy.limit / divisor).max(1);
        let id = (policy.name.clone(), divisor);
        if let Some(l) = self.divided.read().expect("lock").get(&id) {
            return (Arc::clone(l), limit);
        }
        let mut map = self.divided.write().expect("lock");
        let l = map
            .entry(id)
            .or_insert_with(|| gcra(limit, policy.window_seconds));
        (Arc::clone(l), limit)
    }

    fn quota_used(&self, bucket: u64, today: NaiveDate) -> u64 {
        self.quotas
            .get(&bucket)
            .filter(|e| e.0 == today)
            .map(|e| e.1)
            .unwrap_or(0)
    }

    fn check(&self, bucket: u64, policy: &Policy, divisor: u32, today: NaiveDate) -> Decision {
        let (gcra, limit) = self.limiter(policy, divisor);
        let full = divisor <= 1;
        let window = |verdict, remaining, reset_seconds, retry_after| Decision {
            limit_header: full.then(|| policy.limit_header.clone()),
            policy_header: full.then(|| policy.policy_header.clone()),
            verdict,
            limit,
            remaining,
            window_name: policy.window_name,
            window_seconds: policy.window_seconds,
            reset_seconds,
            retry_after,
        };
        // The day's count, when there is a quota: one map entry, held across the decision.
        let mut day = policy.per_day.map(|per_day| {
            let per_day = (per_day / divisor.max(1) as u64).max(1);
            let mut e = self.quotas.entry(bucket).or_insert((today, 0));
            if e.0 != today {
                *e = (today, 0);
            }
            (e, per_day)
        });
        if day.as_ref().is_some_and(|(e, per_day)| e.1 >= *per_day) {
            return window(Verdict::QuotaExceeded, 0, 0, seconds_to_midnight_utc());
        }
        let emission = emission_us(limit, policy.window_seconds);
        match gcra.check_key(&bucket) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                if let Some((e, _)) = day.as_mut() {
                    e.1 += 1;
                }
                let reset = ceil_secs((limit - remaining) as u64 * emission);
                window(Verdict::Allowed, remaining, reset, 0)
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let retry = ceil_secs(wait.as_micros() as u64).max(1);
                let reset = ceil_secs(limit as u64 * emission);
                window(Verdict::RateLimited, 0, reset, retry)
            }
        }
    }

    /// Sets a bucket's count for today when it is unknown (a node's first sight of a key today).
    fn seed_quota(&self, bucket: u64, today: NaiveDate, used: u64) {
        let mut e = self.quotas.entry(bucket).or_insert((today, used));
        if e.0 != today {
            *e = (today, used);
        }
    }

    fn knows_today(&self, bucket: u64, today: NaiveDate) -> bool {
        self.quotas.get(&bucket).is_some_and(|e| e.0 == today)
    }

    fn all(&self) -> Vec<Arc<Gcra>> {
        let divided = self.divided.read().expect("lock");
        self.watched
            .read()
            .expect("lock")
            .iter()
            .chain(divided.values())
            .cloned()
            .collect()
    }

    /// Drops idle state so a flood of distinct clients cannot grow memory without bound.
    fn prune(&self) {
        for gcra in self.all() {
            gcra.retain_recent();
            gcra.shrink_to_fit();
        }
        let today = Utc::now().date_naive();
        self.quotas.retain(|_, (day, _)| *day == today);
        self.quotas.shrink_to_fit();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.all().iter().map(|g| g.len()).sum()
    }
}

pub struct Limiter {
    local: Local,
    /// The shared limits, when `redis_url` is set.
    shared: Option<shared::Batcher>,
    metrics: Arc<Metrics>,
}

impl Limiter {
    pub fn new(cluster: Option<Arc<Cluster>>, metrics: Arc<Metrics>) -> Self {
        Self {
            local: Local::default(),
            shared: cluster.map(|c| shared::Batcher::new(c, metrics.limit_calls.clone())),
            metrics,
        }
    }

    /// One decision for `bucket` under `policy`: shared when Redis is up, else local.
    /// `today` (UTC) names the day whose quota counts.
    pub async fn check(&self, bucket: &Bucket<'_>, policy: &Policy, today: NaiveDate) -> Decision {
        let (decision, backend) = match &self.shared {
            None => (
                self.local.check(bucket.local, policy, 1, today),
                Backend::Local,
            ),
            Some(shared) => match Self::check_shared(shared, bucket, policy, today).await {
                Some(d) => (d, Backend::Redis),
                None => (
                    self.local
                        .check(bucket.local, policy, shared.cluster().nodes(), today),
                    Backend::Fallback,
                ),
            },
        };
        self.metrics.decision(backend, decision.verdict);
        decision
    }

    /// Lets the pruner reach a policy's own limiter.
    pub fn watch(&self, policy: &Policy) {
        self.local
            .watched
            .write()
            .expect("lock")
            .push(Arc::clone(&policy.local));
    }

    async fn check_shared(
        shared: &shared::Batcher,
        bucket: &Bucket<'_>,
        policy: &Policy,
        today: NaiveDate,
    ) -> Option<Decision> {
        let cluster = shared.cluster();
        if !cluster.is_up() {
            return None;
        }
        // A batch spans many buckets, so it needs one Redis (not a Redis Cluster), as
        // `redis_url` names.
        let (keys, split) = bucket.redis_keys(cluster.prefix(), &policy.name, today);
        let ask = shared::Ask {
            keys,
            split,
            emission_us: emission_us(policy.limit, policy.window_seconds),
            burst: policy.limit,
            per_day: policy.per_day.unwrap_or(0),
        };
        let v = shared.decide(ask).await?;
        let us = |x: i64| x.max(0) as u64;
        let (verdict, remaining, reset, retry) = match v[0] {
            1 => (
                Verdict::Allowed,
                v[1].clamp(0, policy.limit as i64) as u32,
                ceil_secs(us(v[2])),
                0,
            ),
            2 => (Verdict::QuotaExceeded, 0, 0, seconds_to_midnight_utc()),
            _ => (
                Verdict::RateLimited,
                0,
                ceil_secs(us(v[2])),
                ceil_secs(us(v[3])).max(1),
            ),
        };
        Some(Decision {
            verdict,
            limit_header: Some(policy.limit_header.clone()),
            policy_header: Some(policy.policy_header.clone()),
            limit: policy.limit,
            remaining,
            window_name: policy.window_name,
            window_seconds: policy.window_seconds,
            reset_seconds: reset,
            retry_after: retry,
        })
    }

    /// Whether this node needs a seed for the bucket's daily count (local mode only; Redis
    /// keeps the shared count itself).
    pub fn needs_quota_seed(&self, bucket: &Bucket<'_>, policy: &Policy, today: NaiveDate) -> bool {
        policy.per_day.is_some()
            && self.shared.is_none()
            && !self.local.knows_today(bucket.local, today)
    }

    pub fn seed_quota(&self, bucket: &Bucket<'_>, used: u64, today: NaiveDate) {
        self.local.seed_quota(bucket.local, today, used);
    }

    /// Requests counted today against the bucket's daily quota.
    pub async fn quota_used(&self, bucket: &Bucket<'_>, policy: &Policy) -> u64 {
        let today = Utc::now().date_naive();
        if let Some(cluster) = self.shared.as_ref().map(shared::Batcher::cluster) {
            if let Some(mut conn) = cluster.connection() {
                let (keys, split) = bucket.redis_keys(cluster.prefix(), &policy.name, today);
                let get = redis::cmd("GET").arg(&keys[split..]).to_owned();
                if let Ok(Ok(n)) =
                    tokio::time::timeout(CALL_TIMEOUT, get.query_async::<Option<u64>>(&mut conn))
                        .await
                {
                    return n.unwrap_or(0);
                }
            }
        }
        self.local.quota_used(bucket.local, today)
    }

    /// Prunes idle local state every `every`; runs until the process ends.
    pub fn spawn_pruner(self: &Arc<Self>, every: Duration) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.tick().await;
            loop {
                interval.tick().await;
                this.local.prune();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn headers(d: &Decision) -> Vec<(String, String)> {
        let mut h = HeaderMap::new();
        d.write_headers(&mut h);
        let mut v: Vec<_> = h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_burst_counts_down_then_limits_with_a_real_wait() {
        let local = Local::default();
        let p = Policy::per_minute("t", 5, None);
        let remaining: Vec<u32> = (0..5)
            .map(|_| local.check(1, &p, 1, today()).remaining)
            .collect();
        assert_eq!(remaining, [4, 3, 2, 1, 0]);
        let denied = local.check(1, &p, 1, today());
        assert_eq!(denied.verdict, Verdict::RateLimited);
        // one request frees every 12 s; the first was just now
        assert!((11..=12).contains(&denied.retry_after), "{denied:?}");
        assert_eq!(
            headers(&denied),
            [
                ("ratelimit".into(), "\"minute\";r=0;t=60".into()),
                ("ratelimit-limit".into(), "5".into()),
                ("ratelimit-policy".into(), "\"minute\";q=5;w=60".into()),
                ("ratelimit-remaining".into(), "0".into()),
                ("ratelimit-reset".into(), "60".into()),
            ]
        );
        // another bucket is untouched
        assert_eq!(local.check(2, &p, 1, today()).remaining, 4);
    }

    #[test]
    fn the_daily_quota_stops_allowed_requests() {
        let local = Local::default();
        let p = Policy::per_minute("t", 100, Some(3));
        for _ in 0..3 {
            assert!(local.check(1, &p, 1, today()).allowed());
        }
        let d = local.check(1, &p, 1, today());
        assert_eq!(d.verdict, Verdict::QuotaExceeded);
        assert!(d.retry_after >= 1 && d.retry_after <= 86_400);
        // refused requests are not counted, and the next day starts from zero
        let tomorrow = today().succ_opt().unwrap();
        assert!(local.check(1, &p, 1, tomorrow).allowed());
        assert_eq!(local.quota_used(1, tomorrow), 1);

        let q = Policy::per_minute("q", 2, Some(100));
        for _ in 0..3 {
            local.check(7, &q, 1, today());
        }
        assert_eq!(
            local.quota_used(7, today()),
            2,
            "a rate-limited request is not counted"
        );
    }

    #[test]
    fn fallback_divides_the_limit_by_the_nodes() {
        let local = Local::default();
        let p = Policy::per_minute("t", 10, None);
        let allowed = (0..10)
            .filter(|_| local.check(1, &p, 3, today()).allowed())
            .count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn pruning_forgets_idle_clients() {
        let local = Local::default();
        let p = Policy::per_minute("t", 6000, None);
        local.watched.write().unwrap().push(Arc::clone(&p.local));
        for i in 0..1000u32 {
            local.check(i as u64, &p, 1, today());
        }
        assert_eq!(local.len(), 1000);
        // 6000/min refills a cell every 10 ms: after 30 ms every bucket is full again
        std::thread::sleep(Duration::from_millis(30));
        local.prune();
        assert_eq!(local.len(), 0);
    }
}

/// The shared limiter against the real Redis the test suite requires (127.0.0.1:6379).
#[cfg(test)]
mod shared_tests {
    use std::time::Instant;

    use futures::future::join_all;

    use super::*;

    async fn limiter(metrics: &Arc<Metrics>) -> Limiter {
        let prefix = format!("test-limits-{}", uuid::Uuid::new_v4());
        let cluster = Cluster::new("redis://127.0.0.1:6379", &prefix, Arc::clone(metrics))
            .expect("a valid URL");
        cluster.spawn_health();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cluster.is_up() {
            assert!(
                Instant::now() < deadline,
                "Redis at 127.0.0.1:6379 is required by this test"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Limiter::new(Some(cluster), Arc::clone(metrics))
    }

    #[tokio::test]
    async fn concurrent_decisions_share_one_call_and_each_counts_in_arrival_order() {
        let metrics = Arc::new(Metrics::default());
        let limiter = limiter(&metrics).await;
        let day = Utc::now().date_naive(); // `quota_used` reads today's count
        let rate = Policy::per_minute("rate", 10, None);
        let quota = Policy::per_minute("quota", 100, Some(5));
        let (a, b) = (Bucket::key("a"), Bucket::key("b"));
        let c = Bucket::ip("203.0.113.7".parse().unwrap());

        // 30 on a (10 per minute), 8 on b (5 per day) and 3 on c, interleaved, all at once
        let mut asks = Vec::new();
        for i in 0..30 {
            asks.push(("a", limiter.check(&a, &rate, day)));
            if i < 8 {
                asks.push(("b", limiter.check(&b, &quota, day)));
            }
            if i < 3 {
                asks.push(("c", limiter.check(&c, &rate, day)));
            }
        }
        let (names, futures): (Vec<_>, Vec<_>) = asks.into_iter().unzip();
        let decisions = join_all(futures).await;
        let of = |name| {
            names
                .iter()
                .zip(&decisions)
                .filter(move |(n, _)| **n == name)
                .map(|(_, d)| d)
        };

        let a: Vec<_> = of("a").collect();
        let allowed: Vec<u32> = a
            .iter()
            .filter(|d| d.allowed())
            .map(|d| d.remaining)
            .collect();
        assert_eq!(
            allowed,
            (0..10).rev().collect::<Vec<_>>(),
            "the first 10 in order"
        );
        assert!(a[..10].iter().all(|d| d.allowed()));
        for refused in &a[10..] {
            assert_eq!(refused.verdict, Verdict::RateLimited);
            // one request frees every 6 s
            assert!((5..=6).contains(&refused.retry_after), "{refused:?}");
        }
        let b: Vec<_> = of("b").map(|d| d.verdict).collect();
        assert_eq!(b[..5], [Verdict::Allowed; 5]);
        assert_eq!(b[5..], [Verdict::QuotaExceeded; 3]);
        let c: Vec<_> = of("c").map(|d| d.remaining).collect();
        assert_eq!(c, [9, 8, 7], "another bucket counts on its own");

        assert_eq!(
            metrics.limit_calls.get(),
            1,
            "41 decisions that arrived together go out in one call"
        );
        assert_eq!(limiter.quota_used(&Bucket::key("b"), &quota).await, 5);
        let fallback = metrics
            .limit_decisions
            .get_or_create(&vec![("backend", "fallback"), ("result", "allowed")])
            .get();
        assert_eq!(fallback, 0, "every decision was Redis'");

        // the state written back is what the next call starts from
        let next = limiter.check(&Bucket::key("a"), &rate, day).await;
        assert_eq!(next.verdict, Verdict::RateLimited);
        let next_b = limiter.check(&Bucket::key("b"), &quota, day).await;
        assert_eq!(next_b.verdict, Verdict::QuotaExceeded);
        assert_eq!(metrics.limit_calls.get(), 3);
    }
}
