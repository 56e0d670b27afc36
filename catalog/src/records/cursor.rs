//! Opaque, tamper-proof keyset cursors.
//!
//! A cursor is `base64url(json) "." base64url(hmac)`: the json names the version, a hash of the
//! query it belongs to and the sort key of the last row; the HMAC-SHA256 (truncated to 128 bits)
//! makes a forged or edited cursor a `400`. A cursor from another query or version is a `400` too.
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CatalogError, Result};

/// The secret that signs cursors; every gateway node must share it.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn derive(secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"gerbang-cursor-v1");
        h.update(secret);
        Self(h.finalize().into())
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length works")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorPayload {
    /// Version id.
    pub v: i64,
    /// Fingerprint hash of the query.
    pub h: String,
    /// The sort key of the last row, one JSON value per order term (datetime as microseconds).
    pub k: Vec<serde_json::Value>,
}

pub fn query_hash(fingerprint: &str) -> String {
    hex::encode(&Sha256::digest(fingerprint.as_bytes())[..8])
}

pub fn encode(key: &CursorKey, payload: &CursorPayload) -> String {
    let body = B64.encode(serde_json::to_vec(payload).expect("a payload serializes"));
    let mut mac = key.mac();
    mac.update(body.as_bytes());
    let sig = B64.encode(&mac.finalize().into_bytes()[..16]);
    format!("{body}.{sig}")
}

/// The error of a cursor that was not made for this query (edited, forged, or another's).
pub fn forged() -> CatalogError {
    CatalogError::bad_request("the cursor is not valid: use next_cursor exactly as given")
}

/// Checks the signature and that the cursor belongs to this version and query.
pub fn decode(key: &CursorKey, raw: &str, version_id: i64, hash: &str) -> Result<CursorPayload> {
    if raw.len() > 4096 {
        return Err(forged());
    }
    let (body, sig) = raw.split_once('.').ok_or_else(forged)?;
    let sig = B64.decode(sig).map_err(|_| forged())?;
    let mut mac = key.mac();
    mac.update(body.as_bytes());
    mac.verify_truncated_left(&sig).map_err(|_| forged())?;
    if sig.len() != 16 {
        return Err(forged());
    }
    let payload: CursorPayload =
        serde_json::from_slice(&B64.decode(body).map_err(|_| forged())?).map_err(|_| forged())?;
    if payload.v != version_id || payload.h != hash {
        return Err(CatalogError::bad_request(
            "the cursor belongs to another query or version: keep the filters, q and order of the page that gave it",
        ));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = CursorKey::derive(b"s");
        let p = CursorPayload {
            v: 7,
            h: "ab".into(),
            k: vec![serde_json::json!(42)],
        };
        let c = encode(&key, &p);
        assert_eq!(decode(&key, &c, 7, "ab").unwrap(), p);
        assert!(decode(&key, &c, 8, "ab").is_err(), "foreign version");
        assert!(decode(&key, &c, 7, "cd").is_err(), "foreign query");
        assert!(
            decode(&CursorKey::derive(b"other"), &c, 7, "ab").is_err(),
            "other key"
        );
        let mut forged = c.clone();
        forged.replace_range(0..1, if c.starts_with('e') { "f" } else { "e" });
        assert!(decode(&key, &forged, 7, "ab").is_err());
        assert!(decode(&key, "garbage", 7, "ab").is_err());
    }
}
