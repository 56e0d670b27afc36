//! Developer self-service, API keys, tiers, limits, quotas and usage, on one node.
use serde_json::{json, Value};

use crate::helpers::{assert_problem, header, spawn_app, spawn_app_with, spawn_node_like, tier};

const RECORDS: &str = "/v1/datasets/dinas-pu/laporan/versions/1/records?limit=1";

#[tokio::test]
async fn key_lifecycle_create_list_roll_revoke() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/developers"))
        .json(&json!({"email": "Budi@Contoh.id", "name": "Budi", "purpose": "aplikasi banjir"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["developer"]["email"], "budi@contoh.id");
    let key = body["api_key"]["key"].as_str().unwrap().to_owned();
    let key_id = body["api_key"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("gbk_") && key.len() >= 4 + 30, "{key}");
    assert_eq!(body["api_key"]["tier"], "free");
    assert!(key.starts_with(body["api_key"]["prefix"].as_str().unwrap()));

    // the same email again is a conflict
    let again = app
        .client
        .post(app.url("/v1/developers"))
        .json(&json!({"email": "budi@contoh.id", "name": "Budi"}))
        .send()
        .await
        .unwrap();
    assert_problem(again, 409, "conflict").await;

    let me = app.get_with_key("/v1/me", &key).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["tier"], "free");
    assert_eq!(me["limits"]["per_minute"], 6000);
    assert_eq!(me["limits"]["per_day"], 100_000);

    // listing shows prefixes only, never the key
    let list = app.get_with_key("/v1/me/keys", &key).await;
    let text = list.text().await.unwrap();
    assert!(!text.contains(&key));
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["status"], "active");

    // a second key
    let res = app
        .client
        .post(app.url("/v1/me/keys"))
        .header("X-API-Key", &key)
        .json(&json!({"name": "server"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let second: Value = res.json().await.unwrap();
    let second_key = second["key"].as_str().unwrap().to_owned();
    assert_eq!(app.get_with_key("/v1/me", &second_key).await.status(), 200);

    // roll the first key with a grace period: both the old and the new key work
    let res = app
        .client
        .post(app.url(&format!("/v1/me/keys/{key_id}/roll")))
        .header("X-API-Key", &second_key)
        .json(&json!({"grace_seconds": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let rolled: Value = res.json().await.unwrap();
    let new_key = rolled["key"].as_str().unwrap().to_owned();
    assert_eq!(rolled["replaces"]["status"], "expiring");
    assert_eq!(app.get_with_key("/v1/me", &key).await.status(), 200);
    assert_eq!(app.get_with_key("/v1/me", &new_key).await.status(), 200);

    // revoke the new key: it stops at once, here
    let res = app
        .client
        .delete(app.url(&format!("/v1/me/keys/{}", rolled["id"].as_str().unwrap())))
        .header("X-API-Key", &second_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let refused = app.get_with_key("/v1/me", &new_key).await;
    assert_problem(refused, 401, "unauthorized").await;

    // rolling with no grace revokes the old key at once
    let res = app
        .client
        .post(app.url(&format!(
            "/v1/me/keys/{}/roll",
            second["id"].as_str().unwrap()
        )))
        .header("X-API-Key", &second_key)
        .json(&json!({"grace_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_problem(
        app.get_with_key("/v1/me", &second_key).await,
        401,
        "unauthorized",
    )
    .await;

    // grace beyond 7 days is refused
    let res = app
        .client
        .post(app.url(&format!("/v1/me/keys/{key_id}/roll")))
        .header("X-API-Key", &key)
        .json(&json!({"grace_seconds": 8 * 86400}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad_request").await;
}

#[tokio::test]
async fn at_most_five_active_keys() {
    let app = spawn_app().await;
    let (_, _, key) = app.sign_up("lima@contoh.id").await;
    for i in 0..4 {
        let res = app
            .client
            .post(app.url("/v1/me/keys"))
            .header("X-API-Key", &key)
            .json(&json!({"name": format!("k{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let res = app
        .client
        .post(app.url("/v1/me/keys"))
        .header("X-API-Key", &key)
        .json(&json!({"name": "one too many"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 409, "conflict").await;
}

#[tokio::test]
async fn another_developers_key_is_not_found() {
    let app = spawn_app().await;
    let (_, alice_key_id, alice) = app.sign_up("alice@contoh.id").await;
    let (_, _, bob) = app.sign_up("bob@contoh.id").await;
    let res = app
        .client
        .delete(app.url(&format!("/v1/me/keys/{alice_key_id}")))
        .header("X-API-Key", &bob)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
    let res = app
        .client
        .post(app.url(&format!("/v1/me/keys/{alice_key_id}/roll")))
        .header("X-API-Key", &bob)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
    assert_eq!(app.get_with_key("/v1/me", &alice).await.status(), 200);
}

#[tokio::test]
async fn mass_assignment_is_refused() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/developers"))
        .json(&json!({"email": "x@contoh.id", "name": "X", "tier": "partner"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad_request").await;
    let (_, _, key) = app.sign_up("y@contoh.id").await;
    let res = app
        .client
        .post(app.url("/v1/me/keys"))
        .header("X-API-Key", &key)
        .json(&json!({"name": "k", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad_request").await;
    let me: Value = app.get_with_key("/v1/me", &key).await.json().await.unwrap();
    assert_eq!(me["tier"], "free");
}

#[tokio::test]
async fn bad_keys_are_401_and_a_typo_never_reaches_the_database() {
    let app = spawn_app().await;
    app.with_reports().await;
    let (_, _, key) = app.sign_up("typo@contoh.id").await;
    assert_eq!(app.get_with_key(RECORDS, &key).await.status(), 200);
    let lookups = app
        .metric("gerbang_key_lookups_total{result=\"found\"}")
        .await
        + app
            .metric("gerbang_key_lookups_total{result=\"missing\"}")
            .await;

    // one character changed: the checksum fails, no lookup happens
    let mut typo = key.clone().into_bytes();
    typo[8] = if typo[8] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).unwrap();
    for bad in [
        typo.as_str(),
        "gbk_short",
        "",
        "not a key at all",
        &"a".repeat(5000),
    ] {
        let res = app.get_with_key(RECORDS, bad).await;
        assert_problem(res, 401, "unauthorized").await;
    }
    // the query-string form too, never downgraded to anonymous
    let res = app.get(&format!("{RECORDS}&api_key={typo}")).await;
    assert_problem(res, 401, "unauthorized").await;
    let after = app
        .metric("gerbang_key_lookups_total{result=\"found\"}")
        .await
        + app
            .metric("gerbang_key_lookups_total{result=\"missing\"}")
            .await;
    assert_eq!(after, lookups, "a mistyped key must not cost a lookup");
    assert!(
        app.metric("gerbang_key_rejections_total{reason=\"format\"}")
            .await
            >= 6.0
    );

    // the right key by query string works
    assert_eq!(
        app.get(&format!("{RECORDS}&api_key={key}")).await.status(),
        200
    );
}

#[tokio::test]
async fn an_expired_key_is_401() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let (_, key_id, key) = app.sign_up("lama@contoh.id").await;
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    db.execute(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "UPDATE api_keys SET expires_at = $1 WHERE id = $2"
            }
            _ => "UPDATE api_keys SET expires_at = ? WHERE id = ?",
        },
        [past.into(), key_id.into()],
    ))
    .await
    .unwrap();
    let res = app.get_with_key("/v1/me", &key).await;
    let body = assert_problem(res, 401, "unauthorized").await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_burst_gets_exact_headers_then_429_with_a_real_wait() {
    let app = spawn_app_with(|s| tier(s, "free", 5, None)).await;
    app.with_reports().await;
    let (_, _, key) = app.sign_up("burst@contoh.id").await;
    for expected in (0..5).rev() {
        let res = app.get_with_key(RECORDS, &key).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "ratelimit-limit"), "5");
        assert_eq!(header(&res, "ratelimit-remaining"), expected.to_string());
        let used = 5 - expected;
        // a cell frees every 12 s: the whole allowance is back after 12 s per used cell
        assert_eq!(header(&res, "ratelimit-reset"), (12 * used).to_string());
        assert_eq!(header(&res, "ratelimit-policy"), "\"minute\";q=5;w=60");
        assert_eq!(
            header(&res, "ratelimit"),
            format!("\"minute\";r={expected};t={}", 12 * used)
        );
    }
    let res = app.get_with_key(RECORDS, &key).await;
    let retry: u64 = header(&res, "retry-after").parse().unwrap();
    assert!((11..=12).contains(&retry), "Retry-After {retry}");
    assert_eq!(header(&res, "ratelimit-remaining"), "0");
    assert_problem(res, 429, "rate_limited").await;

    // another developer has an allowance of their own
    let (_, _, other) = app.sign_up("other@contoh.id").await;
    let res = app.get_with_key(RECORDS, &other).await;
    assert_eq!(header(&res, "ratelimit-remaining"), "4");
}

#[tokio::test]
async fn the_daily_quota_is_enforced_and_reported() {
    let app = spawn_app_with(|s| tier(s, "free", 600, Some(3))).await;
    app.with_reports().await;
    let (_, _, key) = app.sign_up("quota@contoh.id").await;
    for _ in 0..3 {
        assert_eq!(app.get_with_key(RECORDS, &key).await.status(), 200);
    }
    let res = app.get_with_key(RECORDS, &key).await;
    assert!(header(&res, "retry-after").parse::<u64>().unwrap() >= 1);
    assert_problem(res, 429, "quota_exceeded").await;
}

#[tokio::test]
async fn spoofed_forwarded_for_does_not_escape_the_per_ip_limit() {
    let app = spawn_app_with(|s| tier(s, "anonymous", 3, None)).await;
    let mut statuses = vec![];
    for i in 0..6 {
        let res = app
            .client
            .get(app.url("/v1/agencies"))
            .header("X-Forwarded-For", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let app = spawn_app_with(|s| {
        tier(s, "anonymous", 2, None);
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    for i in 0..4 {
        let res = app
            .client
            .get(app.url("/v1/agencies"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "each forwarded client has its own allowance"
        );
    }
}

#[tokio::test]
async fn a_flood_of_random_keys_is_limited_per_ip() {
    let app = spawn_app_with(|s| tier(s, "anonymous", 5, None)).await;
    let mut statuses = vec![];
    for i in 0..8 {
        let res = app
            .get_with_key("/v1/agencies", &format!("gbk_random{i:030}"))
            .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
}

#[tokio::test]
async fn staff_are_not_limited_by_tier_but_failed_logins_are() {
    let app = spawn_app_with(|s| {
        tier(s, "anonymous", 2, None);
        s.guards.failed_logins_per_minute = 3;
    })
    .await;
    let token = app.admin_token().await;
    for _ in 0..5 {
        let res = app
            .client
            .get(app.url("/v1/developers"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("ratelimit-limit").is_none());
    }
    // The bearer token exempts these attempts from the (tiny) anonymous tier, so a 429 below can
    // only come from the failed-login guard.
    let login = |password: &'static str| {
        app.client
            .post(app.url("/v1/auth/token"))
            .bearer_auth(&token)
            .json(&json!({"username": "admin", "password": password}))
            .send()
    };
    for _ in 0..3 {
        assert_problem(login("wrong").await.unwrap(), 401, "unauthorized").await;
    }
    // now even the right password waits
    let res = login(crate::helpers::ADMIN_PASSWORD).await.unwrap();
    assert!(res.headers().get("retry-after").is_some());
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn sign_ups_and_key_creation_are_limited() {
    let app = spawn_app_with(|s| {
        s.guards.signups_per_hour = 2;
        s.guards.key_changes_per_hour = 1;
    })
    .await;
    let (_, _, key) = app.sign_up("s1@contoh.id").await;
    app.sign_up("s2@contoh.id").await;
    let res = app
        .client
        .post(app.url("/v1/developers"))
        .json(&json!({"email": "s3@contoh.id", "name": "S3"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 429, "rate_limited").await;
    let create = || {
        app.client
            .post(app.url("/v1/me/keys"))
            .header("X-API-Key", &key)
            .json(&json!({"name": "k"}))
            .send()
    };
    assert_eq!(create().await.unwrap().status(), 201);
    assert_problem(create().await.unwrap(), 429, "rate_limited").await;
}

#[tokio::test]
async fn an_admin_changes_a_tier_and_it_applies_at_once() {
    let app = spawn_app_with(|s| {
        tier(s, "free", 600, None);
        tier(s, "partner", 6000, None);
    })
    .await;
    let (dev_id, _, key) = app.sign_up("mitra@contoh.id").await;
    let res = app.get_with_key("/v1/agencies", &key).await;
    assert_eq!(header(&res, "ratelimit-limit"), "600");

    // a developer cannot promote themselves
    let res = app
        .client
        .patch(app.url(&format!("/v1/developers/{dev_id}")))
        .header("X-API-Key", &key)
        .json(&json!({"tier": "partner"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthorized").await;

    let token = app.admin_token().await;
    let patch = |tier: &'static str| {
        app.client
            .patch(app.url(&format!("/v1/developers/{dev_id}")))
            .bearer_auth(&token)
            .json(&json!({"tier": tier}))
            .send()
    };
    assert_problem(patch("anonymous").await.unwrap(), 400, "bad_request").await;
    assert_problem(patch("platinum").await.unwrap(), 400, "bad_request").await;
    assert_eq!(patch("partner").await.unwrap().status(), 200);
    let res = app.get_with_key("/v1/agencies", &key).await;
    assert_eq!(header(&res, "ratelimit-limit"), "6000");
    let me: Value = app.get_with_key("/v1/me", &key).await.json().await.unwrap();
    assert_eq!(me["tier"], "partner");
}

#[tokio::test]
async fn registered_datasets_need_a_key() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    app.make_registered("dinas-pu", "laporan", &token).await;
    assert_problem(app.get(RECORDS).await, 401, "unauthorized").await;
    let (_, _, key) = app.sign_up("reg@contoh.id").await;
    let res = app.get_with_key(RECORDS, &key).await;
    assert_eq!(res.status(), 200);
    assert!(!header(&res, "cache-control").contains("public"));
}

#[tokio::test]
async fn usage_is_exact_after_a_graceful_shutdown_and_agencies_see_it() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    let (_, _, alice) = app.sign_up("usage-a@contoh.id").await;
    let (_, _, bob) = app.sign_up("usage-b@contoh.id").await;
    for _ in 0..37 {
        assert_eq!(app.get_with_key(RECORDS, &alice).await.status(), 200);
    }
    for _ in 0..5 {
        assert_eq!(app.get_with_key(RECORDS, &bob).await.status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(app.get(RECORDS).await.status(), 200);
    }
    // unanswered dataset paths are not attributed to a dataset
    let missing = app
        .get_with_key("/v1/datasets/dinas-pu/tidak-ada/versions/1/records", &alice)
        .await;
    assert_eq!(missing.status(), 404);
    let url = app.database_url.clone();
    let dir = app.stop().await;

    // a new node on the same database reads what the first one stored on shutdown
    let app = crate::helpers::spawn_on(url, dir, |_| {}).await;
    let usage: Value = app
        .get_with_key("/v1/me/usage", &alice)
        .await
        .json()
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    let rows = usage["data"].as_array().unwrap();
    let laporan = rows
        .iter()
        .find(|r| r["dataset"] == "dinas-pu/laporan" && r["day"] == today)
        .expect("a row for the dataset today");
    assert_eq!(laporan["requests"], 37);
    let unattributed = rows
        .iter()
        .find(|r| r["dataset"].is_null())
        .expect("the 404 counted without a dataset");
    assert_eq!(unattributed["requests"], 1);

    let agency: Value = app
        .client
        .get(app.url("/v1/datasets/dinas-pu/laporan/usage"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let day = &agency["data"][0];
    assert_eq!(day["day"], today);
    assert_eq!(day["requests"], 37 + 5 + 3);
    assert_eq!(day["distinct_keys"], 2);

    // not for the public, and not for another agency's publisher
    assert_problem(
        app.get("/v1/datasets/dinas-pu/laporan/usage").await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn me_needs_a_key() {
    let app = spawn_app().await;
    assert_problem(app.get("/v1/me").await, 401, "unauthorized").await;
    assert_problem(app.get("/v1/me/usage").await, 401, "unauthorized").await;
    let (_, _, key) = app.sign_up("range@contoh.id").await;
    let res = app
        .get_with_key("/v1/me/usage?from=2026-01-01&to=2024-01-01", &key)
        .await;
    assert_problem(res, 400, "bad_request").await;
    let res = app.get_with_key("/v1/me/usage?from=yesterday", &key).await;
    assert_problem(res, 400, "bad_request").await;
}

#[tokio::test]
async fn two_nodes_without_redis_share_the_database() {
    // keys made on one node work on another at once (a miss goes to the database)
    let a = spawn_app().await;
    let b = spawn_node_like(&a, |_| {}).await;
    let (_, _, key) = a.sign_up("dua@contoh.id").await;
    assert_eq!(b.get_with_key("/v1/me", &key).await.status(), 200);
}
