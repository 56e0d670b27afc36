//! Staff sign-in (`POST /v1/auth/token`) and account creation by admins.
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use actix_web::{post, web, HttpRequest, HttpResponse};
use catalog::accounts::{self, UserInput};
use catalog::domain::{AgencySlug, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::gate::client_ip;
use crate::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    #[schema(example = "admin")]
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds the token is valid.
    expires_in: u64,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    username: String,
    role: Role,
    agency: Option<AgencySlug>,
}

/// Get a staff token
///
/// Exchanges a username and password for a bearer JWT. Failed attempts are limited per client
/// address (`guards.failed_logins_per_minute`).
#[utoipa::path(
    tag = "auth",
    request_body = TokenInput,
    responses((status = 200, body = TokenView)),
    security(())
)]
#[post("/auth/token")]
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
        .json(TokenView {
            access_token: token,
            token_type: "Bearer",
            expires_in: state.jwt.ttl_seconds,
        }))
}

/// Create a staff account
///
/// Admins only. Publishers belong to one agency.
#[utoipa::path(
    tag = "auth",
    request_body = UserInput,
    responses(
        (status = 201, body = UserView),
        (status = 409, description = "The username is taken"),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    input: web::Json<UserInput>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let staff = accounts::create_user(&state.catalog.db, input.into_inner()).await?;
    Ok(HttpResponse::Created().json(UserView {
        username: staff.username,
        role: staff.role,
        agency: staff.agency,
    }))
}
