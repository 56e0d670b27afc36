//! The record store: one typed table per dataset version.
//!
//! - [`ingest`] turns an uploaded file into a table (scan, typed load, indexes, full text).
//! - [`query`] parses the records API's parameters; [`read`] plans and runs them.
//! - [`cursor`] signs keyset cursors; [`encode`] writes JSON, CSV, NDJSON and GeoJSON.
pub mod cursor;
pub mod encode;
pub mod examples;
pub mod ingest;
pub mod layout;
mod pg_copy;
mod pg_direct;
mod pg_load;
mod pg_lookup;
mod plan;
pub mod query;
pub mod read;
pub mod source;
mod sqlite_direct;
mod sqlite_load;
mod words;

pub use pg_direct::{GenericPlans, GENERIC_PLANS_APPLICATION};
pub use pg_lookup::Lookups;
pub use sqlite_direct::hold_reads_per_tick;
