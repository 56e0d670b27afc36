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
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use chrono::{NaiveDate, Utc};
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::cluster::{Cluster, CALL_TIMEOUT};
use crate::metrics::{Backend, Metrics};

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
        let header = |s: String| HeaderValue::from_str(&s).expect("ASCII");
        Self {
            local: gcra(limit, window_seconds),
            limit_header: header(limit.to_string()),
            policy_header: header(format!("\"{window_name}\";q={limit};w={window_seconds}")),
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

/// Who a limit counts: a key, or a client address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    Key(String),
    Ip(IpAddr),
    Named(String),
}

impl Bucket {
    /// The in-process key: a 64-bit hash (no allocation per request).
    fn local_key(&self) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(self)
    }

    fn id(&self) -> String {
        match self {
            Bucket::Key(k) => format!("k:{k}"),
            Bucket::Ip(ip) => format!("ip:{ip}"),
            Bucket::Named(n) => format!("n:{n}"),
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

    /// Adds the contract's rate-limit headers.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let number = |n: u64| HeaderValue::from(n);
        headers.insert(
            HeaderName::from_static("ratelimit-limit"),
            self.limit_header
                .clone()
                .unwrap_or_else(|| number(self.limit as u64)),
        );
        headers.insert(
            HeaderName::from_static("ratelimit-remaining"),
            number(self.remaining as u64),
        );
        headers.insert(
            HeaderName::from_static("ratelimit-reset"),
            number(self.reset_seconds),
        );
        let policy = self.policy_header.clone().or_else(|| {
            HeaderValue::from_str(&format!(
                "\"{}\";q={};w={}",
                self.window_name, self.limit, self.window_seconds
            ))
            .ok()
        });
        if let Some(p) = policy {
            headers.insert(HeaderName::from_static("ratelimit-policy"), p);
        }
        if let Ok(v) = HeaderValue::from_str(&format!(
            "\"{}\";r={};t={}",
            self.window_name, self.remaining, self.reset_seconds
        )) {
            headers.insert(HeaderName::from_static("ratelimit"), v);
        }
    }
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

    fn check(&self, bucket: u64, policy: &Policy, divisor: u32) -> Decision {
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
        let today = Utc::now().date_naive();
        if let Some(per_day) = policy.per_day {
            let per_day = (per_day / divisor.max(1) as u64).max(1);
            if self.quota_used(bucket, today) >= per_day {
                return window(Verdict::QuotaExceeded, 0, 0, seconds_to_midnight_utc());
            }
        }
        let emission = emission_us(limit, policy.window_seconds);
        match gcra.check_key(&bucket) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                if policy.per_day.is_some() {
                    let mut e = self.quotas.entry(bucket).or_insert((today, 0));
                    if e.0 != today {
                        *e = (today, 0);
                    }
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

/// GCRA with a daily quota, atomically, on Redis' clock. Returns
/// `{verdict (1 allowed, 0 limited, 2 quota), remaining, reset_us, retry_us}`.
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local T = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local per_day = tonumber(ARGV[3])
if per_day > 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= per_day then
    return {2, 0, 0, 0}
  end
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + T
local allow_at = new_tat - burst * T
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
if per_day > 0 then
  local used = redis.call('INCR', KEYS[2])
  if used == 1 then redis.call('EXPIRE', KEYS[2], 172800) end
end
return {1, math.floor((now - allow_at) / T), new_tat - now, 0}
";

pub struct Limiter {
    local: Local,
    cluster: Option<Arc<Cluster>>,
    script: redis::Script,
    metrics: Arc<Metrics>,
}

impl Limiter {
    pub fn new(cluster: Option<Arc<Cluster>>, metrics: Arc<Metrics>) -> Self {
        Self {
            local: Local::default(),
            cluster,
            script: redis::Script::new(GCRA_LUA),
            metrics,
        }
    }

    /// One decision for `bucket` under `policy`: shared when Redis is up, else local.
    pub async fn check(&self, bucket: &Bucket, policy: &Policy) -> Decision {
        let (decision, backend) = match &self.cluster {
            None => (
                self.local.check(bucket.local_key(), policy, 1),
                Backend::Local,
            ),
            Some(cluster) => match self.check_shared(cluster, &bucket.id(), policy).await {
                Some(d) => (d, Backend::Redis),
                None => (
                    self.local
                        .check(bucket.local_key(), policy, cluster.nodes()),
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

    async fn check_shared(&self, cluster: &Cluster, id: &str, policy: &Policy) -> Option<Decision> {
        let mut conn = cluster.connection()?;
        let today = Utc::now().date_naive();
        // One hash tag per bucket keeps both keys in one Redis Cluster slot.
        let rate_key = cluster.key(&format!("rl:{}:{{{id}}}", policy.name));
        let quota_key = cluster.key(&format!("q:{}:{{{id}}}:{today}", policy.name));
        let mut call = self.script.key(rate_key);
        call.key(quota_key)
            .arg(emission_us(policy.limit, policy.window_seconds))
            .arg(policy.limit)
            .arg(policy.per_day.unwrap_or(0));
        let answer =
            tokio::time::timeout(CALL_TIMEOUT, call.invoke_async::<Vec<i64>>(&mut conn)).await;
        let v = match answer {
            Ok(Ok(v)) if v.len() == 4 => v,
            Ok(Ok(_)) | Ok(Err(_)) => {
                cluster.mark_down("rate-limit script failed");
                return None;
            }
            Err(_) => {
                cluster.mark_down("rate-limit script timed out");
                return None;
            }
        };
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
    pub fn needs_quota_seed(&self, bucket: &Bucket, policy: &Policy) -> bool {
        policy.per_day.is_some()
            && self.cluster.is_none()
            && !self
                .local
                .knows_today(bucket.local_key(), Utc::now().date_naive())
    }

    pub fn seed_quota(&self, bucket: &Bucket, used: u64) {
        self.local
            .seed_quota(bucket.local_key(), Utc::now().date_naive(), used);
    }

    /// Requests counted today against the bucket's daily quota.
    pub async fn quota_used(&self, bucket: &Bucket, policy: &Policy) -> u64 {
        let id = bucket.id();
        let today = Utc::now().date_naive();
        if let Some(cluster) = &self.cluster {
            if let Some(mut conn) = cluster.connection() {
                let key = cluster.key(&format!("q:{}:{{{id}}}:{today}", policy.name));
                let get = redis::cmd("GET").arg(key).to_owned();
                if let Ok(Ok(n)) =
                    tokio::time::timeout(CALL_TIMEOUT, get.query_async::<Option<u64>>(&mut conn))
                        .await
                {
                    return n.unwrap_or(0);
                }
            }
        }
        self.local.quota_used(bucket.local_key(), today)
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
        let remaining: Vec<u32> = (0..5).map(|_| local.check(1, &p, 1).remaining).collect();
        assert_eq!(remaining, [4, 3, 2, 1, 0]);
        let denied = local.check(1, &p, 1);
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
        assert_eq!(local.check(2, &p, 1).remaining, 4);
    }

    #[test]
    fn the_daily_quota_stops_allowed_requests() {
        let local = Local::default();
        let p = Policy::per_minute("t", 100, Some(3));
        for _ in 0..3 {
            assert!(local.check(1, &p, 1).allowed());
        }
        let d = local.check(1, &p, 1);
        assert_eq!(d.verdict, Verdict::QuotaExceeded);
        assert!(d.retry_after >= 1 && d.retry_after <= 86_400);
    }

    #[test]
    fn fallback_divides_the_limit_by_the_nodes() {
        let local = Local::default();
        let p = Policy::per_minute("t", 10, None);
        let allowed = (0..10).filter(|_| local.check(1, &p, 3).allowed()).count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn pruning_forgets_idle_clients() {
        let local = Local::default();
        let p = Policy::per_minute("t", 6000, None);
        local.watched.write().unwrap().push(Arc::clone(&p.local));
        for i in 0..1000u32 {
            local.check(i as u64, &p, 1);
        }
        assert_eq!(local.len(), 1000);
        // 6000/min refills a cell every 10 ms: after 30 ms every bucket is full again
        std::thread::sleep(Duration::from_millis(30));
        local.prune();
        assert_eq!(local.len(), 0);
    }
}
