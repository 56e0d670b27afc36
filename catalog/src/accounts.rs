//! Staff accounts (admins and agency publishers): argon2 password hashes, bootstrap admin.
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde::Deserialize;

use crate::domain::{AgencySlug, Role};
use crate::entities::{agency, user};
use crate::error::{CatalogError, Result};

/// A signed-in staff member, as the gateway sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub username: String,
    pub role: Role,
    /// The agency a publisher works for; admins have none.
    pub agency: Option<AgencySlug>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub agency: Option<AgencySlug>,
}

fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CatalogError::Internal(format!("argon2: {e}")))
}

/// A constant hash to verify against when the user does not exist (same time either way).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8Qb7K1Q9w1qH2r4jQ3cEoTtQ2nS3KfPZgq3Mx0o6wPU";

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Creates a staff account; publishers must name an existing agency.
#[tracing::instrument(skip(db, input), fields(username = %input.username))]
pub async fn create_user(db: &DatabaseConnection, input: UserInput) -> Result<Staff> {
    let username = input.username.trim().to_owned();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(CatalogError::bad_request(
            "username must be 1-64 letters, digits or - _ . @",
        ));
    }
    if input.password.chars().count() < 8 || input.password.len() > 1024 {
        return Err(CatalogError::bad_request(
            "password must be 8 to 1024 characters",
        ));
    }
    let agency_id = match (input.role, &input.agency) {
        (Role::Publisher, None) => {
            return Err(CatalogError::bad_request("a publisher needs an agency"))
        }
        (Role::Admin, Some(_)) => return Err(CatalogError::bad_request("an admin has no agency")),
        (_, Some(slug)) => Some(
            agency::Entity::find()
                .filter(agency::Column::Slug.eq(slug.as_str()))
                .one(db)
                .await?
                .ok_or_else(|| CatalogError::not_found(format!("agency '{slug}' does not exist")))?
                .id,
        ),
        (_, None) => None,
    };
    if user::Entity::find()
        .filter(user::Column::Username.eq(&username))
        .one(db)
        .await?
        .is_some()
    {
        return Err(CatalogError::Conflict(format!(
            "user '{username}' already exists"
        )));
    }
    let password = input.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| CatalogError::Internal(e.to_string()))??;
    user::ActiveModel {
        username: Set(username.clone()),
        password_hash: Set(hash),
        role: Set(input.role.as_str().to_owned()),
        agency_id: Set(agency_id),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Staff {
        username,
        role: input.role,
        agency: input.agency,
    })
}

/// Checks a username and password; `None` when either is wrong.
#[tracing::instrument(skip(db, password))]
pub async fn authenticate(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
) -> Result<Option<Staff>> {
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?;
    let hash = found
        .as_ref()
        .map_or(DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .map_err(|e| CatalogError::Internal(e.to_string()))?;
    let Some(u) = found.filter(|_| ok) else {
        return Ok(None);
    };
    let agency = match u.agency_id {
        Some(id) => agency::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|a| AgencySlug::parse(&a.slug))
            .transpose()?,
        None => None,
    };
    Ok(Some(Staff {
        username: u.username,
        role: Role::parse(&u.role)?,
        agency,
    }))
}

/// Creates user `admin` with `password` when no admin exists yet. Returns whether it did.
pub async fn bootstrap_admin(db: &DatabaseConnection, password: &str) -> Result<bool> {
    let any_admin = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .one(db)
        .await?;
    if any_admin.is_some() {
        return Ok(false);
    }
    create_user(
        db,
        UserInput {
            username: "admin".into(),
            password: password.to_owned(),
            role: Role::Admin,
            agency: None,
        },
    )
    .await?;
    tracing::info!("bootstrap admin 'admin' created");
    Ok(true)
}
