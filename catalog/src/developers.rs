//! Developers and their API keys, and the daily usage counters.
//!
//! A key is `gbk_` + 32 base62 characters from the OS CSPRNG + a 6-character base62 CRC-32 of
//! those 32, so a mistyped key is refused by [`KeyFormat::check`] before any lookup. Only the
//! SHA-256 of a key is stored: keys are long random secrets, so a fast hash is enough and keeps
//! verification off the slow path.
use chrono::{DateTime, NaiveDate, Utc};
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entities::{api_key, developer, usage_daily};
use crate::error::{CatalogError, Result};

pub const KEY_PREFIX: &str = "gbk_";
/// Postgres sums a bigint as numeric; both backends give back a bigint this way.
const SUM_REQUESTS: &str = "CAST(SUM(requests) AS BIGINT)";
const BODY_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
pub const KEY_LEN: usize = KEY_PREFIX.len() + BODY_LEN + CHECKSUM_LEN;
/// Characters of a key shown in listings (`gbk_` and the first 8 of the body).
const DISPLAY_LEN: usize = KEY_PREFIX.len() + 8;
/// Active (unrevoked, unexpired) keys a developer may hold at once.
pub const MAX_ACTIVE_KEYS: u64 = 5;
/// The longest grace period of a rolled key: 7 days.
pub const MAX_GRACE_SECONDS: u64 = 7 * 24 * 3600;
/// The tier of a new developer.
pub const DEFAULT_TIER: &str = "free";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Creating and checking the text of keys. Pure functions; no storage.
pub struct KeyFormat;

impl KeyFormat {
    fn checksum(body: &str) -> String {
        let mut n = crc32fast::hash(body.as_bytes()) as u64;
        let mut out = [b'0'; CHECKSUM_LEN];
        for slot in out.iter_mut().rev() {
            *slot = BASE62[(n % 62) as usize];
            n /= 62;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> String {
        let body: String = OsRng
            .sample_iter(&Alphanumeric)
            .take(BODY_LEN)
            .map(char::from)
            .collect();
        let checksum = Self::checksum(&body);
        format!("{KEY_PREFIX}{body}{checksum}")
    }

    /// Whether `key` is shaped like a key and its checksum matches. No I/O.
    pub fn check(key: &str) -> bool {
        if key.len() != KEY_LEN || !key.is_ascii() {
            return false;
        }
        let Some(rest) = key.strip_prefix(KEY_PREFIX) else {
            return false;
        };
        if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        let (body, checksum) = rest.split_at(BODY_LEN);
        Self::checksum(body) == checksum
    }

    /// Hex SHA-256, the only form in which keys are stored.
    pub fn hash(key: &str) -> String {
        hex::encode(Self::digest(key))
    }

    pub fn digest(key: &str) -> [u8; 32] {
        Sha256::digest(key.as_bytes()).into()
    }

    pub fn display_prefix(key: &str) -> String {
        key.chars().take(DISPLAY_LEN).collect()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeveloperInput {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Developer {
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    pub tier: String,
    pub created_at: DateTime<Utc>,
}

impl From<developer::Model> for Developer {
    fn from(m: developer::Model) -> Self {
        Self {
            id: m.id,
            email: m.email,
            name: m.name,
            organization: m.organization,
            tier: m.tier,
            created_at: m.created_at,
        }
    }
}

/// A key at the moment it is made: the only time its text is shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
    pub prefix: String,
    pub name: String,
    pub tier: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    /// Rolled: works until `expires_at`.
    Expiring,
    Expired,
    Revoked,
}

/// A key in a listing: never its text.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn status_of(m: &api_key::Model, now: DateTime<Utc>) -> KeyStatus {
    match (m.revoked_at, m.expires_at) {
        (Some(_), _) => KeyStatus::Revoked,
        (None, Some(e)) if e <= now => KeyStatus::Expired,
        (None, Some(_)) => KeyStatus::Expiring,
        (None, None) => KeyStatus::Active,
    }
}

impl KeyView {
    fn of(m: api_key::Model, now: DateTime<Utc>) -> Self {
        Self {
            status: status_of(&m, now),
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// What verification needs to know about a stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub developer_id: String,
    pub tier: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

impl KeyRecord {
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A change to keys that every node's key cache must hear about (by key hash).
#[derive(Debug, Clone)]
pub struct KeyChange {
    pub hashes: Vec<String>,
}

/// One counter of the usage table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageKey {
    pub day: NaiveDate,
    /// Empty for anonymous callers.
    pub key_id: String,
    pub developer_id: String,
    pub agency: String,
    pub dataset: String,
}

#[derive(Debug, Clone, Serialize, FromQueryResult, utoipa::ToSchema)]
pub struct DeveloperUsageRow {
    pub day: String,
    pub agency: String,
    pub dataset: String,
    pub requests: i64,
}

#[derive(Debug, Clone, Serialize, FromQueryResult, utoipa::ToSchema)]
pub struct DatasetUsageRow {
    pub day: String,
    pub requests: i64,
    pub distinct_keys: i64,
}

fn clean(s: &str, what: &str, max: usize) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(CatalogError::bad_request(format!(
            "{what} must be 1–{max} characters without control characters"
        )));
    }
    Ok(s.to_owned())
}

fn clean_optional(s: Option<String>, what: &str, max: usize) -> Result<Option<String>> {
    s.filter(|s| !s.trim().is_empty())
        .map(|s| clean(&s, what, max))
        .transpose()
}

fn clean_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(CatalogError::bad_request(
            "email must be a valid address such as nama@contoh.id",
        ));
    }
    Ok(email)
}

async fn insert_key<C: ConnectionTrait>(
    db: &C,
    developer_id: &str,
    name: &str,
    tier: &str,
) -> Result<IssuedKey> {
    let key = KeyFormat::generate();
    let now = Utc::now();
    let model = api_key::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        developer_id: Set(developer_id.to_owned()),
        name: Set(name.to_owned()),
        prefix: Set(KeyFormat::display_prefix(&key)),
        key_hash: Set(KeyFormat::hash(&key)),
        created_at: Set(now),
        last_used_at: Set(None),
        expires_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(IssuedKey {
        id: model.id,
        prefix: model.prefix,
        name: model.name,
        tier: tier.to_owned(),
        created_at: model.created_at,
        key,
    })
}

/// Registers a developer on the default tier with a first key named `default`.
#[tracing::instrument(skip_all)]
pub async fn register(
    db: &DatabaseConnection,
    input: DeveloperInput,
) -> Result<(Developer, IssuedKey)> {
    let email = clean_email(&input.email)?;
    let name = clean(&input.name, "name", 200)?;
    let organization = clean_optional(input.organization, "organization", 200)?;
    let purpose = clean_optional(input.purpose, "purpose", 2000)?;
    let new = NewDeveloper {
        email,
        name,
        organization,
        purpose,
    };
    crate::db::retry_busy(|| register_once(db, &new)).await
}

struct NewDeveloper {
    email: String,
    name: String,
    organization: Option<String>,
    purpose: Option<String>,
}

async fn register_once(
    db: &DatabaseConnection,
    new: &NewDeveloper,
) -> Result<(Developer, IssuedKey)> {
    let txn = db.begin().await?;
    let taken = developer::Entity::find()
        .filter(developer::Column::Email.eq(&new.email))
        .count(&txn)
        .await?;
    if taken > 0 {
        return Err(CatalogError::Conflict(
            "a developer with this email is already registered".into(),
        ));
    }
    let dev = developer::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        email: Set(new.email.clone()),
        name: Set(new.name.clone()),
        organization: Set(new.organization.clone()),
        purpose: Set(new.purpose.clone()),
        tier: Set(DEFAULT_TIER.to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let key = insert_key(&txn, &dev.id, "default", &dev.tier).await?;
    txn.commit().await?;
    Ok((dev.into(), key))
}

pub async fn get_developer(db: &DatabaseConnection, id: &str) -> Result<Developer> {
    developer::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Developer::from)
        .ok_or_else(|| CatalogError::not_found("no such developer"))
}

pub async fn list_developers(db: &DatabaseConnection) -> Result<Vec<Developer>> {
    Ok(developer::Entity::find()
        .order_by_asc(developer::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(Developer::from)
        .collect())
}

/// Sets a developer's tier (admin only; the gateway checks the tier exists). Returns the hashes
/// of the developer's keys, whose cached tier is now stale.
pub async fn set_tier(
    db: &DatabaseConnection,
    id: &str,
    tier: &str,
) -> Result<(Developer, KeyChange)> {
    let dev = developer::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| CatalogError::not_found("no such developer"))?;
    let mut active: developer::ActiveModel = dev.into();
    active.tier = Set(tier.to_owned());
    let dev = active.update(db).await?;
    let hashes = api_key::Entity::find()
        .filter(api_key::Column::DeveloperId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|k| k.key_hash)
        .collect();
    Ok((dev.into(), KeyChange { hashes }))
}

pub async fn list_keys(db: &DatabaseConnection, developer_id: &str) -> Result<Vec<KeyView>> {
    let now = Utc::now();
    Ok(api_key::Entity::find()
        .filter(api_key::Column::DeveloperId.eq(developer_id))
        .order_by_asc(api_key::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|m| KeyView::of(m, now))
        .collect())
}

async fn active_key_count<C: ConnectionTrait>(db: &C, developer_id: &str) -> Result<u64> {
    let now = Utc::now();
    Ok(api_key::Entity::find()
        .filter(api_key::Column::DeveloperId.eq(developer_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(
            api_key::Column::ExpiresAt
                .is_null()
                .or(api_key::Column::ExpiresAt.gt(now)),
        )
        .count(db)
        .await?)
}

/// Makes another key, up to [`MAX_ACTIVE_KEYS`] active at once.
pub async fn create_key(
    db: &DatabaseConnection,
    developer: &Developer,
    name: &str,
) -> Result<IssuedKey> {
    let name = clean(name, "name", 100)?;
    crate::db::retry_busy(|| async {
        let txn = db.begin().await?;
        if active_key_count(&txn, &developer.id).await? >= MAX_ACTIVE_KEYS {
            return Err(CatalogError::Conflict(format!(
                "a developer may hold at most {MAX_ACTIVE_KEYS} active keys; revoke one first"
            )));
        }
        let key = insert_key(&txn, &developer.id, &name, &developer.tier).await?;
        txn.commit().await?;
        Ok(key)
    })
    .await
}

async fn own_key<C: ConnectionTrait>(
    db: &C,
    developer_id: &str,
    key_id: &str,
) -> Result<api_key::Model> {
    api_key::Entity::find_by_id(key_id)
        .filter(api_key::Column::DeveloperId.eq(developer_id))
        .one(db)
        .await?
        .ok_or_else(|| CatalogError::not_found("you have no key with this id"))
}

/// Revokes one of the developer's keys (at once). Revoking twice is not an error.
pub async fn revoke_key(
    db: &DatabaseConnection,
    developer_id: &str,
    key_id: &str,
) -> Result<KeyChange> {
    let key = own_key(db, developer_id, key_id).await?;
    let hash = key.key_hash.clone();
    if key.revoked_at.is_none() {
        let mut active: api_key::ActiveModel = key.into();
        active.revoked_at = Set(Some(Utc::now()));
        active.update(db).await?;
    }
    Ok(KeyChange { hashes: vec![hash] })
}

/// Replaces a key: a new key now, and the old one stops after `grace_seconds` (0–7 days; 0
/// revokes it at once). Answers the new key and the old one as it is now.
pub async fn roll_key(
    db: &DatabaseConnection,
    developer: &Developer,
    key_id: &str,
    grace_seconds: u64,
) -> Result<(IssuedKey, KeyView, KeyChange)> {
    if grace_seconds > MAX_GRACE_SECONDS {
        return Err(CatalogError::bad_request(format!(
            "grace_seconds must be between 0 and {MAX_GRACE_SECONDS} (7 days)"
        )));
    }
    crate::db::retry_busy(|| async {
        let txn = db.begin().await?;
        let old = own_key(&txn, &developer.id, key_id).await?;
        let now = Utc::now();
        if status_of(&old, now) != KeyStatus::Active {
            return Err(CatalogError::Conflict(
                "only an active key can be rolled".into(),
            ));
        }
        let new = insert_key(&txn, &developer.id, &old.name, &developer.tier).await?;
        let hash = old.key_hash.clone();
        let mut active: api_key::ActiveModel = old.into();
        if grace_seconds == 0 {
            active.revoked_at = Set(Some(now));
        } else {
            active.expires_at = Set(Some(now + chrono::Duration::seconds(grace_seconds as i64)));
        }
        let old = active.update(&txn).await?;
        txn.commit().await?;
        Ok((new, KeyView::of(old, now), KeyChange { hashes: vec![hash] }))
    })
    .await
}

/// The stored key with this hash, and its developer's tier.
pub async fn find_key(db: &DatabaseConnection, hash: &str) -> Result<Option<KeyRecord>> {
    let Some(key) = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(dev) = developer::Entity::find_by_id(&key.developer_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(KeyRecord {
        revoked: key.revoked_at.is_some(),
        id: key.id,
        developer_id: key.developer_id,
        tier: dev.tier,
        expires_at: key.expires_at,
    }))
}

/// Hashes of keys revoked at or after `since`: the polling fallback of revocation.
pub async fn revoked_since(db: &DatabaseConnection, since: DateTime<Utc>) -> Result<Vec<String>> {
    Ok(api_key::Entity::find()
        .select_only()
        .column(api_key::Column::KeyHash)
        .filter(api_key::Column::RevokedAt.gte(since))
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// How long stored batch ids are kept: far longer than any retry of one batch.
const FLUSH_IDS_KEPT: chrono::Duration = chrono::Duration::hours(6);

/// Adds a batch of counters to the usage table and stamps `last_used_at`, in one transaction,
/// exactly once per `batch_id`: the id is stored in the same transaction, so retrying a batch
/// whose commit was applied but not acknowledged adds nothing twice.
pub async fn record_usage(
    db: &DatabaseConnection,
    batch_id: &str,
    batch: &[(UsageKey, u64)],
    at: DateTime<Utc>,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let flushes = Alias::new("usage_flushes");
    let claim = Query::insert()
        .into_table(flushes.clone())
        .columns([Alias::new("id"), Alias::new("flushed_at")])
        .values_panic([batch_id.into(), at.into()])
        .on_conflict(OnConflict::column(Alias::new("id")).do_nothing().to_owned())
        .to_owned();
    if txn.execute(backend.build(&claim)).await?.rows_affected() == 0 {
        tracing::warn!(batch_id, "usage batch already stored; not adding it twice");
        return Ok(());
    }
    let prune = Query::delete()
        .from_table(flushes)
        .and_where(Expr::col(Alias::new("flushed_at")).lt(at - FLUSH_IDS_KEPT))
        .to_owned();
    txn.execute(backend.build(&prune)).await?;
    for chunk in batch.chunks(200) {
        let rows = chunk.iter().map(|(k, n)| usage_daily::ActiveModel {
            day: Set(k.day.to_string()),
            key_id: Set(k.key_id.clone()),
            developer_id: Set(k.developer_id.clone()),
            agency: Set(k.agency.clone()),
            dataset: Set(k.dataset.clone()),
            requests: Set(*n as i64),
        });
        usage_daily::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    usage_daily::Column::Day,
                    usage_daily::Column::KeyId,
                    usage_daily::Column::Agency,
                    usage_daily::Column::Dataset,
                ])
                .value(
                    usage_daily::Column::Requests,
                    Expr::col((usage_daily::Entity, usage_daily::Column::Requests))
                        .add(Expr::cust("excluded.requests")),
                )
                .to_owned(),
            )
            .exec(&txn)
            .await?;
    }
    let mut key_ids: Vec<&str> = batch
        .iter()
        .map(|(k, _)| k.key_id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    key_ids.sort_unstable();
    key_ids.dedup();
    for chunk in key_ids.chunks(500) {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
            .filter(api_key::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Requests per day and dataset of one developer (all their keys), `from..=to`.
pub async fn developer_usage(
    db: &DatabaseConnection,
    developer_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DeveloperUsageRow>> {
    Ok(usage_daily::Entity::find()
        .select_only()
        .column(usage_daily::Column::Day)
        .column(usage_daily::Column::Agency)
        .column(usage_daily::Column::Dataset)
        .column_as(Expr::cust(SUM_REQUESTS), "requests")
        .filter(usage_daily::Column::DeveloperId.eq(developer_id))
        .filter(usage_daily::Column::Day.gte(from.to_string()))
        .filter(usage_daily::Column::Day.lte(to.to_string()))
        .group_by(usage_daily::Column::Day)
        .group_by(usage_daily::Column::Agency)
        .group_by(usage_daily::Column::Dataset)
        .order_by_asc(usage_daily::Column::Day)
        .order_by_asc(usage_daily::Column::Agency)
        .order_by_asc(usage_daily::Column::Dataset)
        .into_model::<DeveloperUsageRow>()
        .all(db)
        .await?)
}

/// Requests per day of one dataset, and how many distinct keys made them, `from..=to`.
pub async fn dataset_usage(
    db: &DatabaseConnection,
    agency: &str,
    dataset: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DatasetUsageRow>> {
    Ok(usage_daily::Entity::find()
        .select_only()
        .column(usage_daily::Column::Day)
        .column_as(Expr::cust(SUM_REQUESTS), "requests")
        .column_as(
            Expr::cust("COUNT(DISTINCT NULLIF(key_id, ''))"),
            "distinct_keys",
        )
        .filter(usage_daily::Column::Agency.eq(agency))
        .filter(usage_daily::Column::Dataset.eq(dataset))
        .filter(usage_daily::Column::Day.gte(from.to_string()))
        .filter(usage_daily::Column::Day.lte(to.to_string()))
        .group_by(usage_daily::Column::Day)
        .order_by_asc(usage_daily::Column::Day)
        .into_model::<DatasetUsageRow>()
        .all(db)
        .await?)
}

/// Requests counted so far today for one key (seeds a node's daily quota after a restart).
pub async fn requests_on(db: &DatabaseConnection, key_id: &str, day: NaiveDate) -> Result<u64> {
    let n: Option<Option<i64>> = usage_daily::Entity::find()
        .select_only()
        .column_as(Expr::cust(SUM_REQUESTS), "requests")
        .filter(usage_daily::Column::KeyId.eq(key_id))
        .filter(usage_daily::Column::Day.eq(day.to_string()))
        .into_tuple()
        .one(db)
        .await?;
    Ok(n.flatten().unwrap_or(0).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_retried_usage_batch_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("usage.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let key = UsageKey {
            day,
            key_id: String::new(),
            developer_id: String::new(),
            agency: "dinas-pu".into(),
            dataset: "laporan".into(),
        };
        let batch = vec![(key, 37)];
        let now = Utc::now();
        record_usage(&db, "batch-1", &batch, now).await.unwrap();
        // the writer retries a batch whose commit was applied but not acknowledged
        record_usage(&db, "batch-1", &batch, now).await.unwrap();
        record_usage(&db, "batch-2", &batch, now).await.unwrap();
        let rows = dataset_usage(&db, "dinas-pu", "laporan", day, day)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].requests, 74);
    }

    #[test]
    fn generated_keys_pass_their_own_check() {
        for _ in 0..100 {
            let key = KeyFormat::generate();
            assert_eq!(key.len(), KEY_LEN);
            assert!(key.starts_with("gbk_"));
            assert!(KeyFormat::check(&key), "{key}");
        }
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let key = KeyFormat::generate();
        let mut bytes = key.clone().into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert!(!KeyFormat::check(&typo));
        assert!(!KeyFormat::check(&key[..KEY_LEN - 1]));
        assert!(!KeyFormat::check(&format!("gbx_{}", &key[4..])));
        assert!(!KeyFormat::check(""));
    }

    #[test]
    fn hash_is_hex_sha256_and_prefix_is_short() {
        let key = KeyFormat::generate();
        assert_eq!(KeyFormat::hash(&key).len(), 64);
        assert_eq!(KeyFormat::display_prefix(&key).len(), 12);
        assert!(key.starts_with(&KeyFormat::display_prefix(&key)));
    }
}
