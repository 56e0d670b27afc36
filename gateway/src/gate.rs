//! The gate every API request passes: who is calling (key, bearer token or nobody), the rate
//! limit and quota of that caller, the rate-limit headers, and usage metering.
//!
//! Staff with a valid bearer token are not limited by tier. Bad credentials cost the client
//! IP's anonymous allowance, so a flood of random keys from one address is limited too.
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, ResponseError};
use chrono::{DateTime, NaiveDate, Utc};
use ipnet::IpNet;

use crate::auth::Caller;
use crate::config::Settings;
use crate::error::ApiError;
use crate::limits::{Bucket, Decision, Policy, Verdict};
use crate::routes::ckan::CkanError;
use crate::AppState;

/// The policies of the configured tiers, and the abuse guards.
pub struct Policies {
    /// Looked up on every request with a key: foldhash, not SipHash (the names are ours).
    tiers: HashMap<String, Policy, foldhash::fast::RandomState>,
    anonymous: Policy,
    pub signup: Policy,
    pub key_changes: Policy,
}

impl Policies {
    pub fn from_settings(settings: &Settings) -> Self {
        let tiers: HashMap<String, Policy, _> = settings
            .tiers
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    Policy::per_minute(format!("tier:{name}"), t.per_minute, t.per_day),
                )
            })
            .collect();
        let anonymous = tiers
            .get("anonymous")
            .cloned()
            .unwrap_or_else(|| Policy::per_minute("tier:anonymous", 60, None));
        Self {
            tiers,
            anonymous,
            signup: Policy::per_hour("signup", settings.guards.signups_per_hour),
            key_changes: Policy::per_hour("key-changes", settings.guards.key_changes_per_hour),
        }
    }

    /// Every policy, each once.
    pub fn all(&self) -> impl Iterator<Item = &Policy> {
        self.tiers
            .values()
            .chain([&self.anonymous, &self.signup, &self.key_changes])
    }

    pub fn anonymous(&self) -> &Policy {
        &self.anonymous
    }

    /// The policy of a tier; an unknown tier (removed from settings) gets the anonymous one.
    pub fn tier(&self, name: &str) -> &Policy {
        self.tiers.get(name).unwrap_or_else(|| {
            tracing::warn!(
                tier = name,
                "a developer is on a tier the settings no longer define"
            );
            &self.anonymous
        })
    }

    /// Tiers an admin may give a developer.
    pub fn is_developer_tier(&self, name: &str) -> bool {
        name != "anonymous" && self.tiers.contains_key(name)
    }
}

/// Parses `trusted_proxies` (IPs or CIDRs).
pub fn parse_trusted(list: &[String]) -> anyhow::Result<Vec<IpNet>> {
    list.iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| anyhow::anyhow!("trusted_proxies: '{s}' is not an IP address or CIDR"))
        })
        .collect()
}

/// The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy. IPv6 clients are
/// counted per /64, the block one subscriber usually holds.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut ip = peer;
    if is_trusted(&peer) {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(h) if is_trusted(&h) => continue,
                Ok(h) => {
                    ip = h;
                    break;
                }
                // garbage in the chain: stop believing it, count the last trusted hop
                Err(_) => break,
            }
        }
    }
    per_subscriber(ip)
}

fn per_subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
        v4 => v4,
    }
}

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const X_CKAN_API_KEY: HeaderName = HeaderName::from_static("x-ckan-api-key");

/// The API key of a request: `X-API-Key`, else the `api_key` query parameter.
fn api_key(req: &HttpRequest) -> Option<Cow<'_, str>> {
    if let Some(v) = req.headers().get(X_API_KEY) {
        return Some(Cow::Borrowed(v.to_str().unwrap_or("").trim()));
    }
    req.query_string()
        .split('&')
        .find_map(|p| p.strip_prefix("api_key="))
        .map(|v| Cow::Owned(percent_decode(v)))
}

fn percent_decode(v: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("k={v}"))
        .ok()
        .and_then(|mut p| p.pop())
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// On the CKAN faces (`/api/`, `/datastore/`) CKAN clients send their key in `X-CKAN-API-Key`
/// or raw (or as `Bearer`) in `Authorization`; ckanapi sends both headers.
fn ckan_credential(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let path = req.path();
    if !(path.starts_with("/api/") || path.starts_with("/datastore/")) {
        return None;
    }
    let value = req
        .headers()
        .get(X_CKAN_API_KEY)
        .or_else(|| req.headers().get(header::AUTHORIZATION))?;
    Some(
        value
            .to_str()
            .map(|v| {
                let v = v.trim();
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                    .unwrap_or(v)
                    .trim()
                    .to_owned()
            })
            .map_err(|_| ApiError::unauthorized("the API key header is not valid")),
    )
}

async fn identify(
    state: &AppState,
    req: &HttpRequest,
    now: DateTime<Utc>,
) -> Result<Caller, ApiError> {
    if let Some(credential) = ckan_credential(req) {
        let credential = credential?;
        // A `gbk_` key is a developer's; anything else must be a staff token.
        return if credential.starts_with(catalog::developers::KEY_PREFIX) {
            Ok(Caller::Developer(
                state.keys.verify(&credential, now).await?,
            ))
        } else {
            Ok(Caller::Staff(
                Box::pin(state.verify_bearer(&credential)).await?,
            ))
        };
    }
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not valid"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("use Authorization: Bearer <token>"))?;
        return Ok(Caller::Staff(
            Box::pin(state.verify_bearer(token.trim())).await?,
        ));
    }
    match api_key(req) {
        Some(key) => Ok(Caller::Developer(state.keys.verify(&key, now).await?)),
        None => Ok(Caller::Anonymous),
    }
}

/// Paths the gate meters: the API and its interoperability faces; not health, metrics, docs or
/// the portal's static files.
fn is_gated(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/api/") || path.starts_with("/datastore/")
}

/// `(agency, dataset)` of a dataset path, for usage per dataset.
fn dataset_of(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v1/datasets/")?;
    let mut parts = rest.split('/');
    let agency = parts.next().filter(|s| !s.is_empty())?;
    let dataset = parts.next().filter(|s| !s.is_empty())?;
    Some((agency, dataset))
}

impl ApiError {
    /// A `429` for a refused decision, `Retry-After` included.
    pub fn limited(d: &Decision) -> Self {
        let (code, detail) = match d.verdict {
            Verdict::QuotaExceeded => (
                catalog::ErrorCode::QuotaExceeded,
                "the daily quota of this key is used up; it renews at 00:00 UTC".to_owned(),
            ),
            _ => (
                catalog::ErrorCode::RateLimited,
                format!(
                    "too many requests: at most {} per {}; retry in {} s",
                    d.limit, d.window_name, d.retry_after
                ),
            ),
        };
        let mut e = ApiError::new(code, detail);
        e.retry_after = Some(d.retry_after.max(1));
        e
    }
}

fn error_response(path: &str, e: &ApiError, d: Option<&Decision>) -> actix_web::HttpResponse {
    // CKAN clients read every failure in CKAN's envelope, whoever refused the request.
    let mut res = if path.starts_with("/api/") {
        let mut res = CkanError::from(e.clone()).error_response();
        if let Some(s) = e.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        res
    } else {
        e.error_response()
    };
    if let Some(d) = d {
        d.write_headers(res.headers_mut());
    }
    res
}

pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !is_gated(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("state is registered")
        .clone();
    let ip = client_ip(req.request(), &state.trusted_proxies);
    // One clock reading per request: key expiry, the quota's day and usage's day.
    let now = Utc::now();
    let today = now.date_naive();
    let caller = match identify(&state, req.request(), now).await {
        Ok(c) => c,
        Err(e) => {
            // Bad credentials cost the address's anonymous allowance.
            let d = state
                .limiter
                .check(&Bucket::ip(ip), state.policies.anonymous(), today)
                .await;
            let e = if d.allowed() || e.code == catalog::ErrorCode::Unavailable {
                e
            } else {
                ApiError::limited(&d)
            };
            let res = error_response(req.path(), &e, Some(&d));
            return Ok(req.into_response(res).map_into_right_body());
        }
    };
    let decision = match &caller {
        Caller::Staff(_) => None,
        Caller::Anonymous => Some(
            state
                .limiter
                .check(&Bucket::ip(ip), state.policies.anonymous(), today)
                .await,
        ),
        Caller::Developer(key) => {
            let bucket = Bucket::key(&key.id);
            let policy = state.policies.tier(&key.tier);
            if state.limiter.needs_quota_seed(&bucket, policy, today) {
                // once per key and day: boxed, to keep the query's state out of every request
                let used = Box::pin(catalog::developers::requests_on(
                    &state.catalog.db,
                    &key.id,
                    today,
                ));
                match used.await {
                    Ok(used) => state.limiter.seed_quota(&bucket, used, today),
                    Err(e) => tracing::warn!(error = ?e, "could not read today's usage of a key"),
                }
            }
            Some(state.limiter.check(&bucket, policy, today).await)
        }
    };
    if let Some(d) = decision.as_ref().filter(|d| !d.allowed()) {
        let res = error_response(req.path(), &ApiError::limited(d), Some(d));
        return Ok(req.into_response(res).map_into_right_body());
    }
    // A repeat of a public read is answered here, before routing (see `hot`).
    if let Some(mut res) = state.hot.answer(req.request()) {
        if let Some(d) = &decision {
            d.write_headers(res.headers_mut());
        }
        meter(&state, &caller, req.path(), res.status(), today);
        return Ok(req.into_response(res).map_into_right_body());
    }
    req.extensions_mut().insert(caller.clone());
    let mut res = next.call(req).await?;
    if let Some(d) = &decision {
        d.write_headers(res.headers_mut());
    }
    meter(&state, &caller, res.request().path(), res.status(), today);
    Ok(res.map_into_left_body())
}

fn meter(state: &AppState, caller: &Caller, path: &str, status: StatusCode, today: NaiveDate) {
    let key = match caller {
        Caller::Staff(_) => return,
        Caller::Anonymous => None,
        Caller::Developer(k) => Some(k),
    };
    // Only answered dataset paths are attributed, so junk paths cannot bloat the table.
    let dataset = dataset_of(path).filter(|_| status.as_u16() < 400);
    state.usage.record(key, dataset, today);
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_trusted(&["10.0.0.0/8".into()]).unwrap();
        let spoofed = TestRequest::default()
            .peer_addr("203.0.113.7:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "1.2.3.4"))
            .to_http_request();
        assert_eq!(client_ip(&spoofed, &trusted), ip("203.0.113.7"));

        let proxied = TestRequest::default()
            .peer_addr("10.1.2.3:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "1.2.3.4, 198.51.100.9, 10.0.0.5"))
            .to_http_request();
        // the client prepended 1.2.3.4 itself; the last untrusted hop is the real client
        assert_eq!(client_ip(&proxied, &trusted), ip("198.51.100.9"));

        let garbage = TestRequest::default()
            .peer_addr("10.1.2.3:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "not-an-ip"))
            .to_http_request();
        assert_eq!(client_ip(&garbage, &trusted), ip("10.1.2.3"));
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let req = TestRequest::default()
            .peer_addr("[2001:db8:1:2:aaaa::1]:5000".parse().unwrap())
            .to_http_request();
        assert_eq!(client_ip(&req, &[]), ip("2001:db8:1:2::"));
    }

    #[test]
    fn dataset_paths_are_recognised() {
        assert_eq!(
            dataset_of("/v1/datasets/dlh/udara/versions/1/records"),
            Some(("dlh", "udara"))
        );
        assert_eq!(dataset_of("/v1/datasets/dlh"), None);
        assert_eq!(dataset_of("/v1/agencies"), None);
    }
}
