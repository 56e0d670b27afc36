//! Who is calling: anonymous, a developer with an API key, or staff with a bearer JWT (local
//! HS256, or RS256/ES256 from an OIDC issuer; issuer, audience and expiry always checked). The
//! gate identifies the caller once; the [`Caller`] extractor says it in a handler's signature.
use std::future::{ready, Ready};

use std::sync::Arc;

use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};
use catalog::accounts::Staff;
use catalog::developers::KeyRecord;
use catalog::domain::{AgencySlug, Role};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub ttl_seconds: u64,
}

impl Jwt {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_seconds,
        }
    }

    pub fn issue(&self, staff: &Staff) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp() as u64;
        let claims = Claims {
            sub: staff.username.clone(),
            role: staff.role.as_str().to_owned(),
            agency: staff.agency.as_ref().map(|a| a.as_str().to_owned()),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + self.ttl_seconds,
            iat: now,
            nbf: now,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::from(catalog::CatalogError::Internal(format!("jwt: {e}"))))
    }

    pub fn verify(&self, token: &str) -> Result<Staff, ApiError> {
        let invalid = || {
            ApiError::unauthorized(
                "the bearer token is invalid or expired; get a new one from /v1/auth/token",
            )
        };
        if token.len() > 4096 {
            return Err(invalid());
        }
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| invalid())?;
        let role = Role::parse(&data.claims.role).map_err(|_| invalid())?;
        let agency = data
            .claims
            .agency
            .as_deref()
            .map(AgencySlug::parse)
            .transpose()
            .map_err(|_| invalid())?;
        if role == Role::Publisher && agency.is_none() {
            return Err(invalid());
        }
        Ok(Staff {
            username: data.claims.sub,
            role,
            agency,
        })
    }
}

/// The caller of a request, as the gate identified it.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    /// A valid API key.
    Developer(Arc<KeyRecord>),
    Staff(Staff),
}

impl Caller {
    /// Admins write everywhere; publishers only in their own agency.
    /// Staff may see drafts, so their catalog answers are never shared with anyone.
    pub fn is_staff(&self) -> bool {
        matches!(self, Caller::Staff(_))
    }

    pub fn can_write(&self, agency: &AgencySlug) -> bool {
        match self {
            Caller::Staff(s) => s.role == Role::Admin || s.agency.as_ref() == Some(agency),
            Caller::Anonymous | Caller::Developer(_) => false,
        }
    }

    pub fn require_writer(&self, agency: &AgencySlug) -> Result<&Staff, ApiError> {
        match self {
            Caller::Anonymous | Caller::Developer(_) => Err(ApiError::unauthorized(
                "sign in: send Authorization: Bearer <token>",
            )),
            Caller::Staff(s) if self.can_write(agency) => Ok(s),
            Caller::Staff(_) => Err(ApiError::forbidden(format!(
                "you may not publish for agency '{agency}'"
            ))),
        }
    }

    pub fn require_admin(&self) -> Result<&Staff, ApiError> {
        match self {
            Caller::Staff(s) if s.role == Role::Admin => Ok(s),
            Caller::Staff(_) => Err(ApiError::forbidden("only an admin may do this")),
            Caller::Anonymous | Caller::Developer(_) => Err(ApiError::unauthorized(
                "sign in as an admin: send Authorization: Bearer <token>",
            )),
        }
    }

    /// The key of a developer's own endpoints (`/v1/me…`).
    pub fn require_developer(&self) -> Result<&Arc<KeyRecord>, ApiError> {
        match self {
            Caller::Developer(k) => Ok(k),
            _ => Err(ApiError::unauthorized(
                "send your API key: X-API-Key: gbk_…",
            )),
        }
    }

    /// Anyone with a valid key or a staff token: what `registered` datasets ask.
    pub fn is_registered(&self) -> bool {
        !matches!(self, Caller::Anonymous)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    /// The gate stores the caller of every API request; other paths are anonymous.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Anonymous)))
    }
}
