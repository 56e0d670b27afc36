//! API-key verification on the hot path: checksum → SHA-256 → in-process cache (found and
//! not-found answers both cached) → database.
//!
//! Revocation reaches every node's cache through `cluster::Event::KeysChanged` (pub/sub), or, while
//! the subscription is down, through polling the recently revoked keys every second. Expiry of a
//! rolled key needs neither: the cached record carries `expires_at` and is checked per request.
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::developers::{self, KeyFormat, KeyRecord};
use chrono::Utc;
use moka::future::Cache;
use moka::Expiry;
use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::metrics::Metrics;

const FOUND_TTL: Duration = Duration::from_secs(60);
const MISSING_TTL: Duration = Duration::from_secs(30);

struct TtlByOutcome;

impl Expiry<[u8; 32], Option<Arc<KeyRecord>>> for TtlByOutcome {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Option<Arc<KeyRecord>>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(if value.is_some() {
            FOUND_TTL
        } else {
            MISSING_TTL
        })
    }
}

pub struct KeyVerifier {
    db: DatabaseConnection,
    cache: Cache<[u8; 32], Option<Arc<KeyRecord>>>,
    metrics: Arc<Metrics>,
}

impl KeyVerifier {
    pub fn new(db: DatabaseConnection, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            cache: Cache::builder()
                .max_capacity(100_000)
                .expire_after(TtlByOutcome)
                .build(),
            metrics,
        }
    }

    fn reject(&self, reason: &'static str, detail: &str) -> ApiError {
        Metrics::count(&self.metrics.key_rejections, &[("reason", reason)]);
        ApiError::unauthorized(detail)
    }

    /// The key's record when the key is valid now; a `401` otherwise (never anonymous).
    pub async fn verify(&self, key: &str) -> Result<Arc<KeyRecord>, ApiError> {
        if !KeyFormat::check(key) {
            return Err(self.reject(
                "format",
                "the API key is not valid: check it for typos (keys look like gbk_…)",
            ));
        }
        let digest = KeyFormat::digest(key);
        let lookup = match self.cache.get(&digest).await {
            Some(hit) => Ok(hit),
            None => {
                self.cache
                    .try_get_with(digest, async {
                        let found = developers::find_key(&self.db, &hex::encode(digest)).await?;
                        let result = if found.is_some() { "found" } else { "missing" };
                        Metrics::count(&self.metrics.key_lookups, &[("result", result)]);
                        Ok::<_, catalog::CatalogError>(found.map(Arc::new))
                    })
                    .await
            }
        };
        let record = match lookup {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = ?e, "key lookup failed");
                return Err(ApiError::new(
                    catalog::ErrorCode::Unavailable,
                    "keys cannot be checked right now; try again shortly",
                ));
            }
        };
        match record {
            None => Err(self.reject("unknown", "the API key is not valid")),
            Some(r) if r.revoked => Err(self.reject("revoked", "the API key has been revoked")),
            Some(r) if !r.usable_at(Utc::now()) => {
                Err(self.reject("expired", "the API key has expired; use its replacement"))
            }
            Some(r) => Ok(r),
        }
    }

    /// Forgets keys (by hash) so the next use reads the database.
    pub async fn invalidate(&self, hashes: &[String], source: &'static str) {
        for h in hashes {
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(h, &mut digest).is_ok() {
                self.cache.invalidate(&digest).await;
            }
        }
        if !hashes.is_empty() {
            Metrics::count(&self.metrics.key_invalidations, &[("source", source)]);
        }
    }

    /// While pub/sub is down, polls recently revoked keys every second and forgets them.
    /// `subscribed` tells whether pub/sub currently delivers events.
    pub fn spawn_revocation_poller(
        self: &Arc<Self>,
        subscribed: impl Fn() -> bool + Send + 'static,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            loop {
                interval.tick().await;
                if subscribed() {
                    continue;
                }
                // A margin for clock differences between nodes; forgetting twice is harmless.
                let since = Utc::now() - chrono::Duration::seconds(10);
                match developers::revoked_since(&this.db, since).await {
                    Ok(hashes) => this.invalidate(&hashes, "poll").await,
                    Err(e) => tracing::warn!(error = ?e, "revocation poll failed"),
                }
            }
        });
    }
}
