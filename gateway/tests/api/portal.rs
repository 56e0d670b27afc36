//! The portal's files: the app shell on its page routes, assets with types, ETags and
//! caching, and the API's paths left to the API.
use crate::helpers::{assert_problem, header, spawn_app, spawn_app_with};

#[tokio::test]
async fn portal_pages_answer_the_app_shell() {
    let app = spawn_app().await;
    let root = app.get("/").await;
    assert_eq!(root.status(), 200);
    assert_eq!(header(&root, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&root, "cache-control"), "no-cache");
    let shell = root.text().await.unwrap();
    assert!(shell.contains(r#"<script type="module" src="/assets/js/app.js">"#));
    assert!(shell.contains(r#"<html lang="id">"#));
    for page in [
        "/datasets",
        "/datasets/dinas-pu/laporan-jalan",
        "/agencies/dinas-pu",
        "/developers",
        "/publishers",
    ] {
        let res = app.get(page).await;
        assert_eq!(res.status(), 200, "{page}");
        assert_eq!(res.text().await.unwrap(), shell, "{page}");
    }
}

#[tokio::test]
async fn portal_assets_carry_type_etag_and_cache_control() {
    let app = spawn_app().await;
    for (path, ty) in [
        ("/assets/js/app.js", "javascript"),
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/vendor/leaflet/leaflet.js", "javascript"),
        ("/assets/vendor/leaflet/images/marker-icon.png", "image/png"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(header(&res, "content-type").contains(ty), "{path}");
        assert!(header(&res, "cache-control").contains("max-age="), "{path}");
        let etag = header(&res, "etag");
        assert!(!res.bytes().await.unwrap().is_empty());

        let again = app
            .client
            .get(app.url(path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(header(&again, "etag"), etag);
        assert!(again.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn portal_changed_files_are_sent_again() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/assets/js/app.js"))
        .header("If-None-Match", "\"an-older-release\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("navigate"));
}

#[tokio::test]
async fn portal_leaves_unknown_files_and_api_paths_alone() {
    let app = spawn_app().await;
    assert_problem(app.get("/assets/nope.js").await, 404, "not_found").await;
    assert_problem(app.get("/assets/../Cargo.toml").await, 404, "not_found").await;
    assert_problem(app.get("/datasets/dinas-pu").await, 404, "not_found").await;
    assert_problem(app.get("/v1/no-such-thing").await, 404, "not_found").await;
    // The API keeps its own paths: JSON, never the portal's HTML.
    let api = app.get("/v1/datasets").await;
    assert_eq!(api.status(), 200);
    assert!(header(&api, "content-type").starts_with("application/json"));
}

#[tokio::test]
async fn portal_config_names_the_map_tile_server_only_when_one_is_set() {
    let offline = spawn_app().await;
    let config = offline.get_json("/portal/config.json").await;
    assert!(config["map_tiles_url"].is_null(), "{config}");

    let tiles = "https://peta.balikpapan.go.id/tiles/{z}/{x}/{y}.png";
    let city = spawn_app_with(|s| {
        s.portal.map_tiles_url = Some(tiles.to_owned());
        s.portal.map_attribution = Some("© Pemkot Balikpapan".to_owned());
    })
    .await;
    let config = city.get_json("/portal/config.json").await;
    assert_eq!(config["map_tiles_url"], tiles);
    assert_eq!(config["map_attribution"], "© Pemkot Balikpapan");
}
