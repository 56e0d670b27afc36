//! Gerbang's OpenAPI documents, with no HTTP in sight.
//!
//! - [`platform`]: the parts of the platform document that handlers do not carry themselves
//!   (info, security schemes, the problem+json responses, the rate-limit headers) and
//!   [`platform::finish`], which applies the contract's conventions to every operation. The
//!   gateway collects its handlers' `#[utoipa::path]` operations and hands them to `finish`.
//! - [`version`]: the typed document of one dataset version, built at run time from its schema.
//! - [`assets`]: the vendored Swagger UI that `/docs` serves (no CDN).
pub mod assets;
pub mod bodies;
pub mod params;
pub mod platform;
pub mod version;
