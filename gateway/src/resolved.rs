//! Resolved `{agency}/{dataset}/versions/{v}` answers, cached in process so a read costs one
//! query (the records themselves), and a `304` none.
//!
//! Every change to a dataset (metadata, a new draft, publish, deprecate) drops its entries here
//! and, through `cluster::Event::DatasetChanged`, on every node; a short TTL is the backstop
//! when pub/sub is down. Failures (404s) are never cached.
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
}

pub struct ResolvedVersions {
    cache: Cache<Key, Arc<Entry>>,
}

impl Default for ResolvedVersions {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(TTL)
                .support_invalidation_closures()
                .build(),
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
        self.cache
            .try_get_with(key, async {
                let (dataset, version) =
                    catalog.get_version(agency, dataset, v, see_drafts).await?;
                let table = Catalog::version_table(&version, &dataset.timezone);
                Ok(Arc::new(Entry {
                    dataset,
                    version,
                    table,
                }))
            })
            .await
            .map_err(|e: Arc<catalog::CatalogError>| match Arc::try_unwrap(e) {
                Ok(e) => e,
                Err(shared) => shared.reclone(),
            })
    }

    /// Drops every entry of one dataset.
    pub fn invalidate(&self, agency: &str, dataset: &str) {
        let (a, d) = (agency.to_owned(), dataset.to_owned());
        // Only fails when closures are not supported, which the builder enables.
        let _ = self
            .cache
            .invalidate_entries_if(move |k, _| k.agency == a && k.dataset == d);
    }
}
