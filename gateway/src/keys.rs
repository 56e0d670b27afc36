//! API-key verification on the hot path: checksum → SHA-256 → in-process cache (found and
//! not-found answers both cached) → database.
//!
//! In front of it all, each worker thread remembers the keys it verified recently ([`Recent`]),
//! so a busy client's key costs one hash-map lookup instead of a SHA-256 and a moka lookup.
//!
//! Revocation reaches every node's cache through `cluster::Event::KeysChanged` (pub/sub), or, while
//! the subscription is down, through polling the recently revoked keys every second. Any
//! invalidation also forgets every thread's recent keys (a generation counter). Expiry of a
//! rolled key needs neither: the cached record carries `expires_at` and is checked per request.
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::developers::{self, KeyFormat, KeyRecord};
use chrono::{DateTime, Utc};
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

/// Keys a worker thread verified recently, so repeated use skips hashing and the shared cache.
/// An entry counts only for the verifier that made it, at that verifier's current generation,
/// and for at most [`FOUND_TTL`].
struct Recent {
    verifier: u64,
    generation: u64,
    keys: HashMap<Box<str>, (Arc<KeyRecord>, Instant)>,
}

/// Keys per thread; the map is emptied when full (a flood of distinct keys only costs hashing).
const RECENT_PER_THREAD: usize = 1024;

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::new(Recent {
        verifier: 0,
        generation: 0,
        keys: HashMap::new(),
    });
}

static NEXT_VERIFIER: AtomicU64 = AtomicU64::new(1);

pub struct KeyVerifier {
    db: DatabaseConnection,
    cache: Cache<[u8; 32], Option<Arc<KeyRecord>>>,
    metrics: Arc<Metrics>,
    /// Tells this verifier's entries in [`RECENT`] apart from another server's in the process.
    id: u64,
    /// Bumped by every invalidation: older entries in [`RECENT`] are ignored.
    generation: AtomicU64,
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
            id: NEXT_VERIFIER.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
        }
    }

    /// The record this thread verified recently for `key`, if still current.
    fn recent(&self, key: &str) -> Option<Arc<KeyRecord>> {
        let generation = self.generation.load(Ordering::Acquire);
        RECENT.with_borrow(|r| {
            if r.verifier != self.id || r.generation != generation {
                return None;
            }
            let (record, at) = r.keys.get(key)?;
            (at.elapsed() < FOUND_TTL).then(|| Arc::clone(record))
        })
    }

    fn remember(&self, key: &str, record: &Arc<KeyRecord>, generation: u64) {
        RECENT.with_borrow_mut(|r| {
            if r.verifier != self.id || r.generation != generation {
                r.verifier = self.id;
                r.generation = generation;
                r.keys.clear();
            }
            if r.keys.len() >= RECENT_PER_THREAD {
                r.keys.clear();
            }
            r.keys
                .insert(key.into(), (Arc::clone(record), Instant::now()));
        });
    }

    fn reject(&self, reason: &'static str, detail: &str) -> ApiError {
        Metrics::count(&self.metrics.key_rejections, &[("reason", reason)]);
        ApiError::unauthorized(detail)
    }

    /// The key's record when the key is valid at `now`; a `401` otherwise (never anonymous).
    pub async fn verify(&self, key: &str, now: DateTime<Utc>) -> Result<Arc<KeyRecord>, ApiError> {
        if let Some(r) = self.recent(key) {
            if r.usable_at(now) {
                return Ok(r);
            }
        }
        // Boxed: the lookup's state is large, and every gated request's future would carry
        // (and copy) it otherwise.
        Box::pin(self.look_up(key, now)).await
    }

    /// Verification past this thread's recent keys: checksum, hash, shared cache, database.
    async fn look_up(&self, key: &str, now: DateTime<Utc>) -> Result<Arc<KeyRecord>, ApiError> {
        // Read before the lookup: an invalidation racing it makes this entry stale at once.
        let generation = self.generation.load(Ordering::Acquire);
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
            Some(r) if !r.usable_at(now) => {
                Err(self.reject("expired", "the API key has expired; use its replacement"))
            }
            Some(r) => {
                self.remember(key, &r, generation);
                Ok(r)
            }
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
            // After the shared cache: a thread that read the old generation may have
            // remembered a record from before, and must not use it.
            self.generation.fetch_add(1, Ordering::AcqRel);
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

#[cfg(test)]
mod tests {
    use catalog::developers::DeveloperInput;

    use super::*;

    async fn database(dir: &tempfile::TempDir) -> DatabaseConnection {
        let url = format!("sqlite://{}/keys.db", dir.path().display());
        let db = catalog::db::connect(&url).await.unwrap();
        catalog::db::migrate(&db).await.unwrap();
        db
    }

    fn found(metrics: &Metrics) -> u64 {
        metrics
            .key_lookups
            .get_or_create(&vec![("result", "found")])
            .get()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn recent_keys_skip_the_lookup_until_an_invalidation_and_belong_to_their_verifier() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let input = DeveloperInput {
            email: "dev@contoh.id".into(),
            name: "dev".into(),
            organization: None,
            purpose: None,
        };
        let (developer, issued) = developers::register(&db, input).await.unwrap();
        let metrics = Arc::new(Metrics::default());
        let keys = KeyVerifier::new(db.clone(), Arc::clone(&metrics));
        let now = Utc::now();

        // Forgets the key in the shared cache only, so a use that makes no database lookup
        // afterwards was answered by this thread's recent keys.
        let digest = KeyFormat::digest(&issued.key);
        let forget_shared = || keys.cache.invalidate(&digest);

        assert_eq!(keys.verify(&issued.key, now).await.unwrap().id, issued.id);
        forget_shared().await;
        assert_eq!(keys.verify(&issued.key, now).await.unwrap().id, issued.id);
        assert_eq!(
            found(&metrics),
            1,
            "the second use is this thread's recent key"
        );

        // another server in this process (its own database) does not see this one's keys
        let other_dir = tempfile::tempdir().unwrap();
        let other = KeyVerifier::new(database(&other_dir).await, Arc::clone(&metrics));
        assert!(other.verify(&issued.key, now).await.is_err());
        assert_eq!(keys.verify(&issued.key, now).await.unwrap().id, issued.id);

        // an invalidation with nothing in it (the revocation poller's usual answer) keeps it
        keys.invalidate(&[], "poll").await;
        forget_shared().await;
        keys.verify(&issued.key, now).await.unwrap();
        assert_eq!(found(&metrics), 1);

        let change = developers::revoke_key(&db, &developer.id, &issued.id)
            .await
            .unwrap();
        keys.invalidate(&change.hashes, "local").await;
        let refused = keys.verify(&issued.key, now).await.unwrap_err();
        assert_eq!(refused.code, catalog::ErrorCode::Unauthorized);
    }
}
