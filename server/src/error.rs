//! The one refusal every layer answers with: a stable [`ErrorCode`] for clients and a
//! message for humans.
//!
//! The domain (`mentoring`, `signalling`) refuses with a [`Refusal`]; `http` turns it
//! into a JSON error body with the code's HTTP status and `hub` into an `error` frame,
//! so REST and the WebSocket say the same thing for the same cause. Store failures are
//! mapped here once: a refusal never carries submitted content or a backend's text.

use std::borrow::Cow;

use crate::protocol::ErrorCode;
use crate::store::{StoreError, WriteError};

/// A refused request. Nothing was changed. The message never contains submitted
/// content.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// For `rate_limited`: when to retry.
    pub retry_after: Option<std::time::Duration>,
}

/// What a domain operation answers: its result, or why it was refused.
pub type DomainResult<T> = Result<T, Refusal>;

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Refusal {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The account's action budget is spent: retry after `wait`.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        Refusal {
            retry_after: Some(wait),
            ..Refusal::new(
                ErrorCode::RateLimited,
                "too many actions by this account; retry later",
            )
        }
    }

    /// A cap on a count is reached.
    pub fn limit_reached(message: impl Into<Cow<'static, str>>) -> Self {
        Refusal::new(ErrorCode::LimitReached, message)
    }

    /// A conversation that does not exist and one the caller is not in look alike.
    pub fn not_found() -> Self {
        Refusal::new(
            ErrorCode::NotFound,
            "no such conversation, or you are not a member",
        )
    }

    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Refusal::new(ErrorCode::InvalidFrame, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Refusal::new(ErrorCode::Conflict, message)
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Refusal::new(ErrorCode::Forbidden, message)
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error");
        Refusal::new(
            ErrorCode::Unavailable,
            "storage unavailable; nothing was changed, retry",
        )
    }
}

impl From<WriteError> for Refusal {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::ConversationClosed => Refusal::new(
                ErrorCode::ConversationClosed,
                "this conversation does not accept messages",
            ),
            WriteError::TargetNotFound => Refusal::new(ErrorCode::NotFound, "no such message"),
            WriteError::NotOwnMessage => Refusal::new(
                ErrorCode::NotOwnMessage,
                "only your own messages can be changed",
            ),
            WriteError::Conflict => Refusal::conflict("the state changed; reload and retry"),
            WriteError::NameTaken => Refusal::new(
                ErrorCode::NameTaken,
                "that display name is already used in this conversation",
            ),
            WriteError::CapacityReached => {
                Refusal::new(ErrorCode::CapacityReached, "this mentor has no free place")
            }
            WriteError::RoomFull => Refusal::new(ErrorCode::RoomFull, "this room is full"),
            WriteError::LimitReached => Refusal::limit_reached("a limit is reached"),
            WriteError::NotMember => Refusal::not_found(),
            WriteError::Muted => Refusal::new(
                ErrorCode::Muted,
                "the facilitator has muted you in this room",
            ),
            WriteError::AgreementRequired => Refusal::new(
                ErrorCode::AgreementRequired,
                "accept the room's confidentiality agreement first",
            ),
            WriteError::Refused(refusal) => refusal,
            WriteError::Store(e) => e.into(),
        }
    }
}
