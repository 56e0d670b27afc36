//! Staff sign-in (`POST /v1/auth/token`) and account creation by admins.
use actix_web::{web, HttpResponse};
use catalog::accounts::{self, UserInput};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    username: String,
    password: String,
}

/// Exchanges a username and password for a bearer JWT.
#[tracing::instrument(skip_all, fields(username = %input.username))]
pub async fn create_token(
    state: web::Data<AppState>,
    input: web::Json<TokenInput>,
) -> ApiResult<HttpResponse> {
    if input.username.len() > 64 || input.password.len() > 1024 {
        return Err(ApiError::unauthorized("wrong username or password"));
    }
    let staff = accounts::authenticate(&state.catalog.db, &input.username, &input.password)
        .await?
        .ok_or_else(|| ApiError::unauthorized("wrong username or password"))?;
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
