//! Gerbang's gateway: the actix-web application shared by `main` and the tests.
//!
//! [`Application::build`] connects, migrates and binds; [`configure`] is the route table.
pub mod auth;
pub mod cache;
pub mod catalog_cache;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod error;
pub mod gate;
pub mod hot;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod oidc;
pub mod resolved;
pub mod routes;
pub mod telemetry;
pub mod upload;
pub mod usage;

use std::net::{IpAddr, TcpListener};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use catalog::accounts::Staff;
use catalog::developers::KeyChange;
use catalog::records::cursor::CursorKey;
use catalog::records::Lookups;
use catalog::service::Catalog;
use ipnet::IpNet;
use jsonwebtoken::Algorithm;
use secrecy::ExposeSecret;
use utoipa_actix_web::AppExt;

use crate::auth::Jwt;
use crate::cache::ResponseCache;
use crate::catalog_cache::CatalogAnswers;
use crate::cluster::{Cluster, Event};
use crate::config::Settings;
use crate::error::ApiError;
use crate::gate::Policies;
use crate::hot::HotAnswers;
use crate::keys::KeyVerifier;
use crate::limits::Limiter;
use crate::metrics::Metrics;
use crate::oidc::Oidc;
use crate::resolved::ResolvedVersions;
use crate::usage::UsageMeter;

/// What every handler can reach.
pub struct AppState {
    pub catalog: Catalog,
    pub jwt: Jwt,
    pub oidc: Option<Oidc>,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub cluster: Option<Arc<Cluster>>,
    pub keys: Arc<KeyVerifier>,
    pub limiter: Arc<Limiter>,
    pub policies: Policies,
    pub usage: Arc<UsageMeter>,
    pub resolved: Arc<ResolvedVersions>,
    pub responses: ResponseCache,
    /// Each worker thread's recent complete answers to public reads; purged with `resolved`.
    pub hot: Arc<HotAnswers>,
    /// Catalog answers as the public sees them; purged on every catalog change.
    pub catalog_answers: Arc<CatalogAnswers>,
    pub trusted_proxies: Vec<IpNet>,
    /// Failed sign-ins per client address in the current minute.
    pub failed_logins: moka::sync::Cache<IpAddr, Arc<AtomicU32>>,
    /// `/v1/openapi.json`, made once from the route table.
    pub platform_spec: web::Bytes,
    /// Versions' documents by (version id, dataset `updated_at`): versions are immutable.
    pub version_specs: moka::future::Cache<(i64, i64), web::Bytes>,
}

impl AppState {
    /// Starts what only a serving node runs: the Redis link and its event subscription, the
    /// revocation poller, limiter pruning, the usage writer and cache maintenance. CLI
    /// commands share `prepare_state` and start none of it.
    fn start_background(&self) {
        if let Some(c) = &self.cluster {
            c.spawn_health();
            let k = Arc::clone(&self.keys);
            let r = Arc::clone(&self.resolved);
            let answers = Arc::clone(&self.catalog_answers);
            let hot = Arc::clone(&self.hot);
            c.spawn_subscriber(move |event| match event {
                Event::KeysChanged(hashes) => {
                    let k = Arc::clone(&k);
                    tokio::spawn(async move { k.invalidate(&hashes, "pubsub").await });
                }
                Event::DatasetChanged { agency, dataset } => {
                    r.invalidate(&agency, &dataset);
                    hot.purge();
                    answers.purge();
                }
                Event::CatalogChanged => {
                    hot.purge();
                    answers.purge();
                }
            });
            let c = Arc::clone(c);
            self.keys.spawn_revocation_poller(move || c.is_subscribed());
        }
        self.limiter.spawn_pruner(Duration::from_secs(60));
        self.usage.start();
        self.responses.spawn_maintenance();
    }

    /// Verifies a bearer token: local HS256, or RS256/ES256 from the configured OIDC issuer.
    pub async fn verify_bearer(&self, token: &str) -> Result<Staff, ApiError> {
        let invalid = || {
            ApiError::unauthorized(
                "the bearer token is invalid or expired; get a new one from /v1/auth/token",
            )
        };
        if token.len() > 8192 {
            return Err(invalid());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        match (header.alg, &self.oidc) {
            (Algorithm::HS256, _) => self.jwt.verify(token),
            (Algorithm::RS256 | Algorithm::ES256, Some(oidc)) => oidc.verify(token, &header).await,
            _ => Err(invalid()),
        }
    }

    /// Forgets what was resolved for a dataset, and the catalog answers, here and on the other
    /// nodes.
    pub async fn dataset_changed(&self, agency: &str, dataset: &str) {
        self.resolved.invalidate(agency, dataset);
        self.hot.purge();
        self.catalog_answers.purge();
        if let Some(cluster) = &self.cluster {
            cluster
                .publish(&Event::DatasetChanged {
                    agency: agency.to_owned(),
                    dataset: dataset.to_owned(),
                })
                .await;
        }
    }

    /// Forgets the catalog answers here and on the other nodes (an agency changed).
    pub async fn catalog_changed(&self) {
        self.hot.purge();
        self.catalog_answers.purge();
        if let Some(cluster) = &self.cluster {
            cluster.publish(&Event::CatalogChanged).await;
        }
    }

    /// Forgets changed keys here and tells the other nodes.
    pub async fn keys_changed(&self, change: KeyChange) {
        self.keys.invalidate(&change.hashes, "local").await;
        if let Some(cluster) = &self.cluster {
            cluster.publish(&Event::KeysChanged(change.hashes)).await;
        }
    }
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
    let metrics = Arc::new(Metrics::default());
    let cluster = match &settings.redis_url {
        Some(url) => Some(Cluster::new(
            url,
            &settings.redis_prefix,
            Arc::clone(&metrics),
        )?),
        None => None,
    };
    let keys = Arc::new(KeyVerifier::new(db.clone(), Arc::clone(&metrics)));
    let resolved = Arc::new(ResolvedVersions::default());
    let limiter = Arc::new(Limiter::new(cluster.clone(), Arc::clone(&metrics)));
    let policies = Policies::from_settings(&settings);
    for p in policies.all() {
        limiter.watch(p);
    }
    let oidc = match settings.oidc.clone() {
        Some(o) => Some(Oidc::start(o).await?),
        None => None,
    };
    let usage = UsageMeter::new(db.clone(), Arc::clone(&metrics));
    let lookups = Lookups::new(metrics.record_lookup_statements.clone());
    let catalog = Catalog::new(db, CursorKey::derive(&secret), lookups);
    let responses = ResponseCache::new(
        settings.cache.enabled.then_some(settings.cache.max_bytes),
        metrics.cache_l1.clone(),
        metrics.cache_l2.clone(),
        cluster.clone(),
        Duration::from_secs(settings.cache.redis_ttl_seconds),
    );
    let hot = Arc::new(HotAnswers::new(
        settings.cache.enabled,
        metrics.cache_hot_hits.clone(),
    ));
    let catalog_answers = Arc::new(CatalogAnswers::new(
        settings.cache.enabled,
        metrics.cache_catalog.clone(),
    ));
    Ok(AppState {
        catalog,
        catalog_answers,
        hot,
        jwt,
        oidc,
        policies,
        responses,
        trusted_proxies: gate::parse_trusted(&settings.trusted_proxies)?,
        settings,
        metrics,
        cluster,
        keys,
        limiter,
        usage,
        resolved,
        failed_logins: moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(Duration::from_secs(60))
            .build(),
        platform_spec: web::Bytes::from(
            serde_json::to_vec(&routes::platform_spec()).expect("the document serializes"),
        ),
        version_specs: moka::future::Cache::builder()
            .max_capacity(1_000)
            .time_to_idle(Duration::from_secs(3600))
            .build(),
    })
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Builds the server on `settings.listen` (port 0 picks a free port).
    pub async fn build(state: AppState) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&state.settings.listen)?;
        let port = listener.local_addr()?.port();
        state.start_background();
        let state = web::Data::from(Arc::new(state));
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            // called on each worker thread, which runs a LocalSet
            catalog::records::hold_reads_per_tick();
            App::new()
                .app_data(app_state.clone())
                .wrap(actix_web::middleware::from_fn(gate::gate))
                .wrap(actix_web::middleware::from_fn(routes::cors))
                .wrap(actix_web::middleware::from_fn(telemetry::access_log))
                .into_utoipa_app()
                .configure(routes::configure)
                .into_app()
        })
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (gracefully with `handle.stop(true)`).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM/SIGINT or the handle), then stores pending usage.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.state.usage.shutdown().await;
        if let Some(cluster) = &self.state.cluster {
            cluster.leave().await;
        }
        tracing::info!("stopped; usage counters stored");
        result
    }
}
