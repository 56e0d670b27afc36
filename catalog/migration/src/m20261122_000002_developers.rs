//! Developer access: self-service developers, their API keys (stored as SHA-256 only) and the
//! daily usage counters the gateway flushes in batches.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Developers {
    Table,
    Id,
    Email,
    Name,
    Organization,
    Purpose,
    Tier,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    DeveloperId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum UsageDaily {
    Table,
    Day,
    KeyId,
    DeveloperId,
    Agency,
    Dataset,
    Requests,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Developers::Table)
                    .col(
                        ColumnDef::new(Developers::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Developers::Email)
                            .string_len(254)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Developers::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Developers::Organization).string_len(200))
                    .col(ColumnDef::new(Developers::Purpose).text())
                    .col(ColumnDef::new(Developers::Tier).string_len(64).not_null())
                    .col(
                        ColumnDef::new(Developers::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(
                        ColumnDef::new(ApiKeys::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ApiKeys::DeveloperId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApiKeys::Name).string_len(100).not_null())
                    .col(ColumnDef::new(ApiKeys::Prefix).string_len(16).not_null())
                    .col(
                        ColumnDef::new(ApiKeys::KeyHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ApiKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApiKeys::LastUsedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(ApiKeys::ExpiresAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(ApiKeys::RevokedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::DeveloperId)
                            .to(Developers::Table, Developers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_developer")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::DeveloperId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_revoked_at")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::RevokedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageDaily::Table)
                    .col(ColumnDef::new(UsageDaily::Day).string_len(10).not_null())
                    .col(ColumnDef::new(UsageDaily::KeyId).string_len(36).not_null())
                    .col(
                        ColumnDef::new(UsageDaily::DeveloperId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(ColumnDef::new(UsageDaily::Agency).string_len(64).not_null())
                    .col(
                        ColumnDef::new(UsageDaily::Dataset)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UsageDaily::Requests)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(UsageDaily::Day)
                            .col(UsageDaily::KeyId)
                            .col(UsageDaily::Agency)
                            .col(UsageDaily::Dataset),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_dataset_day")
                    .table(UsageDaily::Table)
                    .col(UsageDaily::Agency)
                    .col(UsageDaily::Dataset)
                    .col(UsageDaily::Day)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_developer_day")
                    .table(UsageDaily::Table)
                    .col(UsageDaily::DeveloperId)
                    .col(UsageDaily::Day)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UsageDaily::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Developers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
