use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::to_bytes;

use super::pack::{self, PackError, content_hash, hashed_name};
use super::*;

fn folder(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(path, body)| ((*path).to_owned(), body.as_bytes().to_vec()))
        .collect()
}

const PAGE: &str = "<!doctype html>\n<html><head>\n<link rel=\"stylesheet\" href=\"/css/app.css\">\n\
<script type=\"module\" src=\"/js/main.js\"></script>\n</head><body><a href=\"#/\">Home</a></body></html>\n";

/// The pack's `[name, imports, source]` list, in its order.
fn packed_modules(script: &str) -> Vec<(String, Vec<String>, String)> {
    let start = script.find("const modules = ").unwrap() + 16;
    let end = script.find(";\n  const urls").unwrap();
    serde_json::from_str(&script[start..end]).unwrap()
}

fn derived(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, (String, bool)> {
    pack::build(files, r#"{"dev":true}"#)
        .unwrap()
        .into_iter()
        .map(|d| (d.path, (String::from_utf8(d.body).unwrap(), d.immutable)))
        .collect()
}

#[test]
fn hashed_names_keep_the_folder_and_the_extension() {
    assert_eq!(hashed_name("/css/app.css", "abc"), "/css/app.abc.css");
    assert_eq!(hashed_name("/js/a.b.js", "abc"), "/js/a.b.abc.js");
    assert_eq!(hashed_name("/LICENSE", "abc"), "/LICENSE.abc");
    assert_eq!(content_hash(b"x").len(), 16);
}

#[test]
fn the_page_loads_the_pack_links_hashed_files_and_carries_the_server_info() {
    let files = folder(&[
        ("/index.html", PAGE),
        ("/css/app.css", "body { color: red }"),
        ("/js/main.js", "import { h } from './dom.js';\nh();\n"),
        ("/js/dom.js", "export function h() {}\n"),
    ]);
    let out = derived(&files);
    let css = hashed_name("/css/app.css", &content_hash(b"body { color: red }"));
    assert_eq!(out[&css], ("body { color: red }".to_owned(), true));
    let (page, immutable) = &out["/index.html"];
    assert!(!immutable);
    assert!(page.contains(&format!("href=\"{css}\"")), "{page}");
    assert!(!page.contains("type=\"module\""), "{page}");
    assert!(
        page.contains(r#"<script type="application/json" id="server-info">{"dev":true}</script>"#)
    );
    assert!(
        page.contains("href=\"#/\""),
        "fragment links untouched: {page}"
    );
    let script = out
        .keys()
        .find(|p| p.starts_with("/js/mentorhub."))
        .unwrap();
    assert!(
        page.contains(&format!("<script src=\"{script}\" defer></script>")),
        "{page}"
    );
    assert!(out[script].1);
    assert_eq!(
        *script,
        hashed_name("/js/mentorhub.js", &content_hash(out[script].0.as_bytes()))
    );
}

#[test]
fn every_form_of_local_specifier_is_rewritten_and_nothing_else() {
    let main = "import { a } from './a.js';\n\
        import {\n  b,\n} from \"../lib/b.js\";\n\
        import './side.js';\n\
        export { c } from '/js/c.js';\n\
        const later = () => import( './later.js' );\n\
        import { x } from 'https://example.org/x.js';\n\
        // from './missing.js' is only a comment\n\
        const reform = 'platform'; const imported = 1; const fromage = './a.js';\n";
    let files = folder(&[
        ("/index.html", PAGE),
        ("/js/main.js", main),
        ("/js/a.js", "export const a = 1;"),
        ("/lib/b.js", "export const b = 1;"),
        ("/js/side.js", ""),
        ("/js/c.js", "export const c = 1;"),
        ("/js/later.js", "export default 1;"),
        ("/js/unused.js", "export default 1;"),
    ]);
    let out = derived(&files);
    let script = &out[out
        .keys()
        .find(|p| p.starts_with("/js/mentorhub."))
        .unwrap()]
    .0;
    let modules = packed_modules(script);
    let names: Vec<&str> = modules.iter().map(|(name, ..)| name.as_str()).collect();
    // Dependencies first: every module after what it imports.
    assert_eq!(
        names,
        [
            "@mentorhub/js/a.js@",
            "@mentorhub/lib/b.js@",
            "@mentorhub/js/side.js@",
            "@mentorhub/js/c.js@",
            "@mentorhub/js/later.js@",
            "@mentorhub/js/main.js@"
        ]
    );
    let (_, imports, packed_main) = &modules[5];
    assert_eq!(imports.len(), 5);
    for expected in [
        "from '@mentorhub/js/a.js@'",
        "from \"@mentorhub/lib/b.js@\"",
        "import '@mentorhub/js/side.js@'",
        "from '@mentorhub/js/c.js@'",
        "import( '@mentorhub/js/later.js@' )",
        "from 'https://example.org/x.js'",
        "from './missing.js' is only a comment",
        "const fromage = './a.js'",
        "//# sourceURL=/js/main.js",
    ] {
        assert!(
            packed_main.contains(expected),
            "missing {expected:?} in\n{packed_main}"
        );
    }
}

#[test]
fn a_page_without_a_module_entry_is_not_packed() {
    let files = folder(&[("/index.html", "<html><head></head></html>")]);
    assert_eq!(pack::build(&files, "{}").unwrap_err(), PackError::NoEntry);
    assert_eq!(
        pack::build(&folder(&[]), "{}").unwrap_err(),
        PackError::NoPage
    );
    let files = folder(&[("/index.html", PAGE)]);
    assert_eq!(
        pack::build(&files, "{}").unwrap_err(),
        PackError::MissingEntry("/js/main.js".into())
    );
    let files = folder(&[
        ("/index.html", PAGE),
        ("/js/main.js", "import './a.js';"),
        ("/js/a.js", "import './b.js';"),
        ("/js/b.js", "import './a.js';"),
    ]);
    assert_eq!(
        pack::build(&files, "{}").unwrap_err(),
        PackError::Cycle("/js/a.js".into())
    );
}

fn repository_client() -> WebClient {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web-client"));
    WebClient::load(&dir, &serde_json::json!({"protocol": 1, "dev": false}))
}

/// The real client: every module of `js/` is reached from the entry, and no relative
/// specifier survives (a relative import in a packed module would fail to load).
#[test]
fn the_repository_client_packs_every_module() {
    let web = repository_client();
    let pack = web
        .assets
        .iter()
        .find(|(path, _)| path.starts_with("/js/mentorhub."))
        .map(|(_, asset)| String::from_utf8(asset.identity.to_vec()).unwrap())
        .expect("the client is packed");
    let modules: Vec<&String> = web
        .assets
        .keys()
        .filter(|p| p.starts_with("/js/") && p.ends_with(".js") && !p.starts_with("/js/mentorhub."))
        .collect();
    let packed: Vec<String> = packed_modules(&pack)
        .into_iter()
        .map(|(name, ..)| name)
        .collect();
    for module in &modules {
        assert!(
            packed.contains(&format!("@mentorhub{module}@")),
            "{module} is not in the pack"
        );
    }
    for relative in [
        "from './",
        "from '../",
        "from \\\"./",
        "import('./",
        "import './",
    ] {
        assert!(
            !pack.contains(relative),
            "a relative specifier survived: {relative}"
        );
    }
}

async fn get(
    web: &Arc<WebClient>,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
    }
    let response = serve(State(web.clone()), path.parse().unwrap(), map).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, body)
}

#[tokio::test]
async fn compressed_cached_and_revalidated() {
    let web = Arc::new(repository_client());
    let all = [(header::ACCEPT_ENCODING, "gzip, deflate, br")];
    // The first request gets gzip while brotli is made in the background.
    let (_, headers, _) = get(&web, "/", &all).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    let page = web.assets["/"].clone();
    while page.brotli.get().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (status, headers, body) = get(&web, "/", &all).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(headers[header::VARY], "accept-encoding");
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let mut page = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("id=\"server-info\""));
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.ends_with(".br\""), "{etag}");

    let (status, headers, body) = get(&web, "/", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let (status, ..) = get(
        &web,
        "/",
        &[(header::IF_NONE_MATCH, "\"0000000000000000\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let start = page.find("<script src=\"").unwrap() + 13;
    let script = &page[start..start + page[start..].find('"').unwrap()];
    let (status, headers, gz) = get(&web, script, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let (_, plain_headers, plain) = get(&web, script, &[]).await;
    assert!(!plain_headers.contains_key(header::CONTENT_ENCODING));
    assert!(
        gz.len() * 3 < plain.len(),
        "gzip {} vs {}",
        gz.len(),
        plain.len()
    );

    let (status, headers, _) = get(&web, "/sw.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let (status, ..) = get(&web, "/nope.js", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn a_missing_folder_serves_nothing() {
    let web = WebClient::load(
        std::path::Path::new("/nonexistent/web-client"),
        &serde_json::json!({}),
    );
    assert!(web.assets.is_empty());
}
