//! The first catalog schema: agencies own datasets, datasets own numbered versions.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
    Slug,
    Name,
    Description,
    Website,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    AgencyId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Datasets {
    Table,
    Id,
    AgencyId,
    Slug,
    Title,
    Description,
    Theme,
    Tags,
    License,
    Frequency,
    ContactName,
    ContactEmail,
    Spatial,
    Temporal,
    Timezone,
    Access,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Versions {
    Table,
    Id,
    DatasetId,
    Number,
    Status,
    RowCount,
    ByteSize,
    Sha256,
    Schema,
    Changelog,
    TableName,
    IdempotencyKey,
    CreatedAt,
    PublishedAt,
    DeprecatedAt,
    Sunset,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agencies::Table)
                    .col(ColumnDef::new(Agencies::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Agencies::Slug).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Agencies::Name).string().not_null())
                    .col(ColumnDef::new(Agencies::Description).text().not_null().default(""))
                    .col(ColumnDef::new(Agencies::Website).string().null())
                    .col(ColumnDef::new(Agencies::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Users::Username).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Users::Role).string_len(16).not_null())
                    .col(ColumnDef::new(Users::AgencyId).big_integer().null())
                    .col(ColumnDef::new(Users::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::AgencyId)
                            .to(Agencies::Table, Agencies::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Datasets::Table)
                    .col(ColumnDef::new(Datasets::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Datasets::AgencyId).big_integer().not_null())
                    .col(ColumnDef::new(Datasets::Slug).string_len(64).not_null())
                    .col(ColumnDef::new(Datasets::Title).string().not_null())
                    .col(ColumnDef::new(Datasets::Description).text().not_null().default(""))
                    .col(ColumnDef::new(Datasets::Theme).string_len(16).not_null())
                    .col(ColumnDef::new(Datasets::Tags).text().not_null().default("[]"))
                    .col(ColumnDef::new(Datasets::License).string_len(64).not_null())
                    .col(ColumnDef::new(Datasets::Frequency).string_len(16).not_null())
                    .col(ColumnDef::new(Datasets::ContactName).string().null())
                    .col(ColumnDef::new(Datasets::ContactEmail).string().null())
                    .col(ColumnDef::new(Datasets::Spatial).string().null())
                    .col(ColumnDef::new(Datasets::Temporal).string().null())
                    .col(ColumnDef::new(Datasets::Timezone).string_len(64).not_null())
                    .col(ColumnDef::new(Datasets::Access).string_len(16).not_null())
                    .col(ColumnDef::new(Datasets::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Datasets::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Datasets::Table, Datasets::AgencyId)
                            .to(Agencies::Table, Agencies::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("datasets_agency_slug")
                    .table(Datasets::Table)
                    .col(Datasets::AgencyId)
                    .col(Datasets::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Versions::Table)
                    .col(ColumnDef::new(Versions::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Versions::DatasetId).big_integer().not_null())
                    .col(ColumnDef::new(Versions::Number).integer().not_null())
                    .col(ColumnDef::new(Versions::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Versions::RowCount).big_integer().not_null())
                    .col(ColumnDef::new(Versions::ByteSize).big_integer().not_null())
                    .col(ColumnDef::new(Versions::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(Versions::Schema).text().not_null())
                    .col(ColumnDef::new(Versions::Changelog).text().null())
                    .col(ColumnDef::new(Versions::TableName).string_len(64).not_null())
                    .col(ColumnDef::new(Versions::IdempotencyKey).string_len(255).null())
                    .col(ColumnDef::new(Versions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Versions::PublishedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Versions::DeprecatedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Versions::Sunset).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Versions::Table, Versions::DatasetId)
                            .to(Datasets::Table, Datasets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("versions_dataset_number")
                    .table(Versions::Table)
                    .col(Versions::DatasetId)
                    .col(Versions::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("versions_dataset_idempotency")
                    .table(Versions::Table)
                    .col(Versions::DatasetId)
                    .col(Versions::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Versions::Table.into_iden(),
            Datasets::Table.into_iden(),
            Users::Table.into_iden(),
            Agencies::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
