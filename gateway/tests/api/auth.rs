//! Staff authentication: tokens, and forged or wrong JWTs refused.
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, ADMIN_PASSWORD};

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

#[tokio::test]
async fn token_issued_and_bad_credentials_refused() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/auth/token"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let res = app
        .client
        .post(app.url("/v1/auth/token"))
        .json(&json!({"username": "admin", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthorized").await;
    let res = app
        .client
        .post(app.url("/v1/auth/token"))
        .json(&json!({"username": "nobody", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn forged_and_wrong_tokens_are_401() {
    let app = spawn_app().await;
    let secret = b"test-secret-that-is-long-enough-0123456789";
    let claims = |iss: &str, aud: &str, exp: u64, nbf: u64| json!({"sub": "admin", "role": "admin", "iss": iss, "aud": aud, "exp": exp, "iat": now(), "nbf": nbf});
    let sign = |c: serde_json::Value, key: &[u8]| {
        encode(&Header::default(), &c, &EncodingKey::from_secret(key)).unwrap()
    };
    let good = sign(claims("gerbang", "gerbang", now() + 600, now()), secret);
    let unsigned = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(claims("gerbang", "gerbang", now() + 600, now()).to_string())
        )
    };
    let cases = [
        (
            "wrong secret",
            sign(
                claims("gerbang", "gerbang", now() + 600, now()),
                b"another-secret",
            ),
        ),
        (
            "wrong issuer",
            sign(claims("evil", "gerbang", now() + 600, now()), secret),
        ),
        (
            "wrong audience",
            sign(claims("gerbang", "other", now() + 600, now()), secret),
        ),
        (
            "expired",
            sign(
                claims("gerbang", "gerbang", now() - 3600, now() - 7200),
                secret,
            ),
        ),
        (
            "not yet valid",
            sign(
                claims("gerbang", "gerbang", now() + 7200, now() + 3600),
                secret,
            ),
        ),
        ("alg none", unsigned),
        ("garbage", "x".repeat(10_000)),
    ];
    let post = |token: String| {
        app.client
            .post(app.url("/v1/agencies"))
            .bearer_auth(token)
            .json(&json!({"slug": "a", "name": "A"}))
            .send()
    };
    for (what, token) in cases {
        let res = post(token).await.unwrap();
        assert_eq!(res.status(), 401, "{what}");
    }
    assert_eq!(
        post(good).await.unwrap().status(),
        201,
        "the control case passes"
    );
}
