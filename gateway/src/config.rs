//! Typed settings: defaults for one machine, then an optional TOML file, then `GERBANG_*`
//! environment variables (`__` for nesting). Secrets are wrapped so they never reach a log.
use std::collections::BTreeMap;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tier {
    pub per_minute: u32,
    #[serde(default)]
    pub per_day: Option<u64>,
}

/// What the portal's pages need from the deployment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalSettings {
    /// A map tile server as a Leaflet URL template (`https://tiles.example.go.id/{z}/{x}/{y}.png`),
    /// e.g. the city's own; unset, maps draw points on a plain background (works offline).
    pub map_tiles_url: Option<String>,
    /// The attribution the tile server asks for.
    pub map_attribution: Option<String>,
}

/// Limits that protect sign-in and self-service from abuse (per client IP or per developer).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Guards {
    /// Failed `POST /v1/auth/token` attempts per IP per minute before a 429.
    pub failed_logins_per_minute: u32,
    /// `POST /v1/developers` per IP per hour.
    pub signups_per_hour: u32,
    /// Key creations and rolls per developer per hour.
    pub key_changes_per_hour: u32,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            failed_logins_per_minute: 10,
            signups_per_hour: 20,
            key_changes_per_hour: 30,
        }
    }
}

/// The in-process response cache of record reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheSettings {
    pub enabled: bool,
    /// Bytes of response bodies held in process (default 64 MiB).
    pub max_bytes: u64,
    /// Lifetime of answers in the shared Redis layer (default one day; keys of immutable
    /// versions never go stale, the TTL keeps Redis memory bounded).
    pub redis_ttl_seconds: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bytes: 64 << 20,
            redis_ttl_seconds: 86_400,
        }
    }
}

/// An external OpenID Connect issuer whose RS256/ES256 tokens are accepted for staff.
#[derive(Debug, Clone, Deserialize)]
pub struct OidcSettings {
    pub issuer: String,
    pub jwks_url: String,
    pub audience: String,
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    #[serde(default = "default_agency_claim")]
    pub agency_claim: String,
}

fn default_role_claim() -> String {
    "role".into()
}

fn default_agency_claim() -> String {
    "agency".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub listen: String,
    pub database_url: String,
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Namespace of this deployment's Redis keys and channels.
    pub redis_prefix: String,
    /// Peers (IPs or CIDRs) whose `X-Forwarded-For` is believed; everyone else is the socket peer.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Signs JWTs and keyset cursors; every node must share it. Unset: random per process.
    #[serde(default)]
    pub jwt_secret: Option<SecretString>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_ttl_seconds: u64,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
    #[serde(default)]
    pub admin_password: Option<SecretString>,
    /// Where uploads are spooled before ingestion (default: the system temp dir).
    #[serde(default)]
    pub upload_dir: Option<String>,
    pub tiers: BTreeMap<String, Tier>,
    #[serde(default)]
    pub guards: Guards,
    #[serde(default)]
    pub cache: CacheSettings,
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
    #[serde(default)]
    pub portal: PortalSettings,
    /// Log as JSON lines instead of human text.
    pub log_json: bool,
}

#[derive(Serialize)]
struct Defaults {
    listen: &'static str,
    database_url: &'static str,
    redis_prefix: &'static str,
    jwt_issuer: &'static str,
    jwt_audience: &'static str,
    jwt_ttl_seconds: u64,
    max_upload_bytes: u64,
    tiers: BTreeMap<&'static str, Tier>,
    log_json: bool,
}

impl Settings {
    /// Loads settings from defaults, `file` (if given) and the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let defaults = Defaults {
            listen: "127.0.0.1:8080",
            database_url: "sqlite://gerbang.db",
            redis_prefix: "gerbang",
            jwt_issuer: "gerbang",
            jwt_audience: "gerbang",
            jwt_ttl_seconds: 3600,
            max_upload_bytes: 1 << 30,
            tiers: BTreeMap::from([
                (
                    "anonymous",
                    Tier {
                        per_minute: 60,
                        per_day: None,
                    },
                ),
                (
                    "free",
                    Tier {
                        per_minute: 600,
                        per_day: Some(100_000),
                    },
                ),
                (
                    "partner",
                    Tier {
                        per_minute: 6000,
                        per_day: Some(10_000_000),
                    },
                ),
            ]),
            log_json: false,
        };
        let mut figment = Figment::from(Serialized::defaults(defaults));
        if let Some(f) = file {
            anyhow::ensure!(f.exists(), "config file {} does not exist", f.display());
            figment = figment.merge(Toml::file(f));
        }
        figment = figment.merge(Env::prefixed("GERBANG_").split("__"));
        Ok(figment.extract()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail signature
    fn one_nested_setting_from_the_environment_keeps_the_other_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("GERBANG_GUARDS__SIGNUPS_PER_HOUR", "7");
            jail.set_env("GERBANG_TIERS__FREE__PER_MINUTE", "5");
            let s = Settings::load(None).expect("settings load");
            assert_eq!(s.guards.signups_per_hour, 7);
            assert_eq!(s.guards.failed_logins_per_minute, 10);
            assert_eq!(s.tiers["free"].per_minute, 5);
            assert_eq!(s.tiers["free"].per_day, Some(100_000));
            assert_eq!(s.redis_prefix, "gerbang");
            Ok(())
        });
    }
}
