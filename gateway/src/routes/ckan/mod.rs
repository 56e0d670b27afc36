//! The CKAN Action API face (`/api/3/action/{name}`, `/api/action/{name}`), so CKAN clients
//! (ckanapi, ckanr) and harvesters work unchanged: package = dataset, organization = agency,
//! resource = published version. [`call_action`] dispatches; [`packages`] has the catalogue
//! actions, [`search`] `package_search`, [`datastore`] the record search (on the `/v1` query
//! engine) and the CSV dump.
//!
//! CKAN's wire shapes are kept exactly: `{help, success, result}`, and errors
//! `{help, success: false, error: {__type, message}}` with CKAN's statuses.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use catalog::ErrorCode;
use serde_json::{json, Map, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

mod datastore;
mod packages;
mod search;

pub use datastore::dump_datastore;

/// The CKAN version whose Action API this face follows.
pub const CKAN_VERSION: &str = "2.10.4";

/// CKAN's error kinds, each with its status and `__type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Validation,
    NotFound,
    Authorization,
    SearchQuery,
    RateLimited,
    Internal,
}

impl Kind {
    fn status(self) -> u16 {
        match self {
            Kind::BadRequest | Kind::SearchQuery => 400,
            Kind::Authorization => 403,
            Kind::NotFound => 404,
            Kind::Validation => 409,
            Kind::RateLimited => 429,
            Kind::Internal => 500,
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Kind::BadRequest => "Bad Request",
            Kind::Validation => "Validation Error",
            Kind::NotFound => "Not Found Error",
            Kind::Authorization => "Authorization Error",
            Kind::SearchQuery => "Search Query Error",
            Kind::RateLimited => "Rate Limit Error",
            Kind::Internal => "Internal Server Error",
        }
    }
}

/// A failed action, answered in CKAN's error envelope.
#[derive(Debug)]
pub struct CkanError {
    kind: Kind,
    message: String,
    /// For validation errors: the parameter at fault (CKAN lists messages per field).
    field: Option<String>,
    help: String,
}

impl CkanError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
            help: String::new(),
        }
    }

    /// A Validation Error naming the parameter, as CKAN does (`{"id": ["Missing value"]}`).
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(Kind::Validation, message)
        }
    }

    fn with_help(mut self, help: String) -> Self {
        self.help = help;
        self
    }
}

impl From<ApiError> for CkanError {
    fn from(e: ApiError) -> Self {
        let kind = match e.code {
            ErrorCode::NotFound => Kind::NotFound,
            ErrorCode::Unauthorized | ErrorCode::Forbidden => Kind::Authorization,
            ErrorCode::BadRequest
            | ErrorCode::InvalidFilter
            | ErrorCode::UnknownColumn
            | ErrorCode::Conflict
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnsupportedMediaType => Kind::Validation,
            ErrorCode::RateLimited | ErrorCode::QuotaExceeded => Kind::RateLimited,
            ErrorCode::Unavailable | ErrorCode::Internal => Kind::Internal,
        };
        Self::new(kind, e.detail)
    }
}

impl From<catalog::CatalogError> for CkanError {
    fn from(e: catalog::CatalogError) -> Self {
        ApiError::from(e).into()
    }
}

impl std::fmt::Display for CkanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.type_name(), self.message)
    }
}

impl ResponseError for CkanError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut error = json!({"__type": self.kind.type_name(), "message": self.message});
        if let Some(f) = &self.field {
            error[f] = json!([self.message]);
        }
        HttpResponse::build(self.status_code())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"help": self.help, "success": false, "error": error}))
    }
}

pub type CkanResult<T> = Result<T, CkanError>;

/// An action's parameters: the query string (GET) or the JSON object body (POST). Accessors accept
/// both shapes CKAN clients send, e.g. `rows=10` and `{"rows": 10}`.
pub struct Params(Map<String, Value>);

impl Params {
    fn parse(req: &HttpRequest, body: &[u8]) -> CkanResult<Self> {
        let mut map = Map::new();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| CkanError::new(Kind::BadRequest, format!("query string: {e}")))?;
        for (k, v) in pairs {
            map.insert(k, Value::String(v));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(map));
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| CkanError::new(Kind::BadRequest, format!("form body: {e}")))?;
            for (k, v) in pairs {
                map.insert(k, Value::String(v));
            }
            return Ok(Self(map));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(o)) => map.extend(o),
            Ok(_) => {
                return Err(CkanError::new(
                    Kind::BadRequest,
                    "Bad request - JSON Error: the body must be a JSON object",
                ))
            }
            Err(e) => {
                return Err(CkanError::new(
                    Kind::BadRequest,
                    format!("Bad request - JSON Error: {e}"),
                ))
            }
        }
        Ok(Self(map))
    }

    fn raw(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A parameter that is text, or a JSON object (sent as such, or as `{…}` text).
    pub fn json_or_text(&self, name: &str) -> CkanResult<Option<Value>> {
        match self.raw(name) {
            Some(Value::String(s)) if s.trim_start().starts_with('{') => self.json(name),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            other => Ok(other.cloned()),
        }
    }

    /// A text parameter (numbers are taken as their text).
    pub fn text(&self, name: &str) -> CkanResult<Option<String>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(CkanError::invalid(name, format!("{name} must be a string"))),
        }
    }

    /// A required text parameter.
    pub fn required(&self, name: &str) -> CkanResult<String> {
        self.text(name)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| CkanError::invalid(name, "Missing value"))
    }

    /// A whole number, at most `max` (`clamp` says whether larger values are lowered to `max`,
    /// as CKAN does for `rows` and `limit`, or refused).
    pub fn number(&self, name: &str, default: u64, max: u64, clamp: bool) -> CkanResult<u64> {
        let bad = || CkanError::invalid(name, format!("{name}: Must be a natural number"));
        let n = match self.raw(name) {
            None => return Ok(default),
            Some(Value::Number(n)) => n.as_u64().ok_or_else(bad)?,
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(default),
            Some(Value::String(s)) => s.trim().parse::<u64>().map_err(|_| bad())?,
            Some(_) => return Err(bad()),
        };
        if n > max && !clamp {
            return Err(CkanError::invalid(
                name,
                format!("{name}: must be at most {max}"),
            ));
        }
        Ok(n.min(max))
    }

    /// A boolean: JSON true/false or the text forms CKAN accepts.
    pub fn flag(&self, name: &str, default: bool) -> CkanResult<bool> {
        match self.raw(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" | "" => Ok(false),
                _ => Err(CkanError::invalid(name, format!("{name}: not a boolean"))),
            },
            Some(Value::Number(n)) => Ok(n.as_u64() != Some(0)),
            Some(_) => Err(CkanError::invalid(name, format!("{name}: not a boolean"))),
        }
    }

    /// A JSON parameter: as sent in a JSON body, or JSON text in the query string.
    pub fn json(&self, name: &str) -> CkanResult<Option<Value>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| CkanError::invalid(name, format!("{name}: Cannot parse JSON: {e}"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    /// A list of names: a JSON list, JSON list text, or comma-separated text.
    pub fn list(&self, name: &str) -> CkanResult<Option<Vec<String>>> {
        let v = match self.raw(name) {
            None => return Ok(None),
            Some(Value::String(s)) if s.trim_start().starts_with('[') => self.json(name)?,
            Some(Value::String(s)) => {
                return Ok(Some(
                    s.split(',')
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect(),
                ))
            }
            Some(v) => Some(v.clone()),
        };
        match v {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s),
                    _ => Err(CkanError::invalid(
                        name,
                        format!("{name}: a list of strings"),
                    )),
                })
                .collect::<CkanResult<Vec<_>>>()
                .map(Some),
            _ => Err(CkanError::invalid(
                name,
                format!("{name}: a list of strings"),
            )),
        }
    }
}

/// What an action needs besides its parameters.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub base: String,
}

/// The scheme and host this request reached, for absolute links.
pub fn base_url(req: &HttpRequest) -> String {
    let conn = req.connection_info();
    format!("{}://{}", conn.scheme(), conn.host())
}

/// Calls one CKAN action, with its parameters from the query string (GET) or the body (POST).
#[tracing::instrument(skip_all, fields(action = %action))]
pub async fn call_action(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    action: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, CkanError> {
    let base = base_url(&req);
    let help = format!("{base}/api/3/action/help_show?name={action}");
    let result = async {
        let params = Params::parse(&req, &body)?;
        let ctx = Ctx {
            state: &state,
            caller: &caller,
            base: base.clone(),
        };
        match action.as_str() {
            "package_list" => packages::package_list(&ctx, &params).await,
            "package_show" => packages::package_show(&ctx, &params).await,
            "package_search" => search::package_search(&ctx, &params).await,
            "organization_list" => packages::organization_list(&ctx, &params).await,
            "organization_show" => packages::organization_show(&ctx, &params).await,
            "resource_show" => packages::resource_show(&ctx, &params).await,
            "datastore_search" => datastore::datastore_search(&ctx, &params).await,
            "status_show" => Ok(status(&ctx)),
            other => Err(CkanError::new(
                Kind::BadRequest,
                format!(
                    "Bad request - Action name not known: {}",
                    other.chars().take(80).collect::<String>()
                ),
            )),
        }
    }
    .await;
    match result {
        Ok(result) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .json(json!({"help": help, "success": true, "result": result}))),
        Err(e) => Err(e.with_help(help)),
    }
}

fn status(ctx: &Ctx<'_>) -> Value {
    json!({
        "site_title": "Gerbang",
        "site_description": "Open data API gateway",
        "site_url": ctx.base,
        "ckan_version": CKAN_VERSION,
        "gerbang_version": env!("CARGO_PKG_VERSION"),
        "locale_default": "id",
        "extensions": ["datastore"],
    })
}
