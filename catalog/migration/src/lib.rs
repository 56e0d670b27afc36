//! Schema migrations of the catalog tables (agencies, users, datasets, versions;
//! developers, API keys, daily usage).
//!
//! Record tables (one per dataset version) are not migrations: the record store creates them
//! from each version's schema. Use [`Migrator::up`] (through `catalog::db::connect`) to apply.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_catalog;
mod m20261122_000002_developers;
mod m20261122_000003_usage_flushes;
mod m20261122_000004_ascending_fields;
mod m20261123_000005_no_stat4;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_catalog::Migration),
            Box::new(m20261122_000002_developers::Migration),
            Box::new(m20261122_000003_usage_flushes::Migration),
            Box::new(m20261122_000004_ascending_fields::Migration),
            Box::new(m20261123_000005_no_stat4::Migration),
        ]
    }
}
