//! The Publishing table: drafts, publish, deprecate, idempotent uploads, agency scoping.
use catalog::records::GENERIC_PLANS_APPLICATION;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, backend, reports_csv, spawn_app, Report};

#[tokio::test]
async fn a_draft_is_invisible_until_published_then_latest_points_to_it() {
    let app = spawn_app().await;
    let token = app.create_dataset("dlh", "sampah").await;
    let res = app
        .upload(
            "dlh",
            "sampah",
            &token,
            "text/csv",
            b"kode,berat\nA,1.5\nB,2\n".to_vec(),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(body["status"], "draft");
    assert_eq!(body["row_count"], 2);
    assert_eq!(
        body["schema"]["fields"][1],
        json!({"name": "berat", "type": "number", "nullable": false})
    );
    assert!(body["warnings"].is_array());

    assert_problem(
        app.get("/v1/datasets/dlh/sampah/versions/1").await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get("/v1/datasets/dlh/sampah/versions/latest/records")
            .await,
        404,
        "not_found",
    )
    .await;
    let meta = app.get_json("/v1/datasets/dlh/sampah").await;
    assert_eq!(meta["versions"], json!([]));
    assert_eq!(meta["latest_version"], Value::Null);

    app.publish("dlh", "sampah", &token, 1).await;
    let latest = app
        .get_json("/v1/datasets/dlh/sampah/versions/latest/records")
        .await;
    assert_eq!(latest["data"][1]["kode"], "B");
    let meta = app.get_json("/v1/datasets/dlh/sampah").await;
    assert_eq!(meta["latest_version"], 1);
    assert_eq!(meta["versions"][0]["status"], "published");
    let search = app.get_json("/v1/datasets?q=laporan&agency=dlh").await;
    assert_eq!(search["total"], 1);
    assert_eq!(
        search["facets"]["agency"][0],
        json!({"value": "dlh", "count": 1})
    );
}

#[tokio::test]
async fn json_ndjson_and_multipart_with_schema_uploads() {
    let app = spawn_app().await;
    let token = app.create_dataset("bappeda", "apbd").await;
    let res = app
        .upload(
            "bappeda",
            "apbd",
            &token,
            "application/json",
            br#"[{"program":"Jalan","pagu":100},{"program":"Air","pagu":null}]"#.to_vec(),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app.upload("bappeda", "apbd", &token, "application/x-ndjson", b"{\"program\":\"Jalan\",\"pagu\":100}\n{\"program\":\"Air\",\"pagu\":250,\"tahun\":2024}\n".to_vec()).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], 2);
    assert_eq!(body["schema"]["fields"][2]["name"], "tahun");

    let schema = r#"{"fields":[{"name":"kode","type":"string","description":"Kode program"},{"name":"pagu","type":"number"}]}"#;
    let res = app
        .upload_with_schema(
            "bappeda",
            "apbd",
            &token,
            b"kode,pagu\n001,5\n002,7\n".to_vec(),
            schema,
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["schema"]["fields"][0]["type"], "string",
        "the schema wins over inference: codes keep zeros"
    );
    assert_eq!(body["schema"]["fields"][0]["description"], "Kode program");
    assert_eq!(
        body["schema_changes"]["compared_to"],
        Value::Null,
        "no published version to compare to"
    );
    app.publish("bappeda", "apbd", &token, 3).await;
    let rec = app
        .get_json("/v1/datasets/bappeda/apbd/versions/3/records/1")
        .await;
    assert_eq!(rec["kode"], "001");
    assert_eq!(rec["pagu"], 5.0);
}

#[tokio::test]
async fn empty_cells_of_every_type_load_as_nulls() {
    let app = spawn_app().await;
    let token = app.create_dataset("dlh", "udara").await;
    let csv = "n,x,ok,day,at,note\n\
               1,1.5,true,2024-01-02,2024-01-02T03:04:05+07:00,a\n\
               ,,,,,\n\
               3,-2.5,false,2024-01-03,2024-01-03T03:04:05+08:00,c\n";
    let res = app
        .upload("dlh", "udara", &token, "text/csv", csv.as_bytes().to_vec())
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["row_count"], 3);
    let types: Vec<&str> = body["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["integer", "number", "boolean", "date", "datetime", "string"]
    );
    app.publish("dlh", "udara", &token, 1).await;
    let base = "/v1/datasets/dlh/udara/versions/1";
    let empty = app.get_json(&format!("{base}/records/2")).await;
    for f in ["n", "x", "ok", "day", "at", "note"] {
        assert_eq!(empty[f], Value::Null, "{f}: {empty}");
    }
    let last = app.get_json(&format!("{base}/records/3")).await;
    assert_eq!(last["n"], 3);
    assert_eq!(last["x"], -2.5);
    assert_eq!(last["ok"], false);
    assert_eq!(last["day"], "2024-01-03");
    assert_eq!(last["at"], "2024-01-03T03:04:05+08:00");
    assert_eq!(last["note"], "c");
    let nulls = app.get_json(&format!("{base}/records?at=is.null")).await;
    assert_eq!(crate::helpers::ids(&nulls), [2]);
}

/// Postgres commits a table's rows before building its indexes on two connections
/// (`records/pg_load.rs`); a load killed in between leaves a table no version names. The next
/// load drops it, unless a load still holds its lock (one running on another node).
#[tokio::test]
async fn a_record_table_left_by_a_killed_load_is_dropped_by_the_next_load() {
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
    if crate::helpers::backend() != "postgres" {
        return;
    }
    let app = spawn_app().await;
    let token = app.create_dataset("dlh", "udara").await;
    let (orphan, loading) = ("rec_00000000000000aa", "rec_00000000000000bb");
    let db = catalog::db::connect(&app.database_url).await.unwrap();
    let other_node = catalog::db::connect(&app.database_url).await.unwrap();
    for table in [orphan, loading] {
        db.execute_unprepared(&format!("CREATE TABLE {table} (_id bigint)"))
            .await
            .unwrap();
    }
    // the lock a load holds, on a connection kept by an open transaction
    let held = other_node.begin().await.unwrap();
    held.execute_unprepared(&format!(
        "SELECT pg_advisory_lock(hashtextextended('{loading}', 0))"
    ))
    .await
    .unwrap();
    let res = app
        .upload("dlh", "udara", &token, "text/csv", b"a,b\n1,x\n".to_vec())
        .await;
    assert_eq!(res.status(), 201);
    let tables = app.record_tables().await;
    assert!(!tables.contains(&orphan.to_owned()), "{tables:?}");
    assert!(tables.contains(&loading.to_owned()), "{tables:?}");
    let named = app.texts("SELECT table_name FROM versions").await;
    assert!(tables.contains(&named[0]), "{tables:?}");
    assert_eq!(tables.len(), 2, "{tables:?}");
    held.rollback().await.unwrap();
}

#[tokio::test]
async fn idempotency_key_makes_one_version() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "jalan").await;
    let send = || {
        app.client
            .post(app.url("/v1/datasets/dinas-pu/jalan/versions"))
            .bearer_auth(&token)
            .header("Content-Type", "text/csv")
            .header("Idempotency-Key", "upload-2024-11")
            .body("a,b\n1,2\n")
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let res = send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let second: Value = res.json().await.unwrap();
    assert_eq!(first["version"], second["version"]);
    let versions = app
        .client
        .get(app.url("/v1/datasets/dinas-pu/jalan/versions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(versions["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn publishers_are_scoped_to_their_agency() {
    let app = spawn_app().await;
    let admin = app.create_dataset("dinas-pu", "jalan").await;
    app.create_dataset("dlh", "udara").await;
    let res = app.post_json("/v1/users", &admin, json!({"username": "pu", "password": "rahasia-pu-1", "role": "publisher", "agency": "dinas-pu"})).await;
    assert_eq!(res.status(), 201);
    let pu = app.token("pu", "rahasia-pu-1").await;
    let res = app
        .upload("dlh", "udara", &pu, "text/csv", b"a\n1\n".to_vec())
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app
        .upload("dinas-pu", "jalan", &pu, "text/csv", b"a\n1\n".to_vec())
        .await;
    assert_eq!(res.status(), 201);
    // The other agency's publisher cannot see the draft either.
    let other = app.get("/v1/datasets/dinas-pu/jalan/versions/1").await;
    assert_problem(other, 404, "not_found").await;
    let anon = app
        .client
        .post(app.url("/v1/datasets/dinas-pu/jalan/versions/1/publish"))
        .send()
        .await
        .unwrap();
    assert_problem(anon, 401, "unauthorized").await;
    let res = app
        .post_json("/v1/agencies", &pu, json!({"slug": "x", "name": "X"}))
        .await;
    assert_problem(res, 403, "forbidden").await;
}

#[tokio::test]
async fn deprecation_sets_headers_and_schema_changes_are_reported() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "jalan").await;
    app.upload(
        "dinas-pu",
        "jalan",
        &token,
        "text/csv",
        b"id,kelurahan\n1,Gunung Samarinda\n".to_vec(),
    )
    .await;
    app.publish("dinas-pu", "jalan", &token, 1).await;
    app.upload(
        "dinas-pu",
        "jalan",
        &token,
        "text/csv",
        b"id,resolved_days\n1,2.5\n".to_vec(),
    )
    .await;
    app.publish("dinas-pu", "jalan", &token, 2).await;
    let v2 = app.get_json("/v1/datasets/dinas-pu/jalan/versions/2").await;
    assert_eq!(
        v2["schema_changes"],
        json!({"compared_to": 1, "added": ["resolved_days"], "removed": ["kelurahan"], "retyped": []})
    );
    let res = app
        .post_json(
            "/v1/datasets/dinas-pu/jalan/versions/1/deprecate",
            &token,
            json!({"sunset": "2025-06-30T00:00:00+08:00"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .get("/v1/datasets/dinas-pu/jalan/versions/1/records")
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["deprecation"]
        .to_str()
        .unwrap()
        .starts_with('@'));
    assert_eq!(res.headers()["sunset"], "Sun, 29 Jun 2025 16:00:00 GMT");
    let latest = app.get("/v1/datasets/dinas-pu/jalan/versions/latest").await;
    assert_eq!(
        latest.headers()["content-location"],
        "/v1/datasets/dinas-pu/jalan/versions/2"
    );
}

/// Indexes declared at upload (`indexes=` or the Table Schema's `indexes`) are checked against
/// the file, built over their fields in order, shown in the version's schema, and serve
/// equality filters sorted by the next field: every page, followed by cursor, and the total
/// match the test's own computation. A bad declaration fails the upload and leaves nothing.
#[tokio::test]
async fn declared_indexes_are_built_shown_and_serve_their_pages() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "laporan").await;
    let (csv, rows) = reports_csv();
    let upload = |indexes: &str| {
        app.client
            .post(app.url(&format!(
                "/v1/datasets/dinas-pu/laporan/versions?indexes={indexes}"
            )))
            .bearer_auth(&token)
            .header("Content-Type", "text/csv")
            .body(csv.clone())
            .send()
    };
    for (indexes, code) in [
        ("district,nope", "unknown_column"),
        ("district,district", "bad_request"),
        (
            "district;priority;score;id;category;note;verified;reported_at;id,score",
            "bad_request",
        ),
        (
            "district,category;category,district;district,category",
            "bad_request",
        ),
    ] {
        let res = upload(indexes).await.unwrap();
        assert_problem(res, 400, code).await;
    }
    assert!(
        app.record_tables().await.is_empty(),
        "a refused upload left a table"
    );

    let res = upload("district,category,reported_at;priority,score")
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], 1, "refused uploads took no version number");
    assert_eq!(
        body["schema"]["indexes"],
        json!([
            ["district", "category", "reported_at"],
            ["priority", "score"]
        ])
    );
    let table = &app.record_tables().await[0];
    // fields by position: id c0, reported_at c1 (and its offset), district c2, category c3,
    // priority c4, score c5
    let (sql, want) = if backend() == "postgres" {
        (
            format!("SELECT indexdef FROM pg_indexes WHERE tablename = '{table}' AND indexname LIKE '%\\_x_' ORDER BY indexname"),
            ["(c2, c3, c1, _id)", "(c4, c5, _id)"],
        )
    } else {
        (
            format!("SELECT sql FROM sqlite_master WHERE tbl_name = '{table}' AND name LIKE '%\\_x_' ESCAPE '\\' ORDER BY name"),
            [r#"("c2", "c3", "c1")"#, r#"("c4", "c5")"#],
        )
    };
    let built = app.texts(&sql).await;
    assert_eq!(built.len(), 2, "{built:?}");
    for (def, cols) in built.iter().zip(want) {
        assert!(def.contains(cols), "{def} is not over {cols}");
    }
    app.publish("dinas-pu", "laporan", &token, 1).await;
    let v = app
        .get_json("/v1/datasets/dinas-pu/laporan/versions/1")
        .await;
    assert_eq!(v["schema"]["indexes"][1], json!(["priority", "score"]));

    let base = "/v1/datasets/dinas-pu/laporan/versions/1/records?district=eq.Balikpapan%20Utara&category=eq.banjir&order=reported_at.desc,id.desc&limit=4";
    let mut want: Vec<&Report> = rows
        .iter()
        .filter(|r| r.district == "Balikpapan Utara" && r.category == "banjir")
        .collect();
    want.sort_by_key(|r| std::cmp::Reverse((r.reported_at, r.id)));
    let want: Vec<i64> = want.iter().map(|r| r.id).collect();
    assert!(want.len() > 8, "the fixture has several pages of matches");
    assert_eq!(app.all_pages(base).await, want);
    let counted = app.get_json(&format!("{base}&count=exact")).await;
    assert_eq!(counted["total"], want.len());
    if backend() == "postgres" {
        // those pages and that count are planned once, on the generic-plan sessions
        let ran = app
            .texts(&format!(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() \
                 AND application_name = '{GENERIC_PLANS_APPLICATION}'"
            ))
            .await;
        assert!(
            ran.iter().any(|q| q.contains(table.as_str())),
            "no generic-plan session read {table}: {ran:?}"
        );
        // Those sessions' connections are kept between statements. Ended by the server (as by
        // a restart), each fails its next statement, which runs again on a new connection:
        // the pages and the count come back whole.
        let ended = app
            .texts(&format!(
                "SELECT pg_terminate_backend(pid, 5000)::text FROM pg_stat_activity \
                 WHERE datname = current_database() \
                 AND application_name = '{GENERIC_PLANS_APPLICATION}'"
            ))
            .await;
        assert!(
            !ended.is_empty() && ended.iter().all(|t| t == "true"),
            "{ended:?}"
        );
        // pages of another size: not answered by the response cache
        let again = base.replace("limit=4", "limit=3");
        assert_eq!(app.all_pages(&again).await, want);
        let counted = app.get_json(&format!("{again}&count=exact")).await;
        assert_eq!(counted["total"], want.len());
    }

    // the Table Schema part declares them too
    let schema = r#"{"fields":[{"name":"kode","type":"string"},{"name":"pagu","type":"number"}],"indexes":[["pagu","kode"]]}"#;
    let res = app
        .upload_with_schema(
            "dinas-pu",
            "laporan",
            &token,
            b"kode,pagu\n001,5\n002,7\n".to_vec(),
            schema,
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["schema"]["indexes"], json!([["pagu", "kode"]]));
}

/// Ingestion takes a file's types from its first 10 000 rows and loads it in one pass that
/// checks them (`records/ingest.rs`). Rows past those that break them are found, and the file
/// gets the types of the whole of it, as a scan of every row gives them.
#[tokio::test]
async fn types_that_change_after_the_first_rows_are_those_of_the_whole_file() {
    let app = spawn_app().await;
    let token = app.create_dataset("dlh", "sensor").await;
    // `late` is empty up to row 10 500, then 0-19: the one pass finds its type.
    let late = |i: usize| (i > 10_500).then_some(i % 20);
    let csv = |n: &dyn Fn(usize) -> String| {
        let mut csv = String::from("n,late,t\n");
        for i in 1..=12_000 {
            let l = late(i).map(|l| l.to_string()).unwrap_or_default();
            csv.push_str(&format!("{},{l},t{}\n", n(i), i % 3));
        }
        csv.into_bytes()
    };
    let upload = |csv: Vec<u8>| app.upload("dlh", "sensor", &token, "text/csv", csv);
    let res = upload(csv(&|i| i.to_string())).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["row_count"], 12_000);
    let fields = |body: &Value, key: &str| -> Vec<Value> {
        let fields = body["schema"]["fields"].as_array().unwrap();
        fields.iter().map(|f| f[key].clone()).collect()
    };
    assert_eq!(fields(&body, "type"), ["integer", "integer", "string"]);
    assert_eq!(fields(&body, "nullable"), [false, true, false]);
    app.publish("dlh", "sensor", &token, 1).await;
    let base = "/v1/datasets/dlh/sensor/versions/1";
    assert_eq!(
        app.get_json(&format!("{base}/records/12000")).await["late"],
        0
    );
    // compared as numbers: as text, 10-19 would be below 5 too
    let below = (1..=12_000).filter(|i| late(*i).is_some_and(|l| l < 5));
    let page = app
        .get_json(&format!("{base}/records?late=lt.5&count=exact&limit=1"))
        .await;
    assert_eq!(page["total"], below.count());

    // `n` is whole up to row 11 000, then 1.5: the load is undone, and done again.
    let res = upload(csv(&|i| match i {
        11_000 => "1.5".into(),
        _ => i.to_string(),
    }))
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(fields(&body, "type"), ["number", "integer", "string"]);
    assert_eq!(
        app.record_tables().await.len(),
        2,
        "the load undone left a table"
    );
    app.publish("dlh", "sensor", &token, 2).await;
    let base = "/v1/datasets/dlh/sensor/versions/2";
    assert_eq!(
        app.get_json(&format!("{base}/records/11000")).await["n"],
        1.5
    );
    assert_eq!(
        app.get_json(&format!("{base}/records/11001")).await["n"],
        11_001.0
    );

    // A JSON key first seen past the first rows is a column.
    let mut ndjson = String::new();
    for i in 1..=11_000 {
        match i > 10_500 {
            true => ndjson.push_str(&format!("{{\"a\":{i},\"b\":\"x{i}\"}}\n")),
            false => ndjson.push_str(&format!("{{\"a\":{i}}}\n")),
        }
    }
    let res = app
        .upload(
            "dlh",
            "sensor",
            &token,
            "application/x-ndjson",
            ndjson.into_bytes(),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["schema"]["fields"][1]["name"], "b");
    assert_eq!(body["row_count"], 11_000);
    app.publish("dlh", "sensor", &token, 3).await;
    let base = "/v1/datasets/dlh/sensor/versions/3";
    assert_eq!(
        app.get_json(&format!("{base}/records/10600")).await["b"],
        "x10600"
    );
    let nulls = app
        .get_json(&format!("{base}/records?b=is.null&count=exact&limit=1"))
        .await;
    assert_eq!(nulls["total"], 10_500);

    // A declared index on a column whose long text comes past the first rows is refused as
    // one whose long text comes first.
    let long = "panjang ".repeat(20);
    let upload = |at: usize| {
        let mut csv = String::from("k,t\n");
        for i in 1..=10_600 {
            let t = if i == at { long.as_str() } else { "pendek" };
            csv.push_str(&format!("{i},{t}\n"));
        }
        app.client
            .post(app.url("/v1/datasets/dlh/sensor/versions?indexes=t"))
            .bearer_auth(&token)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
    };
    let first = assert_problem(upload(2).await.unwrap(), 400, "bad_request").await;
    let later = assert_problem(upload(10_550).await.unwrap(), 400, "bad_request").await;
    assert_eq!(later["detail"], first["detail"]);
    assert_eq!(
        app.record_tables().await.len(),
        3,
        "a refused upload left a table"
    );
}

/// A CSV in a named charset (windows-1252, as Excel saves on Windows) is turned into UTF-8 as
/// it arrives, raw or as a multipart part; an unknown charset is a 415, and bytes the named
/// charset cannot hold a 400 naming the byte. Without a charset, non-UTF-8 is refused as before.
#[tokio::test]
async fn an_upload_in_a_named_charset_is_read_in_it() {
    let app = spawn_app().await;
    let token = app.create_dataset("dinas-pu", "kafe").await;
    // "Café" and "€uro" in windows-1252 (é = 0xE9, € = 0x80)
    let cp1252 = b"nama,harga\nCaf\xe9 Kopi,15000\nWarung \x80uro,9000\n".to_vec();
    let res = app
        .upload(
            "dinas-pu",
            "kafe",
            &token,
            "text/csv; charset=windows-1252",
            cp1252.clone(),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.publish("dinas-pu", "kafe", &token, 1).await;
    let page = app
        .get_json("/v1/datasets/dinas-pu/kafe/versions/1/records?order=_id")
        .await;
    assert_eq!(page["data"][0]["nama"], "Café Kopi");
    assert_eq!(page["data"][1]["nama"], "Warung €uro");
    assert_eq!(page["data"][1]["harga"], 9000);

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(cp1252.clone())
            .file_name("kafe.csv")
            .mime_str("text/csv; charset=\"ISO-8859-1\"")
            .unwrap(),
    );
    let res = app
        .client
        .post(app.url("/v1/datasets/dinas-pu/kafe/versions"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.publish("dinas-pu", "kafe", &token, 2).await;
    let page = app
        .get_json("/v1/datasets/dinas-pu/kafe/versions/2/records?order=_id")
        .await;
    assert_eq!(page["data"][0]["nama"], "Café Kopi");

    let res = app
        .upload(
            "dinas-pu",
            "kafe",
            &token,
            "text/csv; charset=klingon",
            cp1252.clone(),
        )
        .await;
    assert_problem(res, 415, "unsupported_media_type").await;
    // 0x81 0xFD (bytes 6 and 7) is not Shift_JIS
    let res = app
        .upload(
            "dinas-pu",
            "kafe",
            &token,
            "text/csv; charset=shift_jis",
            b"nama\n\x81\xfd x\n".to_vec(),
        )
        .await;
    let problem = assert_problem(res, 400, "bad_request").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not valid Shift_JIS: byte 6 "),
        "{problem}"
    );
    let res = app
        .upload("dinas-pu", "kafe", &token, "text/csv", cp1252)
        .await;
    assert_problem(res, 400, "bad_request").await;
    // none of the refused uploads made a version
    let versions = app.get_json("/v1/datasets/dinas-pu/kafe/versions").await;
    assert_eq!(versions["data"].as_array().unwrap().len(), 2);
}
