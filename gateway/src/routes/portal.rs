//! The developer portal: the files of `portal-static/` compiled into the binary (rust-embed),
//! served under `/assets/` with their content type, an ETag and a Cache-Control, and the app
//! shell (`index.html`) for the portal's own page routes (`/datasets/{agency}/{dataset}`, …),
//! where the page's JavaScript takes over. Everything else (`/v1`, `/api`, `/docs`, …) stays
//! with the API; [`configure`] registers only the paths listed in it.
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Compress;
use actix_web::{guard, web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::ApiError;
use crate::AppState;

#[derive(RustEmbed)]
#[folder = "../portal-static/"]
struct Files;

/// Page routes that answer the app shell; keep in step with the router in `assets/js/app.js`.
const PAGES: &[&str] = &[
    "/",
    "/datasets",
    "/datasets/{agency}/{dataset}",
    "/agencies/{agency}",
    "/developers",
    "/publishers",
];

/// Registers the portal's routes: its pages and `/assets/…`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for page in PAGES {
        cfg.route(page, read().to(get_portal_page));
    }
    cfg.route("/portal/config.json", read().to(get_portal_config));
    cfg.service(
        web::scope("/assets")
            // Text assets shrink 3-4× gzipped: what a cheap phone on a slow link notices most.
            .wrap(Compress::default())
            .route("/{path:.*}", read().to(get_portal_asset)),
    );
}

/// GET and HEAD.
fn read() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The deployment's choices the pages need (a map tile server, if any).
pub async fn get_portal_config(state: web::Data<AppState>) -> HttpResponse {
    let p = &state.settings.portal;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(serde_json::json!({
            "map_tiles_url": p.map_tiles_url,
            "map_attribution": p.map_attribution,
        }))
}

/// The portal's app shell (its pages render in the browser).
pub async fn get_portal_page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // Always revalidated, so a new release reaches everyone at once; the ETag makes that a 304.
    serve(&req, "index.html", "no-cache")
}

/// A static file of the portal (scripts, styles, images, the vendored map library).
pub async fn get_portal_asset(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    // Names are not fingerprinted, so caches keep them for an hour (the ETag makes the
    // revalidation after that cheap); the vendored libraries change only with their version.
    let cache = if path.starts_with("vendor/") {
        "public, max-age=604800"
    } else {
        "public, max-age=3600"
    };
    serve(&req, &format!("assets/{path}"), cache)
}

fn serve(req: &HttpRequest, name: &str, cache_control: &str) -> Result<HttpResponse, ApiError> {
    let file = Files::get(name).ok_or_else(|| ApiError::not_found("no such portal file"))?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let unchanged = super::not_modified(req, etag.as_bytes());
    let mut res = HttpResponse::build(if unchanged {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control.to_owned()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if unchanged {
        return Ok(res.finish());
    }
    Ok(res
        .insert_header((header::CONTENT_TYPE, content_type(name)))
        .body(file.data.into_owned()))
}

fn content_type(name: &str) -> HeaderValue {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let textual =
        mime.type_() == "text" || matches!(mime.subtype().as_str(), "javascript" | "json" | "svg");
    let value = if textual {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `import … from './x.js'` and every `/assets/…` reference in the embedded
    /// pages and scripts names a file that is embedded: a typo would break the portal only
    /// in the browser, so catch it here.
    #[test]
    fn every_referenced_portal_file_is_embedded() {
        let mut missing = vec![];
        for name in Files::iter() {
            let Some(text) =
                Files::get(&name).and_then(|f| String::from_utf8(f.data.into_owned()).ok())
            else {
                continue;
            };
            if !(name.ends_with(".js") || name.ends_with(".html")) {
                continue;
            }
            let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            for quote in ['\'', '"'] {
                for piece in text.split(quote).skip(1).step_by(2) {
                    let target = if let Some(rest) = piece.strip_prefix("/assets/") {
                        format!("assets/{rest}")
                    } else if piece.starts_with("./") || piece.starts_with("../") {
                        if !piece.ends_with(".js") {
                            continue;
                        }
                        resolve(dir, piece)
                    } else {
                        continue;
                    };
                    if !target.contains(['{', '$', ' ']) && Files::get(&target).is_none() {
                        missing.push(format!("{name} → {piece}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "missing portal files: {missing:?}");
    }

    fn resolve(dir: &str, rel: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for p in rel.split('/') {
            match p {
                "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        parts.join("/")
    }

    #[test]
    fn content_types_carry_a_charset_for_text() {
        assert_eq!(content_type("a/b.css"), "text/css; charset=utf-8");
        assert!(content_type("a/b.js")
            .to_str()
            .unwrap()
            .contains("javascript"));
        assert_eq!(content_type("a/b.png"), "image/png");
    }
}
