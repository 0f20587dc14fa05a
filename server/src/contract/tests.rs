use std::path::PathBuf;

use serde_json::Value;

use super::{SCHEMAS, asyncapi, to_text};

const REGENERATE: &str =
    "MENTORHUB_UPDATE_CONTRACT=1 cargo nextest run -p mentorhub committed_copy";

/// Compares the committed copy under `docs/` with the generated document (or rewrites
/// the copy when `MENTORHUB_UPDATE_CONTRACT` is set).
fn check_committed(name: &str, document: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    let generated = to_text(document);
    if std::env::var_os("MENTORHUB_UPDATE_CONTRACT").is_some() {
        std::fs::write(&path, &generated).expect("docs/ is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/{name} differs from what the code generates; regenerate it: {REGENERATE}"
    );
}

#[test]
fn committed_copy_of_openapi_matches_the_code() {
    check_committed("openapi.json", crate::http::openapi::document());
}

#[test]
fn committed_copy_of_asyncapi_matches_the_code() {
    check_committed("asyncapi.json", asyncapi::document());
}

fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// Resolves a local `#/…` JSON pointer.
fn resolves(document: &Value, target: &str) -> bool {
    target
        .strip_prefix('#')
        .is_some_and(|pointer| document.pointer(pointer).is_some())
}

#[test]
fn every_reference_in_both_documents_resolves() {
    for document in [crate::http::openapi::document(), asyncapi::document()] {
        let mut targets = Vec::new();
        refs(document, &mut targets);
        assert!(targets.iter().any(|t| t.starts_with(SCHEMAS)));
        for target in targets {
            assert!(resolves(document, target), "dangling $ref {target}");
        }
    }
}

/// Every route the router declares is in the OpenAPI document (the WebSocket upgrade
/// is in the AsyncAPI one).
#[test]
fn every_rest_route_is_documented() {
    let sources = [
        include_str!("../http/mod.rs"),
        include_str!("../http/mentoring.rs"),
        include_str!("../http/safety.rs"),
    ];
    let top_level = ["/healthz", "/readyz", "/metrics", "/ws"];
    let paths = crate::http::openapi::document()["paths"]
        .as_object()
        .expect("paths");
    let mut seen = 0;
    for source in sources {
        for piece in source.split(".route(\"").skip(1) {
            let route = piece.split('"').next().unwrap_or_default();
            if route == "/ws" {
                continue;
            }
            let path = if top_level.contains(&route) {
                route.to_owned()
            } else {
                format!("/api{route}")
            };
            assert!(
                paths.contains_key(&path),
                "{path} is not in the OpenAPI document"
            );
            seen += 1;
        }
    }
    assert!(seen > 40, "only {seen} routes found");
    assert!(paths.contains_key("/api/dev/login"));
}

#[test]
fn a_type_is_described_the_same_as_sent_and_as_received() {
    // `into_definitions` panics on a mismatch; both documents build.
    assert!(crate::http::openapi::document()["components"]["schemas"]["Settings"].is_object());
    assert!(asyncapi::document()["components"]["schemas"]["SessionDescription"].is_object());
}
