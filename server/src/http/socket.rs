//! The upgraded axum WebSocket as a hub [`Transport`]: the only place the hub's frames
//! meet the web framework's.
//!
//! [`Transport`]: crate::hub::transport::Transport

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::hub::transport::{Gone, Incoming, Outgoing, ReadError};

/// Adds nothing to the socket's size: idle connections pay only for the socket.
pub(super) struct AxumSocket(pub WebSocket);

impl Stream for AxumSocket {
    type Item = Result<Incoming, ReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(Pin::new(&mut self.0).poll_next(cx));
        Poll::Ready(item.map(|read| read.map(incoming).map_err(read_error)))
    }
}

impl Sink<Outgoing> for AxumSocket {
    type Error = Gone;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Gone>> {
        Pin::new(&mut self.0).poll_ready(cx).map_err(|_| Gone)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Outgoing) -> Result<(), Gone> {
        let message = outgoing(item)?;
        Pin::new(&mut self.0).start_send(message).map_err(|_| Gone)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Gone>> {
        Pin::new(&mut self.0).poll_flush(cx).map_err(|_| Gone)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Gone>> {
        Pin::new(&mut self.0).poll_close(cx).map_err(|_| Gone)
    }
}

fn incoming(message: Message) -> Incoming {
    match message {
        // Tungstenite has checked a text frame is UTF-8.
        Message::Text(text) => Incoming::Text(Bytes::from(text)),
        Message::Binary(_) => Incoming::Binary,
        Message::Ping(_) => Incoming::Ping,
        Message::Pong(_) => Incoming::Pong,
        Message::Close(_) => Incoming::Close,
    }
}

fn outgoing(item: Outgoing) -> Result<Message, Gone> {
    Ok(match item {
        // Our frames are serialised from `String`s, so this never fails.
        Outgoing::Text(json) => Message::Text(Utf8Bytes::try_from(json).map_err(|_| Gone)?),
        Outgoing::Ping => Message::Ping(Bytes::new()),
        Outgoing::Close { code, reason } => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    })
}

/// A frame over the size limit surfaces as tungstenite's capacity error, a text frame
/// that is not UTF-8 as its UTF-8 error; anything that is not the peer breaking the
/// protocol is an I/O failure.
fn read_error(error: axum::Error) -> ReadError {
    match error.into_inner().downcast_ref::<WsError>() {
        Some(WsError::Capacity(_)) => ReadError::TooBig,
        Some(WsError::Utf8(_)) => ReadError::NotUtf8,
        Some(WsError::Protocol(_)) => ReadError::Protocol,
        _ => ReadError::Gone,
    }
}
