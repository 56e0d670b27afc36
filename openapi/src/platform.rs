//! The platform document's shared parts and its conventions.
//!
//! Handlers in the gateway describe their own operation (`#[utoipa::path]`: summary, parameters,
//! success body, the errors special to them). [`finish`] then adds what every operation of the
//! contract has, so no handler can forget it: the problem+json error responses (400, 401, 429,
//! 500, 503 everywhere; 404 where the path names something; 403 where staff credentials are
//! accepted), the rate-limit headers on every answer, the security schemes, `info` and the tags.
use catalog::ErrorCode;
use serde_json::json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, LicenseBuilder, OpenApi, Ref, RefOr, Response, ServerBuilder,
};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Security scheme names, as handlers write them in `security(...)`.
pub const API_KEY: &str = "api_key";
pub const API_KEY_QUERY: &str = "api_key_query";
pub const BEARER: &str = "bearer";

/// `(component name, status, description, example code)` of the shared error responses.
const ERRORS: &[(&str, u16, &str, ErrorCode)] = &[
    (
        "BadRequest",
        400,
        "The request is malformed: an unknown parameter, a bad filter, an unknown column, a limit out of range.",
        ErrorCode::InvalidFilter,
    ),
    (
        "Unauthorized",
        401,
        "Credentials are missing (for a `registered` dataset or a private endpoint) or a key or token is bad, revoked or expired. Never a silent downgrade to anonymous.",
        ErrorCode::Unauthorized,
    ),
    (
        "Forbidden",
        403,
        "The token is valid but its role or agency may not do this.",
        ErrorCode::Forbidden,
    ),
    (
        "NotFound",
        404,
        "No such agency, dataset, version, record or key (drafts are not found for the public).",
        ErrorCode::NotFound,
    ),
    (
        "Conflict",
        409,
        "The thing exists already, or the change conflicts with its state.",
        ErrorCode::Conflict,
    ),
    (
        "PayloadTooLarge",
        413,
        "The body is larger than the configured limit.",
        ErrorCode::PayloadTooLarge,
    ),
    (
        "UnsupportedMediaType",
        415,
        "The body's content type is not one this endpoint takes.",
        ErrorCode::UnsupportedMediaType,
    ),
    (
        "TooManyRequests",
        429,
        "The rate limit (`rate_limited`) or the daily quota (`quota_exceeded`) is used up; wait `Retry-After` seconds.",
        ErrorCode::RateLimited,
    ),
    (
        "Internal",
        500,
        "Something failed on our side; the body never carries internals.",
        ErrorCode::Internal,
    ),
    (
        "Unavailable",
        503,
        "A dependency (database) is unreachable; retry later.",
        ErrorCode::Unavailable,
    ),
];

/// The rate-limit headers sent with answers to callers under a tier (the contract's triplet and
/// the IETF structured pair).
const RATE_LIMIT_HEADERS: &[(&str, &str, Type)] = &[
    (
        "RateLimit-Limit",
        "Requests allowed per window for this caller's tier.",
        Type::Integer,
    ),
    (
        "RateLimit-Remaining",
        "Requests left in the current window.",
        Type::Integer,
    ),
    (
        "RateLimit-Reset",
        "Seconds until the whole allowance is back.",
        Type::Integer,
    ),
    (
        "RateLimit-Policy",
        "The policy as an IETF structured field, e.g. `\"free\";q=600;w=60`.",
        Type::String,
    ),
    (
        "RateLimit",
        "The current state as an IETF structured field, e.g. `\"free\";r=599;t=1`.",
        Type::String,
    ),
];

/// The problem+json body (RFC 9457) with the contract's stable `code`.
pub fn problem_schema() -> Schema {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    ObjectBuilder::new()
        .description(Some(
            "An RFC 9457 problem. `code` is stable; match on it, not on `detail`.",
        ))
        .property(
            "type",
            ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::Custom("uri".to_owned()),
            )),
        )
        .property("title", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(400))
                .maximum(Some(599)),
        )
        .property("detail", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes)),
        )
        .required("type")
        .required("title")
        .required("status")
        .required("detail")
        .required("code")
        .build()
        .into()
}

fn problem_example(code: ErrorCode) -> serde_json::Value {
    json!({
        "type": format!("https://gerbang.dev/problems/{}", code.as_str().replace('_', "-")),
        "title": code.title(),
        "status": code.status(),
        "detail": "a human sentence saying what was wrong",
        "code": code.as_str(),
    })
}

fn header_ref(name: &str) -> RefOr<utoipa::openapi::header::Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

fn error_response(description: &str, code: ErrorCode) -> Response {
    let mut res = ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .example(Some(problem_example(code)))
                .build(),
        )
        .build();
    if code.status() == 429 {
        res.headers
            .insert("Retry-After".to_owned(), header_ref("Retry-After"));
        for (name, ..) in RATE_LIMIT_HEADERS {
            res.headers.insert((*name).to_owned(), header_ref(name));
        }
    }
    res
}

/// Adds the platform's shared parts and conventions to the operations the handlers described.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("Gerbang")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The open-data API gateway of Indonesian cities and regencies: agencies publish \
             datasets as immutable, typed versions; anyone can filter, sort, page, search, \
             aggregate and export them. Each published version also has its own typed document \
             at `/v1/datasets/{agency}/{dataset}/versions/{v}/openapi.json`.\n\n\
             Errors are RFC 9457 `application/problem+json` with a stable `code`. Anonymous \
             callers get a small per-IP allowance; send a developer key as `X-API-Key` for more.",
        ))
        .license(Some(
            LicenseBuilder::new()
                .name("Apache-2.0")
                .identifier(Some("Apache-2.0"))
                .build(),
        ))
        .build();
    doc.servers = Some(vec![ServerBuilder::new()
        .url("/")
        .description(Some("this gateway"))
        .build()]);
    doc.tags = Some(
        [
            ("catalog", "Agencies, datasets and versions (public reads)."),
            (
                "records",
                "A version's records: filter, sort, page, search, aggregate, export.",
            ),
            (
                "developers",
                "Self-service: sign up, keys, usage. Send your key as `X-API-Key`.",
            ),
            (
                "publishing",
                "For an agency's publishers and admins (`Authorization: Bearer`).",
            ),
            ("auth", "Staff tokens and accounts."),
            (
                "interop",
                "CKAN Action API, DCAT-AP 3 and Project Open Data, for existing tools and harvesters.",
            ),
            ("platform", "The gateway itself."),
        ]
        .into_iter()
        .map(|(name, d)| TagBuilder::new().name(name).description(Some(d)).build())
        .collect(),
    );

    conventions(doc)
}

/// The shared components (problem schema, error responses, rate-limit headers, security
/// schemes) and the conventions every operation follows; used by both documents.
pub fn conventions(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("Problem".to_owned(), RefOr::T(problem_schema()));
    for (name, _, description, code) in ERRORS {
        components.responses.insert(
            (*name).to_owned(),
            RefOr::T(error_response(description, *code)),
        );
    }
    for (name, description, ty) in RATE_LIMIT_HEADERS {
        components.headers.insert(
            (*name).to_owned(),
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(ty.clone())))
                    .description(Some(*description))
                    .build(),
            ),
        );
    }
    components.headers.insert(
        "Retry-After".to_owned(),
        RefOr::T(
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        ),
    );
    components.security_schemes.insert(
        API_KEY.to_owned(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Header(
            ApiKeyValue::with_description(
                "X-API-Key",
                "A developer key (`gbk_…`) from `POST /v1/developers` or `POST /v1/me/keys`.",
            ),
        ))),
    );
    components.security_schemes.insert(
        API_KEY_QUERY.to_owned(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Query(
            ApiKeyValue::with_description(
                "api_key",
                "The same key as a query parameter, for links and tools that cannot set headers.",
            ),
        ))),
    );
    components.security_schemes.insert(
        BEARER.to_owned(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "A staff token from `POST /v1/auth/token` (or the configured OIDC issuer).",
                ))
                .build(),
        )),
    );

    let mut seen_ids = std::collections::HashSet::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        let names_something = path.contains('{');
        // Only requests through the gate carry rate-limit headers (not /healthz and friends).
        let gated = ["/v1/", "/api/", "/datastore/"]
            .iter()
            .any(|p| path.starts_with(p));
        for (method, op) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            let Some(op) = op else { continue };
            apply_conventions(op, names_something, gated);
            // One handler serving two methods (CKAN actions) gives both its name; ids are unique.
            if let Some(id) = &mut op.operation_id {
                if !seen_ids.insert(id.clone()) {
                    *id = format!("{id}_{method}");
                    seen_ids.insert(id.clone());
                }
            }
        }
    }
    doc
}

/// actix-web's `Path` extractor already names the path segments; a `params(…Path)` that
/// describes them would list each twice. The described one stays.
fn dedup_parameters(op: &mut Operation) {
    let Some(params) = op.parameters.take() else {
        return;
    };
    let mut kept: Vec<RefOr<utoipa::openapi::path::Parameter>> = vec![];
    for p in params {
        let RefOr::T(new) = &p else {
            kept.push(p);
            continue;
        };
        let same = kept.iter().position(|k| {
            matches!(k, RefOr::T(old) if old.name == new.name && old.parameter_in == new.parameter_in)
        });
        match same {
            Some(i) => {
                if let RefOr::T(old) = &kept[i] {
                    if old.description.is_none() && new.description.is_some() {
                        kept[i] = p;
                    }
                }
            }
            None => kept.push(p),
        }
    }
    op.parameters = Some(kept);
}

fn apply_conventions(op: &mut Operation, names_something: bool, gated: bool) {
    dedup_parameters(op);
    let staff = op.security.as_ref().is_some_and(|reqs| {
        serde_json::to_value(reqs)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .is_some_and(|a| a.iter().any(|r| r.get(BEARER).is_some()))
    });
    let mut wanted = vec!["Internal", "Unavailable"];
    if gated {
        wanted.extend(["BadRequest", "Unauthorized", "TooManyRequests"]);
    }
    if names_something {
        wanted.push("NotFound");
    }
    if staff {
        wanted.push("Forbidden");
    }
    if op.request_body.is_some() {
        wanted.push("PayloadTooLarge");
        wanted.push("UnsupportedMediaType");
    }
    for name in wanted {
        let status = ERRORS
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, s, ..)| s.to_string())
            .expect("a shared error response");
        op.responses
            .responses
            .entry(status)
            .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
    }
    for (status, res) in op.responses.responses.iter_mut() {
        let RefOr::T(res) = res else { continue };
        if res.description.is_empty() {
            res.description = match status.as_str() {
                "200" => "OK",
                "201" => "Created",
                "204" => "No content",
                "304" => "Not modified",
                _ => "See the body",
            }
            .to_owned();
        }
        // Answers made after the gate carry the caller's limit state.
        if gated && (status.starts_with('2') || status == "304") {
            for (name, ..) in RATE_LIMIT_HEADERS {
                res.headers
                    .entry((*name).to_owned())
                    .or_insert_with(|| header_ref(name));
            }
        }
        // A handler that names a shared error by status gets the shared body.
        if let Some((.., code)) = ERRORS.iter().find(|(_, s, ..)| s.to_string() == *status) {
            if res.content.is_empty() {
                res.content.insert(
                    PROBLEM_JSON.to_owned(),
                    RefOr::T(
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .example(Some(problem_example(*code)))
                            .build(),
                    ),
                );
            }
        }
    }
}
