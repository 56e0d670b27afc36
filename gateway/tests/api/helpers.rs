//! `spawn_app()` and per-resource request helpers.
use std::collections::BTreeMap;

use gateway::config::{Settings, Tier};
use reqwest::Response;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    handle: actix_web::dev::ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _sqlite_dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

pub fn backend() -> String {
    std::env::var("GERBANG_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

async fn database_url() -> (String, Option<tempfile::TempDir>) {
    if backend() == "postgres" {
        let base = std::env::var("GERBANG_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let name = format!("gerbang_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(format!("{base}/postgres"))
            .await
            .expect("Postgres must be running for the postgres backend");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        (format!("{base}/{name}"), None)
    } else {
        let dir = tempfile::tempdir().expect("temp dir");
        (
            format!("sqlite://{}", dir.path().join("test.db").display()),
            Some(dir),
        )
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (database_url, dir) = database_url().await;
    spawn_on(database_url, dir.map(std::sync::Arc::new), tweak).await
}

/// Another node on the same database as `app` (what a load balancer would spread traffic over).
pub async fn spawn_node_like(app: &TestApp, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_on(app.database_url.clone(), app._sqlite_dir.clone(), tweak).await
}

/// The test settings: one node, SQLite or Postgres, no Redis, generous default tiers.
pub fn test_settings(database_url: String) -> Settings {
    Settings {
        listen: "127.0.0.1:0".into(),
        database_url,
        redis_url: None,
        redis_prefix: format!("gerbang-test-{}", uuid::Uuid::new_v4().simple()),
        trusted_proxies: vec![],
        jwt_secret: Some(
            "test-secret-that-is-long-enough-0123456789"
                .to_owned()
                .into(),
        ),
        jwt_issuer: "gerbang".into(),
        jwt_audience: "gerbang".into(),
        jwt_ttl_seconds: 3600,
        max_upload_bytes: 1 << 30,
        admin_password: Some(ADMIN_PASSWORD.to_owned().into()),
        upload_dir: None,
        tiers: BTreeMap::from([
            (
                "anonymous".to_owned(),
                Tier {
                    per_minute: 6000,
                    per_day: None,
                },
            ),
            (
                "free".to_owned(),
                Tier {
                    per_minute: 6000,
                    per_day: Some(100_000),
                },
            ),
            (
                "partner".to_owned(),
                Tier {
                    per_minute: 60_000,
                    per_day: None,
                },
            ),
        ]),
        guards: Default::default(),
        cache: Default::default(),
        oidc: None,
        portal: Default::default(),
        log_json: false,
    }
}

pub async fn spawn_on(
    database_url: String,
    dir: Option<std::sync::Arc<tempfile::TempDir>>,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        // the guard is leaked: test logs are flushed by the writer thread as they come
        std::mem::forget(gateway::telemetry::init(false));
    }
    let mut settings = test_settings(database_url.clone());
    tweak(&mut settings);
    let state = gateway::prepare_state(settings).await.expect("state");
    let app = gateway::Application::build(state).await.expect("build");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        database_url,
        handle,
        server,
        _sqlite_dir: dir,
    }
}

/// Sets one tier's limits.
pub fn tier(settings: &mut Settings, name: &str, per_minute: u32, per_day: Option<u64>) {
    settings.tiers.insert(
        name.to_owned(),
        Tier {
            per_minute,
            per_day,
        },
    );
}

impl TestApp {
    /// Stops the server gracefully and waits until it has stored its usage counters.
    pub async fn stop(self) -> Option<std::sync::Arc<tempfile::TempDir>> {
        self.handle.stop(true).await;
        self.server.await.expect("join").expect("server");
        self._sqlite_dir
    }

    /// A developer signed up through the API: `(developer id, key id, key)`.
    pub async fn sign_up(&self, email: &str) -> (String, String, String) {
        let res = self
            .client
            .post(self.url("/v1/developers"))
            .json(&json!({"email": email, "name": "Dev Uji", "organization": "Komunitas"}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "sign up {email}");
        let body: Value = res.json().await.unwrap();
        (
            body["developer"]["id"].as_str().unwrap().to_owned(),
            body["api_key"]["id"].as_str().unwrap().to_owned(),
            body["api_key"]["key"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn get_with_key(&self, path: &str, key: &str) -> Response {
        self.client
            .get(self.url(path))
            .header("X-API-Key", key)
            .send()
            .await
            .expect("request")
    }

    /// The value of one Prometheus sample (`name{labels}`), 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|v| v.strip_prefix(' ')))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0.0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// The first column, as text, of every row `sql` selects from the app's database.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let db = catalog::db::connect(&self.database_url).await.unwrap();
        let rows = db
            .query_all(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect()
    }

    /// The record tables in the database (`rec_` and 16 hex digits; not SQLite's FTS5 tables).
    pub async fn record_tables(&self) -> Vec<String> {
        let sql = if backend() == "postgres" {
            "SELECT relname::text FROM pg_class WHERE relkind = 'r' ORDER BY 1"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
        };
        self.texts(sql)
            .await
            .into_iter()
            .filter(|name| {
                name.len() == 20
                    && name.starts_with("rec_")
                    && name[4..].bytes().all(|b| b.is_ascii_hexdigit())
            })
            .collect()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.expect("json")
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let res = self
            .client
            .post(self.url("/v1/auth/token"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "login as {username}");
        res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Creates agency `agency` and dataset `dataset` in it; returns the admin token.
    pub async fn create_dataset(&self, agency: &str, dataset: &str) -> String {
        let token = self.admin_token().await;
        let res = self
            .post_json(
                "/v1/agencies",
                &token,
                json!({"slug": agency, "name": format!("Dinas {agency}")}),
            )
            .await;
        assert!(
            res.status() == 201 || res.status() == 409,
            "{}",
            res.status()
        );
        let res = self
            .post_json(
                &format!("/v1/datasets/{agency}"),
                &token,
                json!({"slug": dataset, "title": "Laporan warga", "description": "uji", "theme": "living",
                       "tags": ["jalan"], "license": "CC-BY-4.0", "frequency": "daily",
                       "contact": {"name": "PU", "email": "pu@example.go.id"}, "access": "public"}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        token
    }

    pub async fn upload(
        &self,
        agency: &str,
        dataset: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        self.client
            .post(self.url(&format!("/v1/datasets/{agency}/{dataset}/versions")))
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Uploads a CSV file with a Table Schema, as multipart parts `file` and `schema`.
    pub async fn upload_with_schema(
        &self,
        agency: &str,
        dataset: &str,
        token: &str,
        csv: Vec<u8>,
        schema: &str,
    ) -> Response {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(csv)
                    .file_name("data.csv")
                    .mime_str("text/csv")
                    .unwrap(),
            )
            .part(
                "schema",
                reqwest::multipart::Part::text(schema.to_owned())
                    .mime_str("application/json")
                    .unwrap(),
            );
        self.client
            .post(self.url(&format!("/v1/datasets/{agency}/{dataset}/versions")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request")
    }

    /// Switches a dataset to `access: registered` (any valid key reads it).
    pub async fn make_registered(&self, agency: &str, dataset: &str, token: &str) {
        self.set_access(agency, dataset, token, "registered").await;
    }

    /// Sets a dataset's `access` (`public` or `registered`).
    pub async fn set_access(&self, agency: &str, dataset: &str, token: &str, access: &str) {
        let res = self
            .client
            .patch(self.url(&format!("/v1/datasets/{agency}/{dataset}")))
            .bearer_auth(token)
            .json(&json!({ "access": access }))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    pub async fn publish(&self, agency: &str, dataset: &str, token: &str, v: i64) {
        let res = self
            .client
            .post(self.url(&format!(
                "/v1/datasets/{agency}/{dataset}/versions/{v}/publish"
            )))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    /// Records of `bench-like` fixture data, loaded and published as version 1.
    pub async fn with_reports(&self) -> (String, Vec<Report>) {
        let token = self.create_dataset("dinas-pu", "laporan").await;
        let (csv, rows) = reports_csv();
        let res = self
            .upload("dinas-pu", "laporan", &token, "text/csv", csv)
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        self.publish("dinas-pu", "laporan", &token, 1).await;
        (token, rows)
    }

    pub async fn records(&self, query: &str) -> Value {
        self.get_json(&format!(
            "/v1/datasets/dinas-pu/laporan/versions/1/records?{query}"
        ))
        .await
    }

    /// The `_id`s of every page of `path` (which has a query string), following `next_cursor`.
    pub async fn all_pages(&self, path: &str) -> Vec<i64> {
        let mut got = vec![];
        let mut url = path.to_owned();
        loop {
            let page = self.get_json(&url).await;
            got.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => url = format!("{path}&cursor={c}"),
                None => return got,
            }
        }
    }
}

/// The JSON values of an NDJSON body, one per line.
pub async fn ndjson(res: Response) -> Vec<Value> {
    res.text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A response header that must be there.
pub fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "expected {status} {code}");
    let ct = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// One fixture row, as the test computes with it independently of the server.
#[derive(Debug, Clone)]
pub struct Report {
    pub id: i64,
    pub reported_at: chrono::DateTime<chrono::FixedOffset>,
    pub reported_text: String,
    pub district: String,
    pub category: String,
    pub priority: i64,
    pub score: Option<f64>,
    pub verified: bool,
    pub note: Option<String>,
}

pub const DISTRICTS: [&str; 3] = ["Balikpapan Utara", "Balikpapan Kota", "Balikpapan Timur"];
const CATEGORIES: [&str; 4] = ["banjir", "jalan rusak", "sampah", "drainase"];
const OFFSETS: [&str; 3] = ["+07:00", "+08:00", "+09:00"];

/// 257 deterministic rows with nulls, three UTC offsets, ties in every sortable column.
pub fn reports_csv() -> (Vec<u8>, Vec<Report>) {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record([
        "id",
        "reported_at",
        "district",
        "category",
        "priority",
        "score",
        "verified",
        "note",
    ])
    .unwrap();
    let mut rows = vec![];
    for i in 1..=257i64 {
        let day = 1 + (i * 7 % 28);
        let hour = i * 5 % 24;
        let text = format!(
            "2024-03-{day:02}T{hour:02}:{:02}:00{}",
            i % 60,
            OFFSETS[(i % 3) as usize]
        );
        let r = Report {
            id: i,
            reported_at: chrono::DateTime::parse_from_rfc3339(&text).unwrap(),
            reported_text: text.clone(),
            district: DISTRICTS[(i % 3) as usize].into(),
            category: CATEGORIES[(i * 3 % 4) as usize].into(),
            priority: 1 + i * 11 % 5,
            score: if i % 7 == 0 {
                None
            } else {
                Some((i * 37 % 100) as f64 / 4.0)
            },
            verified: i % 2 == 0,
            note: if i % 5 == 0 {
                None
            } else {
                Some(format!(
                    "Jalan {} dekat pasar {}",
                    if i % 4 == 0 { "banjir" } else { "berlubang" },
                    i % 9
                ))
            },
        };
        w.write_record([
            r.id.to_string(),
            text,
            r.district.clone(),
            r.category.clone(),
            r.priority.to_string(),
            r.score.map(|s| s.to_string()).unwrap_or_default(),
            r.verified.to_string(),
            r.note.clone().unwrap_or_default(),
        ])
        .unwrap();
        rows.push(r);
    }
    (w.into_inner().unwrap(), rows)
}

pub fn ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["_id"].as_i64().unwrap())
        .collect()
}
