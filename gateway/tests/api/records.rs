//! Every row of the contract's Records table, checked against the test's own computation.
use sea_orm::ConnectionTrait as _;
use serde_json::Value;

use crate::helpers::{assert_problem, ids, ndjson, spawn_app, Report};

fn expect(rows: &[Report], keep: impl Fn(&Report) -> bool) -> Vec<i64> {
    rows.iter().filter(|r| keep(r)).map(|r| r.id).collect()
}

#[tokio::test]
async fn filters_match_an_independent_computation() {
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;
    let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap();
    // A date alone on a datetime column is its midnight in the dataset's zone (Asia/Jakarta,
    // +07:00, the default), not in UTC: rows fall between the two, so the cases below tell.
    assert_ne!(
        expect(&rows, |r| r.reported_at >= at("2024-03-15T00:00:00+07:00")),
        expect(&rows, |r| r.reported_at >= at("2024-03-15T00:00:00Z")),
    );
    let cases: Vec<(&str, Vec<i64>)> = vec![
        (
            "district=eq.Balikpapan%20Utara",
            expect(&rows, |r| r.district == "Balikpapan Utara"),
        ),
        (
            "district=neq.Balikpapan%20Utara",
            expect(&rows, |r| r.district != "Balikpapan Utara"),
        ),
        ("priority=gt.3", expect(&rows, |r| r.priority > 3)),
        (
            "priority=gte.2&priority=lte.4",
            expect(&rows, |r| (2..=4).contains(&r.priority)),
        ),
        ("priority=lt.2", expect(&rows, |r| r.priority < 2)),
        (
            "category=in.(banjir,sampah)",
            expect(&rows, |r| r.category == "banjir" || r.category == "sampah"),
        ),
        (
            "note=contains.BANJIR",
            expect(&rows, |r| {
                r.note
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains("banjir"))
            }),
        ),
        ("score=is.null", expect(&rows, |r| r.score.is_none())),
        ("score=is.notnull", expect(&rows, |r| r.score.is_some())),
        (
            "score=neq.5",
            expect(&rows, |r| r.score.is_some_and(|s| s != 5.0)),
        ),
        (
            "score=gte.20.5",
            expect(&rows, |r| r.score.is_some_and(|s| s >= 20.5)),
        ),
        ("verified=eq.true", expect(&rows, |r| r.verified)),
        (
            "reported_at=gte.2024-03-15T00:00:00Z",
            expect(&rows, |r| r.reported_at >= at("2024-03-15T00:00:00Z")),
        ),
        (
            "reported_at=gte.2024-03-15",
            expect(&rows, |r| r.reported_at >= at("2024-03-15T00:00:00+07:00")),
        ),
        (
            "reported_at=lt.2024-03-15&reported_at=gte.2024-03-08",
            expect(&rows, |r| {
                r.reported_at < at("2024-03-15T00:00:00+07:00")
                    && r.reported_at >= at("2024-03-08T00:00:00+07:00")
            }),
        ),
        ("_id=gt.250", expect(&rows, |r| r.id > 250)),
    ];
    for (query, expected) in cases {
        assert!(
            !expected.is_empty(),
            "{query} must select something to be a test"
        );
        let body = app
            .records(&format!("{query}&limit=1000&count=exact"))
            .await;
        assert_eq!(ids(&body), expected, "{query}");
        assert_eq!(body["total"], expected.len(), "{query}");
    }
}

/// Text sorts by its bytes on both backends (SQLite's BINARY; `COLLATE "C"` on Postgres,
/// whatever the database's locale), filters and cursors follow that order, and `contains`
/// still folds case: every letter on Postgres, ASCII letters on SQLite (its LIKE).
#[tokio::test]
async fn text_sorts_by_its_bytes_and_contains_folds_case() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "kuliner").await;
    let names = [
        "Zebra cross",
        "apel",
        "Éclair",
        "éclair",
        "Bakso",
        "ábaka",
        "Apel",
        "bakso",
        "Ñ",
        "z",
    ];
    let mut csv = String::from("nama\n");
    for n in names {
        csv.push_str(n);
        csv.push('\n');
    }
    let res = app
        .upload("dinas-pu", "kuliner", &token, "text/csv", csv.into_bytes())
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.publish("dinas-pu", "kuliner", &token, 1).await;
    let path = "/v1/datasets/dinas-pu/kuliner/versions/1/records";
    // Rust's `str` orders by bytes, as UTF-8 does by code point
    let mut sorted: Vec<(&str, i64)> = names.iter().zip(1..).map(|(n, i)| (*n, i)).collect();
    sorted.sort();
    let by_bytes: Vec<i64> = sorted.iter().map(|(_, i)| *i).collect();
    assert_eq!(
        app.all_pages(&format!("{path}?order=nama&limit=3")).await,
        by_bytes
    );
    let mut reversed = by_bytes.clone();
    reversed.reverse();
    assert_eq!(
        app.all_pages(&format!("{path}?order=nama.desc&limit=4"))
            .await,
        reversed
    );
    let after_z = app
        .get_json(&format!("{path}?nama=gt.Zebra%20cross&order=nama"))
        .await;
    let want: Vec<i64> = (sorted.iter())
        .filter(|(n, _)| *n > "Zebra cross")
        .map(|(_, i)| *i)
        .collect();
    assert_eq!(
        ids(&after_z),
        want,
        "after Zebra cross: apel, bakso, z, then the accents"
    );
    let found = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move { ids(&app.get_json(&format!("{path}?nama=contains.{q}")).await) }
    };
    assert_eq!(found("APEL").await, vec![2, 7]);
    let postgres = crate::helpers::backend() == "postgres";
    if postgres {
        assert_eq!(found("%C3%A9CLAIR").await, vec![3, 4], "éCLAIR");
        assert_eq!(found("%C3%89CLAIR").await, vec![3, 4], "ÉCLAIR");
        let table = &app.record_tables().await[0];
        let collations = app
            .texts(&format!(
                "SELECT collation_name FROM information_schema.columns \
                 WHERE table_name = '{table}' AND column_name = 'c0'"
            ))
            .await;
        assert_eq!(collations, ["C"]);
    } else {
        // SQLite folds ASCII letters only
        assert_eq!(found("%C3%A9CLAIR").await, vec![4], "éCLAIR");
        assert_eq!(found("%C3%89CLAIR").await, vec![3], "ÉCLAIR");
    }
}

#[tokio::test]
async fn values_come_back_typed_and_datetimes_keep_their_offset() {
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;
    let body = app.records("limit=1000").await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), rows.len());
    for (got, want) in data.iter().zip(&rows) {
        assert_eq!(got["_id"], want.id);
        assert_eq!(got["id"], want.id);
        assert_eq!(got["reported_at"], want.reported_text.as_str());
        assert_eq!(got["priority"], want.priority);
        assert_eq!(got["verified"], want.verified);
        assert_eq!(got["score"].as_f64(), want.score);
        assert_eq!(got["note"].as_str(), want.note.as_deref());
    }
    let one = app
        .get_json("/v1/datasets/dinas-pu/laporan/versions/1/records/42")
        .await;
    assert_eq!(one["_id"], 42);
    assert_eq!(one["reported_at"], rows[41].reported_text.as_str());
    assert_problem(
        app.get("/v1/datasets/dinas-pu/laporan/versions/1/records/9999")
            .await,
        404,
        "not_found",
    )
    .await;
}

/// Records by `_id` asked for together each get their own: on Postgres they are looked up in
/// batches. The record table is locked while the requests arrive, so the two statements a
/// version may have in flight wait and every other request queues behind them; then at most
/// two statements of up to 256 ids answer the queue (one more should a request be counted just
/// before it queues), where one statement per record would be 262.
#[tokio::test]
async fn records_asked_for_together_each_get_their_own() {
    use sea_orm::TransactionTrait as _;
    let app = crate::helpers::spawn_app_with(|s| s.cache.enabled = false).await;
    let (_, rows) = app.with_reports().await;
    let mut wanted: Vec<i64> = rows.iter().map(|r| r.id).rev().collect();
    wanted.extend([42, 42, 7, 258, 9999]);
    let postgres = crate::helpers::backend() == "postgres";
    let db = catalog::db::connect(&app.database_url).await.unwrap();
    let lock = db.begin().await.unwrap();
    if postgres {
        let table = app.record_tables().await.remove(0);
        lock.execute_unprepared(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            .await
            .unwrap();
    }
    let asked: Vec<_> = wanted
        .iter()
        .map(|id| {
            let req = app.client.get(app.url(&format!(
                "/v1/datasets/dinas-pu/laporan/versions/1/records/{id}"
            )));
            tokio::spawn(async move { req.send().await.unwrap() })
        })
        .collect();
    if postgres {
        // every request has reached its lookup before the table is let go
        let all_waiting = async {
            while app.metric("gerbang_record_reads_total").await < wanted.len() as f64 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), all_waiting)
            .await
            .expect("every lookup reaches the server");
    }
    lock.rollback().await.unwrap();
    for (id, res) in wanted.iter().zip(asked) {
        let res = res.await.unwrap();
        let Some(want) = rows.iter().find(|r| r.id == *id) else {
            assert_problem(res, 404, "not_found").await;
            continue;
        };
        assert_eq!(res.status(), 200, "record {id}");
        let got: Value = res.json().await.unwrap();
        assert_eq!(got["_id"], want.id);
        assert_eq!(got["reported_at"], want.reported_text.as_str());
        assert_eq!(got["district"], want.district.as_str());
        assert_eq!(got["score"].as_f64(), want.score);
        assert_eq!(got["note"].as_str(), want.note.as_deref());
    }
    let statements = app.metric("gerbang_record_lookup_statements_total").await;
    if postgres {
        assert!((3.0..=5.0).contains(&statements), "{statements} statements");
    } else {
        assert_eq!(statements, 0.0);
    }
}

/// A lookup statement that fails answers every request it carried, and the next ones are
/// looked up again: a failure strands no queue. The record table is renamed away before any
/// lookup (a statement prepared earlier would follow the table by its oid), then back.
#[tokio::test]
async fn a_failed_lookup_answers_all_it_carried_and_strands_no_queue() {
    if crate::helpers::backend() != "postgres" {
        return;
    }
    let app = crate::helpers::spawn_app_with(|s| s.cache.enabled = false).await;
    let (_, rows) = app.with_reports().await;
    let table = app.record_tables().await.remove(0);
    let db = catalog::db::connect(&app.database_url).await.unwrap();
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    db.execute_unprepared(&rename(&table, "away"))
        .await
        .unwrap();
    let get = |id: i64| {
        let req = app.client.get(app.url(&format!(
            "/v1/datasets/dinas-pu/laporan/versions/1/records/{id}"
        )));
        async move { req.send().await.unwrap() }
    };
    // a stranded queue would never answer: a time limit turns that into a failure
    let all = |futures| {
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            futures::future::join_all(futures),
        )
    };
    let failed = all((1..=40).map(get)).await.expect("answers");
    for res in failed {
        assert_problem(res, 500, "internal").await;
    }
    db.execute_unprepared(&rename("away", &table))
        .await
        .unwrap();
    let found = all((1..=40).map(get)).await.expect("answers");
    for (res, want) in found.into_iter().zip(&rows) {
        assert_eq!(res.status(), 200);
        let got: Value = res.json().await.unwrap();
        assert_eq!(got["_id"], want.id);
        assert_eq!(got["reported_at"], want.reported_text.as_str());
    }
}

#[tokio::test]
async fn cursor_pages_walk_a_sorted_order_exactly_once() {
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;
    // score desc puts nulls first (nulls sort as the largest value), then ties broken by _id.
    for (order, mut expected) in [
        ("score.desc", rows.clone()),
        ("reported_at.asc", rows.clone()),
        ("district.asc,priority.desc", rows.clone()),
    ] {
        match order {
            "score.desc" => expected.sort_by(|a, b| match (a.score, b.score) {
                (None, None) => a.id.cmp(&b.id).reverse(),
                (None, _) => std::cmp::Ordering::Less,
                (_, None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => y.partial_cmp(&x).unwrap().then(b.id.cmp(&a.id)),
            }),
            "reported_at.asc" => expected.sort_by_key(|r| (r.reported_at, r.id)),
            _ => expected.sort_by(|a, b| {
                a.district
                    .cmp(&b.district)
                    .then(b.priority.cmp(&a.priority))
                    .then(b.id.cmp(&a.id))
            }),
        }
        let want: Vec<i64> = expected.iter().map(|r| r.id).collect();
        let got = app
            .all_pages(&format!(
                "/v1/datasets/dinas-pu/laporan/versions/1/records?order={order}&limit=40"
            ))
            .await;
        assert_eq!(got, want, "order={order}");
    }
}

#[tokio::test]
async fn cursors_are_tamper_proof_and_bound_to_their_query() {
    let app = spawn_app().await;
    app.with_reports().await;
    let body = app.records("order=priority.asc&limit=5").await;
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let base = "/v1/datasets/dinas-pu/laporan/versions/1/records";
    let mut forged = cursor.clone();
    forged.insert(3, 'x');
    assert_problem(
        app.get(&format!("{base}?order=priority.asc&cursor={forged}"))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert_problem(
        app.get(&format!("{base}?order=priority.desc&cursor={cursor}"))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert_problem(
        app.get(&format!(
            "{base}?order=priority.asc&cursor={cursor}&offset=5"
        ))
        .await,
        400,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn select_offset_search_and_link() {
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;
    let body = app
        .records("select=district,priority&limit=3&offset=10")
        .await;
    assert_eq!(ids(&body), vec![11, 12, 13]);
    let first = body["data"][0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        first.contains_key("_id")
            && first.contains_key("district")
            && first.contains_key("priority")
    );

    let words = app.records("q=banjir%20pasar&limit=1000").await;
    let want = expect(&rows, |r| {
        let text = format!(
            "{} {} {}",
            r.district,
            r.category,
            r.note.clone().unwrap_or_default()
        )
        .to_lowercase();
        text.split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "banjir")
            && text
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == "pasar")
    });
    assert_eq!(ids(&words), want);

    let res = app
        .get("/v1/datasets/dinas-pu/laporan/versions/1/records?limit=2")
        .await;
    let link = res
        .headers()
        .get("link")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        link.contains("cursor=") && link.ends_with("rel=\"next\""),
        "{link}"
    );
    let target = link.trim_start_matches('<').split('>').next().unwrap();
    let next: Value = app.get_json(target).await;
    assert_eq!(ids(&next), vec![3, 4]);
}

#[tokio::test]
async fn exports_stream_csv_ndjson_and_geojson() {
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;
    let base = "/v1/datasets/dinas-pu/laporan/versions/1/records";
    let res = app.get(&format!("{base}?format=csv&priority=eq.3")).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "_id",
            "id",
            "reported_at",
            "district",
            "category",
            "priority",
            "score",
            "verified",
            "note"
        ]
    );
    let exported: Vec<i64> = reader
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    assert_eq!(exported, expect(&rows, |r| r.priority == 3));

    let res = app
        .client
        .get(app.url(base))
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let lines = ndjson(res).await;
    assert_eq!(lines.len(), rows.len(), "no limit streams everything");
    // the stream decodes every cell as a page does (on SQLite it is read apart from the pool)
    assert!(rows.len() <= 1000);
    let page = app.get_json(&format!("{base}?limit=1000")).await;
    assert_eq!(Value::from(lines), page["data"]);
    // `Accept` is weighed (RFC 9110): the type named with the highest weight above zero
    for (accept, want) in [
        ("text/csv;q=0.5, application/json", "application/json"),
        ("text/csv;q=0", "application/json"),
        (
            "application/json;q=0.1, TEXT/CSV",
            "text/csv; charset=utf-8",
        ),
        (
            "text/html, application/x-ndjson;q=0.8, */*;q=0.1",
            "application/x-ndjson",
        ),
        ("text/html, */*", "application/json"),
    ] {
        let res = app
            .client
            .get(app.url(&format!("{base}?limit=1")))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{accept}");
        assert_eq!(res.headers()["content-type"], want, "{accept}");
    }
    let whole_csv = app
        .get(&format!("{base}?format=csv"))
        .await
        .text()
        .await
        .unwrap();
    let csv_page = app.get(&format!("{base}?format=csv&limit=1000")).await;
    assert_eq!(whole_csv, csv_page.text().await.unwrap());

    let csv_page = app
        .get(&format!("{base}?format=csv&limit=2"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv_page.lines().count(), 3);
    // The fixture has no coordinates: geojson is refused clearly.
    assert_problem(
        app.get(&format!("{base}?format=geojson")).await,
        400,
        "bad_request",
    )
    .await;
    assert_problem(
        app.get(&format!("{base}?format=xml")).await,
        400,
        "bad_request",
    )
    .await;
}

/// On Postgres a whole export in `_id` order reads the table without `ORDER BY` and checks the
/// ids come 1, 2, 3, …: here the rows are stored out of order (the first 100 in order, the rest
/// backwards), and the export must still come in `_id` order, each row once.
#[tokio::test]
async fn an_export_comes_in_id_order_however_postgres_stores_the_rows() {
    use sea_orm::ConnectionTrait as _;
    if crate::helpers::backend() != "postgres" {
        return;
    }
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;
    let [table] = &app.record_tables().await[..] else {
        panic!("one record table");
    };
    let db = catalog::db::connect(&app.database_url).await.unwrap();
    db.execute_unprepared(&format!(
        "CREATE TEMP TABLE shuffled AS SELECT * FROM {table} \
           ORDER BY _id > 100, CASE WHEN _id <= 100 THEN _id ELSE -_id END; \
         TRUNCATE {table}; \
         INSERT INTO {table} SELECT * FROM shuffled ORDER BY _id > 100, \
           CASE WHEN _id <= 100 THEN _id ELSE -_id END"
    ))
    .await
    .unwrap();
    let stored: Vec<i64> = app
        .texts(&format!("SELECT _id::text FROM {table}"))
        .await
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(stored[..101], (1..=100).chain([257]).collect::<Vec<_>>());

    let base = "/v1/datasets/dinas-pu/laporan/versions/1/records";
    let lines = ndjson(app.get(&format!("{base}?format=ndjson")).await).await;
    assert_eq!(lines.len(), rows.len());
    let page = app.get_json(&format!("{base}?limit=1000")).await;
    assert_eq!(Value::from(lines), page["data"]);
    let exported: Vec<i64> = csv::Reader::from_reader(
        app.get(&format!("{base}?format=csv&select=note"))
            .await
            .text()
            .await
            .unwrap()
            .as_bytes(),
    )
    .records()
    .map(|r| r.unwrap()[0].parse().unwrap())
    .collect();
    assert_eq!(exported, (1..=257).collect::<Vec<_>>());
}

#[tokio::test]
async fn aggregates_group_and_compute_metrics() {
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;
    let body = app
        .get_json("/v1/datasets/dinas-pu/laporan/versions/1/aggregate?group_by=district&metrics=count,avg:score,sum:priority,min:priority,max:reported_at&verified=eq.true")
        .await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for g in data {
        let d = g["district"].as_str().unwrap();
        let group: Vec<&Report> = rows
            .iter()
            .filter(|r| r.verified && r.district == d)
            .collect();
        assert_eq!(g["count"], group.len());
        assert_eq!(
            g["sum_priority"],
            group.iter().map(|r| r.priority).sum::<i64>()
        );
        assert_eq!(
            g["min_priority"],
            group.iter().map(|r| r.priority).min().unwrap()
        );
        let scores: Vec<f64> = group.iter().filter_map(|r| r.score).collect();
        let avg = scores.iter().sum::<f64>() / scores.len() as f64;
        assert!((g["avg_score"].as_f64().unwrap() - avg).abs() < 1e-9);
        let max = group.iter().map(|r| r.reported_at).max().unwrap();
        let got =
            chrono::DateTime::parse_from_rfc3339(g["max_reported_at"].as_str().unwrap()).unwrap();
        assert_eq!(got, max);
    }
    // selective filters: on SQLite the statistics send this one through a filter's index and a
    // sort (`GROUP BY +col`), not the group column's index; the answer must not change
    let body = app
        .get_json("/v1/datasets/dinas-pu/laporan/versions/1/aggregate?group_by=district&metrics=count,sum:priority&category=eq.banjir&verified=eq.true")
        .await;
    let mut expected: Vec<(String, usize, i64)> = crate::helpers::DISTRICTS
        .iter()
        .map(|d| {
            let group: Vec<&Report> = rows
                .iter()
                .filter(|r| r.verified && r.category == "banjir" && r.district == *d)
                .collect();
            (
                d.to_string(),
                group.len(),
                group.iter().map(|r| r.priority).sum(),
            )
        })
        .filter(|(_, n, _)| *n > 0)
        .collect();
    expected.sort();
    let got: Vec<(String, usize, i64)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["district"].as_str().unwrap().to_owned(),
                g["count"].as_u64().unwrap() as usize,
                g["sum_priority"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected, "groups in order, each with its own metrics");
    let all = app
        .get_json("/v1/datasets/dinas-pu/laporan/versions/1/aggregate?metrics=count")
        .await;
    assert_eq!(all["data"], serde_json::json!([{"count": rows.len()}]));
}

#[tokio::test]
async fn caching_headers_and_conditional_requests() {
    let app = spawn_app().await;
    app.with_reports().await;
    let path = "/v1/datasets/dinas-pu/laporan/versions/1/records?limit=5";
    let res = app.get(path).await;
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url(path))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(
        again.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // `If-None-Match` compares weakly (RFC 9110): the weak form a compressing proxy sends back,
    // a list, and a second header line all match; another tag does not
    let weak = format!("W/{etag}");
    let listed = format!("\"other\", {weak}");
    for lines in [
        vec![weak.as_str()],
        vec![listed.as_str()],
        vec!["\"other\"", etag.as_str()],
        vec!["\"other\""],
    ] {
        let mut req = app.client.get(app.url(path));
        for line in &lines {
            req = req.header("If-None-Match", *line);
        }
        let res = req.send().await.unwrap();
        let want = if lines == ["\"other\""] { 200 } else { 304 };
        assert_eq!(res.status(), want, "{lines:?}");
    }
    let latest = app
        .get("/v1/datasets/dinas-pu/laporan/versions/latest/records?limit=5")
        .await;
    assert_eq!(latest.headers()["cache-control"], "public, max-age=60");
    assert_eq!(
        latest.headers()["content-location"],
        "/v1/datasets/dinas-pu/laporan/versions/1"
    );
}

/// With thousands of matches SQLite walks the sort column's index instead of sorting them all;
/// either way the pages are the same as the test's own computation.
#[tokio::test]
async fn many_matches_sorted_by_an_indexed_column_page_correctly() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "banyak").await;
    let mut csv = String::from("n,kind,note\n");
    let mut rows = vec![];
    for i in 1..=12_000i64 {
        let n = (i * 7919) % 12_007; // distinct, not in file order
        let kind = if i % 3 == 0 { "b" } else { "a" };
        let note = if i % 2 == 0 { "banjir besar" } else { "jalan" };
        csv.push_str(&format!("{n},{kind},{note}\n"));
        rows.push((i, n, kind, note));
    }
    let res = app
        .upload("dinas-pu", "banyak", &token, "text/csv", csv.into_bytes())
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.publish("dinas-pu", "banyak", &token, 1).await;
    let base = "/v1/datasets/dinas-pu/banyak/versions/1/records";
    for (query, keep) in [
        (
            "kind=eq.a",
            &(|r: &(i64, i64, &str, &str)| r.2 == "a") as &dyn Fn(&_) -> bool,
        ),
        ("q=banjir", &|r: &(i64, i64, &str, &str)| {
            r.3 == "banjir besar"
        }),
        ("kind=eq.b&q=banjir", &|r: &(i64, i64, &str, &str)| {
            r.2 == "b" && r.3 == "banjir besar"
        }),
    ] {
        let mut expected: Vec<_> = rows.iter().filter(|r| keep(r)).collect();
        expected.sort_by_key(|r| std::cmp::Reverse(r.1));
        let expected: Vec<i64> = expected.iter().map(|r| r.0).take(40).collect();
        let first = app
            .get_json(&format!("{base}?{query}&order=n.desc&limit=20"))
            .await;
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let second = app
            .get_json(&format!(
                "{base}?{query}&order=n.desc&limit=20&cursor={cursor}"
            ))
            .await;
        let got: Vec<i64> = ids(&first).into_iter().chain(ids(&second)).collect();
        assert_eq!(got, expected, "{query}");
    }
}

/// Fields whose values ascend with the rows are found at load and kept with the version (SQLite
/// then walks the full-text matches in that order instead of sorting them); pages ordered by
/// them, followed by cursor to the end, are the test's own order on both backends.
#[tokio::test]
async fn search_pages_ordered_by_fields_ascending_with_the_rows_follow_their_cursors() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "urut").await;
    let mut csv = String::from("seq,day,rank,note\n");
    let mut rows = vec![];
    for i in 1..=600i64 {
        let day = format!("2024-03-{:02}", 1 + i / 30);
        let note = if i % 3 == 0 { "banjir" } else { "jalan" };
        csv.push_str(&format!("{},{day},{},{note}\n", i * 2, 700 - i));
        rows.push((i, i * 2, day, note));
    }
    let res = app
        .upload("dinas-pu", "urut", &token, "text/csv", csv.into_bytes())
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.publish("dinas-pu", "urut", &token, 1).await;

    let stored = app
        .texts(
            "SELECT ascending_fields FROM versions WHERE table_name LIKE 'rec_%' ORDER BY id DESC",
        )
        .await;
    assert_eq!(stored[0], r#"["seq","day"]"#);

    let base = "/v1/datasets/dinas-pu/urut/versions/1/records?q=banjir&limit=45";
    let matches: Vec<_> = rows.iter().filter(|r| r.3 == "banjir").collect();
    type Rec<'a> = &'a (i64, i64, String, &'a str);
    let by = |key: fn(&Rec, &Rec) -> std::cmp::Ordering| {
        let mut m = matches.clone();
        m.sort_by(key);
        m.iter().map(|r| r.0).collect::<Vec<i64>>()
    };
    for (order, want) in [
        ("seq.asc", by(|a, b| a.1.cmp(&b.1))),
        ("seq.desc", by(|a, b| b.1.cmp(&a.1))),
        (
            "day.desc,seq.desc",
            by(|a, b| (&b.2, b.1).cmp(&(&a.2, a.1))),
        ),
        ("day.asc,seq.desc", by(|a, b| (&a.2, b.1).cmp(&(&b.2, a.1)))),
        ("rank.asc", by(|a, b| b.0.cmp(&a.0))),
    ] {
        let got = app.all_pages(&format!("{base}&order={order}")).await;
        assert_eq!(got, want, "{order}");
    }
}

/// `q` finds words the same way on both backends: split at anything not a letter or digit,
/// case and diacritics folded (SQLite's FTS5 `unicode61` rules; Postgres gets its words from the
/// loader).
#[tokio::test]
async fn search_words_are_split_and_folded_alike_on_both_backends() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "kata").await;
    let csv = "name,note\n\
               a,Café di Jl.Sudirman\n\
               b,CAFE 3.5 km\n\
               c,Ñandú-taman\n\
               d,cafeteria\n\
               e,\n";
    let res = app
        .upload(
            "dinas-pu",
            "kata",
            &token,
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.publish("dinas-pu", "kata", &token, 1).await;
    let base = "/v1/datasets/dinas-pu/kata/versions/1/records";
    for (q, want) in [
        ("cafe", vec![1, 2]),
        ("CAF%C3%89", vec![1, 2]),
        ("sudirman", vec![1]),
        ("jl%20cafe", vec![1]),
        ("3", vec![2]),
        ("nandu", vec![3]),
        ("taman%20%C3%B1and%C3%BA", vec![3]),
        ("caf", vec![]),
        ("d", vec![4]),
    ] {
        let body = app.get_json(&format!("{base}?q={q}")).await;
        assert_eq!(ids(&body), want, "q={q}");
    }
    let long = "x".repeat(3000);
    let body = app.get_json(&format!("{base}?q={long}")).await;
    assert_eq!(ids(&body), Vec::<i64>::new());
}

/// HEAD answers as GET does, with its headers and without its content: a page, a record, the
/// catalog, a version's document and the liveness probe; a whole-table export (whose stream is
/// dropped unread); and an unknown path (404). It was a 404 everywhere but the portal.
#[tokio::test]
async fn head_answers_as_get_without_the_content() {
    let app = spawn_app().await;
    app.with_reports().await;
    let base = "/v1/datasets/dinas-pu/laporan/versions/1";
    for path in [
        format!("{base}/records?limit=5"),
        format!("{base}/records/42"),
        format!("{base}/openapi.json"),
        "/v1/datasets".to_owned(),
        "/healthz".to_owned(),
    ] {
        let get = app.client.get(app.url(&path)).send().await.unwrap();
        let head = app.client.head(app.url(&path)).send().await.unwrap();
        assert_eq!(get.status(), 200, "{path}");
        assert_eq!(head.status(), 200, "{path}");
        for name in ["content-type", "content-length", "etag", "cache-control"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "{path}: {name}"
            );
        }
        assert!(get.headers().contains_key("content-length"), "{path}");
        assert!(!get.bytes().await.unwrap().is_empty(), "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    let export = app
        .client
        .head(app.url(&format!("{base}/records?format=csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(export.bytes().await.unwrap().is_empty());
    let unknown = app.client.head(app.url("/v1/nope")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    // the export's dropped stream left the server answering
    assert_eq!(app.records("limit=1").await["data"][0]["_id"], 1);
}
