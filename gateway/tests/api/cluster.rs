//! Several gateway nodes on one Redis: one shared limit, revocation everywhere within 2 s, and
//! a node that keeps serving (on local limits) while Redis is down or hanging.
//!
//! Shared-limit and revocation tests run real `gerbang` processes against the machine's Redis
//! (each test in its own key prefix); fault tests start a private `redis-server` they can stop.
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{header, spawn_app_with, tier, TestApp};

const REDIS: &str = "redis://127.0.0.1:6379";

fn require_redis(url: &str) {
    let addr = url.trim_start_matches("redis://");
    std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("Redis must be running at {url} for these tests: {e}"));
}

/// A `gerbang serve` process; killed when dropped.
struct Node {
    _child: Child,
    address: String,
}

async fn spawn_process(env: &[(&str, String)]) -> Node {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gerbang"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("GERBANG_LOG_JSON", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start gerbang");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["fields"]["message"] == "gerbang is serving" {
                    return v["fields"]["port"].as_u64().unwrap();
                }
            }
        }
        panic!("gerbang exited before serving");
    })
    .await
    .expect("gerbang did not start within 60 s");
    // keep draining the log so the process never blocks on a full pipe
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Node {
        _child: child,
        address: format!("http://127.0.0.1:{port}"),
    }
}

/// A private Redis on a free port, for tests that stop it.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::yield_now();
        }
        Self { child, port }
    }

    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Polls `check` until it holds or `within` passes; returns the time it took.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two in-process nodes on one database and one Redis (their own key prefix), both linked.
async fn two_nodes_on_one_redis() -> (TestApp, TestApp) {
    require_redis(REDIS);
    let prefix = format!("gerbang-test-{}", uuid::Uuid::new_v4().simple());
    let shared = |s: &mut gateway::config::Settings| {
        s.redis_url = Some(REDIS.to_owned());
        s.redis_prefix = prefix.clone();
    };
    let a = spawn_app_with(shared).await;
    let b = crate::helpers::spawn_node_like(&a, shared).await;
    for app in [&a, &b] {
        eventually(Duration::from_secs(5), async || {
            ready_redis(app).await == "ok"
        })
        .await;
    }
    (a, b)
}

async fn ready_redis(app: &TestApp) -> String {
    let v: Value = app.get("/readyz").await.json().await.unwrap();
    v["redis"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_processes_on_one_redis_enforce_one_limit() {
    require_redis(REDIS);
    let first = spawn_app_with(|_| {}).await; // a database both processes share
    let prefix = format!("gerbang-test-{}", uuid::Uuid::new_v4().simple());
    let env = vec![
        ("GERBANG_DATABASE_URL", first.database_url.clone()),
        ("GERBANG_REDIS_URL", REDIS.to_owned()),
        ("GERBANG_REDIS_PREFIX", prefix),
        ("GERBANG_TIERS__ANONYMOUS__PER_MINUTE", "30".to_owned()),
    ];
    let a = spawn_process(&env).await;
    let b = spawn_process(&env).await;
    let client = reqwest::Client::new();
    for node in [&a, &b] {
        eventually(Duration::from_secs(5), async || {
            let v: Value = client
                .get(format!("{}/readyz", node.address))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["redis"] == "ok"
        })
        .await;
    }
    // 10 s of requests alternating between the nodes, two at a time
    let start = Instant::now();
    let (mut accepted, mut limited, mut other) = (0u32, 0u32, 0u32);
    while start.elapsed() < Duration::from_secs(10) {
        let (ra, rb) = tokio::join!(
            client.get(format!("{}/v1/agencies", a.address)).send(),
            client.get(format!("{}/v1/agencies", b.address)).send()
        );
        for r in [ra.unwrap(), rb.unwrap()] {
            match r.status().as_u16() {
                200 => accepted += 1,
                429 => limited += 1,
                _ => other += 1,
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    // GCRA: the burst (30) plus what refills over the run (30/min)
    let bound = 30.0 + 30.0 * elapsed / 60.0 + 1.0;
    assert_eq!(other, 0);
    assert!(limited > 0);
    assert!(
        (accepted as f64) <= bound,
        "accepted {accepted} > {bound:.1} over {elapsed:.1} s: the nodes did not share the limit"
    );
    assert!(accepted >= 30, "accepted only {accepted}");
    drop((a, b));
}

#[tokio::test]
async fn a_revoked_key_stops_on_another_node_within_two_seconds() {
    require_redis(REDIS);
    let first = spawn_app_with(|_| {}).await;
    let prefix = format!("gerbang-test-{}", uuid::Uuid::new_v4().simple());
    let env = vec![
        ("GERBANG_DATABASE_URL", first.database_url.clone()),
        ("GERBANG_REDIS_URL", REDIS.to_owned()),
        ("GERBANG_REDIS_PREFIX", prefix),
    ];
    let a = spawn_process(&env).await;
    let b = spawn_process(&env).await;
    let client = reqwest::Client::new();
    let signup: Value = client
        .post(format!("{}/v1/developers", a.address))
        .json(&serde_json::json!({"email": "revoke@contoh.id", "name": "R"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = signup["api_key"]["key"].as_str().unwrap().to_owned();
    let key_id = signup["api_key"]["id"].as_str().unwrap().to_owned();
    let status_on_b = async || {
        client
            .get(format!("{}/v1/me", b.address))
            .header("X-API-Key", &key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // node B has the key in its cache now
    assert_eq!(status_on_b().await, 200);
    assert_eq!(status_on_b().await, 200);
    let res = client
        .delete(format!("{}/v1/me/keys/{key_id}", a.address))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let took = eventually(Duration::from_secs(2), async || status_on_b().await == 401).await;
    eprintln!("revocation reached the other node in {took:?}");
}

#[tokio::test]
async fn redis_stopped_mid_run_keeps_serving_on_local_limits_and_comes_back() {
    let redis = PrivateRedis::start();
    let app = spawn_app_with(|s| {
        s.redis_url = Some(redis.url());
        tier(s, "anonymous", 6000, None);
    })
    .await;
    eventually(Duration::from_secs(5), async || {
        ready_redis(&app).await == "ok"
    })
    .await;
    assert_eq!(app.get("/v1/agencies").await.status(), 200);
    assert!(
        app.metric("gerbang_ratelimit_decisions_total{backend=\"redis\",result=\"allowed\"}")
            .await
            >= 1.0
    );

    let port = redis.stop();
    let mut worst = Duration::ZERO;
    for _ in 0..50 {
        let t = Instant::now();
        let res = app.get("/v1/agencies").await;
        worst = worst.max(t.elapsed());
        assert_eq!(
            res.status(),
            200,
            "no 5xx and no refusal while Redis is down"
        );
        assert!(res.headers().get("ratelimit-limit").is_some());
    }
    assert!(
        worst < Duration::from_secs(1),
        "a request waited {worst:?} on a dead Redis"
    );
    assert!(
        app.metric("gerbang_ratelimit_decisions_total{backend=\"fallback\",result=\"allowed\"}")
            .await
            >= 1.0
    );
    assert_eq!(app.metric("gerbang_redis_up").await, 0.0);
    assert!(ready_redis(&app).await.starts_with("down"));

    // Redis is back on the same port: shared limits again
    let _redis = PrivateRedis::start_on(port);
    eventually(Duration::from_secs(5), async || {
        ready_redis(&app).await == "ok"
    })
    .await;
    let before = app
        .metric("gerbang_ratelimit_decisions_total{backend=\"redis\",result=\"allowed\"}")
        .await;
    assert_eq!(app.get("/v1/agencies").await.status(), 200);
    let after = app
        .metric("gerbang_ratelimit_decisions_total{backend=\"redis\",result=\"allowed\"}")
        .await;
    assert_eq!(after, before + 1.0);
}

#[tokio::test]
async fn a_hanging_redis_costs_at_most_about_100_ms() {
    let redis = PrivateRedis::start();
    let app = spawn_app_with(|s| s.redis_url = Some(redis.url())).await;
    eventually(Duration::from_secs(5), async || {
        ready_redis(&app).await == "ok"
    })
    .await;
    redis.signal("-STOP");
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let res = app.get("/v1/agencies").await;
        worst = worst.max(t.elapsed());
        assert_eq!(res.status(), 200);
    }
    redis.signal("-CONT");
    assert!(
        worst < Duration::from_millis(600),
        "a request waited {worst:?} on a hung Redis"
    );
}

#[tokio::test]
async fn redis_down_at_start_means_local_limits_not_a_failure() {
    let port = PrivateRedis::start().stop();
    let app = spawn_app_with(|s| {
        s.redis_url = Some(format!("redis://127.0.0.1:{port}"));
        tier(s, "anonymous", 10, None);
    })
    .await;
    // never unlimited: a single node falls back to the whole limit (one node known)
    let mut statuses = vec![];
    for _ in 0..12 {
        statuses.push(app.get("/v1/agencies").await.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2);
}

#[tokio::test]
async fn a_dataset_made_registered_on_one_node_is_closed_on_the_other_within_two_seconds() {
    let (a, b) = two_nodes_on_one_redis().await;
    let (token, _) = a.with_reports().await;
    let records = "/v1/datasets/dinas-pu/laporan/versions/1/records?limit=1";
    // node B resolves (and caches) the public version, and repeats it from its hot answers
    assert_eq!(b.get(records).await.status(), 200);
    assert_eq!(b.get(records).await.status(), 200);
    let hot = "gerbang_cache_requests_total{layer=\"hot\",result=\"hit\"}";
    assert_eq!(b.metric(hot).await, 1.0);
    a.make_registered("dinas-pu", "laporan", &token).await;
    eventually(Duration::from_secs(2), async || {
        b.get(records).await.status() == 401
    })
    .await;
}

#[tokio::test]
async fn one_node_s_answer_is_another_node_s_hit_through_redis() {
    let (a, b) = two_nodes_on_one_redis().await;
    a.with_reports().await;
    let url = "/v1/datasets/dinas-pu/laporan/versions/1/records?priority=gte.3&limit=9";
    let first = a.get(url).await;
    assert_eq!(first.headers()["x-cache"], "miss");
    let body = first.bytes().await.unwrap();
    // A stored its answer in Redis before answering; B finds it there, not in storage
    let reads = b.metric("gerbang_record_reads_total").await;
    let again = b.get(url).await;
    assert_eq!(again.headers()["x-cache"], "hit");
    assert_eq!(again.bytes().await.unwrap(), body);
    assert_eq!(b.metric("gerbang_record_reads_total").await, reads);
    assert!(
        b.metric("gerbang_cache_requests_total{layer=\"l2\",result=\"hit\"}")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn catalog_answers_cached_on_one_node_are_purged_by_a_change_on_another_within_two_seconds() {
    let (a, b) = two_nodes_on_one_redis().await;
    let (token, _) = a.with_reports().await;
    let url = "/v1/datasets/dinas-pu/laporan";
    b.get(url).await;
    assert_eq!(header(&b.get(url).await, "x-cache"), "hit", "B holds it");
    let res = a
        .client
        .patch(a.url(url))
        .bearer_auth(&token)
        .json(&json!({"title": "Judul baru dari node A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    eventually(Duration::from_secs(2), async || {
        b.get_json(url).await["title"] == "Judul baru dari node A"
    })
    .await;
    // and a new agency, which is not a dataset change
    let total = b.get_json("/v1/agencies").await["total"].as_u64().unwrap();
    let admin = a.admin_token().await;
    let res = a
        .post_json(
            "/v1/agencies",
            &admin,
            json!({"slug": "bappeda", "name": "Bappeda"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    eventually(Duration::from_secs(2), async || {
        b.get_json("/v1/agencies").await["total"] == total + 1
    })
    .await;
}

/// On the Postgres backend: the pool reaches a loopback server without TLS when the URL names no
/// `sslmode` (encrypting loopback protects nothing and costs every query), and keeps the
/// `sslmode` a URL names.
#[tokio::test]
async fn loopback_postgres_goes_without_tls_unless_the_url_asks_for_it() {
    use sea_orm::{ConnectionTrait as _, Statement};
    if crate::helpers::backend() != "postgres" {
        return;
    }
    let app = spawn_app_with(|_| {}).await;
    assert!(
        app.database_url.contains("127.0.0.1"),
        "{}",
        app.database_url
    );
    let encrypted = |url: String| async move {
        let db = catalog::db::connect(&url).await.unwrap();
        let row = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                "SELECT ssl, current_setting('ssl') = 'on' FROM pg_stat_ssl \
                 WHERE pid = pg_backend_pid()",
            ))
            .await
            .unwrap()
            .unwrap();
        let ssl: bool = row.try_get_by_index(0).unwrap();
        let server_offers: bool = row.try_get_by_index(1).unwrap();
        (ssl, server_offers)
    };
    let (ssl, server_offers) = encrypted(app.database_url.clone()).await;
    assert!(
        !ssl,
        "a loopback connection without sslmode went through TLS"
    );
    if server_offers {
        let (ssl, _) = encrypted(format!("{}?sslmode=require", app.database_url)).await;
        assert!(ssl, "sslmode=require was not kept");
    }
}
