//! The response cache of record reads.
//!
//! Keys are built from what the parser understood, not from the raw query string: the version
//! id (so `latest` and `versions/3` share entries, and a publish moves `latest` to new keys),
//! the kind of read, the format and a canonical form of filters, order, selection and page —
//! parameter order, defaults and equivalent spellings land on one entry. Only the body and what
//! it needs are stored; caching and rate-limit headers are made per request around it, so a
//! deprecation or a caller's limits are never stale. Drafts and whole-table streams are not
//! cached; `registered` answers are reached only after the gate and `resolve` allowed the
//! caller. Concurrent misses of one key run one query (moka's `try_get_with`).
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::HeaderValue;
use bytes::Bytes;
use catalog::records::query::{RecordFormat, RecordQuery};
use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;
use sha2::Digest;

use crate::cluster::{Cluster, CALL_TIMEOUT};
use crate::error::ApiError;

/// Content types a cached answer can have (their index is what L2 stores).
const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "text/csv; charset=utf-8",
    "application/x-ndjson",
    "application/geo+json",
];
/// Answers larger than this stay in L1 only.
const L2_MAX_BODY: usize = 1 << 20;

/// The key of a records page (or a `limit`ed csv/ndjson/geojson page): the version id, the format
/// and what the parser understood, never the raw query string or the API key, so parameter
/// order, defaults and equivalent spellings land on one entry.
///
/// Built on every read (the `ETag` is derived from it too), so it is written field by field.
pub fn records_key(version_id: i64, format: RecordFormat, q: &RecordQuery) -> String {
    use std::fmt::Write as _;
    let mut key = String::with_capacity(160);
    let format_code = match format {
        RecordFormat::Json => 'j',
        RecordFormat::Csv => 'c',
        RecordFormat::Ndjson => 'n',
        RecordFormat::Geojson => 'g',
    };
    let _ = write!(key, "r|{version_id}|{format_code}|");
    q.write_fingerprint(&mut key);
    key.push('|');
    match &q.select {
        None => key.push('*'),
        Some(fields) => {
            for f in fields {
                let _ = write!(key, "{f},");
            }
        }
    }
    // JSON is always paged (no limit is the default page); other formats without a limit are
    // the whole selection, a different answer from any page
    let _ = match (format, q.limit) {
        (RecordFormat::Json, _) | (_, Some(_)) => write!(key, "|{}", q.page_size()),
        (_, None) => write!(key, "|all"),
    };
    let _ = write!(key, "|{}|{}|", q.offset, u8::from(q.count));
    if let Some(cursor) = &q.cursor {
        key.push_str(cursor);
    }
    key
}

/// A strong validator from a read's normalised key: equivalent spellings of one query share it,
/// and it never depends on the API key or on who asks.
pub fn etag_of(key: &str) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut tag = String::with_capacity(26);
    tag.push('"');
    tag.push_str(&hex::encode(&digest[..12]));
    tag.push('"');
    tag
}

/// A stored answer: the body and the parts of the response that depend only on it.
#[derive(Debug)]
pub struct Cached {
    pub body: Bytes,
    pub content_type: &'static str,
    /// For the `Link` header, which is rebuilt for each request's own path.
    pub next_cursor: Option<String>,
    pub created: SystemTime,
    /// The `Link` header made for the first request target that asked (see [`Cached::link_for`]).
    link: OnceLock<(String, HeaderValue)>,
}

impl Cached {
    pub fn new(body: Vec<u8>, content_type: &'static str, next_cursor: Option<String>) -> Self {
        Self {
            body: Bytes::from(body),
            content_type,
            next_cursor,
            created: SystemTime::now(),
            link: OnceLock::new(),
        }
    }

    /// The `Link` header for a request to `target` (path and query): `make`'s, built once and
    /// kept for later requests to the same target when `memo` (no credential in the query).
    /// `None` when the link is not a valid header value.
    pub fn link_for(
        &self,
        target: &str,
        memo: bool,
        make: impl FnOnce() -> String,
    ) -> Option<HeaderValue> {
        if let Some((t, link)) = self.link.get() {
            if t == target {
                return Some(link.clone());
            }
        }
        let link = HeaderValue::from_str(&make()).ok()?;
        if memo {
            let _ = self.link.set((target.to_owned(), link.clone()));
        }
        Some(link)
    }

    /// Seconds since the answer was made (the `Age` header).
    pub fn age(&self) -> u64 {
        self.created.elapsed().map(|d| d.as_secs()).unwrap_or(0)
    }

    /// The L2 form: gzip of a small header and the body.
    fn encode(&self) -> Option<Vec<u8>> {
        let ct = CONTENT_TYPES.iter().position(|c| *c == self.content_type)? as u8;
        let created = self.created.duration_since(UNIX_EPOCH).ok()?.as_secs();
        let cursor = self.next_cursor.as_deref().unwrap_or("").as_bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&[1, ct, u8::from(self.next_cursor.is_some())])
            .ok()?;
        gz.write_all(&created.to_be_bytes()).ok()?;
        gz.write_all(&(cursor.len() as u32).to_be_bytes()).ok()?;
        gz.write_all(cursor).ok()?;
        gz.write_all(&self.body).ok()?;
        gz.finish().ok()
    }

    fn decode(stored: &[u8]) -> Option<Self> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(stored)
            .take(64 << 20)
            .read_to_end(&mut raw)
            .ok()?;
        let (head, rest) = raw.split_at_checked(15)?;
        if head[0] != 1 {
            return None;
        }
        let content_type = *CONTENT_TYPES.get(head[1] as usize)?;
        let created = u64::from_be_bytes(head[3..11].try_into().ok()?);
        let cursor_len = u32::from_be_bytes(head[11..15].try_into().ok()?) as usize;
        let (cursor, body) = rest.split_at_checked(cursor_len)?;
        let next_cursor = (head[2] == 1)
            .then(|| String::from_utf8(cursor.to_vec()).ok())
            .flatten();
        Some(Self {
            body: Bytes::copy_from_slice(body),
            content_type,
            next_cursor,
            created: UNIX_EPOCH + Duration::from_secs(created),
            link: OnceLock::new(),
        })
    }
}

/// Whether an error means the link is broken (not an error reply such as OOM).
fn link_failed(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_l2_form_round_trips_and_junk_is_refused() {
        let a = Cached::new(
            b"{\"data\":[1,2]}".to_vec(),
            "application/json",
            Some("abc".into()),
        );
        let b = Cached::decode(&a.encode().unwrap()).unwrap();
        assert_eq!(b.body, a.body);
        assert_eq!(b.content_type, a.content_type);
        assert_eq!(b.next_cursor.as_deref(), Some("abc"));
        let c = Cached::new(b"x".to_vec(), "text/csv; charset=utf-8", None);
        assert_eq!(
            Cached::decode(&c.encode().unwrap()).unwrap().next_cursor,
            None
        );
        assert!(Cached::decode(b"not gzip").is_none());
    }

    #[test]
    fn records_keys_follow_the_parsed_query_not_its_spelling() {
        use catalog::domain::TimeZone;
        use catalog::records::query::parse_records;
        use catalog::schema::{Field, FieldType, TableSchema};
        let field = |name: &str, field_type| Field {
            name: name.into(),
            field_type,
            description: None,
            nullable: false,
        };
        let schema = TableSchema {
            fields: vec![
                field("district", FieldType::String),
                field("priority", FieldType::Integer),
            ],
            primary_key: vec![],
            indexes: vec![],
        };
        let key = |format, qs: &str| {
            let params: Vec<(String, String)> = serde_urlencoded::from_str(qs).unwrap();
            let q = parse_records(&schema, TimeZone::default(), &params).unwrap();
            records_key(7, format, &q)
        };
        let json = |qs| key(RecordFormat::Json, qs);
        assert_eq!(
            json("district=eq.A&priority=gt.2"),
            json("priority=gt.2&district=eq.A&limit=100&api_key=gbk_x"),
            "parameter order, the default limit and the API key do not matter"
        );
        assert_eq!(json("order=priority"), json("order=priority.asc,_id.asc"));
        assert_ne!(json("district=eq.A"), json("district=eq.B"));
        assert_ne!(json("order=priority.asc"), json("order=priority.desc"));
        assert_ne!(json("limit=10"), json("limit=11"));
        assert_ne!(json("district=eq.A"), json("district=eq.A&count=exact"));
        assert_ne!(json(""), key(RecordFormat::Csv, ""));
        assert_ne!(
            key(RecordFormat::Csv, ""),
            key(RecordFormat::Csv, "limit=100"),
            "a whole-table stream is not its first page"
        );
        assert_eq!(json("limit=100"), json(""));
        assert_ne!(json("district=eq.a,b"), json("district=in.(a,b)"));
        assert_ne!(json("district=eq.1"), json("priority=eq.1"));
        assert_ne!(json("q=banjir rob"), json("q=banjirrob"));
        assert_ne!(json("select=district"), json("select=priority"));
        let q = parse_records(&schema, TimeZone::default(), &[]).unwrap();
        assert_ne!(
            records_key(7, RecordFormat::Json, &q),
            records_key(8, RecordFormat::Json, &q)
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
}

impl Outcome {
    pub fn header(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
        }
    }
}

/// Hit and miss counters of one layer.
#[derive(Clone, Default)]
pub struct LayerCounters {
    pub hits: Counter,
    pub misses: Counter,
}

pub struct ResponseCache {
    entries: Option<Cache<String, Arc<Cached>>>,
    l1: LayerCounters,
    l2: LayerCounters,
    /// The shared layer in Redis, when configured: compressed, with a TTL (evictable).
    cluster: Option<Arc<Cluster>>,
    l2_ttl: Duration,
}

impl ResponseCache {
    /// `max_bytes` bounds the bodies held in process; `None` disables the cache (both layers).
    pub fn new(
        max_bytes: Option<u64>,
        l1: LayerCounters,
        l2: LayerCounters,
        cluster: Option<Arc<Cluster>>,
        l2_ttl: Duration,
    ) -> Self {
        let entries = max_bytes.map(|max| {
            Cache::builder()
                // LRU, not moka's default TinyLFU: TinyLFU compares a new entry's (capped)
                // frequency with the sum of the victims it would evict, so after a crawl of many
                // small answers a large, hot page was refused again and again, and each refusal
                // cost a full storage read (measured: W2 hot 45 k → 5 k req/s after W1).
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .max_capacity(max)
                .weigher(|k: &String, v: &Arc<Cached>| {
                    (k.len() + v.body.len() + 128).min(u32::MAX as usize) as u32
                })
                .time_to_idle(Duration::from_secs(3600))
                .build()
        });
        Self {
            entries,
            l1,
            l2,
            cluster,
            l2_ttl,
        }
    }

    /// Applies moka's pending evictions off the request path, so a burst of inserts (say a
    /// crawl of random records) does not leave the maintenance to later readers. Runs until the
    /// process ends.
    pub fn spawn_maintenance(&self) {
        if let Some(entries) = self.entries.clone() {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    entries.run_pending_tasks().await;
                }
            });
        }
    }

    fn l2_key(&self, cluster: &Cluster, key: &str) -> String {
        cluster.key(&format!(
            "rc:{}",
            hex::encode(sha2::Sha256::digest(key.as_bytes()))
        ))
    }

    async fn l2_get(&self, key: &str) -> Option<Cached> {
        let cluster = self.cluster.as_ref()?;
        let mut conn = cluster.connection()?;
        let get = redis::cmd("GET").arg(self.l2_key(cluster, key)).to_owned();
        match tokio::time::timeout(CALL_TIMEOUT, get.query_async::<Option<Vec<u8>>>(&mut conn))
            .await
        {
            Ok(Ok(Some(stored))) => Cached::decode(&stored),
            Ok(Ok(None)) => None,
            Ok(Err(e)) if !link_failed(&e) => None,
            _ => {
                cluster.mark_down("cache read failed");
                None
            }
        }
    }

    /// Stores an answer in Redis before it is returned, so another node asking next finds it
    /// (one round trip on a miss, which already paid for a storage read).
    async fn l2_put(&self, key: &str, answer: &Cached) {
        let Some(cluster) = self.cluster.as_ref() else {
            return;
        };
        if answer.body.len() > L2_MAX_BODY {
            return;
        }
        let (Some(mut conn), Some(stored)) = (cluster.connection(), answer.encode()) else {
            return;
        };
        let set = redis::cmd("SET")
            .arg(self.l2_key(cluster, key))
            .arg(stored)
            .arg("EX")
            .arg(self.l2_ttl.as_secs().max(1))
            .to_owned();
        match tokio::time::timeout(CALL_TIMEOUT, set.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => {}
            // e.g. OOM under maxmemory: the answer is simply not shared
            Ok(Err(e)) if !link_failed(&e) => {}
            _ => cluster.mark_down("cache write failed"),
        }
    }

    /// The stored answer for `key`, or `fill`'s, stored. Concurrent callers of one missing key
    /// wait for the first one's `fill`; only that caller sees `Miss`.
    pub async fn get_or_fill<F, Fut>(
        &self,
        key: String,
        fill: F,
    ) -> Result<(Arc<Cached>, Outcome), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Cached, ApiError>>,
    {
        let Some(entries) = &self.entries else {
            return Ok((Arc::new(fill().await?), Outcome::Miss));
        };
        // A hit is a plain lookup; the single-flight fill below is boxed, so the hot path's
        // future does not carry (and copy) the storage read's state.
        if let Some(hit) = entries.get(&key).await {
            self.l1.hits.inc();
            return Ok((hit, Outcome::Hit));
        }
        Box::pin(async move {
            // 0: served by a concurrent caller's fill; 1: from L2; 2: from storage
            let source = AtomicU8::new(0);
            let got = entries
                .try_get_with(key.clone(), async {
                    self.l1.misses.inc();
                    if let Some(shared) = self.l2_get(&key).await {
                        self.l2.hits.inc();
                        source.store(1, Ordering::Relaxed);
                        return Ok(Arc::new(shared));
                    }
                    if self.cluster.is_some() {
                        self.l2.misses.inc();
                    }
                    source.store(2, Ordering::Relaxed);
                    let answer = fill().await?;
                    self.l2_put(&key, &answer).await;
                    Ok(Arc::new(answer))
                })
                .await
                .map_err(|e: Arc<ApiError>| (*e).clone())?;
            match source.load(Ordering::Relaxed) {
                0 => {
                    self.l1.hits.inc();
                    Ok((got, Outcome::Hit))
                }
                1 => Ok((got, Outcome::Hit)),
                _ => Ok((got, Outcome::Miss)),
            }
        })
        .await
    }
}
