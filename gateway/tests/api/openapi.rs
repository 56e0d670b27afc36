//! The OpenAPI documents and `/docs`: the platform document is the route table, each version
//! has a typed document of its own, and the reference pages are served with all their assets.
use serde_json::Value;

use crate::helpers::{header, spawn_app};

/// Every endpoint of the contract (`../shared/API.md`), as `(method, path)`.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/v1/auth/token"),
    ("get", "/v1/agencies"),
    ("get", "/v1/agencies/{agency}"),
    ("get", "/v1/datasets"),
    ("get", "/v1/datasets/{agency}/{dataset}"),
    ("get", "/v1/datasets/{agency}/{dataset}/versions/{v}"),
    (
        "get",
        "/v1/datasets/{agency}/{dataset}/versions/{v}/records",
    ),
    (
        "get",
        "/v1/datasets/{agency}/{dataset}/versions/{v}/records/{id}",
    ),
    (
        "get",
        "/v1/datasets/{agency}/{dataset}/versions/{v}/aggregate",
    ),
    (
        "get",
        "/v1/datasets/{agency}/{dataset}/versions/{v}/openapi.json",
    ),
    (
        "get",
        "/v1/datasets/{agency}/{dataset}/versions/{v}/datapackage.json",
    ),
    ("post", "/v1/developers"),
    ("get", "/v1/me"),
    ("get", "/v1/me/keys"),
    ("post", "/v1/me/keys"),
    ("delete", "/v1/me/keys/{id}"),
    ("post", "/v1/me/keys/{id}/roll"),
    ("get", "/v1/me/usage"),
    ("post", "/v1/agencies"),
    ("post", "/v1/datasets/{agency}"),
    ("patch", "/v1/datasets/{agency}/{dataset}"),
    ("post", "/v1/datasets/{agency}/{dataset}/versions"),
    (
        "post",
        "/v1/datasets/{agency}/{dataset}/versions/{v}/publish",
    ),
    (
        "post",
        "/v1/datasets/{agency}/{dataset}/versions/{v}/deprecate",
    ),
    ("get", "/v1/datasets/{agency}/{dataset}/usage"),
    ("get", "/v1/openapi.json"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/3/action/{action}"),
    ("post", "/api/3/action/{action}"),
    ("get", "/api/action/{action}"),
    ("post", "/api/action/{action}"),
    ("get", "/datastore/dump/{resource_id}"),
    ("get", "/catalog.jsonld"),
    ("get", "/catalog.ttl"),
    ("get", "/data.json"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_platform_document_lists_every_contract_endpoint_with_its_errors() {
    let app = spawn_app().await;

    let res = app.get("/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type").starts_with("application/json"));
    let doc: Value = res.json().await.unwrap();

    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    for (method, path) in CONTRACT {
        assert!(
            ops.iter().any(|(m, p, _)| m == method && p == path),
            "{method} {path} is missing from /v1/openapi.json"
        );
    }
    for (method, path, op) in &ops {
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        assert!(op["summary"].is_string(), "{id} has no summary");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{id} documents no success"
        );
        if path.starts_with("/v1/") {
            for status in ["400", "401", "429", "500"] {
                assert!(responses.contains_key(status), "{id} lacks {status}");
            }
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{id} lacks 404");
        }
        assert!(op["security"].is_array(), "{id} says nothing of security");
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    assert_eq!(
        problem["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    // the rate-limit headers on a success, Retry-After on a 429
    let records = &doc["paths"]["/v1/datasets/{agency}/{dataset}/versions/{v}/records"]["get"];
    assert!(records["responses"]["200"]["headers"]["RateLimit-Remaining"].is_object());
    let too_many = &doc["components"]["responses"]["TooManyRequests"];
    assert!(too_many["headers"]["Retry-After"].is_object());
    assert!(too_many["content"]["application/problem+json"].is_object());
}

/// The route table and the document are one: every documented operation is routed (it
/// never reaches the catch-all 404), and the catch-all is all that is left outside.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let doc = app.get_json("/v1/openapi.json").await;

    for (method, path, op) in operations(&doc) {
        let concrete = path
            .replace("{agency}", "no-agency")
            .replace("{dataset}", "no-dataset")
            .replace("{v}", "1")
            .replace("{id}", "1")
            .replace("{action}", "package_list")
            .replace("{resource_id}", "no-agency_no-dataset_v1");
        let req = app.client.request(
            reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
            app.url(&concrete),
        );
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        assert!(
            !body.contains("no such endpoint"),
            "{method} {path} ({}) is documented but falls through to the catch-all",
            op["operationId"]
        );
        assert!(
            status < 500,
            "{method} {concrete} answered {status}: {body}"
        );
    }
    let res = app.get("/v1/not-an-endpoint").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("no such endpoint"));
}

/// An accidental change to the public contract shows up as a snapshot diff in review.
#[tokio::test]
async fn the_platform_document_matches_its_snapshot() {
    let app = spawn_app().await;
    let doc = app.get_json("/v1/openapi.json").await;
    insta::assert_json_snapshot!("platform_openapi", doc);
}

#[tokio::test]
async fn a_version_document_types_every_column_with_an_example_from_the_data() {
    let app = spawn_app().await;
    app.with_reports().await;

    let res = app
        .get("/v1/datasets/dinas-pu/laporan/versions/1/openapi.json")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let records = &doc["paths"]["/v1/datasets/dinas-pu/laporan/versions/1/records"]["get"];
    let params: Vec<&Value> = records["parameters"].as_array().unwrap().iter().collect();
    let record = &doc["components"]["schemas"]["Record"]["properties"];

    let expected = [
        ("id", "integer", Some("int64")),
        ("reported_at", "string", Some("date-time")),
        ("district", "string", None),
        ("category", "string", None),
        ("priority", "integer", Some("int64")),
        ("score", "number", Some("double")),
        ("verified", "boolean", None),
        ("note", "string", None),
    ];
    for (name, ty, format) in expected {
        let p = params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no filter parameter for {name}"));
        assert_eq!(p["in"], "query");
        assert!(p["description"].as_str().unwrap().contains("gte"));
        let prop = &record[name];
        let types = match &prop["type"] {
            Value::String(t) => vec![t.clone()],
            Value::Array(a) => a.iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
            other => panic!("{name}: type {other}"),
        };
        assert_eq!(types[0], ty, "{name}");
        assert_eq!(prop["format"].as_str(), format, "{name}");
        let example = &prop["examples"][0];
        assert!(!example.is_null(), "{name} has no example");
    }
    // nullable columns say so; the data's own values are the examples
    let score_types = record["score"]["type"].as_array().unwrap();
    assert!(score_types.contains(&Value::from("null")));
    assert_eq!(record["district"]["examples"][0], "Balikpapan Kota");
    assert_eq!(record["id"]["examples"][0], 1);
    // the aggregate endpoint and the shared errors are there too
    assert!(doc["paths"]["/v1/datasets/dinas-pu/laporan/versions/1/aggregate"]["get"].is_object());
    assert!(records["responses"]["400"].is_object());
}

#[tokio::test]
async fn a_registered_datasets_document_needs_a_key_like_its_records() {
    let app = spawn_app().await;
    let (token, _) = app.with_reports().await;
    app.make_registered("dinas-pu", "laporan", &token).await;

    let res = app
        .get("/v1/datasets/dinas-pu/laporan/versions/1/openapi.json")
        .await;
    assert_eq!(res.status(), 401);
    let (_, _, key) = app.sign_up("budi@contoh.id").await;
    let res = app
        .get_with_key(
            "/v1/datasets/dinas-pu/laporan/versions/1/openapi.json",
            &key,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(!header(&res, "cache-control").contains("public"));
    let doc: Value = res.json().await.unwrap();
    let security =
        &doc["paths"]["/v1/datasets/dinas-pu/laporan/versions/1/records"]["get"]["security"];
    assert!(
        !security
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &serde_json::json!({})),
        "a registered dataset's records are not anonymous: {security}"
    );
}

#[tokio::test]
async fn docs_pages_and_their_assets_come_from_the_gateway() {
    let app = spawn_app().await;
    app.with_reports().await;

    let res = app.get("/docs").await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type").starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains("\"/v1/openapi.json\""));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );

    let page = app
        .get("/docs/dinas-pu/laporan")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("\"/v1/datasets/dinas-pu/laporan/versions/1/openapi.json\""));
    assert_eq!(app.get("/docs/dinas-pu/no-such").await.status(), 404);

    let assets: Vec<String> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("/docs/assets/"))
        .map(str::to_owned)
        .collect();
    assert_eq!(assets.len(), 2, "{assets:?}");
    for asset in assets {
        let res = app.get(&asset).await;
        assert_eq!(res.status(), 200, "{asset}");
        assert!(header(&res, "cache-control").contains("immutable"));
        let ct = header(&res, "content-type");
        assert!(
            ct.starts_with("text/javascript") || ct.starts_with("text/css"),
            "{ct}"
        );
        assert!(res.bytes().await.unwrap().len() > 100_000, "{asset}");
    }
    assert_eq!(
        app.get("/docs/assets/0.0.0/swagger-ui-bundle.js")
            .await
            .status(),
        404
    );
}
