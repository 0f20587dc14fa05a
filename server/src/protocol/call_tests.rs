//! Call frames on the wire: decoding actions, encoding events.

use super::*;
use crate::protocol::webrtc::{IceConfig, IcePolicy, IceServer, SdpKind};
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame};

#[test]
fn decodes_call_actions() {
    let frame = ClientFrame::decode(
        r#"{"type":"call","action":"description","ref":"r1","call":"k_a","to":"m_b",
            "description":{"type":"offer","sdp":"v=0"}}"#,
    )
    .unwrap();
    let ClientFrame::Call(CallRequest::Description {
        reference,
        description,
        ..
    }) = frame
    else {
        panic!("unexpected {frame:?}");
    };
    assert_eq!(reference.as_deref(), Some("r1"));
    assert_eq!(description.kind, SdpKind::Offer);

    let frame = ClientFrame::decode(
        r#"{"type":"call","action":"candidate","call":"k_a","to":"m_b",
            "candidate":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}"#,
    )
    .unwrap();
    assert!(matches!(
        frame,
        ClientFrame::Call(CallRequest::Candidate { .. })
    ));
}

#[test]
fn bad_call_frames_are_invalid_frame_with_ref() {
    for text in [
        r#"{"type":"call","ref":"x","action":"teleport","call":"k_a"}"#,
        r#"{"type":"call","ref":"x","action":"start","conversation":"c_a","media":"smell"}"#,
        r#"{"type":"call","ref":"x","action":"description","call":"k_a","to":"m_b",
            "description":{"type":"rollback","sdp":""}}"#,
        r#"{"type":"call","ref":"x"}"#,
    ] {
        let error = ClientFrame::decode(text).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidFrame, "{text}");
        assert_eq!(error.reference.as_deref(), Some("x"));
    }
}

#[test]
fn events_serialise_as_type_call_with_event() {
    let frame = ServerFrame::Call(CallEvent::Ended {
        call: CallId::from_stored("k_a".into()),
        conversation: ConversationId::from_stored("c_b".into()),
        reason: Reason::InviteTimeout,
    });
    let value: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
    assert_eq!(value["type"], "call");
    assert_eq!(value["event"], "ended");
    assert_eq!(value["reason"], "invite_timeout");

    let view = CallView {
        reference: Some("r".into()),
        call: CallId::from_stored("k_a".into()),
        conversation: ConversationId::from_stored("c_b".into()),
        media: Media::Video,
        topology: Topology::Mesh,
        me: MemberId::from_stored("m_me".into()),
        participants: vec![],
        reconnecting: vec![],
        ringing: vec![MemberId::from_stored("m_x".into())],
        audio_only: vec![],
        receive_limits: vec![],
        ice: IceConfig {
            ice_servers: vec![IceServer {
                urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
                username: Some("1:x".into()),
                credential: Some("c".into()),
            }],
            ice_transport_policy: IcePolicy::Relay,
            expires_at: 1,
        },
        rejoined: false,
    };
    let value: serde_json::Value =
        serde_json::from_str(&ServerFrame::Call(CallEvent::Started(view)).to_json()).unwrap();
    assert_eq!(value["type"], "call");
    assert_eq!(value["event"], "started");
    assert_eq!(value["ref"], "r");
    assert_eq!(value["ice"]["iceTransportPolicy"], "relay");
    assert_eq!(value["ice"]["iceServers"][0]["username"], "1:x");
    assert!(value.get("rejoined").is_none());
}

#[test]
fn reason_names_round_trip() {
    for reason in [
        Reason::InviteTimeout,
        Reason::UserBusy,
        Reason::ConnectionLost,
    ] {
        assert_eq!(Reason::parse(reason.as_str()), Some(reason));
    }
}
