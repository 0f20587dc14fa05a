//! The Janus API's JSON: the envelopes Mentorhub sends and what it accepts back.
//!
//! Janus is our own infrastructure, but what it sends is still input: a message is
//! decoded into these types (unknown fields ignored, wrong types refused), strings are
//! size-bounded before they are kept, and session descriptions are validated like a
//! client's before they reach anyone ([`super::super::sdp`]). Nothing here logs a
//! message: they carry SDP, and requests carry the API secret.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The WebSocket subprotocol of the Janus API.
pub const SUBPROTOCOL: &str = "janus-protocol";
/// The one plugin Mentorhub attaches to.
pub const VIDEOROOM: &str = "janus.plugin.videoroom";
/// The largest message accepted from Janus: a subscription offer for a full room.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024;
/// Longest text field kept from a Janus message (reasons, mids, display names).
const MAX_TEXT: usize = 256;

/// What a request asks of the Janus core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Create,
    Attach,
    Message,
    Trickle,
    Keepalive,
    Detach,
    Destroy,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Attach => "attach",
            Verb::Message => "message",
            Verb::Trickle => "trickle",
            Verb::Keepalive => "keepalive",
            Verb::Detach => "detach",
            Verb::Destroy => "destroy",
        }
    }

    /// Trickle and keep-alive are answered with an `ack` and nothing more; every other
    /// request ends with `success`, `error` or (plugin messages) an `event`.
    pub fn ack_is_final(self) -> bool {
        matches!(self, Verb::Trickle | Verb::Keepalive)
    }
}

/// One request, as serialised onto the socket.
#[derive(Serialize)]
pub struct Request<'a> {
    pub janus: &'static str,
    pub transaction: &'a str,
    pub apisecret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<&'static str>,
    /// `attach`: a random label per handle. Janus passes it to its TURN REST API as the
    /// TURN user, so each peer connection has its own allocation quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opaque_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsep: Option<&'a Jsep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<&'a Value>,
}

/// A session description as Janus carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jsep {
    #[serde(rename = "type")]
    pub kind: JsepKind,
    pub sdp: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsepKind {
    Offer,
    Answer,
}

/// The kinds of message Janus sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Success,
    Error,
    Ack,
    Event,
    Webrtcup,
    Media,
    Slowlink,
    Hangup,
    Detached,
    Timeout,
    Trickle,
    #[serde(other)]
    Other,
}

/// Any message from Janus.
#[derive(Debug, Deserialize)]
pub struct Incoming {
    pub janus: Kind,
    #[serde(default)]
    pub transaction: Option<String>,
    /// The handle an event concerns.
    #[serde(default)]
    pub sender: Option<u64>,
    #[serde(default)]
    pub session_id: Option<u64>,
    /// `create` / `attach`: the new session or handle.
    #[serde(default)]
    pub data: Option<NewId>,
    #[serde(default)]
    pub error: Option<ApiError>,
    #[serde(default)]
    pub plugindata: Option<PluginData>,
    #[serde(default)]
    pub jsep: Option<Jsep>,
}

#[derive(Debug, Deserialize)]
pub struct NewId {
    pub id: u64,
}

#[derive(Debug, Deserialize)]
pub struct ApiError {
    pub code: i64,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize)]
pub struct PluginData {
    pub plugin: String,
    pub data: Value,
}

impl Incoming {
    /// Decodes one text message; `None` for anything that is not a Janus message.
    pub fn decode(text: &str) -> Option<Incoming> {
        if text.len() > MAX_MESSAGE_BYTES {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// A short text field from Janus, refused when over the size bound.
pub fn bounded(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| s.len() <= MAX_TEXT && !s.chars().any(char::is_control))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_janus_sends_and_ignores_the_rest() {
        let message = Incoming::decode(
            r#"{"janus":"event","session_id":1,"sender":2,"transaction":"t",
                "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event"}},
                "jsep":{"type":"answer","sdp":"v=0"},"extra":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(message.janus, Kind::Event);
        assert_eq!(message.sender, Some(2));
        assert_eq!(message.jsep.unwrap().kind, JsepKind::Answer);

        let unknown = Incoming::decode(r#"{"janus":"server_info"}"#).unwrap();
        assert_eq!(unknown.janus, Kind::Other);
        for bad in [
            r#"{"janus":5}"#,
            r#"{"janus":"event","sender":"two"}"#,
            r#"{"janus":"event","jsep":{"type":"rollback","sdp":""}}"#,
            "not json",
        ] {
            assert!(Incoming::decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bounded_text_refuses_long_or_control_characters() {
        assert_eq!(bounded(Some(&Value::from("m_1"))), Some("m_1".into()));
        assert_eq!(bounded(Some(&Value::from("a\nb"))), None);
        assert_eq!(bounded(Some(&Value::from("x".repeat(300)))), None);
        assert_eq!(bounded(Some(&Value::from(3))), None);
        assert_eq!(bounded(None), None);
    }
}
