//! The response cache: hits and misses, one entry for equivalent queries, one storage read for
//! many concurrent misses, `latest` moving on publish, and private answers that never leak.

use crate::helpers::{assert_problem, header, spawn_app, spawn_app_with};

const BASE: &str = "/v1/datasets/dinas-pu/laporan/versions";

#[tokio::test]
async fn a_repeated_read_is_a_hit_with_the_same_body_and_validators() {
    let app = spawn_app().await;
    app.with_reports().await;
    let url =
        format!("{BASE}/1/records?district=eq.Balikpapan%20Utara&order=priority.desc&limit=7");
    let first = app.get(&url).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-cache"), "miss");
    let (etag, cc) = (header(&first, "etag"), header(&first, "cache-control"));
    let first_body = first.bytes().await.unwrap();
    let reads = app.metric("gerbang_record_reads_total").await;

    let second = app.get(&url).await;
    assert_eq!(header(&second, "x-cache"), "hit");
    assert!(header(&second, "age").parse::<u64>().is_ok());
    assert_eq!(header(&second, "etag"), etag);
    assert_eq!(header(&second, "cache-control"), cc);
    assert!(header(&second, "link").contains("cursor="));
    assert_eq!(second.bytes().await.unwrap(), first_body);
    assert_eq!(app.metric("gerbang_record_reads_total").await, reads);

    // records by id and aggregates are cached the same way
    for path in [
        "/1/records/5",
        "/1/aggregate?group_by=district&metrics=count",
    ] {
        let a = app.get(&format!("{BASE}{path}")).await;
        assert_eq!(header(&a, "x-cache"), "miss", "{path}");
        let a = a.bytes().await.unwrap();
        let b = app.get(&format!("{BASE}{path}")).await;
        assert_eq!(header(&b, "x-cache"), "hit", "{path}");
        assert_eq!(b.bytes().await.unwrap(), a);
    }
}

#[tokio::test]
async fn equivalent_queries_share_one_entry() {
    let app = spawn_app().await;
    app.with_reports().await;
    let spellings = [
        "/1/records?district=eq.Balikpapan%20Kota&category=eq.banjir",
        "/1/records?category=eq.banjir&district=eq.Balikpapan%20Kota",
        "/1/records?category=eq.banjir&district=eq.Balikpapan%20Kota&limit=100",
        "/latest/records?category=eq.banjir&district=eq.Balikpapan%20Kota",
    ];
    let mut outcomes = vec![];
    let mut bodies = vec![];
    for s in spellings {
        let res = app.get(&format!("{BASE}{s}")).await;
        assert_eq!(res.status(), 200, "{s}");
        outcomes.push(header(&res, "x-cache"));
        bodies.push(res.bytes().await.unwrap());
    }
    assert_eq!(outcomes, ["miss", "hit", "hit", "hit"]);
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    // a different page is a different entry
    let other = app
        .get(&format!(
            "{BASE}/1/records?district=eq.Balikpapan%20Kota&category=eq.banjir&limit=3"
        ))
        .await;
    assert_eq!(header(&other, "x-cache"), "miss");
}

#[tokio::test]
async fn concurrent_misses_read_storage_once() {
    let app = spawn_app().await;
    app.with_reports().await;
    let before = app.metric("gerbang_record_reads_total").await;
    let url = app.url(&format!(
        "{BASE}/1/records?q=banjir&order=reported_at.desc&limit=50"
    ));
    let requests = (0..200).map(|_| app.client.get(&url).send());
    let answers = futures::future::join_all(requests).await;
    let mut misses = 0;
    for a in answers {
        let a = a.unwrap();
        assert_eq!(a.status(), 200);
        if header(&a, "x-cache") == "miss" {
            misses += 1;
        }
    }
    assert_eq!(misses, 1);
    assert_eq!(app.metric("gerbang_record_reads_total").await, before + 1.0);
}

#[tokio::test]
async fn latest_moves_on_publish_and_drafts_are_never_cached() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    let latest = format!("{BASE}/latest/records?limit=1");
    let v1: serde_json::Value = app.get_json(&latest).await;
    let csv = b"id,note\n1,versi dua\n".to_vec();
    let res = app
        .upload("dinas-pu", "laporan", &token, "text/csv", csv)
        .await;
    assert_eq!(res.status(), 201);
    // the draft, read twice by its publisher, is read from storage both times
    for _ in 0..2 {
        let res = app
            .client
            .get(app.url(&format!("{BASE}/2/records?limit=1")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "x-cache"), "miss");
        assert_eq!(header(&res, "cache-control"), "private, no-store");
    }
    assert_eq!(app.get_json(&latest).await, v1);
    app.publish("dinas-pu", "laporan", &token, 2).await;
    let v2: serde_json::Value = app.get_json(&latest).await;
    assert_eq!(v2["data"][0]["note"], "versi dua");
    let res = app.get(&latest).await;
    assert_eq!(header(&res, "content-location"), format!("{BASE}/2"));
}

#[tokio::test]
async fn a_registered_answer_never_reaches_an_anonymous_caller() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    app.make_registered("dinas-pu", "laporan", &token).await;
    let (_, _, key) = app.sign_up("cache@contoh.id").await;
    let url = format!("{BASE}/1/records?limit=2");
    for _ in 0..2 {
        let res = app.get_with_key(&url, &key).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "cache-control"), "private, no-cache");
    }
    assert_problem(app.get(&url).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn with_the_cache_off_every_read_goes_to_storage() {
    let app = spawn_app_with(|s| s.cache.enabled = false).await;
    app.with_reports().await;
    let url = format!("{BASE}/1/records?limit=2");
    for _ in 0..2 {
        assert_eq!(header(&app.get(&url).await, "x-cache"), "miss");
    }
}

/// Uploads version 2 of the dinas-pu dataset, left a draft.
async fn upload_draft(app: &crate::helpers::TestApp, token: &str) {
    let csv = b"id,note\n1,dua\n".to_vec();
    let res = app
        .upload("dinas-pu", "laporan", token, "text/csv", csv)
        .await;
    assert_eq!(res.status(), 201);
}

/// Versions in the public list of the dinas-pu dataset.
async fn public_versions(app: &crate::helpers::TestApp) -> usize {
    app.get_json("/v1/datasets/dinas-pu/laporan/versions").await["data"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn catalog_answers_are_shared_by_the_public_and_purged_by_every_change() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    let (_, _, key) = app.sign_up("katalog@contoh.id").await;
    let search = "/v1/datasets?q=laporan&limit=5";
    let first = app.get(search).await;
    assert_eq!(header(&first, "x-cache"), "miss");
    let body = first.bytes().await.unwrap();
    // a developer gets the anonymous caller's entry: the answer is the same for both
    let again = app
        .get_with_key("/v1/datasets?limit=5&q=laporan", &key)
        .await;
    assert_eq!(header(&again, "x-cache"), "hit");
    assert_eq!(again.bytes().await.unwrap(), body);
    let hits = "gerbang_cache_requests_total{layer=\"catalog\",result=\"hit\"}";
    assert_eq!(app.metric(hits).await, 1.0);

    // metadata edited: search and the dataset show it at once (both were cached)
    for path in [search, "/v1/datasets/dinas-pu/laporan"] {
        app.get(path).await;
        assert_eq!(header(&app.get(path).await, "x-cache"), "hit");
    }
    let res = app
        .client
        .patch(app.url("/v1/datasets/dinas-pu/laporan"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "Laporan Jalan Rusak (revisi)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app.get(search).await;
    assert_eq!(header(&res, "x-cache"), "miss");
    let found: serde_json::Value = res.json().await.unwrap();
    assert_eq!(found["data"][0]["title"], "Laporan Jalan Rusak (revisi)");
    assert_eq!(
        app.get_json("/v1/datasets/dinas-pu/laporan").await["title"],
        "Laporan Jalan Rusak (revisi)"
    );

    // a new version published: the versions list has it at once
    assert_eq!(public_versions(&app).await, 1);
    upload_draft(&app, &token).await;
    assert_eq!(
        public_versions(&app).await,
        1,
        "a draft stays out of public answers"
    );
    app.publish("dinas-pu", "laporan", &token, 2).await;
    assert_eq!(public_versions(&app).await, 2);

    // a new agency: the agency list has it at once
    let total = app.get_json("/v1/agencies").await["total"].clone();
    let admin = app.admin_token().await;
    let res = app
        .post_json(
            "/v1/agencies",
            &admin,
            serde_json::json!({"slug": "bappeda", "name": "Bappeda"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        app.get_json("/v1/agencies").await["total"],
        total.as_u64().unwrap() + 1
    );
}

#[tokio::test]
async fn staff_catalog_answers_are_never_stored_or_shared() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    upload_draft(&app, &token).await;
    let url = "/v1/datasets/dinas-pu/laporan/versions";
    for _ in 0..2 {
        let res = app
            .client
            .get(app.url(url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&res, "x-cache"), "miss");
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            v["data"].as_array().unwrap().len(),
            2,
            "the publisher sees the draft"
        );
    }
    let public = app.get_json(url).await;
    assert_eq!(
        public["data"].as_array().unwrap().len(),
        1,
        "the public does not"
    );
}

#[tokio::test]
async fn hot_answers_repeat_the_handlers_headers_and_are_forgotten_on_change() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    let (_, _, key) = app.sign_up("panas@contoh.id").await;
    // one connection, so every request reaches the worker thread that answered the first
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let get = |path: String, accept: Option<&'static str>, tag: Option<String>| {
        let mut req = client.get(app.url(&path));
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(t) = tag {
            req = req.header("If-None-Match", t);
        }
        async move { req.send().await.unwrap() }
    };
    let hot = "gerbang_cache_requests_total{layer=\"hot\",result=\"hit\"}";
    let url =
        format!("{BASE}/1/records?district=eq.Balikpapan%20Utara&order=priority.desc&limit=3");

    let first = get(url.clone(), None, None).await;
    assert_eq!(header(&first, "x-cache"), "miss");
    let second = get(url.clone(), None, None).await;
    assert_eq!(header(&second, "x-cache"), "hit");
    assert_eq!(
        app.metric(hot).await,
        1.0,
        "the repeat came from the hot answers"
    );
    for name in [
        "etag",
        "cache-control",
        "vary",
        "content-type",
        "content-length",
        "link",
        "access-control-allow-origin",
        "ratelimit-policy",
    ] {
        assert_eq!(header(&second, name), header(&first, name), "{name}");
    }
    assert!(header(&second, "age").parse::<u64>().is_ok());
    assert!(
        header(&second, "ratelimit-remaining")
            .parse::<u64>()
            .is_ok(),
        "the caller's limit is still applied"
    );
    let (etag, cc) = (header(&first, "etag"), header(&first, "cache-control"));
    assert_eq!(cc, "public, max-age=31536000, immutable");
    let body = first.bytes().await.unwrap();
    assert_eq!(second.bytes().await.unwrap(), body);

    // a validator that matches: 304 with the 200's validators, and no body
    let not_modified = get(url.clone(), None, Some(format!("\"x\", {etag}"))).await;
    assert_eq!(not_modified.status(), 304);
    assert_eq!(header(&not_modified, "etag"), etag);
    assert_eq!(header(&not_modified, "cache-control"), cc);
    assert_eq!(header(&not_modified, "vary"), "Accept");
    assert_eq!(app.metric(hot).await, 2.0);
    assert!(not_modified.bytes().await.unwrap().is_empty());

    // the same target asking for CSV gets CSV, then CSV again from the hot answers
    for _ in 0..2 {
        let csv = get(url.clone(), Some("text/csv"), None).await;
        assert_eq!(header(&csv, "content-type"), "text/csv; charset=utf-8");
        assert!(csv.text().await.unwrap().starts_with("_id,"));
    }
    assert_eq!(app.metric(hot).await, 3.0);

    // a key in the query is never kept
    let with_key = format!("{url}&api_key={key}");
    for _ in 0..2 {
        assert_eq!(get(with_key.clone(), None, None).await.status(), 200);
    }
    assert_eq!(app.metric(hot).await, 3.0);

    // `latest` is not kept (it moves on publish)
    let latest = format!("{BASE}/latest/records?limit=1");
    for _ in 0..2 {
        assert_eq!(get(latest.clone(), None, None).await.status(), 200);
    }
    assert_eq!(app.metric(hot).await, 3.0);

    // the dataset turned registered: the next anonymous repeat is refused at once
    app.make_registered("dinas-pu", "laporan", &token).await;
    assert_problem(get(url.clone(), None, None).await, 401, "unauthorized").await;
    let res = app.get_with_key(&url, &key).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "private, no-cache");
    assert_eq!(app.metric(hot).await, 3.0);
}

/// A change of access is seen by the very next read, every time: the resolved version read just
/// before the change is never served after it.
#[tokio::test]
async fn the_read_right_after_an_access_change_sees_it_every_time() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    let url = format!("{BASE}/1/records?limit=1");
    for round in 0..25 {
        let open = app.get(&url).await;
        assert_eq!(open.status(), 200, "round {round}: public");
        app.set_access("dinas-pu", "laporan", &token, "registered")
            .await;
        assert_problem(app.get(&url).await, 401, "unauthorized").await;
        app.set_access("dinas-pu", "laporan", &token, "public")
            .await;
    }
}
