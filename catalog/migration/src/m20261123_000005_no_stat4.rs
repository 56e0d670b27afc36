//! SQLite: drops the `sqlite_stat4` samples that `ANALYZE` wrote for record tables loaded before
//! ingestion stopped keeping them (see `Layout::analyze_statement`: with samples, statements
//! that bind compared values prepare themselves again on every run). `sqlite_stat1` stays.
//! Nothing to do on Postgres, or where `ANALYZE` never ran.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let present = db
            .query_one(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
            ))
            .await?
            .is_some();
        if present {
            db.execute_unprepared("DELETE FROM sqlite_stat4").await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(()) // samples are statistics, not data: nothing to restore
    }
}
