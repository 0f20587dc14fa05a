//! The AsyncAPI 3 document of the WebSocket at `/ws`: every frame a client may send and
//! every frame the server sends, with their JSON Schemas. `server/PROTOCOL.md` keeps the
//! prose (handshake, ordering, resume, close codes).

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::{SCHEMAS, Schemas};
use crate::protocol::server::{EventFrame, PROTOCOL_VERSION};
use crate::protocol::{ClientFrame, ServerFrame};

/// The document, generated once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(build);
    &DOCUMENT
}

/// Names of the three message kinds, as in `components.messages` and `components.schemas`.
pub const CLIENT_FRAME: &str = "ClientFrame";
pub const SERVER_FRAME: &str = "ServerFrame";
pub const TIMELINE_EVENT: &str = "EventFrame";

fn build() -> Value {
    let mut schemas = Schemas::default();
    let client = schemas.received::<ClientFrame>();
    let server = schemas.sent::<ServerFrame>();
    let event = schemas.sent::<EventFrame>();
    for (reference, name) in [
        (&client, CLIENT_FRAME),
        (&server, SERVER_FRAME),
        (&event, TIMELINE_EVENT),
    ] {
        assert_eq!(reference["$ref"], format!("{SCHEMAS}{name}"));
    }
    let message = |name: &str, title: &str, summary: &str| {
        json!({
            "name": name,
            "title": title,
            "summary": summary,
            "contentType": "application/json",
            "payload": { "$ref": format!("{SCHEMAS}{name}") },
        })
    };
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Mentorhub WebSocket protocol",
            "version": PROTOCOL_VERSION.to_string(),
            "description": "One WebSocket per device at `/ws`. Every frame is a JSON text frame \
                tagged by `type`. The first frame a client sends is `hello` with a bearer JWT; \
                the server answers `welcome` or `error` and a close code. See server/PROTOCOL.md \
                for the handshake, ordering, resume and close codes; the REST API is described \
                by /api/openapi.json.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "socket": {
                "address": "/ws",
                "title": "A device's connection",
                "messages": {
                    CLIENT_FRAME: { "$ref": format!("#/components/messages/{CLIENT_FRAME}") },
                    SERVER_FRAME: { "$ref": format!("#/components/messages/{SERVER_FRAME}") },
                    TIMELINE_EVENT: { "$ref": format!("#/components/messages/{TIMELINE_EVENT}") },
                },
            },
        },
        "operations": {
            "receiveClientFrame": {
                "action": "receive",
                "title": "Frames a client sends",
                "channel": { "$ref": "#/channels/socket" },
                "messages": [
                    { "$ref": format!("#/channels/socket/messages/{CLIENT_FRAME}") },
                ],
            },
            "sendServerFrame": {
                "action": "send",
                "title": "Frames the server sends",
                "channel": { "$ref": "#/channels/socket" },
                "messages": [
                    { "$ref": format!("#/channels/socket/messages/{SERVER_FRAME}") },
                    { "$ref": format!("#/channels/socket/messages/{TIMELINE_EVENT}") },
                ],
            },
        },
        "components": {
            "messages": {
                CLIENT_FRAME: message(CLIENT_FRAME, "Client frame",
                    "A frame a client sends, tagged by `type`."),
                SERVER_FRAME: message(SERVER_FRAME, "Server frame",
                    "A reply, notice or live update the server sends, tagged by `type`."),
                TIMELINE_EVENT: message(TIMELINE_EVENT, "Timeline event",
                    "A conversation's timeline entry, sent live (and in `history` pages); \
                     carries the conversation's gap-free `seq`."),
            },
            "schemas": schemas.into_definitions(),
        },
    })
}
