//! The classification of the whole surface: every REST route of the served OpenAPI
//! document and every client frame type of the served AsyncAPI document, with whether it
//! names a person (driven in both worlds by `surface.rs`) or nobody, and why.

use std::collections::BTreeSet;

use serde_json::Value;

/// What a route or frame does with people.
#[derive(Clone, Copy, Debug)]
pub(super) enum Names {
    /// Takes an account id, a member id, a display name or a message: driven in both worlds.
    Person,
    /// Names nobody but the requester; why.
    Nobody(&'static str),
}

pub(super) use Names::{Nobody, Person as Someone};

pub(super) const ROUTES: &[(&str, Names)] = &[
    (
        "GET /healthz",
        Nobody("liveness: no input, the same for everyone"),
    ),
    (
        "GET /readyz",
        Nobody("readiness: no input, the same for everyone"),
    ),
    (
        "GET /metrics",
        Nobody("process counters: no input, no person"),
    ),
    (
        "GET /api/openapi.json",
        Nobody("the API document, the same for everyone"),
    ),
    (
        "GET /api/asyncapi.json",
        Nobody("the API document, the same for everyone"),
    ),
    (
        "GET /api/info",
        Nobody("server facts, the same for everyone"),
    ),
    (
        "POST /api/dev/login",
        Nobody("development sign-in under one's own name"),
    ),
    ("GET /api/me", Nobody("the caller's own account")),
    ("PUT /api/me/settings", Someone),
    (
        "GET /api/me/email-digest",
        Nobody("the caller's own e-mail digest choice"),
    ),
    (
        "PUT /api/me/email-digest",
        Nobody("the caller's own e-mail digest choice"),
    ),
    (
        "GET /api/email/unsubscribe",
        Nobody("a page for a token, the same for everyone"),
    ),
    (
        "POST /api/email/unsubscribe",
        Nobody("a token that reaches only its own account"),
    ),
    (
        "GET /api/me/mentor-profile",
        Nobody("the caller's own profile"),
    ),
    ("PUT /api/me/mentor-profile", Someone),
    (
        "POST /api/me/push-subscriptions",
        Nobody("the caller's own device"),
    ),
    (
        "DELETE /api/me/push-subscriptions/{id}",
        Nobody("the caller's own device; anyone else's is not found"),
    ),
    (
        "GET /api/me/notifications",
        Nobody("the caller's own notification preferences"),
    ),
    (
        "PUT /api/me/notifications",
        Nobody("the caller's own notification preferences"),
    ),
    ("GET /api/me/reports", Nobody("the caller's own reports")),
    (
        "GET /api/conversations",
        Nobody("the caller's own conversations"),
    ),
    (
        "GET /api/conversations/{id}",
        Nobody("a conversation id the caller is in"),
    ),
    (
        "GET /api/conversations/{id}/messages",
        Nobody("a conversation id and seqs"),
    ),
    (
        "GET /api/conversations/{id}/threads",
        Nobody("a conversation id"),
    ),
    (
        "POST /api/conversations/{id}/reveal",
        Nobody("the caller shows their own name in a conversation they are in"),
    ),
    (
        "PUT /api/conversations/{id}/presence",
        Nobody("the caller shows or hides their own presence in a conversation they are in"),
    ),
    (
        "GET /api/ice-servers",
        Nobody("a conversation id; relay settings"),
    ),
    (
        "POST /api/sfu/turn-credentials",
        Nobody("the caller's own relay credentials"),
    ),
    (
        "GET /api/mentors",
        Nobody("directory filters: a specialty, a language"),
    ),
    ("GET /api/mentors/{account}", Someone),
    (
        "GET /api/people",
        Nobody("a role: the coordinator's list of the programme"),
    ),
    (
        "GET /api/relationships",
        Nobody("the caller's own relationships"),
    ),
    ("POST /api/relationships", Someone),
    ("POST /api/relationships/offers", Someone),
    ("POST /api/relationships/assignments", Someone),
    (
        "POST /api/relationships/{id}/accept",
        Nobody("a relationship the caller is a party to; the pseudonym is the caller's own"),
    ),
    (
        "POST /api/relationships/{id}/decline",
        Nobody("a relationship the caller is a party to"),
    ),
    (
        "POST /api/relationships/{id}/withdraw",
        Nobody("a relationship the caller is a party to"),
    ),
    (
        "POST /api/relationships/{id}/end",
        Nobody("a relationship the caller is a party to"),
    ),
    ("POST /api/rooms", Someone),
    ("POST /api/rooms/join", Someone),
    (
        "PUT /api/rooms/{id}/settings",
        Nobody("a room's call routing"),
    ),
    ("POST /api/rooms/{id}/invitations", Someone),
    (
        "POST /api/rooms/{id}/invite-codes",
        Nobody("a code for whoever gets it"),
    ),
    (
        "POST /api/rooms/{id}/agreement",
        Nobody("the caller accepts for themselves"),
    ),
    ("POST /api/rooms/{id}/leave", Nobody("the caller leaves")),
    ("POST /api/rooms/{id}/members/{member}/mute", Someone),
    ("POST /api/rooms/{id}/members/{member}/unmute", Someone),
    ("POST /api/rooms/{id}/members/{member}/role", Someone),
    ("POST /api/rooms/{id}/members/{member}/remove", Someone),
    (
        "GET /api/invitations",
        Nobody("the caller's own invitations"),
    ),
    (
        "POST /api/invitations/{room}/decline",
        Nobody("the caller declines a room"),
    ),
    ("GET /api/blocks", Nobody("the caller's own blocks")),
    ("POST /api/blocks", Someone),
    ("DELETE /api/blocks/{conversation}/{member}", Someone),
    ("POST /api/reports", Someone),
    ("GET /api/reports", Nobody("safeguarding's queue: no input")),
    (
        "GET /api/reports/{id}",
        Nobody("a report id, safeguarding only"),
    ),
    (
        "POST /api/reports/{id}/close",
        Nobody("a report id, safeguarding only"),
    ),
    (
        "GET /api/oversight",
        Nobody("the coordinator's content-blind overview: no input"),
    ),
];

pub(super) const FRAMES: &[(&str, Names)] = &[
    ("hello", Nobody("the caller's own token")),
    ("refresh", Nobody("the caller's own token")),
    (
        "send",
        Nobody("a conversation, the caller's text, a thread root seq"),
    ),
    ("edit", Nobody("a seq of the caller's own message")),
    ("delete", Nobody("a seq of the caller's own message")),
    ("read", Nobody("the caller's own read marker")),
    ("typing", Nobody("the caller's own typing")),
    ("history", Nobody("a conversation and seqs")),
    ("threads", Nobody("a conversation")),
    ("ping", Nobody("no input")),
    ("presence", Nobody("the caller's own status")),
    (
        "call.start",
        Nobody("a conversation: rings its members, names none"),
    ),
    ("call.accept", Nobody("a call id")),
    ("call.join", Nobody("a call id")),
    ("call.decline", Nobody("a call id")),
    ("call.leave", Nobody("a call id")),
    (
        "call.receive_limit",
        Nobody("a call id and the caller's own cap, sent to every participant alike"),
    ),
    (
        "call.stats",
        Nobody("a call id and the caller's own figures, kept by nobody"),
    ),
    ("call.description", Someone),
    ("call.candidate", Someone),
    ("call.receive", Someone),
];

/// `METHOD /path` of every operation in the served OpenAPI document.
pub(super) fn served_routes(openapi: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, operations) in openapi["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                routes.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    routes
}

/// Every client frame type of the served AsyncAPI document; a frame whose variants
/// are told apart by `action` (calls) counts each action as its own type.
pub(super) fn served_frames(asyncapi: &Value) -> BTreeSet<String> {
    let schemas = &asyncapi["components"]["schemas"];
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => schemas[r.rsplit('/').next().unwrap()].clone(),
            None => schema.clone(),
        }
    };
    let mut frames = BTreeSet::new();
    for variant in schemas["ClientFrame"]["oneOf"]
        .as_array()
        .expect("variants")
    {
        let name = variant["properties"]["type"]["const"]
            .as_str()
            .expect("every client frame has a constant `type`");
        let actions = resolve(variant)["oneOf"].as_array().cloned();
        match actions {
            Some(actions) => {
                for action in actions {
                    let action = action["properties"]["action"]["const"]
                        .as_str()
                        .expect("a constant `action`");
                    frames.insert(format!("{name}.{action}"));
                }
            }
            None => {
                frames.insert(name.to_owned());
            }
        }
    }
    frames
}

pub(super) fn classified(table: &[(&str, Names)]) -> BTreeSet<String> {
    table.iter().map(|(k, _)| (*k).to_owned()).collect()
}

pub(super) fn naming_someone(table: &[(&str, Names)]) -> BTreeSet<String> {
    table
        .iter()
        .filter(|(_, n)| matches!(n, Someone))
        .map(|(k, _)| (*k).to_owned())
        .collect()
}
