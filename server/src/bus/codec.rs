//! The bytes a node puts on Redis: a compact binary form of [`Envelope`] (and of the
//! liveness probe), so a fan-out costs one small copy and no JSON re-parse.
//!
//! Layout (all integers big-endian; `str` is a u16 length + UTF-8, `blob` a u32 length +
//! bytes):
//!
//! ```text
//! u8 version (1) · u8 kind · str origin · …
//!   kind 0 envelope: u8 topic (0 conversation, 1 account) · str id
//!                    u8 audience (0 members, 1 except, 2 only) [· u16 n · n × str member]
//!                    u8 payload: 0 event  · u64 seq · blob json
//!                                1 frame  · blob json
//!                                2 control · u8 op · op fields
//!                                3 change · u64 seq · u64 target · blob json
//!                                  (an event that changes an earlier message)
//!   kind 1 probe:    u64 nonce
//! · u64 sent at (Unix ms; optional: a decoder ignores trailing bytes, so nodes
//!   that predate it and nodes that write it read each other)
//! ```
//!
//! Every message carries its origin node id: a node ignores its own envelopes (it
//! delivered them locally already) and recognises its own probes. The sending time
//! gives the receive lag operators watch; it never decides anything.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Audience, Control, Envelope, Payload, Topic};
use crate::ids::{AccountId, ConversationId, MemberId};

const VERSION: u8 = 1;

/// One message on the wire between nodes.
#[derive(Clone, Debug)]
pub enum Wire {
    Envelope(Envelope),
    /// A liveness probe a node publishes to its own channel and expects back.
    Probe {
        origin: Arc<str>,
        nonce: u64,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("message truncated")]
    Truncated,
    #[error("unknown version {0}")]
    Version(u8),
    #[error("unknown tag {0} for {1}")]
    Tag(u8, &'static str),
    #[error("invalid UTF-8")]
    Utf8,
}

/// Encodes `wire` stamped with the current time.
pub fn encode(wire: &Wire) -> Bytes {
    encode_sent_at(wire, crate::ids::now_millis())
}

fn encode_sent_at(wire: &Wire, sent_at: i64) -> Bytes {
    let mut out = BytesMut::with_capacity(128);
    out.put_u8(VERSION);
    match wire {
        Wire::Envelope(envelope) => {
            out.put_u8(0);
            put_str(&mut out, &envelope.origin);
            encode_envelope(&mut out, envelope);
        }
        Wire::Probe { origin, nonce } => {
            out.put_u8(1);
            put_str(&mut out, origin);
            out.put_u64(*nonce);
        }
    }
    out.put_u64(sent_at.max(0) as u64);
    out.freeze()
}

fn encode_envelope(out: &mut BytesMut, envelope: &Envelope) {
    match &envelope.topic {
        Topic::Conversation(id) => {
            out.put_u8(0);
            put_str(out, id.as_str());
        }
        Topic::Account(id) => {
            out.put_u8(1);
            put_str(out, id.as_str());
        }
    }
    match &envelope.audience {
        Audience::Members => out.put_u8(0),
        Audience::Device { node, conn } => {
            out.put_u8(3);
            put_str(out, node);
            out.put_u64(*conn);
        }
        Audience::Except(members) | Audience::Only(members) => {
            out.put_u8(if matches!(envelope.audience, Audience::Except(_)) {
                1
            } else {
                2
            });
            out.put_u16(members.len().min(u16::MAX as usize) as u16);
            for member in members.iter().take(u16::MAX as usize) {
                put_str(out, member.as_str());
            }
        }
    }
    match &envelope.payload {
        Payload::Event {
            seq,
            target: None,
            json,
        } => {
            out.put_u8(0);
            out.put_u64(*seq);
            put_blob(out, json);
        }
        Payload::Event {
            seq,
            target: Some(target),
            json,
        } => {
            out.put_u8(3);
            out.put_u64(*seq);
            out.put_u64(*target);
            put_blob(out, json);
        }
        Payload::Frame { json } => {
            out.put_u8(1);
            put_blob(out, json);
        }
        Payload::Control(control) => {
            out.put_u8(2);
            match control {
                Control::Subscribe {
                    conversation,
                    from_seq,
                } => {
                    out.put_u8(0);
                    put_str(out, conversation.as_str());
                    out.put_u64(*from_seq);
                }
                Control::Unsubscribe { conversation } => {
                    out.put_u8(1);
                    put_str(out, conversation.as_str());
                }
                Control::Settings { read_receipts } => {
                    out.put_u8(2);
                    out.put_u8(u8::from(*read_receipts));
                }
                Control::Disconnect { code } => {
                    out.put_u8(3);
                    out.put_u16(*code);
                }
            }
        }
    }
}

pub fn decode(input: &[u8]) -> Result<Wire, DecodeError> {
    decode_sent_at(input).map(|(wire, _)| wire)
}

/// Decodes a message and, when the sender stamped it, when it was sent (Unix ms).
pub fn decode_sent_at(mut input: &[u8]) -> Result<(Wire, Option<i64>), DecodeError> {
    let buf = &mut input;
    let wire = decode_wire(buf)?;
    let sent_at = (buf.len() >= 8).then(|| buf.get_u64() as i64);
    Ok((wire, sent_at))
}

fn decode_wire(buf: &mut &[u8]) -> Result<Wire, DecodeError> {
    let version = get_u8(buf)?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let kind = get_u8(buf)?;
    let origin: Arc<str> = Arc::from(get_str(buf)?);
    match kind {
        0 => decode_envelope(buf, origin).map(Wire::Envelope),
        1 => Ok(Wire::Probe {
            origin,
            nonce: get_u64(buf)?,
        }),
        other => Err(DecodeError::Tag(other, "message kind")),
    }
}

fn decode_envelope(buf: &mut &[u8], origin: Arc<str>) -> Result<Envelope, DecodeError> {
    let topic = match get_u8(buf)? {
        0 => Topic::Conversation(ConversationId::from_stored(get_str(buf)?)),
        1 => Topic::Account(AccountId::from_stored(get_str(buf)?)),
        other => return Err(DecodeError::Tag(other, "topic")),
    };
    let audience = match get_u8(buf)? {
        0 => Audience::Members,
        tag @ (1 | 2) => {
            let count = get_u16(buf)?;
            let mut members = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                members.push(MemberId::from_stored(get_str(buf)?));
            }
            if tag == 1 {
                Audience::Except(members)
            } else {
                Audience::Only(members)
            }
        }
        3 => Audience::Device {
            node: get_str(buf)?,
            conn: get_u64(buf)?,
        },
        other => return Err(DecodeError::Tag(other, "audience")),
    };
    let payload = match get_u8(buf)? {
        0 => {
            let seq = get_u64(buf)?;
            Payload::Event {
                seq,
                target: None,
                json: get_blob(buf)?,
            }
        }
        3 => {
            let seq = get_u64(buf)?;
            let target = get_u64(buf)?;
            Payload::Event {
                seq,
                target: Some(target),
                json: get_blob(buf)?,
            }
        }
        1 => Payload::Frame {
            json: get_blob(buf)?,
        },
        2 => Payload::Control(match get_u8(buf)? {
            0 => Control::Subscribe {
                conversation: ConversationId::from_stored(get_str(buf)?),
                from_seq: get_u64(buf)?,
            },
            1 => Control::Unsubscribe {
                conversation: ConversationId::from_stored(get_str(buf)?),
            },
            2 => Control::Settings {
                read_receipts: get_u8(buf)? != 0,
            },
            3 => Control::Disconnect {
                code: get_u16(buf)?,
            },
            other => return Err(DecodeError::Tag(other, "control")),
        }),
        other => return Err(DecodeError::Tag(other, "payload")),
    };
    Ok(Envelope {
        origin,
        topic,
        audience,
        payload,
    })
}

fn put_str(out: &mut BytesMut, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.put_u16(bytes.len() as u16);
    out.put_slice(bytes);
}

fn put_blob(out: &mut BytesMut, bytes: &[u8]) {
    out.put_u32(bytes.len() as u32);
    out.put_slice(bytes);
}

fn need(buf: &[u8], n: usize) -> Result<(), DecodeError> {
    if buf.len() < n {
        Err(DecodeError::Truncated)
    } else {
        Ok(())
    }
}

fn get_u8(buf: &mut &[u8]) -> Result<u8, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_u8())
}

fn get_u16(buf: &mut &[u8]) -> Result<u16, DecodeError> {
    need(buf, 2)?;
    Ok(buf.get_u16())
}

fn get_u64(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_u64())
}

fn get_str(buf: &mut &[u8]) -> Result<String, DecodeError> {
    let len = usize::from(get_u16(buf)?);
    need(buf, len)?;
    let text = std::str::from_utf8(&buf[..len]).map_err(|_| DecodeError::Utf8)?;
    let owned = text.to_owned();
    buf.advance(len);
    Ok(owned)
}

fn get_blob(buf: &mut &[u8]) -> Result<Bytes, DecodeError> {
    let len = get_u32(buf)? as usize;
    need(buf, len)?;
    let blob = Bytes::copy_from_slice(&buf[..len]);
    buf.advance(len);
    Ok(blob)
}

fn get_u32(buf: &mut &[u8]) -> Result<u32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_u32())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(topic: Topic, audience: Audience, payload: Payload) -> Envelope {
        Envelope {
            origin: Arc::from("node-a"),
            topic,
            audience,
            payload,
        }
    }

    fn round_trip(envelope: Envelope) -> Envelope {
        match decode(&encode(&Wire::Envelope(envelope))).expect("decodes") {
            Wire::Envelope(e) => e,
            other => panic!("not an envelope: {other:?}"),
        }
    }

    #[test]
    fn envelopes_round_trip() {
        let conversation = ConversationId::from_stored("c_abc".into());
        let cases = vec![
            envelope(
                Topic::Conversation(conversation.clone()),
                Audience::Members,
                Payload::Event {
                    seq: 42,
                    target: None,
                    json: Bytes::from_static(b"{\"type\":\"message\"}"),
                },
            ),
            envelope(
                Topic::Conversation(conversation.clone()),
                Audience::Members,
                Payload::Event {
                    seq: 43,
                    target: Some(42),
                    json: Bytes::from_static(b"{\"type\":\"message_edited\"}"),
                },
            ),
            envelope(
                Topic::Conversation(conversation.clone()),
                Audience::Except(vec![MemberId::from_stored("m_1".into())]),
                Payload::Frame {
                    json: Bytes::from_static(b"{}"),
                },
            ),
            envelope(
                Topic::Conversation(conversation.clone()),
                Audience::Device {
                    node: "node-b".into(),
                    conn: 7,
                },
                Payload::Frame {
                    json: Bytes::from_static(b"{\"type\":\"call\"}"),
                },
            ),
            envelope(
                Topic::Account(AccountId::from_stored("dev:ann".into())),
                Audience::Only(vec![
                    MemberId::from_stored("m_1".into()),
                    MemberId::from_stored("m_2".into()),
                ]),
                Payload::Control(Control::Subscribe {
                    conversation: conversation.clone(),
                    from_seq: 7,
                }),
            ),
            envelope(
                Topic::Account(AccountId::from_stored("a".into())),
                Audience::Members,
                Payload::Control(Control::Unsubscribe { conversation }),
            ),
            envelope(
                Topic::Account(AccountId::from_stored("a".into())),
                Audience::Members,
                Payload::Control(Control::Settings {
                    read_receipts: true,
                }),
            ),
            envelope(
                Topic::Account(AccountId::from_stored("a".into())),
                Audience::Members,
                Payload::Control(Control::Disconnect { code: 4001 }),
            ),
        ];
        for case in cases {
            let back = round_trip(case.clone());
            assert_eq!(back.origin, case.origin);
            assert_eq!(back.topic, case.topic);
            assert_eq!(back.audience, case.audience);
            assert_eq!(format!("{:?}", back.payload), format!("{:?}", case.payload));
        }
    }

    #[test]
    fn probes_round_trip() {
        let bytes = encode(&Wire::Probe {
            origin: Arc::from("n1"),
            nonce: 99,
        });
        match decode(&bytes).unwrap() {
            Wire::Probe { origin, nonce } => {
                assert_eq!(&*origin, "n1");
                assert_eq!(nonce, 99);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_sending_time_travels_and_may_be_absent() {
        let probe = Wire::Probe {
            origin: Arc::from("n1"),
            nonce: 5,
        };
        let stamped = encode_sent_at(&probe, 1_700_000_000_123);
        let (_, sent_at) = decode_sent_at(&stamped).unwrap();
        assert_eq!(sent_at, Some(1_700_000_000_123));
        // As a node that predates the stamp writes it.
        let unstamped = &stamped[..stamped.len() - 8];
        let (wire, sent_at) = decode_sent_at(unstamped).unwrap();
        assert!(matches!(wire, Wire::Probe { nonce: 5, .. }));
        assert_eq!(sent_at, None);
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert_eq!(decode(&[]).unwrap_err(), DecodeError::Truncated);
        assert_eq!(decode(&[9, 0]).unwrap_err(), DecodeError::Version(9));
        let good = encode(&Wire::Probe {
            origin: Arc::from("n1"),
            nonce: 1,
        });
        // Everything before the optional sending time is required.
        for cut in 0..good.len() - 8 {
            assert!(decode(&good[..cut]).is_err(), "prefix of {cut} bytes");
        }
        assert!(matches!(
            decode(&[1, 7, 0, 0]).unwrap_err(),
            DecodeError::Tag(7, _)
        ));
    }
}
