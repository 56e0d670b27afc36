//! Whole-catalog reads for the interoperability faces (CKAN Action API, DCAT-AP, data.json):
//! every dataset with its agency and its readable (published or deprecated) versions, loaded in a
//! few queries instead of one per dataset. Use [`Catalog::list_published`] for all of them and
//! [`Catalog::published_dataset`] for one.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{dataset_view_of, Agency, Catalog, Dataset, Version};
use crate::domain::{AgencySlug, DatasetSlug, VersionStatus};
use crate::entities::{agency, dataset, version};
use crate::error::Result;

/// A dataset as the catalogues describe it: its agency, its metadata (drafts left out) and its
/// readable versions, oldest first.
#[derive(Debug, Clone)]
pub struct Listed {
    pub agency: Agency,
    pub dataset: Dataset,
    pub versions: Vec<Version>,
}

fn agency_view(a: &agency::Model, dataset_count: u64) -> Agency {
    Agency {
        slug: a.slug.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        website: a.website.clone(),
        dataset_count,
    }
}

impl Catalog {
    /// Every dataset (ordered by agency then dataset slug) with its readable versions.
    pub async fn list_published(&self) -> Result<Vec<Listed>> {
        let agencies = agency::Entity::find()
            .order_by_asc(agency::Column::Slug)
            .all(&self.db)
            .await?;
        let datasets = dataset::Entity::find()
            .order_by_asc(dataset::Column::Slug)
            .all(&self.db)
            .await?;
        let versions = version::Entity::find()
            .filter(version::Column::Status.ne(VersionStatus::Draft.as_str()))
            .order_by_asc(version::Column::Number)
            .all(&self.db)
            .await?;
        let mut out = vec![];
        for a in &agencies {
            let own: Vec<&dataset::Model> =
                datasets.iter().filter(|d| d.agency_id == a.id).collect();
            let view = agency_view(a, own.len() as u64);
            for d in own {
                let mine: Vec<version::Model> = versions
                    .iter()
                    .filter(|v| v.dataset_id == d.id)
                    .cloned()
                    .collect();
                out.push(self.listed(view.clone(), a, d.clone(), mine)?);
            }
        }
        Ok(out)
    }

    /// One dataset with its readable versions.
    pub async fn published_dataset(
        &self,
        agency_slug: &AgencySlug,
        slug: &DatasetSlug,
    ) -> Result<Listed> {
        let (a, d) = self.find_dataset_in(agency_slug, slug).await?;
        let count = dataset::Entity::find()
            .filter(dataset::Column::AgencyId.eq(a.id))
            .all(&self.db)
            .await?
            .len() as u64;
        let versions: Vec<version::Model> = self
            .version_models(&d)
            .await?
            .into_iter()
            .filter(|v| v.status != VersionStatus::Draft.as_str())
            .collect();
        self.listed(agency_view(&a, count), &a, d, versions)
    }

    fn listed(
        &self,
        agency: Agency,
        a: &agency::Model,
        d: dataset::Model,
        versions: Vec<version::Model>,
    ) -> Result<Listed> {
        let views = versions
            .iter()
            .map(|m| self.version_view(&d, &versions, m))
            .collect::<Result<Vec<_>>>()?;
        Ok(Listed {
            agency,
            dataset: dataset_view_of(a, d, versions, false)?,
            versions: views,
        })
    }
}
