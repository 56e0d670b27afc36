//! The usage batches already stored, by id: a flush retried after a commit whose answer was
//! lost (a dropped connection, a timeout) finds its id here and adds nothing twice.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageFlushes {
    Table,
    Id,
    FlushedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageFlushes::Table)
                    .col(
                        ColumnDef::new(UsageFlushes::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(UsageFlushes::FlushedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_flushes_at")
                    .table(UsageFlushes::Table)
                    .col(UsageFlushes::FlushedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UsageFlushes::Table).to_owned())
            .await
    }
}
