//! The developer portal's entry page (a placeholder until the portal lands).
use actix_web::HttpResponse;

const INDEX: &str = include_str!("../../../portal-static/index.html");

pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(INDEX)
}
