//! The machine-readable contract: the OpenAPI document of the REST API
//! (`/api/openapi.json`) and the AsyncAPI document of the WebSocket (`/api/asyncapi.json`),
//! both generated from the code. Every JSON Schema in them is derived from the Rust
//! types the server serialises or parses (`schemars`), in one place, so both documents
//! describe a type the same way; the OpenAPI paths come from the REST handlers'
//! annotations (`utoipa`, see `http::openapi`).
//!
//! Types the server sends are described as they serialise (a field skipped when empty
//! is optional), types it receives as they deserialise (a field with a default is
//! optional). A type that is both sent and received must look the same both ways.
//! Copies of both documents are committed under `docs/`; a test fails when they drift.

pub mod asyncapi;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

/// Where both documents keep their schemas, and so where every `$ref` points.
pub const SCHEMAS: &str = "#/components/schemas/";

/// Collects the schemas of the types one document uses.
pub struct Schemas {
    sent: SchemaGenerator,
    received: SchemaGenerator,
}

fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = "/components/schemas".into();
        settings.meta_schema = None;
    })
}

impl Default for Schemas {
    fn default() -> Self {
        Schemas {
            sent: settings().for_serialize().into_generator(),
            received: settings().for_deserialize().into_generator(),
        }
    }
}

impl Schemas {
    /// A type the server sends: a `$ref` to its schema.
    pub fn sent<T: JsonSchema>(&mut self) -> Value {
        self.sent.subschema_for::<T>().to_value()
    }

    /// A type the server receives: a `$ref` to its schema.
    pub fn received<T: JsonSchema>(&mut self) -> Value {
        self.received.subschema_for::<T>().to_value()
    }

    /// Every schema collected, by name.
    ///
    /// # Panics
    /// When a type is described differently as sent and as received (a test runs this).
    pub fn into_definitions(mut self) -> Map<String, Value> {
        let mut sent = self.sent.take_definitions(true);
        let received = self.received.take_definitions(true);
        for (name, schema) in &received {
            if sent.get(name).is_some_and(|other| other != schema) {
                panic!(
                    "`{name}` is described differently as sent and as received: \
                     rename one side (`#[schemars(rename = …)]`)"
                );
            }
        }
        close_sent(&mut sent, &received);
        sent.extend(received);
        sent
    }
}

/// What the server sends names every field it may carry: objects it sends admit no
/// other property, so a field added to a type but missing from its schema, or the
/// reverse, fails validation. (What it receives stays as lenient as the parser is.)
///
/// A schema that an internally tagged variant extends with its tag (a `$ref` beside
/// `properties`) is left open; the variant that extends it is closed instead, with
/// `unevaluatedProperties`, which sees the properties the `$ref` evaluated.
fn close_sent(sent: &mut Map<String, Value>, received: &Map<String, Value>) {
    let mut extended = Vec::new();
    for schema in sent.values() {
        find_extended(schema, &mut extended);
    }
    for (name, schema) in sent.iter_mut() {
        if !received.contains_key(name) && !extended.contains(name) {
            close(schema);
        }
    }
}

fn find_extended(schema: &Value, extended: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties")
                && let Some(name) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|target| target.strip_prefix(SCHEMAS))
            {
                extended.push(name.to_owned());
            }
            map.values()
                .for_each(|value| find_extended(value, extended));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|value| find_extended(value, extended)),
        _ => {}
    }
}

fn close(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let open = !map.contains_key("additionalProperties")
                && !map.contains_key("unevaluatedProperties");
            if map.contains_key("properties") && open {
                let keyword = if map.contains_key("$ref") {
                    "unevaluatedProperties"
                } else {
                    "additionalProperties"
                };
                map.insert(keyword.to_owned(), false.into());
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

/// Pretty JSON with a final newline: the form the committed copies have.
pub fn to_text(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
