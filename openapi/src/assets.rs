//! The interactive reference: Swagger UI from npm (`swagger-ui-dist`, see
//! `assets/swagger-ui/VENDORED.md`), compiled into the binary so `/docs` works on an intranet
//! with no internet.

pub const SWAGGER_UI_JS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
pub const SWAGGER_UI_CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");
/// Changes with the vendored files, so their URLs can be cached as immutable.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// The `/docs` page for the document at `spec_url` (a same-origin path).
pub fn docs_page(title: &str, spec_url: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    // The URL goes into a JS string: JSON-encode it (and keep `</script>` out).
    let url = serde_json::to_string(spec_url)
        .expect("a string serializes")
        .replace('<', "\\u003c");
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API reference</title>
<link rel="stylesheet" href="/docs/assets/{v}/swagger-ui.css">
<style>body{{margin:0}} .gerbang-bar{{font:16px system-ui,sans-serif;padding:12px 20px;background:#0b4f6c;color:#fff}} .gerbang-bar a{{color:#fff}}</style>
</head>
<body>
<div class="gerbang-bar"><a href="/">Gerbang</a> · {title} — send your key with <b>Authorize</b> (X-API-Key) to try calls</div>
<div id="swagger-ui"></div>
<script src="/docs/assets/{v}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: {url},
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: true,
  validatorUrl: null,
  displayRequestDuration: true
}});
</script>
</body>
</html>
"##,
        title = esc(title),
        v = SWAGGER_UI_VERSION,
    )
}
