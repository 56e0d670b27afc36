//! Gerbang's domain and storage: the catalog (agencies, datasets, versions, accounts), ingestion
//! of uploads into typed record tables, and the record query planner. Nothing here knows HTTP.
//!
//! Start with [`service::Catalog`], the facade the gateway calls.
pub mod accounts;
pub mod db;
pub mod developers;
pub mod domain;
pub mod entities;
pub mod error;
pub mod records;
pub mod schema;
pub mod service;

pub use error::{CatalogError, ErrorCode, Result};
