//! `versions.ascending_fields`: the fields whose values never decrease as `_id` grows and are
//! never null (a JSON array of names), found while loading. Sorting by them is sorting by `_id`,
//! which the read path uses to let the full-text index or the primary key deliver a page in order.
//! Null for versions loaded before this existed: nothing known, nothing assumed.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Versions {
    Table,
    AscendingFields,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Versions::Table)
                    .add_column(ColumnDef::new(Versions::AscendingFields).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Versions::Table)
                    .drop_column(Versions::AscendingFields)
                    .to_owned(),
            )
            .await
    }
}
