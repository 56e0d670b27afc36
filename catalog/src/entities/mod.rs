//! sea-orm entities of the catalog tables. Never serialized to the wire: views live in the gateway.
pub mod agency;
pub mod api_key;
pub mod dataset;
pub mod developer;
pub mod usage_daily;
pub mod user;
pub mod version;
