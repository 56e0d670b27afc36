//! Catalog answers (agencies, dataset search, dataset metadata, version lists) as the public
//! sees them, cached in process.
//!
//! Unlike record answers, which are keyed by an immutable version id, these change whenever an
//! agency or a dataset does. Every change purges them all, here and, through pub/sub, on every
//! node (`AppState::dataset_changed`, `AppState::catalog_changed`); catalog writes are rare, so
//! a purge of everything is cheap and cannot miss a dependency (a new version changes the
//! dataset, its agency's count and the search results at once). A short TTL is the backstop for
//! what pub/sub cannot carry: Redis down, or `gerbang import` run from another process.
//!
//! Only answers that are the same for every caller are stored: staff (who may see drafts) always
//! read the database. A fill that was under way when a purge came is stored under the old
//! generation, which no later request asks for, so a purge is never undone by a slow read.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use moka::future::Cache;

use crate::cache::{LayerCounters, Outcome};
use crate::error::ApiError;

/// The backstop for purges that could not reach this node.
const TTL: Duration = Duration::from_secs(10);
/// Bounds the bodies held (a search page is a few KB).
const MAX_BYTES: u64 = 16 << 20;

pub struct CatalogAnswers {
    entries: Option<Cache<String, Bytes>>,
    generation: AtomicU64,
    counters: LayerCounters,
}

impl CatalogAnswers {
    /// `enabled` follows the response cache's switch; `counters` are the hits and misses of
    /// stored answers at `/metrics` (`layer="catalog"`).
    pub fn new(enabled: bool, counters: LayerCounters) -> Self {
        let entries = enabled.then(|| {
            Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|k: &String, v: &Bytes| {
                    (k.len() + v.len() + 64).min(u32::MAX as usize) as u32
                })
                .time_to_live(TTL)
                .build()
        });
        Self {
            entries,
            generation: AtomicU64::new(0),
            counters,
        }
    }

    /// Forgets every answer (a catalog change, here or on another node).
    pub fn purge(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(entries) = &self.entries {
            entries.invalidate_all();
        }
    }

    /// The key of a request: its path and its query parameters in a fixed order, without the
    /// API key (which never changes a public answer).
    fn key(&self, req: &HttpRequest) -> String {
        let mut params: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        params.retain(|(k, _)| k != "api_key");
        params.sort();
        format!(
            "{}|{}?{}",
            self.generation.load(Ordering::SeqCst),
            req.path(),
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    }

    /// A JSON answer: the stored one for this request, or `fill`'s (stored when `public`, the
    /// answer every non-staff caller gets). Concurrent misses of one key run one `fill`.
    pub async fn json<F, Fut>(
        &self,
        req: &HttpRequest,
        public: bool,
        fill: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<u8>, ApiError>>,
    {
        let (body, outcome) = match (&self.entries, public) {
            (Some(entries), true) => {
                let missed = AtomicBool::new(false);
                let body = entries
                    .try_get_with(self.key(req), async {
                        missed.store(true, Ordering::Relaxed);
                        fill().await.map(Bytes::from)
                    })
                    .await
                    .map_err(|e: Arc<ApiError>| (*e).clone())?;
                let outcome = if missed.load(Ordering::Relaxed) {
                    self.counters.misses.inc();
                    Outcome::Miss
                } else {
                    self.counters.hits.inc();
                    Outcome::Hit
                };
                (body, outcome)
            }
            _ => (Bytes::from(fill().await?), Outcome::Miss),
        };
        Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header(("X-Cache", outcome.header()))
            .body(body))
    }
}

/// A view as JSON bytes, for [`CatalogAnswers::json`].
pub fn to_json<T: serde::Serialize>(view: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(view)
        .map_err(|e| ApiError::from(catalog::CatalogError::Internal(e.to_string())))
}
