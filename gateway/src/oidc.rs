//! Staff tokens from an external OpenID Connect issuer, verified against its JWKS.
//!
//! Keys are fetched at start and again when a token names an unknown `kid`, at most once per
//! [`REFRESH_COOLDOWN`] (a storm of made-up kids costs one fetch), and a failed fetch keeps the
//! last good set. Only RS256 and ES256 are accepted, and each key is used only with the algorithm
//! its own type implies, so no token can pick its verification algorithm.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use catalog::accounts::Staff;
use catalog::domain::{AgencySlug, Role};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Header, Validation};
use serde_json::Value;

use crate::config::OidcSettings;
use crate::error::ApiError;

pub const REFRESH_COOLDOWN: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

type KeySet = HashMap<String, (DecodingKey, Algorithm)>;

pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

/// The keys of a JWKS we can use, by `kid`, each with the one algorithm it serves.
fn usable_keys(set: &JwkSet) -> KeySet {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => return None,
            };
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, (key, alg)))
        })
        .collect()
}

impl Oidc {
    /// Builds the verifier and fetches the issuer's keys once (a failure is logged; tokens are
    /// refused until a later fetch succeeds).
    pub async fn start(settings: OidcSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let oidc = Self {
            settings,
            http,
            keys: RwLock::new(Arc::new(KeySet::new())),
            last_fetch: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        };
        oidc.refresh().await;
        Ok(oidc)
    }

    /// How many times the JWKS was fetched (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches the JWKS unless it was fetched within the cooldown. Keeps the last good set.
    async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < REFRESH_COOLDOWN) {
            return;
        }
        *last = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = async {
            let res = self.http.get(&self.settings.jwks_url).send().await?;
            let set: JwkSet = res.error_for_status()?.json().await?;
            Ok::<_, reqwest::Error>(set)
        }
        .await;
        match fetched {
            Ok(set) => {
                let keys = usable_keys(&set);
                tracing::info!(keys = keys.len(), "fetched the OIDC issuer's keys");
                *self.keys.write().expect("lock") = Arc::new(keys);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch the OIDC issuer's keys; keeping the last good set")
            }
        }
    }

    fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.keys.read().expect("lock").get(kid).cloned()
    }

    /// Verifies an external token whose header was already decoded.
    pub async fn verify(&self, token: &str, header: &Header) -> Result<Staff, ApiError> {
        let invalid = || ApiError::unauthorized("the bearer token is invalid or expired");
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(invalid());
        }
        let kid = header.kid.as_deref().ok_or_else(invalid)?;
        if kid.len() > 256 {
            return Err(invalid());
        }
        let (key, alg) = match self.key(kid) {
            Some(k) => k,
            None => {
                self.refresh().await;
                self.key(kid).ok_or_else(invalid)?
            }
        };
        if alg != header.alg {
            return Err(invalid());
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let claims = decode::<Value>(token, &key, &validation)
            .map_err(|_| invalid())?
            .claims;
        staff_of(&claims, &self.settings).ok_or_else(|| {
            ApiError::forbidden(
                "the token is valid but names no Gerbang role (admin or publisher) with its agency",
            )
        })
    }
}

/// Maps the configured role and agency claims. A role claim may be a string or a list (the
/// strongest Gerbang role in it wins); a publisher needs a valid agency slug.
fn staff_of(claims: &Value, settings: &OidcSettings) -> Option<Staff> {
    let sub = claims.get("sub")?.as_str()?.to_owned();
    let roles: Vec<&str> = match claims.get(&settings.role_claim)? {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    let role = if roles.contains(&"admin") {
        Role::Admin
    } else if roles.contains(&"publisher") {
        Role::Publisher
    } else {
        return None;
    };
    let agency = claims
        .get(&settings.agency_claim)
        .and_then(Value::as_str)
        .and_then(|a| AgencySlug::parse(a).ok());
    if role == Role::Publisher && agency.is_none() {
        return None;
    }
    Some(Staff {
        username: sub,
        role,
        agency: if role == Role::Admin { None } else { agency },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://sso.example.go.id".into(),
            jwks_url: "http://127.0.0.1:1/jwks".into(),
            audience: "gerbang".into(),
            role_claim: "gerbang_role".into(),
            agency_claim: "opd".into(),
        }
    }

    #[test]
    fn claims_map_to_staff() {
        let s = settings();
        let p = staff_of(
            &json!({"sub": "u1", "gerbang_role": ["viewer", "publisher"], "opd": "dlh"}),
            &s,
        )
        .unwrap();
        assert_eq!(p.role, Role::Publisher);
        assert_eq!(p.agency.unwrap().as_str(), "dlh");
        let a = staff_of(&json!({"sub": "u2", "gerbang_role": "admin"}), &s).unwrap();
        assert_eq!(a.role, Role::Admin);
        // a publisher without a valid agency, or no known role, is nobody
        assert!(staff_of(
            &json!({"sub": "u3", "gerbang_role": "publisher", "opd": "Not A Slug"}),
            &s
        )
        .is_none());
        assert!(staff_of(&json!({"sub": "u4", "gerbang_role": "viewer"}), &s).is_none());
    }
}
