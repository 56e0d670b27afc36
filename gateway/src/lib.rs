//! Gerbang's gateway: the actix-web application shared by `main` and the tests.
//!
//! [`Application::build`] connects, migrates and binds; [`configure`] is the route table.
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod routes;
pub mod telemetry;
pub mod upload;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use catalog::records::cursor::CursorKey;
use catalog::service::Catalog;
use secrecy::ExposeSecret;

use crate::auth::Jwt;
use crate::config::Settings;

/// What every handler can reach.
pub struct AppState {
    pub catalog: Catalog,
    pub jwt: Jwt,
    pub settings: Settings,
}

/// The JWT/cursor secret: configured, else random for this process (tokens then die on restart).
fn secret(settings: &Settings) -> Vec<u8> {
    match &settings.jwt_secret {
        Some(s) => s.expose_secret().as_bytes().to_vec(),
        None => {
            tracing::warn!("jwt_secret is not set: using a random one; tokens and cursors end with this process");
            rand_secret()
        }
    }
}

fn rand_secret() -> Vec<u8> {
    use sha2::Digest;
    let seed = format!("{:?}{}", std::time::SystemTime::now(), uuid::Uuid::new_v4());
    sha2::Sha256::digest(seed.as_bytes()).to_vec()
}

/// Connects to the database, applies migrations and bootstraps the admin account.
pub async fn prepare_state(settings: Settings) -> anyhow::Result<AppState> {
    let db = catalog::db::connect(&settings.database_url).await?;
    catalog::db::migrate(&db).await?;
    if let Some(pw) = &settings.admin_password {
        catalog::accounts::bootstrap_admin(&db, pw.expose_secret()).await?;
    }
    let secret = secret(&settings);
    let jwt = Jwt::new(
        &secret,
        &settings.jwt_issuer,
        &settings.jwt_audience,
        settings.jwt_ttl_seconds,
    );
    let catalog = Catalog::new(db, CursorKey::derive(&secret));
    Ok(AppState {
        catalog,
        jwt,
        settings,
    })
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Builds the server on `settings.listen` (port 0 picks a free port).
    pub async fn build(state: AppState) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&state.settings.listen)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::from(Arc::new(state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(routes::cors))
                .wrap(tracing_actix())
                .configure(routes::configure)
        })
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn tracing_actix() -> actix_web::middleware::Logger {
    // Paths only: query strings may carry api_key, which must never be logged.
    actix_web::middleware::Logger::new("%a \"%{route}xi\" %s %b %Dms")
        .exclude("/healthz")
        .custom_request_replace("route", |req| format!("{} {}", req.method(), req.path()))
}
