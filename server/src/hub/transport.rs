//! What the hub reads from and writes to one client, independent of the web framework.
//!
//! A connection is any [`Transport`]: a `Stream` of [`Incoming`] frames and a `Sink` of
//! [`Outgoing`] ones. The HTTP layer adapts an upgraded WebSocket to it; unit tests drive
//! the hub through channels. Control-frame payloads are left out: the hub only needs to
//! know that the peer was heard.

use bytes::Bytes;
use futures_util::{Sink, Stream};

use crate::protocol::close;

/// A frame from the client.
#[derive(Debug)]
pub enum Incoming {
    /// A text frame's payload. The transport has checked it is UTF-8 (WebSocket text
    /// frames must be); the hub still refuses one that is not.
    Text(Bytes),
    Binary,
    Ping,
    Pong,
    Close,
}

/// A frame to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Serialised JSON (always UTF-8: our frames are serialised from `String`s).
    Text(Bytes),
    Ping,
    Close {
        code: u16,
        reason: &'static str,
    },
}

impl Outgoing {
    pub fn text(json: impl Into<Bytes>) -> Self {
        Outgoing::Text(json.into())
    }
}

/// Why reading failed. The first three are the peer breaking the rules and get a close
/// code; `Gone` is an I/O failure: there is nobody left to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    TooBig,
    NotUtf8,
    Protocol,
    Gone,
}

impl ReadError {
    /// The close code and reason for a peer that broke the rules (RFC 6455 §7.4.1):
    /// a frame over the limit (1009), a text frame that is not UTF-8 (1007), any other
    /// protocol error (1002).
    pub fn close(self) -> Option<(u16, &'static str)> {
        match self {
            ReadError::TooBig => Some((close::MESSAGE_TOO_BIG, "frame too big")),
            ReadError::NotUtf8 => Some((close::INVALID_PAYLOAD, "text frame is not UTF-8")),
            ReadError::Protocol => Some((close::PROTOCOL_ERROR, "WebSocket protocol error")),
            ReadError::Gone => None,
        }
    }
}

/// A text frame's payload as text.
pub fn text(payload: &Bytes) -> Result<&str, ReadError> {
    std::str::from_utf8(payload).map_err(|_| ReadError::NotUtf8)
}

/// Writing failed: the peer is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// A client connection as the hub sees it.
pub trait Transport:
    Stream<Item = Result<Incoming, ReadError>> + Sink<Outgoing, Error = Gone> + Send + Unpin + 'static
{
}

impl<T> Transport for T where
    T: Stream<Item = Result<Incoming, ReadError>>
        + Sink<Outgoing, Error = Gone>
        + Send
        + Unpin
        + 'static
{
}
