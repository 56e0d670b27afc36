//! The one table of public error codes, and the catalog's own error type.
//!
//! Every error that reaches a client carries an [`ErrorCode`]: a stable snake_case string, an HTTP
//! status and a title (docs/ERRORS.md lists them). [`CatalogError`] is what the catalog returns; its
//! `code()` is the single exhaustive mapping to the table.

/// A stable, public machine code (the `code` member of problem+json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    InvalidFilter,
    UnknownColumn,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    QuotaExceeded,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 13] = [
        Self::BadRequest,
        Self::InvalidFilter,
        Self::UnknownColumn,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::Unavailable,
        Self::Internal,
    ];

    /// `(code, status, title)` — the table itself.
    const fn row(self) -> (&'static str, u16, &'static str) {
        match self {
            Self::BadRequest => ("bad_request", 400, "Bad request"),
            Self::InvalidFilter => ("invalid_filter", 400, "Invalid filter"),
            Self::UnknownColumn => ("unknown_column", 400, "Unknown column"),
            Self::Unauthorized => ("unauthorized", 401, "Unauthorized"),
            Self::Forbidden => ("forbidden", 403, "Forbidden"),
            Self::NotFound => ("not_found", 404, "Not found"),
            Self::Conflict => ("conflict", 409, "Conflict"),
            Self::PayloadTooLarge => ("payload_too_large", 413, "Payload too large"),
            Self::UnsupportedMediaType => ("unsupported_media_type", 415, "Unsupported media type"),
            Self::RateLimited => ("rate_limited", 429, "Too many requests"),
            Self::QuotaExceeded => ("quota_exceeded", 429, "Daily quota exceeded"),
            Self::Unavailable => ("unavailable", 503, "Service unavailable"),
            Self::Internal => ("internal", 500, "Internal error"),
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.row().0
    }

    pub const fn status(self) -> u16 {
        self.row().1
    }

    pub const fn title(self) -> &'static str {
        self.row().2
    }
}

/// Errors of the catalog and record store. Client mistakes carry a human sentence; storage
/// failures keep their cause for the log and show a generic body.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    UnknownColumn(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// The store is overloaded (no connection within the pool's timeout): retry shortly.
    #[error("{0}")]
    Unavailable(String),
}

impl CatalogError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::InvalidFilter(_) => ErrorCode::InvalidFilter,
            Self::UnknownColumn(_) => ErrorCode::UnknownColumn,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            _ if self.is_unstorable_text() => ErrorCode::BadRequest,
            // Overload, not a bug: a 503 the client may retry, never a 500.
            Self::Database(sea_orm::DbErr::ConnectionAcquire(_))
            | Self::Sqlx(sqlx::Error::PoolTimedOut) => ErrorCode::Unavailable,
            Self::Database(_) | Self::Sqlx(_) | Self::Io(_) | Self::Internal(_) => {
                ErrorCode::Internal
            }
        }
    }

    /// The sentence a client is shown (storage errors other than [`Self::is_unstorable_text`]
    /// are never shown; see the gateway's conversion).
    pub fn detail(&self) -> String {
        if self.is_unstorable_text() {
            return "text cannot contain the NUL character (U+0000)".into();
        }
        self.to_string()
    }

    /// Whether the database refused text a client sent: Postgres stores no NUL character,
    /// in text (SQLSTATE 22021) or in jsonb (`\u0000`, 22P05). Rust strings are valid UTF-8,
    /// so a NUL is the only way to reach either. Uploads and filters refuse NUL before the
    /// database (`FieldType::parse_cell`, with line and column); this catches every other
    /// path, such as a catalog body, as a 400 rather than a 500.
    pub fn is_unstorable_text(&self) -> bool {
        use sea_orm::{DbErr, RuntimeErr};
        let sqlx = match self {
            Self::Sqlx(e) => e,
            Self::Database(
                DbErr::Exec(RuntimeErr::SqlxError(e))
                | DbErr::Query(RuntimeErr::SqlxError(e))
                | DbErr::Conn(RuntimeErr::SqlxError(e)),
            ) => e,
            _ => return false,
        };
        matches!(sqlx, sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("22021" | "22P05")))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    /// A copy, for when one failure answers several waiters (a single-flight cache): client
    /// errors keep their sentence; storage errors become `Internal` with their description.
    pub fn reclone(&self) -> Self {
        match self {
            Self::BadRequest(s) => Self::BadRequest(s.clone()),
            Self::InvalidFilter(s) => Self::InvalidFilter(s.clone()),
            Self::UnknownColumn(s) => Self::UnknownColumn(s.clone()),
            Self::Forbidden(s) => Self::Forbidden(s.clone()),
            Self::NotFound(s) => Self::NotFound(s.clone()),
            Self::Conflict(s) => Self::Conflict(s.clone()),
            Self::Unauthorized(s) => Self::Unauthorized(s.clone()),
            other if other.is_unstorable_text() => Self::BadRequest(other.detail()),
            other if other.code() == ErrorCode::Unavailable => {
                Self::Unavailable("the database is busy; try again in a moment".into())
            }
            other => Self::Internal(format!("{other:?}")),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(detail.into())
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exhausted_pool_is_a_retryable_503_not_a_500() {
        let busy = CatalogError::Database(sea_orm::DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ));
        assert_eq!(busy.code(), ErrorCode::Unavailable);
        assert_eq!(busy.reclone().code(), ErrorCode::Unavailable);
        assert_eq!(
            CatalogError::Sqlx(sqlx::Error::PoolTimedOut).code(),
            ErrorCode::Unavailable
        );
        let broken = CatalogError::Database(sea_orm::DbErr::Custom("boom".into()));
        assert_eq!(broken.code(), ErrorCode::Internal);
    }
}
