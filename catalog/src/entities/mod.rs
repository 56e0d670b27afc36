//! sea-orm entities of the catalog tables. Never serialized to the wire: views live in the gateway.
pub mod agency;
pub mod dataset;
pub mod user;
pub mod version;
