//! Developer self-service: sign up (first key), `/v1/me`, keys (create, revoke, roll) and usage;
//! the admin's tier changes; an agency's usage of its datasets.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use catalog::developers::{self, DeveloperInput, IssuedKey, KeyView};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::datasets::dataset_path;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::gate::client_ip;
use crate::limits::Bucket;
use crate::AppState;

/// Keys are shown once: never stored by any cache.
fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: web::Json<DeveloperInput>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req, &state.trusted_proxies);
    let d = state
        .limiter
        .check(&Bucket::Ip(ip), &state.policies.signup)
        .await;
    if !d.allowed() {
        return Err(ApiError::limited(&d));
    }
    let (developer, key) = developers::register(&state.catalog.db, input.into_inner()).await?;
    tracing::info!(developer = %developer.id, "developer registered");
    Ok(no_store(HttpResponse::Created().json(json!({
        "developer": {"id": developer.id, "email": developer.email, "name": developer.name},
        "api_key": key,
    }))))
}

pub async fn me(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    let dev = developers::get_developer(&state.catalog.db, &key.developer_id).await?;
    let policy = state.policies.tier(&dev.tier);
    let used = state
        .limiter
        .quota_used(&Bucket::Key(key.id.clone()), policy)
        .await;
    Ok(no_store(HttpResponse::Ok().json(json!({
        "id": dev.id,
        "email": dev.email,
        "name": dev.name,
        "organization": dev.organization,
        "tier": dev.tier,
        "created_at": dev.created_at,
        "limits": {"per_minute": policy.limit, "per_day": policy.per_day},
        "quota": {
            "key_id": key.id,
            "used_today": used,
            "remaining_today": policy.per_day.map(|d| d.saturating_sub(used)),
            "resets_at": (Utc::now().date_naive() + chrono::Days::new(1)).and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        },
    }))))
}

pub async fn list_keys(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    let keys = developers::list_keys(&state.catalog.db, &key.developer_id).await?;
    Ok(no_store(
        HttpResponse::Ok().json(json!({"data": keys, "next_cursor": null})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    name: String,
}

async fn check_key_changes(state: &AppState, developer_id: &str) -> ApiResult<()> {
    let d = state
        .limiter
        .check(
            &Bucket::Named(format!("dev:{developer_id}")),
            &state.policies.key_changes,
        )
        .await;
    if d.allowed() {
        Ok(())
    } else {
        Err(ApiError::limited(&d))
    }
}

pub async fn create_key(
    state: web::Data<AppState>,
    caller: Caller,
    input: web::Json<KeyInput>,
) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    check_key_changes(&state, &key.developer_id).await?;
    let dev = developers::get_developer(&state.catalog.db, &key.developer_id).await?;
    let issued = developers::create_key(&state.catalog.db, &dev, &input.name).await?;
    Ok(no_store(HttpResponse::Created().json(issued)))
}

pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    let change = developers::revoke_key(&state.catalog.db, &key.developer_id, &path).await?;
    state.keys_changed(change).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollInput {
    #[serde(default)]
    grace_seconds: u64,
}

#[derive(Serialize)]
struct Rolled {
    #[serde(flatten)]
    key: IssuedKey,
    /// The key it replaces, with the moment it stops working.
    replaces: KeyView,
}

pub async fn roll_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    input: Option<web::Json<RollInput>>,
) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    check_key_changes(&state, &key.developer_id).await?;
    let grace = input.map(|i| i.grace_seconds).unwrap_or(0);
    let dev = developers::get_developer(&state.catalog.db, &key.developer_id).await?;
    let (issued, replaces, change) =
        developers::roll_key(&state.catalog.db, &dev, &path, grace).await?;
    state.keys_changed(change).await;
    Ok(no_store(HttpResponse::Created().json(Rolled {
        key: issued,
        replaces,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    from: Option<String>,
    to: Option<String>,
    #[allow(dead_code)]
    api_key: Option<String>,
}

/// `from`/`to` as dates (default: the last 30 days), at most a year apart.
fn date_range(p: &UsageParams) -> ApiResult<(NaiveDate, NaiveDate)> {
    let parse = |name: &str, v: &Option<String>| -> ApiResult<Option<NaiveDate>> {
        v.as_deref()
            .map(|s| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                    ApiError::bad_request(format!("{name} must be a date like 2026-11-22"))
                })
            })
            .transpose()
    };
    let to = parse("to", &p.to)?.unwrap_or_else(|| Utc::now().date_naive());
    let from = parse("from", &p.from)?.unwrap_or(to - chrono::Days::new(29));
    if from > to {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    if (to - from).num_days() > 366 {
        return Err(ApiError::bad_request("ask for at most 366 days at a time"));
    }
    Ok((from, to))
}

pub async fn my_usage(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<UsageParams>,
) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    let (from, to) = date_range(&params)?;
    let mut rows =
        developers::developer_usage(&state.catalog.db, &key.developer_id, from, to).await?;
    // Counts this node has not flushed yet, so a call shows up at once.
    for (k, n) in state.usage.pending_for(&key.developer_id) {
        let day = k.day.to_string();
        if k.day < from || k.day > to {
            continue;
        }
        match rows
            .iter_mut()
            .find(|r| r.day == day && r.agency == k.agency && r.dataset == k.dataset)
        {
            Some(r) => r.requests += n as i64,
            None => rows.push(developers::DeveloperUsageRow {
                day,
                agency: k.agency,
                dataset: k.dataset,
                requests: n as i64,
            }),
        }
    }
    rows.sort_by(|a, b| (&a.day, &a.agency, &a.dataset).cmp(&(&b.day, &b.agency, &b.dataset)));
    let total: i64 = rows.iter().map(|r| r.requests).sum();
    let data: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "day": r.day,
                "dataset": if r.agency.is_empty() { serde_json::Value::Null } else { json!(format!("{}/{}", r.agency, r.dataset)) },
                "requests": r.requests,
            })
        })
        .collect();
    Ok(no_store(HttpResponse::Ok().json(json!({
        "from": from, "to": to, "total": total, "data": data, "next_cursor": null,
    }))))
}

pub async fn dataset_usage(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    params: web::Query<UsageParams>,
) -> ApiResult<HttpResponse> {
    let (agency, dataset) = dataset_path(&path.0, &path.1)?;
    caller.require_writer(&agency)?;
    // 404 for a dataset that does not exist, like every other dataset path
    state.catalog.get_dataset(&agency, &dataset, true).await?;
    let (from, to) = date_range(&params)?;
    let rows = developers::dataset_usage(
        &state.catalog.db,
        agency.as_str(),
        dataset.as_str(),
        from,
        to,
    )
    .await?;
    let total: i64 = rows.iter().map(|r| r.requests).sum();
    Ok(no_store(HttpResponse::Ok().json(json!({
        "from": from, "to": to, "total": total, "data": rows, "next_cursor": null,
    }))))
}

pub async fn list_developers(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let devs = developers::list_developers(&state.catalog.db).await?;
    Ok(no_store(
        HttpResponse::Ok().json(json!({"data": devs, "next_cursor": null})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    tier: String,
}

/// An admin moves a developer to another tier; it applies to their keys at once.
pub async fn set_tier(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    input: web::Json<TierInput>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    if !state.policies.is_developer_tier(&input.tier) {
        return Err(ApiError::bad_request(format!(
            "unknown tier '{}'; the settings define: {}",
            input.tier,
            state
                .settings
                .tiers
                .keys()
                .filter(|t| *t != "anonymous")
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let (dev, change) = developers::set_tier(&state.catalog.db, &path, &input.tier).await?;
    state.keys_changed(change).await;
    Ok(no_store(HttpResponse::Ok().json(dev)))
}
