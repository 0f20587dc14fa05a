//! Stable error codes and WebSocket close codes.
//!
//! These strings and numbers are part of the public protocol (`server/PROTOCOL.md`):
//! clients branch on them, so they never change meaning. The same [`ErrorCode`] is
//! used in WebSocket `error` frames and in REST error bodies.

use serde::Serialize;

/// Why a request or frame was refused. Every refusal changes nothing on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON (or not a JSON object).
    InvalidJson,
    /// The frame's `type` is missing or not known.
    UnknownType,
    /// A field is missing, has the wrong type or an invalid value.
    InvalidFrame,
    /// A frame other than `hello` arrived before `hello`, or `hello` arrived twice.
    ProtocolViolation,
    /// The token is missing, malformed, badly signed, expired, not yet valid, or for
    /// another issuer or audience. (`detail` never echoes the token.)
    Unauthorized,
    /// The caller's role does not allow this action.
    Forbidden,
    /// The target does not exist **or** the caller may not see it: both get this
    /// same answer, so existence never leaks.
    NotFound,
    /// Too many frames on the connection, or too many actions by the account: wait
    /// `retry_after_ms` and retry.
    RateLimited,
    /// The message body is empty or longer than the limit.
    BodyInvalid,
    /// A REST request body is larger than the route accepts.
    TooLarge,
    /// The REST route exists but not with this HTTP method.
    MethodNotAllowed,
    /// A REST request body not sent as `application/json`.
    UnsupportedMediaType,
    /// The conversation does not accept new messages (pending, ended, read-only).
    ConversationClosed,
    /// The state changed under the request (e.g. a relationship already answered).
    Conflict,
    /// A mentor has no free places.
    CapacityReached,
    /// A room is full.
    RoomFull,
    /// A per-account or per-room cap is reached (devices, rooms, live invite codes,
    /// pending requests); it lifts when the count drops, not by waiting.
    LimitReached,
    /// The member has not accepted the room's confidentiality agreement.
    AgreementRequired,
    /// The member has been muted by the facilitator.
    Muted,
    /// The display name is already used in this conversation.
    NameTaken,
    /// The action is only allowed on one's own messages.
    NotOwnMessage,
    /// The caller already reported this message (one report per person and message).
    AlreadyReported,
    /// A call is not in a state that allows this.
    CallState,
    /// The call already has the most participants allowed.
    CallFull,
    /// Session description or candidate failed validation.
    InvalidSignal,
    /// The storage backend failed; the request was not applied and may be retried.
    Unavailable,
    /// A server-side bug; the request was not applied.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::ProtocolViolation => "protocol_violation",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::BodyInvalid => "body_invalid",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ConversationClosed => "conversation_closed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::CapacityReached => "capacity_reached",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::AgreementRequired => "agreement_required",
            ErrorCode::Muted => "muted",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::NotOwnMessage => "not_own_message",
            ErrorCode::AlreadyReported => "already_reported",
            ErrorCode::CallState => "call_state",
            ErrorCode::CallFull => "call_full",
            ErrorCode::InvalidSignal => "invalid_signal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status used when the same code answers a REST request.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidJson
            | ErrorCode::UnknownType
            | ErrorCode::InvalidFrame
            | ErrorCode::ProtocolViolation
            | ErrorCode::BodyInvalid
            | ErrorCode::InvalidSignal => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::AgreementRequired | ErrorCode::Muted => 403,
            ErrorCode::NotFound | ErrorCode::NotOwnMessage => 404,
            ErrorCode::Conflict
            | ErrorCode::ConversationClosed
            | ErrorCode::CapacityReached
            | ErrorCode::RoomFull
            | ErrorCode::LimitReached
            | ErrorCode::NameTaken
            | ErrorCode::AlreadyReported
            | ErrorCode::CallState
            | ErrorCode::CallFull => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::TooLarge => 413,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// WebSocket close codes used by the server. 1xxx are RFC 6455; 4xxx are ours.
pub mod close {
    /// Server shutting down or draining: reconnect (after the `reconnect` frame's delay).
    pub const GOING_AWAY: u16 = 1001;
    /// A WebSocket protocol error (e.g. an unmasked client frame, reserved bits set).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame that is not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A frame larger than `max_frame_bytes`.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The `hello` token was refused: do not retry with the same token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// No `hello` within the hello timeout.
    pub const HELLO_TIMEOUT: u16 = 4002;
    /// The session's token expired and no `refresh` arrived: sign in again, then resume.
    pub const SESSION_EXPIRED: u16 = 4003;
    /// The first frame was not a valid `hello`.
    pub const PROTOCOL_VIOLATION: u16 = 4004;
    /// The client did not read fast enough and its queue filled: reconnect and resume
    /// from the last sequence numbers seen; nothing is lost.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Nothing (not even a pong) heard from the client within the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4010;
    /// The server's connection limit is reached: retry later.
    pub const SERVER_FULL: u16 = 4013;
    /// The account has its most connections open (`max_devices_per_account`).
    pub const TOO_MANY_DEVICES: u16 = 4014;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::RateLimited,
            ErrorCode::NotFound,
            ErrorCode::ConversationClosed,
            ErrorCode::AgreementRequired,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
