//! The contract, checked on everything the harness receives: every WebSocket frame
//! against the AsyncAPI document's schemas and every REST response body against the
//! OpenAPI document's, the documents the server serves. Validators are compiled once per
//! process and shared by every test.

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::Validator;
use mentorhub::contract::asyncapi;
use serde_json::{Value, json};

/// Compiles `schema` (a `$ref` into `components`) against `document`'s components.
fn compile(document: &Value, schema: &Value) -> Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": schema["$ref"],
        "components": { "schemas": document["components"]["schemas"] },
    });
    jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("the schema {schema} does not compile: {e}"))
}

/// Up to five reasons why `instance` does not match.
fn explain(validator: &Validator, instance: &Value) -> Option<String> {
    let reasons: Vec<String> = validator
        .iter_errors(instance)
        .take(5)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

struct Frames {
    server: Validator,
    event: Validator,
}

static FRAMES: LazyLock<Frames> = LazyLock::new(|| {
    let document = asyncapi::document();
    let schema = |name: &str| json!({ "$ref": format!("{}{name}", mentorhub::contract::SCHEMAS) });
    Frames {
        server: compile(document, &schema(asyncapi::SERVER_FRAME)),
        event: compile(document, &schema(asyncapi::TIMELINE_EVENT)),
    }
});

/// Timeline events are sent bare; everything else is a server frame.
const TIMELINE: [&str; 4] = ["message", "message_edited", "message_deleted", "system"];

/// Panics, naming the frame and why, when a frame the server sent is not in the
/// AsyncAPI document.
#[track_caller]
pub fn check_frame(frame: &Value) {
    let kind = frame["type"].as_str().unwrap_or_default();
    let validator = if TIMELINE.contains(&kind) {
        &FRAMES.event
    } else {
        &FRAMES.server
    };
    if let Some(why) = explain(validator, frame) {
        panic!("the server sent a frame its AsyncAPI document does not allow ({why}): {frame}");
    }
}

/// One path template of the OpenAPI document, split at `/`.
struct Route {
    segments: Vec<Option<String>>,
    /// Method → status key (`200`, `4XX`) → the body's schema `$ref` (None: no body).
    operations: HashMap<String, HashMap<String, Option<String>>>,
}

impl Route {
    /// How well `path` matches: the number of literal segments, if it matches at all.
    fn score(&self, path: &[&str]) -> Option<usize> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut literal = 0;
        for (segment, part) in self.segments.iter().zip(path) {
            match segment {
                Some(text) if text == part => literal += 1,
                Some(_) => return None,
                None if part.is_empty() => return None,
                None => {}
            }
        }
        Some(literal)
    }
}

struct Rest {
    routes: Vec<Route>,
    validators: HashMap<String, Validator>,
    error: String,
}

static REST: LazyLock<Rest> = LazyLock::new(|| {
    let document = mentorhub::http::openapi::document();
    let mut routes = Vec::new();
    let mut validators = HashMap::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        let segments = template
            .split('/')
            .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
            .collect();
        let mut operations = HashMap::new();
        for (method, operation) in item.as_object().expect("a path item") {
            let mut statuses = HashMap::new();
            for (status, response) in operation["responses"].as_object().expect("responses") {
                let schema = &response["content"]["application/json"]["schema"];
                let reference = schema["$ref"].as_str().map(str::to_owned);
                if let Some(reference) = &reference {
                    validators
                        .entry(reference.clone())
                        .or_insert_with(|| compile(document, schema));
                }
                statuses.insert(status.clone(), reference);
            }
            operations.insert(method.to_uppercase(), statuses);
        }
        routes.push(Route {
            segments,
            operations,
        });
    }
    let error = format!("{}ErrorBody", mentorhub::contract::SCHEMAS);
    let error_schema = json!({ "$ref": error });
    validators
        .entry(error.clone())
        .or_insert_with(|| compile(document, &error_schema));
    Rest {
        routes,
        validators,
        error,
    }
});

/// Panics, naming the request and why, when a REST response is not what the OpenAPI
/// document says `method path` answers with `status`. `body` is `None` when the
/// response was not JSON (or empty).
#[track_caller]
pub fn check_response(method: &str, path: &str, status: u16, body: Option<&Value>) {
    let rest = &*REST;
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    let route = rest
        .routes
        .iter()
        .filter_map(|route| route.score(&parts).map(|score| (score, route)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, route)| route);
    let documented = route
        .and_then(|route| route.operations.get(method))
        .map(|statuses| {
            let exact = status.to_string();
            let range = format!("{}XX", status / 100);
            statuses.get(&exact).or_else(|| statuses.get(&range))
        });
    let reference = match documented {
        Some(Some(reference)) => reference.as_ref(),
        // A documented operation answering an undocumented status.
        Some(None) => {
            panic!("{method} {path} answered {status}, which its OpenAPI entry does not list")
        }
        // Not an API route (the web client), or refused (unknown route, wrong method).
        None if path.starts_with("/api/") && status >= 400 => Some(&rest.error),
        None if path.starts_with("/api/") => {
            panic!("{method} {path} answered {status} but is not in the OpenAPI document")
        }
        None => return,
    };
    let Some(reference) = reference else {
        return;
    };
    let Some(body) = body else {
        panic!("{method} {path} answered {status} without the JSON body its OpenAPI entry lists");
    };
    if let Some(why) = explain(&rest.validators[reference], body) {
        panic!(
            "{method} {path} answered {status} with a body its OpenAPI document does not allow ({why}): {body}"
        );
    }
}
