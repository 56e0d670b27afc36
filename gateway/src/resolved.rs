//! Resolved `{agency}/{dataset}/versions/{v}` answers, cached in process so a read costs one
//! query (the records themselves), and a `304` none.
//!
//! Every change to a dataset (metadata, a new draft, publish, deprecate) drops its entries here
//! and, through `cluster::Event::DatasetChanged`, on every node; a short TTL is the backstop
//! when pub/sub is down. Failures (404s) are never cached.
//!
//! A change also bumps a generation, and an entry made under an older one is made again:
//! `invalidate_entries_if` alone leaves two gaps. A load already under way when the change lands
//! stores what it read before it, for the whole TTL; and moka applies the predicate only to
//! entries whose write it has recorded (`last_modified`), not to one inserted a moment before.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use catalog::domain::{AgencySlug, DatasetSlug, VersionRef};
use catalog::records::read::VersionTable;
use catalog::service::{Catalog, Dataset, Version};
use moka::future::Cache;

const TTL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    agency: String,
    dataset: String,
    version: Option<i32>,
    see_drafts: bool,
}

/// What a read needs about its version, made once per cache entry (not per request).
pub struct Entry {
    pub dataset: Dataset,
    pub version: Version,
    /// The record table, with the schema it is read through.
    pub table: VersionTable,
    /// [`ResolvedVersions::generation`] when the load began.
    generation: u64,
}

pub struct ResolvedVersions {
    cache: Cache<Key, Arc<Entry>>,
    /// Bumped by every invalidation.
    generation: AtomicU64,
}

impl Default for ResolvedVersions {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(TTL)
                .support_invalidation_closures()
                .build(),
            generation: AtomicU64::new(0),
        }
    }
}

impl ResolvedVersions {
    pub async fn get(
        &self,
        catalog: &Catalog,
        agency: &AgencySlug,
        dataset: &DatasetSlug,
        v: VersionRef,
        see_drafts: bool,
    ) -> Result<Arc<Entry>, catalog::CatalogError> {
        let key = Key {
            agency: agency.as_str().to_owned(),
            dataset: dataset.as_str().to_owned(),
            version: match v {
                VersionRef::Number(n) => Some(n),
                VersionRef::Latest => None,
            },
            see_drafts,
        };
        let load = |generation: u64| async move {
            let (dataset, version) = catalog.get_version(agency, dataset, v, see_drafts).await?;
            let table = Catalog::version_table(&version, &dataset.timezone);
            Ok::<_, catalog::CatalogError>(Arc::new(Entry {
                dataset,
                version,
                table,
                generation,
            }))
        };
        // a few rounds at most: each one starts after the change that ended the one before
        for _ in 0..3 {
            let generation = self.generation.load(Ordering::Acquire);
            let entry = self
                .cache
                .try_get_with(key.clone(), load(generation))
                .await
                .map_err(|e: Arc<catalog::CatalogError>| match Arc::try_unwrap(e) {
                    Ok(e) => e,
                    Err(shared) => shared.reclone(),
                })?;
            if entry.generation >= generation {
                return Ok(entry);
            }
            self.cache.invalidate(&key).await;
        }
        // still changing: read it now, uncached
        load(0).await
    }

    /// Drops every entry of one dataset.
    pub fn invalidate(&self, agency: &str, dataset: &str) {
        // every entry made before this is now made again (see the module's comment); the
        // predicate below frees this dataset's entries
        self.generation.fetch_add(1, Ordering::AcqRel);
        let (a, d) = (agency.to_owned(), dataset.to_owned());
        // Only fails when closures are not supported, which the builder enables.
        let _ = self
            .cache
            .invalidate_entries_if(move |k, _| k.agency == a && k.dataset == d);
    }
}
