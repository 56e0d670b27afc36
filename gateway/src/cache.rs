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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;

use crate::error::ApiError;

/// A stored answer: the body and the parts of the response that depend only on it.
#[derive(Debug)]
pub struct Cached {
    pub body: Bytes,
    pub content_type: &'static str,
    /// For the `Link` header, which is rebuilt for each request's own path.
    pub next_cursor: Option<String>,
    pub created: SystemTime,
}

impl Cached {
    pub fn new(body: Vec<u8>, content_type: &'static str, next_cursor: Option<String>) -> Self {
        Self {
            body: Bytes::from(body),
            content_type,
            next_cursor,
            created: SystemTime::now(),
        }
    }

    /// Seconds since the answer was made (the `Age` header).
    pub fn age(&self) -> u64 {
        self.created.elapsed().map(|d| d.as_secs()).unwrap_or(0)
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

pub struct ResponseCache {
    entries: Option<Cache<String, Arc<Cached>>>,
    hits: Counter,
    misses: Counter,
}

impl ResponseCache {
    /// `max_bytes` bounds the bodies held; `None` disables the cache.
    pub fn new(max_bytes: Option<u64>, hits: Counter, misses: Counter) -> Self {
        let entries = max_bytes.map(|max| {
            Cache::builder()
                .max_capacity(max)
                .weigher(|k: &String, v: &Arc<Cached>| {
                    (k.len() + v.body.len() + 128).min(u32::MAX as usize) as u32
                })
                .time_to_idle(Duration::from_secs(3600))
                .build()
        });
        Self {
            entries,
            hits,
            misses,
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
            self.misses.inc();
            return Ok((Arc::new(fill().await?), Outcome::Miss));
        };
        let filled = AtomicBool::new(false);
        let got = entries
            .try_get_with(key, async {
                filled.store(true, Ordering::Relaxed);
                fill().await.map(Arc::new)
            })
            .await
            .map_err(|e| (*e).clone())?;
        if filled.load(Ordering::Relaxed) {
            self.misses.inc();
            Ok((got, Outcome::Miss))
        } else {
            self.hits.inc();
            Ok((got, Outcome::Hit))
        }
    }
}
