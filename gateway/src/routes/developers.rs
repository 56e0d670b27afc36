//! Developer self-service: sign up (first key), `/v1/me`, keys (create, revoke, roll) and usage;
//! the admin's tier changes; an agency's usage of its datasets.
use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use catalog::developers::{self, DatasetUsageRow, Developer, DeveloperInput, IssuedKey, KeyView};
use chrono::{DateTime, NaiveDate, Utc};
use openapi::params::{DatasetPath, IdPath};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::datasets::dataset_path;
use super::views::ListView;
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

/// A new developer's account, without its tier history.
#[derive(Serialize, ToSchema)]
pub struct DeveloperBrief {
    id: String,
    email: String,
    name: String,
}

/// The account and its first key, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RegisteredView {
    developer: DeveloperBrief,
    api_key: IssuedKey,
}

/// Sign up as a developer
///
/// Answers the first key (free tier), shown exactly once. Sign-ups are limited per client
/// address.
#[utoipa::path(
    tag = "developers",
    request_body = DeveloperInput,
    responses(
        (status = 201, body = RegisteredView),
        (status = 409, description = "The email has an account"),
    ),
    security(())
)]
#[post("/developers")]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: web::Json<DeveloperInput>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req, &state.trusted_proxies);
    let d = state
        .limiter
        .check(&Bucket::ip(ip), &state.policies.signup, today())
        .await;
    if !d.allowed() {
        return Err(ApiError::limited(&d));
    }
    let (developer, key) = developers::register(&state.catalog.db, input.into_inner()).await?;
    tracing::info!(developer = %developer.id, "developer registered");
    Ok(no_store(HttpResponse::Created().json(RegisteredView {
        developer: DeveloperBrief {
            id: developer.id,
            email: developer.email,
            name: developer.name,
        },
        api_key: key,
    })))
}

#[derive(Serialize, ToSchema)]
pub struct LimitsView {
    /// Requests per minute.
    per_minute: u32,
    /// Requests per day (null: no daily quota).
    per_day: Option<u64>,
}

/// Today's quota of the key that asks.
#[derive(Serialize, ToSchema)]
pub struct QuotaView {
    key_id: String,
    used_today: u64,
    remaining_today: Option<u64>,
    resets_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    id: String,
    email: String,
    name: String,
    organization: Option<String>,
    tier: String,
    created_at: DateTime<Utc>,
    limits: LimitsView,
    quota: QuotaView,
}

/// Who am I
///
/// The key's developer, tier, limits and today's quota.
#[utoipa::path(
    tag = "developers",
    responses((status = 200, body = MeView)),
    security(("api_key" = []), ("api_key_query" = []))
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    let dev = developers::get_developer(&state.catalog.db, &key.developer_id).await?;
    let policy = state.policies.tier(&dev.tier);
    let used = state
        .limiter
        .quota_used(&Bucket::key(&key.id), policy)
        .await;
    Ok(no_store(
        HttpResponse::Ok().json(MeView {
            id: dev.id,
            email: dev.email,
            name: dev.name,
            organization: dev.organization,
            tier: dev.tier,
            created_at: dev.created_at,
            limits: LimitsView {
                per_minute: policy.limit,
                per_day: policy.per_day,
            },
            quota: QuotaView {
                key_id: key.id.clone(),
                used_today: used,
                remaining_today: policy.per_day.map(|d| d.saturating_sub(used)),
                resets_at: (Utc::now().date_naive() + chrono::Days::new(1))
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc()),
            },
        }),
    ))
}

/// List my keys
///
/// Every key of the developer, by prefix only (never the key itself).
#[utoipa::path(
    tag = "developers",
    responses((status = 200, body = ListView<KeyView>)),
    security(("api_key" = []), ("api_key_query" = []))
)]
#[get("/me/keys")]
pub async fn list_keys(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let key = caller.require_developer()?;
    let keys = developers::list_keys(&state.catalog.db, &key.developer_id).await?;
    Ok(no_store(HttpResponse::Ok().json(ListView::all(keys))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// What the key is for, e.g. the app's name.
    #[schema(example = "peta-banjir")]
    name: String,
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

async fn check_key_changes(state: &AppState, developer_id: &str) -> ApiResult<()> {
    let d = state
        .limiter
        .check(
            &Bucket::named(&format!("dev:{developer_id}")),
            &state.policies.key_changes,
            today(),
        )
        .await;
    if d.allowed() {
        Ok(())
    } else {
        Err(ApiError::limited(&d))
    }
}

/// Create a key
///
/// At most a few active keys per developer; key changes are rate-limited. The key is shown
/// this once.
#[utoipa::path(
    tag = "developers",
    request_body = KeyInput,
    responses(
        (status = 201, body = IssuedKey),
        (status = 409, description = "Too many active keys"),
    ),
    security(("api_key" = []), ("api_key_query" = []))
)]
#[post("/me/keys")]
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

/// Revoke a key
///
/// It stops working on every node within 2 seconds.
#[utoipa::path(
    tag = "developers",
    params(IdPath),
    responses((status = 204, description = "Revoked")),
    security(("api_key" = []), ("api_key_query" = []))
)]
#[delete("/me/keys/{id}")]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollInput {
    /// How long the old key keeps working, 0–604800 seconds (7 days). Default 0.
    #[serde(default)]
    #[schema(maximum = 604800)]
    grace_seconds: u64,
}

/// The new key (shown this once) and the key it replaces.
#[derive(Serialize, ToSchema)]
pub struct Rolled {
    #[serde(flatten)]
    key: IssuedKey,
    /// The key it replaces, with the moment it stops working.
    replaces: KeyView,
}

/// Roll a key
///
/// Makes a new key with the same name and tier; the old one expires after the grace period.
#[utoipa::path(
    tag = "developers",
    params(IdPath),
    request_body(content = Option<RollInput>, description = "Optional; default grace 0"),
    responses((status = 201, body = Rolled)),
    security(("api_key" = []), ("api_key_query" = []))
)]
#[post("/me/keys/{id}/roll")]
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// First day (default: 29 days before `to`).
    #[param(value_type = Option<chrono::NaiveDate>)]
    from: Option<String>,
    /// Last day (default: today, UTC).
    #[param(value_type = Option<chrono::NaiveDate>)]
    to: Option<String>,
    #[allow(dead_code)]
    #[param(ignore)]
    api_key: Option<String>,
}

/// Requests on one day to one dataset (`dataset` null: calls that named none).
#[derive(Serialize, ToSchema)]
pub struct UsageDay {
    day: String,
    #[schema(example = "dinas-pu/laporan-jalan")]
    dataset: Option<String>,
    requests: i64,
}

/// Usage over a range of days.
#[derive(Serialize, ToSchema)]
pub struct UsageView<T> {
    from: NaiveDate,
    to: NaiveDate,
    total: i64,
    data: Vec<T>,
    next_cursor: Option<String>,
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

/// My usage
///
/// Requests per day and dataset (at most 366 days at a time), including this node's counts not
/// yet stored.
#[utoipa::path(
    tag = "developers",
    params(UsageParams),
    responses((status = 200, body = UsageView<UsageDay>)),
    security(("api_key" = []), ("api_key_query" = []))
)]
#[get("/me/usage")]
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
        .map(|r| UsageDay {
            dataset: (!r.agency.is_empty()).then(|| format!("{}/{}", r.agency, r.dataset)),
            day: r.day,
            requests: r.requests,
        })
        .collect();
    Ok(no_store(HttpResponse::Ok().json(UsageView {
        from,
        to,
        total,
        data,
        next_cursor: None,
    })))
}

/// A dataset's usage
///
/// Requests and distinct keys per day, for the agency's publishers and admins.
#[utoipa::path(
    tag = "publishing",
    params(DatasetPath, UsageParams),
    responses((status = 200, body = UsageView<DatasetUsageRow>)),
    security(("bearer" = []))
)]
#[get("/datasets/{agency}/{dataset}/usage")]
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
    Ok(no_store(HttpResponse::Ok().json(UsageView {
        from,
        to,
        total,
        data: rows,
        next_cursor: None,
    })))
}

/// List developers
///
/// Admins only.
#[utoipa::path(
    tag = "publishing",
    responses((status = 200, body = ListView<Developer>)),
    security(("bearer" = []))
)]
#[get("/developers")]
pub async fn list_developers(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let devs = developers::list_developers(&state.catalog.db).await?;
    Ok(no_store(HttpResponse::Ok().json(ListView::all(devs))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    /// A developer tier from the settings (`free`, `partner`, …).
    #[schema(example = "partner")]
    tier: String,
}

/// Set a developer's tier
///
/// Admins only; it applies to all their keys at once, on every node.
#[utoipa::path(
    tag = "publishing",
    params(IdPath),
    request_body = TierInput,
    responses((status = 200, body = Developer)),
    security(("bearer" = []))
)]
#[patch("/developers/{id}")]
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
