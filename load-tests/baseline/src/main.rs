//! `gerbang-baseline --listen ADDR --page FILE`: serves FILE's bytes at `/page` (as JSON) and a
//! tiny JSON at `/health`, from memory, with actix-web's defaults. No routing tables, database,
//! auth, limits or logging: what no gateway on this machine can beat. Used by `load-tests/`.
use actix_web::{web, App, HttpResponse, HttpServer};
use bytes::Bytes;

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:8090".into());
    let page = match arg("--page") {
        Some(path) => Bytes::from(std::fs::read(path)?),
        None => Bytes::from_static(b"{\"data\":[],\"next_cursor\":null}"),
    };
    HttpServer::new(move || {
        let page = page.clone();
        App::new()
            .route(
                "/page",
                web::get().to(move || {
                    let page = page.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(page)
                    }
                }),
            )
            .route(
                "/health",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(r#"{"status":"ok"}"#)
                }),
            )
    })
    .bind(listen)?
    .run()
    .await
}
