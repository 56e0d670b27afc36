//! Staff sign-in (`POST /v1/auth/token`) and account creation by admins.
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use catalog::accounts::{self, UserInput};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::gate::client_ip;
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    username: String,
    password: String,
}

/// Exchanges a username and password for a bearer JWT. Failed attempts are limited per client
/// address (`guards.failed_logins_per_minute`).
#[tracing::instrument(skip_all, fields(username = %input.username))]
pub async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: web::Json<TokenInput>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req, &state.trusted_proxies);
    let limit = state.settings.guards.failed_logins_per_minute;
    if state
        .failed_logins
        .get(&ip)
        .is_some_and(|n| n.load(Ordering::Relaxed) >= limit)
    {
        let mut e = ApiError::new(
            catalog::ErrorCode::RateLimited,
            format!("too many failed sign-ins from your address (at most {limit} a minute); wait a minute"),
        );
        e.retry_after = Some(60);
        return Err(e);
    }
    let failed = || {
        state
            .failed_logins
            .get_with(ip, || Arc::new(AtomicU32::new(0)))
            .fetch_add(1, Ordering::Relaxed);
        ApiError::unauthorized("wrong username or password")
    };
    if input.username.len() > 64 || input.password.len() > 1024 {
        return Err(failed());
    }
    let staff = accounts::authenticate(&state.catalog.db, &input.username, &input.password)
        .await?
        .ok_or_else(failed)?;
    let token = state.jwt.issue(&staff)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": state.jwt.ttl_seconds,
        })))
}

/// Creates a staff account (admin only).
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    input: web::Json<UserInput>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let staff = accounts::create_user(&state.catalog.db, input.into_inner()).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "username": staff.username,
        "role": staff.role,
        "agency": staff.agency,
    })))
}
