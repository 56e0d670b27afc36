//! Staff tokens from an external OIDC issuer: an ES256 key pair made in the test, its JWKS served
//! on loopback, and the attacks a token verifier must survive.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app_with, TestApp};

const ISSUER: &str = "https://sso.balikpapan.go.id/realms/opd";
const AUDIENCE: &str = "gerbang-api";

struct Issuer {
    key: EncodingKey,
    public_jwk: Value,
    fetches: Arc<AtomicUsize>,
    jwks_url: String,
}

fn key_pair(kid: &str) -> (EncodingKey, Value) {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
    let key = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let mut jwk: Value = serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap();
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!("ES256");
    jwk["use"] = json!("sig");
    (key, jwk)
}

async fn start_issuer() -> Issuer {
    let (key, public_jwk) = key_pair("k1");
    let fetches = Arc::new(AtomicUsize::new(0));
    let body = json!({"keys": [public_jwk.clone()]}).to_string();
    let counter = Arc::clone(&fetches);
    let server = HttpServer::new(move || {
        let body = body.clone();
        let counter = Arc::clone(&counter);
        App::new().route(
            "/jwks",
            web::get().to(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    Issuer {
        key,
        public_jwk,
        fetches,
        jwks_url: format!("http://127.0.0.1:{port}/jwks"),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(role: &str, agency: Option<&str>) -> Value {
    json!({
        "sub": "pegawai-1", "iss": ISSUER, "aud": AUDIENCE,
        "exp": now() + 600, "nbf": now() - 10, "iat": now(),
        "gerbang_role": [role], "opd": agency,
    })
}

fn sign(key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    encode(&header, claims, key).unwrap()
}

async fn app_with(issuer: &Issuer) -> TestApp {
    let url = issuer.jwks_url.clone();
    spawn_app_with(move |s| {
        s.oidc = Some(gateway::config::OidcSettings {
            issuer: ISSUER.into(),
            jwks_url: url,
            audience: AUDIENCE.into(),
            role_claim: "gerbang_role".into(),
            agency_claim: "opd".into(),
        })
    })
    .await
}

async fn status_with(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/v1/developers"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_external_admin_and_publisher_are_accepted() {
    let issuer = start_issuer().await;
    let app = app_with(&issuer).await;
    let admin = sign(&issuer.key, "k1", &claims("admin", None));
    assert_eq!(status_with(&app, &admin).await.status(), 200);

    // an admin from the issuer creates an agency; its publisher works in it, not elsewhere
    for slug in ["dlh", "dinas-pu"] {
        let res = app
            .post_json("/v1/agencies", &admin, json!({"slug": slug, "name": slug}))
            .await;
        assert_eq!(res.status(), 201);
    }
    let publisher = sign(&issuer.key, "k1", &claims("publisher", Some("dlh")));
    let dataset = json!({"slug": "udara", "title": "Kualitas udara", "theme": "environment",
        "license": "CC-BY-4.0", "frequency": "daily"});
    let res = app
        .post_json("/v1/datasets/dlh", &publisher, dataset.clone())
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post_json("/v1/datasets/dinas-pu", &publisher, dataset)
        .await;
    assert_problem(res, 403, "forbidden").await;
    assert_problem(status_with(&app, &publisher).await, 403, "forbidden").await;
}

#[tokio::test]
async fn forged_external_tokens_are_refused() {
    let issuer = start_issuer().await;
    let app = app_with(&issuer).await;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let good = claims("admin", None);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let (other_key, _) = key_pair("k1");
    // HS256 signed with the issuer's public key as the secret (algorithm confusion)
    let public_bytes = issuer.public_jwk.to_string();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k1".into());
    let confused = encode(
        &hs,
        &good,
        &EncodingKey::from_secret(public_bytes.as_bytes()),
    )
    .unwrap();
    let forged = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": "k1"})),
                b64(&good)
            ),
        ),
        ("HS/ES confusion", confused),
        (
            "wrong issuer",
            sign(
                &issuer.key,
                "k1",
                &with("iss", json!("https://evil.example")),
            ),
        ),
        (
            "wrong audience",
            sign(&issuer.key, "k1", &with("aud", json!("other-api"))),
        ),
        (
            "expired",
            sign(&issuer.key, "k1", &with("exp", json!(now() - 3600))),
        ),
        (
            "not yet valid",
            sign(&issuer.key, "k1", &with("nbf", json!(now() + 3600))),
        ),
        ("bad signature", sign(&other_key, "k1", &good)),
        ("no kid", {
            encode(&Header::new(Algorithm::ES256), &good, &issuer.key).unwrap()
        }),
        ("10 KB", "a".repeat(10 * 1024)),
    ];
    for (what, token) in forged {
        let res = status_with(&app, &token).await;
        assert_eq!(res.status(), 401, "{what}");
    }
}

#[tokio::test]
async fn an_unknown_kid_storm_costs_one_jwks_fetch() {
    let issuer = start_issuer().await;
    let app = app_with(&issuer).await;
    let at_start = issuer.fetches.load(Ordering::SeqCst);
    assert_eq!(at_start, 1, "the keys are fetched once at start");
    let (attacker, _) = key_pair("x");
    for i in 0..40 {
        let token = sign(&attacker, &format!("made-up-{i}"), &claims("admin", None));
        assert_eq!(status_with(&app, &token).await.status(), 401);
    }
    let fetched = issuer.fetches.load(Ordering::SeqCst) - at_start;
    assert!(
        fetched <= 1,
        "{fetched} JWKS fetches for an unknown-kid storm"
    );
    // the real key still works
    let token = sign(&issuer.key, "k1", &claims("admin", None));
    assert_eq!(status_with(&app, &token).await.status(), 200);
}
