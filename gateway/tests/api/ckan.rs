//! Interoperability: the CKAN Action API (envelope, errors, GET and POST, datastore_search on the
//! `/v1` engine, keys in CKAN's headers), the datastore dump, DCAT-AP and data.json.
use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, header, spawn_app, spawn_app_with, tier, TestApp};

const RESOURCE: &str = "dinas-pu_laporan_v1";
const PACKAGE: &str = "dinas-pu_laporan";

impl TestApp {
    /// `GET /api/3/action/{action}?{query}`.
    async fn ckan_get(&self, action: &str, query: &str) -> Response {
        self.get(&format!("/api/3/action/{action}?{query}")).await
    }

    /// `POST /api/action/{action}` with a JSON body, as ckanapi sends it.
    async fn ckan_post(&self, action: &str, body: Value) -> Response {
        self.client
            .post(self.url(&format!("/api/action/{action}")))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// The `result` of a successful action.
    async fn ckan_ok(&self, action: &str, body: Value) -> Value {
        ckan_result(self.ckan_post(action, body).await).await
    }
}

async fn ckan_result(res: Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true, "{body}");
    assert!(body["help"]
        .as_str()
        .is_some_and(|h| h.contains("help_show")));
    body["result"].clone()
}

/// A CKAN error: its status, `success: false` and `__type`; answers the `error` object.
async fn assert_ckan_error(res: Response, status: u16, kind: &str) -> Value {
    assert_eq!(res.status().as_u16(), status);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["__type"], kind, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    body["error"].clone()
}

#[tokio::test]
async fn actions_answer_in_the_ckan_envelope_by_get_and_post() {
    let app = spawn_app().await;
    app.with_reports().await;

    let by_get = ckan_result(app.ckan_get("package_list", "").await).await;
    assert_eq!(by_get, json!([PACKAGE]));
    assert_eq!(app.ckan_ok("package_list", json!({})).await, by_get);

    let shown = ckan_result(app.ckan_get("package_show", &format!("id={PACKAGE}")).await).await;
    // ckanapi's dump sends extra parameters; they are ignored as CKAN does.
    let posted = app
        .ckan_ok(
            "package_show",
            json!({"id": PACKAGE, "include_datasets": false, "include_users": false}),
        )
        .await;
    assert_eq!(shown, posted);
    assert_eq!(shown["name"], PACKAGE);
    assert_eq!(shown["title"], "Laporan warga");
    assert_eq!(shown["owner_org"], "dinas-pu");
    assert_eq!(shown["organization"]["name"], "dinas-pu");
    assert_eq!(shown["tags"][0]["name"], "jalan");
    assert_eq!(shown["license_id"], "CC-BY-4.0");
    assert_eq!(shown["num_resources"], 1);
    let resource = &shown["resources"][0];
    assert_eq!(resource["id"], RESOURCE);
    assert_eq!(resource["datastore_active"], true);
    assert_eq!(resource["format"], "CSV");
    let url = resource["url"].as_str().unwrap();
    assert_eq!(
        url,
        app.url("/v1/datasets/dinas-pu/laporan/versions/1/records?format=csv")
    );
    let csv = app.client.get(url).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert!(header(&csv, "content-type").starts_with("text/csv"));

    assert_eq!(
        &app.ckan_ok("resource_show", json!({"id": RESOURCE})).await,
        resource
    );

    assert_eq!(
        app.ckan_ok("organization_list", json!({})).await,
        json!(["dinas-pu"])
    );
    let orgs = ckan_result(app.ckan_get("organization_list", "all_fields=true").await).await;
    assert_eq!(orgs[0]["name"], "dinas-pu");
    assert_eq!(orgs[0]["package_count"], 1);
    let org = app
        .ckan_ok(
            "organization_show",
            json!({"id": "dinas-pu", "include_datasets": true}),
        )
        .await;
    assert_eq!(org["title"], "Dinas dinas-pu");
    assert_eq!(org["packages"][0]["name"], PACKAGE);

    let status = ckan_result(app.ckan_get("status_show", "").await).await;
    assert!(status["ckan_version"].as_str().unwrap().starts_with("2."));
}

#[tokio::test]
async fn package_search_filters_sorts_and_counts_facets() {
    let app = spawn_app().await;
    let token = app.with_reports().await.0;
    app.create_dataset("dlh", "udara").await;
    let res = app
        .client
        .patch(app.url("/v1/datasets/dlh/udara"))
        .bearer_auth(&token)
        .json(&json!({"title": "Kualitas udara", "tags": ["udara", "jalan"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let all = app
        .ckan_ok(
            "package_search",
            json!({"facet.field": ["organization", "tags"], "sort": "name asc", "rows": 5000}),
        )
        .await;
    assert_eq!(all["count"], 2);
    let names: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dinas-pu_laporan", "dlh_udara"]);
    assert_eq!(all["facets"]["tags"]["jalan"], 2);
    assert_eq!(all["facets"]["tags"]["udara"], 1);
    let items = all["search_facets"]["organization"]["items"]
        .as_array()
        .unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.contains(&json!({"name": "dlh", "display_name": "dlh", "count": 1})));

    let by_get = ckan_result(
        app.ckan_get(
            "package_search",
            "fq=organization:dlh%20%2Btags:udara&facet.field=%5B%22tags%22%5D",
        )
        .await,
    )
    .await;
    assert_eq!(by_get["count"], 1);
    assert_eq!(by_get["results"][0]["name"], "dlh_udara");

    // only versions make resources: the empty dataset has no CSV
    let csv = app
        .ckan_ok("package_search", json!({"fq": "res_format:CSV"}))
        .await;
    assert_eq!(csv["count"], 1);
    assert_eq!(csv["results"][0]["name"], PACKAGE);

    let q = app
        .ckan_ok(
            "package_search",
            json!({"q": "udara", "rows": 1, "start": 0}),
        )
        .await;
    assert_eq!(q["count"], 1);
    let page2 = app
        .ckan_ok(
            "package_search",
            json!({"sort": "name desc", "rows": 1, "start": 1}),
        )
        .await;
    assert_eq!(page2["count"], 2);
    assert_eq!(page2["results"][0]["name"], PACKAGE);
}

#[tokio::test]
async fn errors_carry_ckan_types_and_statuses() {
    let app = spawn_app().await;
    app.with_reports().await;

    let e = assert_ckan_error(
        app.ckan_get("package_delete", "id=x").await,
        400,
        "Bad Request",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("package_delete"));
    assert_ckan_error(
        app.ckan_post("package_show", json!({"id": "dinas-pu_nope"}))
            .await,
        404,
        "Not Found Error",
    )
    .await;
    let e = assert_ckan_error(
        app.ckan_post("package_show", json!({})).await,
        409,
        "Validation Error",
    )
    .await;
    assert_eq!(e["id"], json!(["Missing value"]));
    assert_ckan_error(
        app.ckan_get("resource_show", "id=dinas-pu_laporan_v9")
            .await,
        404,
        "Not Found Error",
    )
    .await;
    assert_ckan_error(
        app.ckan_get("organization_show", "id=nobody").await,
        404,
        "Not Found Error",
    )
    .await;
    assert_ckan_error(
        app.ckan_post(
            "datastore_search",
            json!({"resource_id": "dinas-pu_laporan_v2"}),
        )
        .await,
        404,
        "Not Found Error",
    )
    .await;
    for bad in [
        json!({"resource_id": RESOURCE, "filters": {"nope": 1}}),
        json!({"resource_id": RESOURCE, "filters": {"priority": "tinggi"}}),
        json!({"resource_id": RESOURCE, "filters": {"priority": {"between": [1, 2]}}}),
        json!({"resource_id": RESOURCE, "sort": "nope desc"}),
        json!({"resource_id": RESOURCE, "records_format": "xml"}),
        json!({"resource_id": RESOURCE, "offset": -1}),
        json!({}),
    ] {
        assert_ckan_error(
            app.ckan_post("datastore_search", bad.clone()).await,
            409,
            "Validation Error",
        )
        .await;
    }
    for fq in [
        "author:x",
        "organization:a OR organization:b",
        "tags:\"open",
    ] {
        assert_ckan_error(
            app.ckan_post("package_search", json!({"fq": fq})).await,
            400,
            "Search Query Error",
        )
        .await;
    }
    let res = app
        .client
        .post(app.url("/api/3/action/package_show"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_ckan_error(res, 400, "Bad Request").await;
}

/// The `/v1` records answer for a query string, with its total.
async fn v1(app: &TestApp, query: &str) -> (Value, Value) {
    let body = app.records(&format!("{query}&count=exact")).await;
    (body["data"].clone(), body["total"].clone())
}

#[tokio::test]
async fn datastore_search_answers_what_the_records_api_answers() {
    let app = spawn_app().await;
    let (_, rows) = app.with_reports().await;

    let cases = [
        (
            json!({"filters": {"district": "Balikpapan Kota", "priority": [1, 2], "score": {"gte": 5, "lte": 20}},
                   "sort": "priority desc, score", "limit": 20, "offset": 3}),
            "district=eq.Balikpapan%20Kota&priority=in.(1,2)&score=gte.5&score=lte.20&order=priority.desc,score.asc&limit=20&offset=3",
        ),
        (
            json!({"q": "banjir", "fields": ["district", "category"], "filters": {"verified": true}}),
            "q=banjir&select=district,category&verified=eq.true&limit=100",
        ),
        (
            json!({"filters": {"note": null, "category": ["sampah", "banjir"]}, "sort": "reported_at desc", "limit": 7}),
            "note=is.null&category=in.(sampah,banjir)&order=reported_at.desc&limit=7",
        ),
    ];
    for (mut ckan, query) in cases {
        ckan["resource_id"] = json!(RESOURCE);
        let got = app.ckan_ok("datastore_search", ckan.clone()).await;
        let (data, total) = v1(&app, query).await;
        assert!(!data.as_array().unwrap().is_empty(), "{query} matches rows");
        assert_eq!(got["records"], data, "{ckan}");
        assert_eq!(got["total"], total, "{ckan}");
        assert_eq!(got["total_was_estimated"], false);
    }

    // The first case, computed from the fixture independently of either API.
    let mut expected: Vec<&crate::helpers::Report> = rows
        .iter()
        .filter(|r| r.district == "Balikpapan Kota" && (r.priority == 1 || r.priority == 2))
        .filter(|r| r.score.is_some_and(|s| (5.0..=20.0).contains(&s)))
        .collect();
    expected.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.score.partial_cmp(&b.score).unwrap())
            .then(b.id.cmp(&a.id))
    });
    let got = app
        .ckan_ok(
            "datastore_search",
            json!({"resource_id": RESOURCE, "filters": {"district": "Balikpapan Kota", "priority": [1, 2], "score": {"gte": 5, "lte": 20}},
                   "sort": "priority desc, score", "limit": 1000}),
        )
        .await;
    assert_eq!(got["total"], expected.len());
    let mut got_ids: Vec<i64> = got["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let mut want_ids: Vec<i64> = expected.iter().map(|r| r.id).collect();
    got_ids.sort();
    want_ids.sort();
    assert_eq!(got_ids, want_ids);

    // GET with the JSON filters in the query string answers the same as POST.
    let by_get = ckan_result(
        app.ckan_get(
            "datastore_search",
            &format!("resource_id={RESOURCE}&filters=%7B%22verified%22%3Atrue%7D&q=banjir&fields=district,category"),
        )
        .await,
    )
    .await;
    let by_post = app
        .ckan_ok(
            "datastore_search",
            json!({"resource_id": RESOURCE, "filters": {"verified": true}, "q": "banjir", "fields": "district,category"}),
        )
        .await;
    assert_eq!(by_get["records"], by_post["records"]);
    assert_eq!(by_get["total"], by_post["total"]);

    // Fields carry CKAN's type names; _links page on.
    let one = app
        .ckan_ok(
            "datastore_search",
            json!({"resource_id": RESOURCE, "limit": 2}),
        )
        .await;
    let types: Vec<(String, String)> = one["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().into(),
                f["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("_id", "int"),
        ("id", "int"),
        ("reported_at", "timestamp"),
        ("district", "text"),
        ("category", "text"),
        ("priority", "int"),
        ("score", "numeric"),
        ("verified", "bool"),
        ("note", "text"),
    ]
    .into_iter()
    .map(|(a, b)| (a.into(), b.into()))
    .collect();
    assert_eq!(types, want);
    assert_eq!(one["total"], 257);
    assert_eq!(one["records"].as_array().unwrap().len(), 2);
    let next = one["_links"]["next"].as_str().unwrap();
    assert!(
        next.starts_with("/api/3/action/datastore_search?offset=2&"),
        "{next}"
    );

    // lists and csv carry the same rows
    let lists = app
        .ckan_ok(
            "datastore_search",
            json!({"resource_id": RESOURCE, "limit": 2, "records_format": "lists"}),
        )
        .await;
    assert_eq!(lists["records"][1][0], one["records"][1]["_id"]);
    assert_eq!(lists["records"][1][3], one["records"][1]["district"]);
    let csv = app
        .ckan_ok(
            "datastore_search",
            json!({"resource_id": RESOURCE, "limit": 2, "records_format": "csv", "fields": "priority"}),
        )
        .await;
    let expected_csv = format!(
        "1,{}\n2,{}\n",
        one["records"][0]["priority"], one["records"][1]["priority"]
    );
    assert_eq!(csv["records"], expected_csv);

    // limit 0: fields and total only; include_total=false: no total
    let count_only = app
        .ckan_ok(
            "datastore_search",
            json!({"resource_id": RESOURCE, "limit": 0, "filters": {"verified": false}}),
        )
        .await;
    assert_eq!(count_only["records"], json!([]));
    assert_eq!(
        count_only["total"],
        rows.iter().filter(|r| !r.verified).count()
    );
    let no_total = app
        .ckan_ok(
            "datastore_search",
            json!({"resource_id": RESOURCE, "include_total": false}),
        )
        .await;
    assert!(no_total.get("total").is_none());
    assert_eq!(no_total["records"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn registered_resources_accept_keys_in_ckan_headers() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    app.make_registered("dinas-pu", "laporan", &token).await;
    let (_, _, key) = app.sign_up("dev@example.com").await;
    let search = json!({"resource_id": RESOURCE, "limit": 1});

    assert_ckan_error(
        app.ckan_post("datastore_search", search.clone()).await,
        403,
        "Authorization Error",
    )
    .await;
    for (name, value) in [
        ("Authorization", key.clone()),
        ("Authorization", format!("Bearer {key}")),
        ("X-CKAN-API-Key", key.clone()),
        ("Authorization", token.clone()),
    ] {
        let res = app
            .client
            .post(app.url("/api/3/action/datastore_search"))
            .header(name, value)
            .json(&search)
            .send()
            .await
            .unwrap();
        let result = ckan_result(res).await;
        assert_eq!(result["total"], 257, "{name}");
    }
    // ckanapi sends the key in both headers
    let res = app
        .client
        .post(app.url("/api/action/datastore_search"))
        .header("Authorization", &key)
        .header("X-CKAN-API-Key", &key)
        .json(&search)
        .send()
        .await
        .unwrap();
    assert_eq!(ckan_result(res).await["records"][0]["_id"], 1);

    // the last character changed (to `x`, or to `y` when it is an `x`: a key ending in `x`
    // made this "forged" key the real one, about one run in 40)
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &key[..key.len() - 1]);
    assert_ne!(forged, key);
    let res = app
        .client
        .post(app.url("/api/3/action/datastore_search"))
        .header("X-CKAN-API-Key", forged)
        .json(&search)
        .send()
        .await
        .unwrap();
    // a bad key is refused by the gate, in CKAN's envelope for CKAN clients
    assert_ckan_error(res, 403, "Authorization Error").await;

    // the dump follows the same rules; metadata stays public, as in /v1
    assert_problem(
        app.get(&format!("/datastore/dump/{RESOURCE}")).await,
        401,
        "unauthorized",
    )
    .await;
    let res = app
        .client
        .get(app.url(&format!("/datastore/dump/{RESOURCE}")))
        .header("X-CKAN-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let shown = app.ckan_ok("package_show", json!({"id": PACKAGE})).await;
    assert!(shown["extras"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "access", "value": "registered"})));
}

#[tokio::test]
async fn datastore_dump_streams_the_csv_export() {
    let app = spawn_app().await;
    app.with_reports().await;
    let export = app
        .get("/v1/datasets/dinas-pu/laporan/versions/1/records?format=csv")
        .await
        .bytes()
        .await
        .unwrap();

    let res = app.get(&format!("/datastore/dump/{RESOURCE}")).await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type").starts_with("text/csv"));
    let dump = res.bytes().await.unwrap();
    assert_eq!(dump, export);
    assert_eq!(dump.iter().filter(|b| **b == b'\n').count(), 258);

    let bom = app
        .get(&format!("/datastore/dump/{RESOURCE}?bom=true"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bom[..3], b"\xEF\xBB\xBF");
    assert_eq!(&bom[3..], &export[..]);

    let narrowed = app
        .get(&format!(
            "/datastore/dump/{RESOURCE}?filters=%7B%22verified%22%3Atrue%7D&fields=priority&sort=_id%20desc"
        ))
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = narrowed.lines().collect();
    assert_eq!(lines[0], "_id,priority");
    assert_eq!(lines.len(), 1 + 128);
    assert!(lines[1].starts_with("256,"));

    assert_problem(
        app.get("/datastore/dump/dinas-pu_laporan_v7").await,
        404,
        "not_found",
    )
    .await;
    assert_problem(app.get("/datastore/dump/garbage").await, 404, "not_found").await;
    assert_problem(
        app.get(&format!("/datastore/dump/{RESOURCE}?limit=5"))
            .await,
        400,
        "bad_request",
    )
    .await;
}

/// The `@id`s of the datasets a DCAT JSON-LD catalog links with `dcat:dataset`.
fn dcat_datasets(doc: &Value) -> Vec<String> {
    let graph = doc["@graph"].as_array().unwrap();
    let catalog = graph
        .iter()
        .find(|n| n["@type"] == json!(["dcat:Catalog"]))
        .expect("a catalog node");
    catalog["dcat:dataset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["@id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn dcat_and_data_json_list_the_same_datasets_as_v1_and_ckan() {
    let app = spawn_app().await;
    app.with_reports().await;
    app.create_dataset("dlh", "udara").await;

    let v1: Vec<String> = app.get_json("/v1/datasets").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["agency"].as_str().unwrap(),
                d["slug"].as_str().unwrap()
            )
        })
        .collect();
    let mut v1 = v1;
    v1.sort();
    assert_eq!(v1, ["dinas-pu/laporan", "dlh/udara"]);
    let ckan: Vec<String> = app
        .ckan_ok("package_list", json!({}))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().replacen('_', "/", 1))
        .collect();
    assert_eq!(ckan, v1);

    let res = app.get("/catalog.jsonld").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "application/ld+json");
    let doc: Value = res.json().await.unwrap();
    let mut dcat: Vec<String> = dcat_datasets(&doc)
        .iter()
        .map(|iri| iri.split("/v1/datasets/").nth(1).unwrap().to_owned())
        .collect();
    dcat.sort();
    assert_eq!(dcat, v1);

    let graph = doc["@graph"].as_array().unwrap();
    let node = |id: &str| {
        graph
            .iter()
            .find(|n| n["@id"] == app.url(id))
            .unwrap_or_else(|| panic!("no node {id}"))
    };
    let ds = node("/v1/datasets/dinas-pu/laporan");
    assert_eq!(ds["@type"], json!(["dcat:Dataset"]));
    assert_eq!(ds["dct:title"], json!(["Laporan warga"]));
    assert_eq!(
        ds["dct:accrualPeriodicity"],
        json!([{"@id": "http://publications.europa.eu/resource/authority/frequency/DAILY"}])
    );
    assert_eq!(
        ds["dcat:hasVersion"],
        json!([{"@id": app.url("/v1/datasets/dinas-pu/laporan/versions/1")}])
    );
    let csv = node("/v1/datasets/dinas-pu/laporan/versions/1#csv");
    assert_eq!(csv["@type"], json!(["dcat:Distribution"]));
    assert_eq!(
        csv["dcat:downloadURL"],
        json!([{"@id": app.url("/v1/datasets/dinas-pu/laporan/versions/1/records?format=csv")}])
    );
    // byteSize and checksum are those of the bytes the downloadURL serves
    let export = app
        .get("/v1/datasets/dinas-pu/laporan/versions/1/records?format=csv")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        csv["dcat:byteSize"],
        json!([{"@value": export.len().to_string(), "@type": "xsd:nonNegativeInteger"}])
    );
    let checksum_id = csv["spdx:checksum"][0]["@id"].as_str().unwrap();
    let checksum = graph.iter().find(|n| n["@id"] == checksum_id).unwrap();
    assert_eq!(
        checksum["spdx:checksumValue"][0]["@value"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&export))
    );
    let api = node("/v1/datasets/dinas-pu/laporan#api");
    assert_eq!(api["@type"], json!(["dcat:DataService"]));
    assert_eq!(
        api["dcat:endpointDescription"],
        json!([{"@id": app.url("/v1/datasets/dinas-pu/laporan/versions/1/openapi.json")}])
    );

    let ttl = app.get("/catalog.ttl").await;
    assert_eq!(header(&ttl, "content-type"), "text/turtle; charset=utf-8");
    let ttl = ttl.text().await.unwrap();
    assert!(
        ttl.contains("@prefix dcat: <http://www.w3.org/ns/dcat#>"),
        "{ttl}"
    );
    assert!(ttl.contains(&format!("<{}>", app.url("/v1/datasets/dlh/udara"))));
    let negotiated = app
        .client
        .get(app.url("/catalog.jsonld"))
        .header("Accept", "text/turtle")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&negotiated, "content-type"),
        "text/turtle; charset=utf-8"
    );
    assert_eq!(
        negotiated.text().await.unwrap().lines().count(),
        ttl.lines().count()
    );
    // weights decide (RFC 9110): Turtle only when it outweighs JSON-LD
    for (accept, turtle) in [
        ("application/ld+json, text/turtle;q=0.5", false),
        ("text/turtle;q=0", false),
        ("application/ld+json;q=0.2, text/turtle;q=0.9", true),
    ] {
        let res = app
            .client
            .get(app.url("/catalog.jsonld"))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&res, "content-type").starts_with("text/turtle"),
            turtle,
            "{accept}"
        );
    }

    let pod = app.get_json("/data.json").await;
    assert_eq!(
        pod["conformsTo"],
        "https://project-open-data.cio.gov/v1.1/schema"
    );
    let mut ids: Vec<String> = pod["dataset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["identifier"]
                .as_str()
                .unwrap()
                .split("/v1/datasets/")
                .nth(1)
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, v1);
}

#[tokio::test]
async fn the_gate_refuses_ckan_clients_in_ckans_envelope() {
    let app = spawn_app_with(|s| tier(s, "anonymous", 2, None)).await;
    for _ in 0..2 {
        assert_eq!(app.get("/api/3/action/package_list").await.status(), 200);
    }
    let res = app.get("/api/3/action/package_list").await;
    assert!(header(&res, "retry-after").parse::<u64>().unwrap() >= 1);
    assert_ckan_error(res, 429, "Rate Limit Error").await;
    // the /v1 face of the same refusal stays problem+json
    assert_problem(app.get("/v1/agencies").await, 429, "rate_limited").await;
}
