//! Frames a client sends over the WebSocket.
//!
//! Parsing is strict on types and required fields and lenient on unknown fields (so a
//! newer client can talk to an older server). Ids arrive as plain strings and are parsed
//! by the domain layer, which answers an unparseable id exactly like an unknown one.

use std::collections::HashMap;

use serde::Deserialize;

use super::codes::ErrorCode;
use crate::ids::Seq;

/// Every frame a client may send. `ref` is an optional client-chosen correlation string
/// echoed in the reply (`ack`, `ok`, `history`, `threads`, `pong`, `error`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Hello(Hello),
    Refresh {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        token: String,
    },
    Send(SendFrame),
    Edit {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        conversation: String,
        seq: Seq,
        body: String,
    },
    Delete {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        conversation: String,
        seq: Seq,
    },
    Read {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        conversation: String,
        seq: Seq,
        #[serde(default)]
        thread: Option<Seq>,
    },
    Typing {
        /// No reply on success; echoed in an `error`, as every refused frame's `ref` is.
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        conversation: String,
        #[serde(default)]
        thread: Option<Seq>,
        #[serde(default = "yes")]
        active: bool,
    },
    History(HistoryQuery),
    Threads {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        conversation: String,
    },
    Ping {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
    },
    /// Sets this connection's own availability (`online` or `away`); others see the
    /// best status over all of the account's connections.
    Presence {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        status: String,
    },
    /// Call signalling (`action` says which; see [`super::call`]).
    Call(super::call::CallRequest),
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Hello {
    /// Echoed only in the `protocol_violation` refusal of a second `hello`.
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
    pub token: String,
    /// Last sequence number seen per conversation id. Conversations not listed start
    /// live (from now); the `welcome` frame says where each conversation stands.
    #[serde(default)]
    pub cursors: HashMap<String, Seq>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SendFrame {
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
    pub conversation: String,
    /// Client-chosen idempotency key (1–64 printable ASCII characters).
    pub client_id: String,
    pub body: String,
    /// The root message's sequence number when this is a thread reply.
    #[serde(default)]
    pub thread: Option<Seq>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct HistoryQuery {
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
    pub conversation: String,
    /// Events strictly before this sequence number (newest first page when both absent).
    #[serde(default)]
    pub before: Option<Seq>,
    /// Events strictly after this sequence number.
    #[serde(default)]
    pub after: Option<Seq>,
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only this thread's root and replies.
    #[serde(default)]
    pub thread: Option<Seq>,
}

/// Why a frame could not be decoded, with the `ref` when it could still be read so
/// the client can match the error to its request.
#[derive(Debug)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub detail: String,
    pub reference: Option<String>,
}

const KNOWN_TYPES: &[&str] = &[
    "hello", "refresh", "send", "edit", "delete", "read", "typing", "history", "threads", "ping",
    "presence", "call",
];

impl ClientFrame {
    /// Decodes one text frame. The fast path is a single typed parse; only a failing
    /// frame is parsed a second time to tell invalid JSON, unknown types and bad fields apart.
    pub fn decode(text: &str) -> Result<ClientFrame, DecodeError> {
        match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => Ok(frame),
            Err(typed_error) => Err(Self::diagnose(text, typed_error)),
        }
    }

    fn diagnose(text: &str, typed_error: serde_json::Error) -> DecodeError {
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(_) => {
                return DecodeError {
                    code: ErrorCode::InvalidJson,
                    detail: "frame is not valid JSON".into(),
                    reference: None,
                };
            }
        };
        let Some(object) = value.as_object() else {
            return DecodeError {
                code: ErrorCode::InvalidJson,
                detail: "frame must be a JSON object".into(),
                reference: None,
            };
        };
        let reference = object
            .get("ref")
            .and_then(|r| r.as_str())
            .filter(|r| r.len() <= 64)
            .map(str::to_owned);
        match object.get("type").and_then(|t| t.as_str()) {
            None => DecodeError {
                code: ErrorCode::UnknownType,
                detail: "frame has no string `type`".into(),
                reference,
            },
            Some(kind) if !KNOWN_TYPES.contains(&kind) => DecodeError {
                code: ErrorCode::UnknownType,
                detail: format!("unknown frame type `{}`", truncate(kind, 32)),
                reference,
            },
            Some(kind) => DecodeError {
                code: ErrorCode::InvalidFrame,
                // serde's message names the field; strip anything after a colon-quoted
                // value so no submitted content (a body, a token) is ever echoed.
                detail: format!("invalid `{kind}` frame: {}", describe(&typed_error)),
                reference,
            },
        }
    }

    /// The frame's type name, for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Hello(_) => "hello",
            ClientFrame::Refresh { .. } => "refresh",
            ClientFrame::Send(_) => "send",
            ClientFrame::Edit { .. } => "edit",
            ClientFrame::Delete { .. } => "delete",
            ClientFrame::Read { .. } => "read",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::History(_) => "history",
            ClientFrame::Threads { .. } => "threads",
            ClientFrame::Ping { .. } => "ping",
            ClientFrame::Presence { .. } => "presence",
            ClientFrame::Call(_) => "call",
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A serde error in words that never contain submitted values: serde quotes offending
/// values (`invalid type: string "…"`), so only the part naming the expectation is kept.
fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return format!("missing field `{field}`");
    }
    // The offending value comes first (`invalid type: string "…", expected u64`) and may
    // itself contain ", expected ": the expectation is after the last one.
    if let Some(pos) = text.rfind(", expected ") {
        let expected = &text[pos + 2..];
        let expected = expected.split(" at line").next().unwrap_or(expected);
        return format!("a field has the wrong type ({expected})");
    }
    "a field has an invalid value".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_send() {
        let frame = ClientFrame::decode(
            r#"{"type":"send","conversation":"c_a","client_id":"x1","body":"hi","ref":"7"}"#,
        )
        .unwrap();
        match frame {
            ClientFrame::Send(send) => {
                assert_eq!(send.client_id, "x1");
                assert_eq!(send.reference.as_deref(), Some("7"));
                assert_eq!(send.thread, None);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(
            ClientFrame::decode("{nope").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            ClientFrame::decode("[1]").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            ClientFrame::decode(r#"{"type":"teleport"}"#)
                .unwrap_err()
                .code,
            ErrorCode::UnknownType
        );
        let bad =
            ClientFrame::decode(r#"{"type":"send","ref":"r1","conversation":"c_a"}"#).unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidFrame);
        assert_eq!(bad.reference.as_deref(), Some("r1"));
        assert!(bad.detail.contains("client_id"), "{}", bad.detail);
    }

    #[test]
    fn error_detail_never_echoes_values() {
        let secret = "canary-value-123";
        let bad = ClientFrame::decode(&format!(
            r#"{{"type":"read","conversation":"c_a","seq":"{secret}"}}"#
        ))
        .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidFrame);
        assert!(!bad.detail.contains(secret), "{}", bad.detail);
    }

    #[test]
    fn error_detail_never_echoes_a_value_that_looks_like_serdes_words() {
        let secret = "canary-value-123";
        let bad = ClientFrame::decode(&format!(
            r#"{{"type":"read","conversation":"c_a","seq":"x, expected {secret}"}}"#
        ))
        .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidFrame);
        assert!(!bad.detail.contains(secret), "{}", bad.detail);
        assert!(bad.detail.ends_with("(expected u64)"), "{}", bad.detail);
    }
}
