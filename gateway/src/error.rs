//! The HTTP face of errors: every failure is an RFC 9457 problem+json with a stable `code`.
//! 5xx bodies are generic; their cause goes to the log.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use catalog::{CatalogError, ErrorCode};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    /// Seconds to wait, for `rate_limited`.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let code = e.code();
        if code == ErrorCode::Internal {
            tracing::error!(error = ?e, "internal error");
            return Self::new(code, "something went wrong on our side; it has been logged");
        }
        if code == ErrorCode::Unavailable {
            tracing::warn!(error = ?e, "database busy");
            let mut busy = Self::new(code, "the database is busy; try again in a moment");
            busy.retry_after = Some(1);
            return busy;
        }
        Self::new(code, e.detail())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let body = Problem {
            kind: format!(
                "https://gerbang.dev/problems/{}",
                self.code.as_str().replace('_', "-")
            ),
            title: self.code.title(),
            status: self.code.status(),
            detail: &self.detail,
            code: self.code.as_str(),
        };
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(s) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        res.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
