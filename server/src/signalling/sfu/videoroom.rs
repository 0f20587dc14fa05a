//! The VideoRoom plugin's requests and events, typed. Bodies are built here and
//! nowhere else; events are parsed from the plugin's `data` object with every field
//! checked (ids are integers, mids and display names short strings), so the rest of
//! the module never touches raw JSON from Janus.

use serde_json::{Value, json};

use super::wire::bounded;

/// Room and feed ids stay below 2^53 so they survive any JSON number handling.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// How a new room is set up: no recording (and only the secret could change that),
/// private (not listed), subscriptions bound to a publisher (`require_pvtid`, so a
/// kick also cuts the kicked participant's subscriptions), Opus and VP8 (simulcast).
#[derive(Clone, Debug)]
pub struct RoomSpec<'a> {
    pub room: u64,
    pub secret: &'a str,
    pub admin_key: &'a str,
    pub publishers: usize,
    /// Cap on each publisher's video bitrate (REMB), bits per second.
    pub bitrate: u32,
}

pub fn create(spec: &RoomSpec<'_>) -> Value {
    json!({
        "request": "create",
        "room": spec.room,
        "permanent": false,
        "is_private": true,
        "secret": spec.secret,
        "admin_key": spec.admin_key,
        "publishers": spec.publishers,
        "bitrate": spec.bitrate,
        "fir_freq": 10,
        "audiocodec": "opus",
        "videocodec": "vp8",
        "record": false,
        "lock_record": true,
        "require_pvtid": true,
        "notify_joining": false,
    })
}

pub fn destroy(room: u64, secret: &str) -> Value {
    json!({"request": "destroy", "room": room, "secret": secret, "permanent": false})
}

pub fn kick(room: u64, secret: &str, feed: u64) -> Value {
    json!({"request": "kick", "room": room, "secret": secret, "id": feed})
}

pub fn moderate(room: u64, secret: &str, feed: u64, mid: &str, mute: bool) -> Value {
    json!({"request": "moderate", "room": room, "secret": secret, "id": feed, "mid": mid, "mute": mute})
}

pub fn join_publisher(room: u64, feed: u64, display: &str) -> Value {
    json!({"request": "join", "ptype": "publisher", "room": room, "id": feed, "display": display})
}

/// The first offer of a publisher (the answer comes back with `configured`).
pub fn publish() -> Value {
    json!({"request": "publish"})
}

/// A later offer of a publisher: renegotiation or ICE restart.
pub fn configure_publisher() -> Value {
    json!({"request": "configure"})
}

/// A subscription to every stream of `feeds`, each video at `substream`.
pub fn join_subscriber(room: u64, private_id: u64, feeds: &[u64], substream: u8) -> Value {
    json!({
        "request": "join",
        "ptype": "subscriber",
        "room": room,
        "private_id": private_id,
        "use_msid": false,
        "streams": stream_list(feeds, substream),
    })
}

pub fn update(subscribe: &[u64], unsubscribe: &[u64], substream: u8) -> Value {
    let mut body = json!({"request": "update"});
    if !subscribe.is_empty() {
        body["subscribe"] = stream_list(subscribe, substream);
    }
    if !unsubscribe.is_empty() {
        body["unsubscribe"] = unsubscribe.iter().map(|f| json!({"feed": f})).collect();
    }
    body
}

fn stream_list(feeds: &[u64], substream: u8) -> Value {
    feeds
        .iter()
        .map(|f| json!({"feed": f, "substream": substream}))
        .collect()
}

/// The subscriber's answer (with its JSEP).
pub fn start() -> Value {
    json!({"request": "start"})
}

/// Per-stream choices of a subscriber: which simulcast layer, whether to relay at all.
pub fn configure_subscriber(streams: &[StreamChoice]) -> Value {
    let streams: Vec<Value> = streams
        .iter()
        .map(|s| {
            let mut v = json!({"mid": s.mid, "send": s.send});
            if let Some(substream) = s.substream {
                v["substream"] = json!(substream);
            }
            v
        })
        .collect();
    json!({"request": "configure", "streams": streams})
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamChoice {
    pub mid: String,
    pub send: bool,
    pub substream: Option<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Audio,
    Video,
    Data,
}

impl StreamKind {
    fn parse(value: Option<&Value>) -> Option<StreamKind> {
        match value.and_then(Value::as_str)? {
            "audio" => Some(StreamKind::Audio),
            "video" => Some(StreamKind::Video),
            "data" => Some(StreamKind::Data),
            _ => None,
        }
    }
}

/// A publisher in the room and its streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    pub id: u64,
    pub display: Option<String>,
}

/// One m-line of a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubStream {
    pub mid: String,
    pub kind: StreamKind,
    pub feed: Option<u64>,
    pub active: bool,
}

/// What a VideoRoom answer or event says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomEvent {
    Created,
    Destroyed,
    Success,
    /// This publisher handle joined: its private id and the feeds already published.
    Joined {
        private_id: u64,
        publishers: Vec<Feed>,
    },
    /// New feeds became active.
    Publishers(Vec<Feed>),
    /// Another participant's feed went away (unpublished or left).
    Gone(u64),
    /// This participant was kicked out of the room.
    Kicked,
    /// This handle left, unpublished, or its own request completed with no news.
    Done,
    Configured,
    /// A subscription's layout (with an offer in the JSEP).
    Streams(Vec<SubStream>),
    /// A subscription update was queued; the offer follows as an event.
    Updating,
    Started,
    Error {
        code: i64,
        reason: String,
    },
    Other,
}

fn id(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_u64).filter(|v| *v <= MAX_ID)
}

fn feeds(value: Option<&Value>) -> Vec<Feed> {
    let Some(list) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter(|p| !p["dummy"].as_bool().unwrap_or(false))
        .filter_map(|p| {
            Some(Feed {
                id: id(p.get("id"))?,
                display: bounded(p.get("display")),
            })
        })
        .collect()
}

fn sub_streams(value: &Value) -> Vec<SubStream> {
    let Some(list) = value.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|s| {
            Some(SubStream {
                mid: bounded(s.get("mid"))?,
                kind: StreamKind::parse(s.get("type"))?,
                feed: id(s.get("feed_id")),
                active: s["active"].as_bool().unwrap_or(true),
            })
        })
        .collect()
}

impl RoomEvent {
    /// Parses the plugin's `data` object.
    pub fn parse(data: &Value) -> RoomEvent {
        if let Some(code) = data.get("error_code").and_then(Value::as_i64) {
            return RoomEvent::Error {
                code,
                reason: bounded(data.get("error")).unwrap_or_default(),
            };
        }
        let kind = data.get("videoroom").and_then(Value::as_str).unwrap_or("");
        match kind {
            "created" => RoomEvent::Created,
            "destroyed" => RoomEvent::Destroyed,
            "success" => RoomEvent::Success,
            "joined" => match id(data.get("private_id")) {
                Some(private_id) => RoomEvent::Joined {
                    private_id,
                    publishers: feeds(data.get("publishers")),
                },
                None => RoomEvent::Other,
            },
            "attached" | "updated" => match data.get("streams") {
                Some(streams) => RoomEvent::Streams(sub_streams(streams)),
                None => RoomEvent::Done,
            },
            "updating" => RoomEvent::Updating,
            "event" => Self::parse_event(data),
            _ => RoomEvent::Other,
        }
    }

    fn parse_event(data: &Value) -> RoomEvent {
        if data.get("publishers").is_some() {
            return RoomEvent::Publishers(feeds(data.get("publishers")));
        }
        if data.get("configured").is_some() {
            return RoomEvent::Configured;
        }
        if data.get("started").is_some() {
            return RoomEvent::Started;
        }
        for key in ["unpublished", "leaving"] {
            match data.get(key) {
                Some(Value::String(ok)) if ok == "ok" => {
                    return if data["reason"] == "kicked" {
                        RoomEvent::Kicked
                    } else {
                        RoomEvent::Done
                    };
                }
                Some(value) => {
                    if let Some(feed) = id(Some(value)) {
                        return RoomEvent::Gone(feed);
                    }
                }
                None => {}
            }
        }
        if data.get("left").is_some() || data.get("paused").is_some() {
            return RoomEvent::Done;
        }
        RoomEvent::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_events_the_legs_act_on() {
        let joined = RoomEvent::parse(&json!({"videoroom": "joined", "room": 1, "id": 5,
            "private_id": 77, "publishers": [{"id": 9, "display": "m_a", "streams": []},
            {"id": 10, "dummy": true}, {"id": "x"}]}));
        assert_eq!(
            joined,
            RoomEvent::Joined {
                private_id: 77,
                publishers: vec![Feed {
                    id: 9,
                    display: Some("m_a".into())
                }]
            }
        );
        assert_eq!(
            RoomEvent::parse(&json!({"videoroom": "event", "room": 1, "unpublished": 9})),
            RoomEvent::Gone(9)
        );
        assert_eq!(
            RoomEvent::parse(&json!({"videoroom": "event", "leaving": "ok", "reason": "kicked"})),
            RoomEvent::Kicked
        );
        assert_eq!(
            RoomEvent::parse(&json!({"videoroom": "event", "unpublished": "ok"})),
            RoomEvent::Done
        );
        assert_eq!(
            RoomEvent::parse(
                &json!({"videoroom": "event", "error_code": 426, "error": "No such room"})
            ),
            RoomEvent::Error {
                code: 426,
                reason: "No such room".into()
            }
        );
        let attached = RoomEvent::parse(&json!({"videoroom": "attached", "streams": [
            {"mid": "0", "type": "audio", "feed_id": 9, "active": true},
            {"mid": "1", "type": "video", "feed_id": 9},
            {"mid": "2", "type": "smell", "feed_id": 9},
            {"type": "video", "feed_id": 9}]}));
        assert_eq!(
            attached,
            RoomEvent::Streams(vec![
                SubStream {
                    mid: "0".into(),
                    kind: StreamKind::Audio,
                    feed: Some(9),
                    active: true
                },
                SubStream {
                    mid: "1".into(),
                    kind: StreamKind::Video,
                    feed: Some(9),
                    active: true
                },
            ])
        );
        assert_eq!(
            RoomEvent::parse(&json!({"videoroom": "joined", "private_id": -1})),
            RoomEvent::Other
        );
    }

    #[test]
    fn rooms_are_private_unrecorded_and_locked() {
        let body = create(&RoomSpec {
            room: 5,
            secret: "s",
            admin_key: "k",
            publishers: 16,
            bitrate: 1_000_000,
        });
        assert_eq!(body["record"], false);
        assert_eq!(body["lock_record"], true);
        assert_eq!(body["is_private"], true);
        assert_eq!(body["require_pvtid"], true);
        let update = update(&[1], &[], 0);
        assert_eq!(update["subscribe"], json!([{"feed": 1, "substream": 0}]));
        assert!(update.get("unsubscribe").is_none());
    }
}
