//! The wire protocol: every frame, error code and close code (see `server/PROTOCOL.md`).
//!
//! Frames are JSON objects tagged by `type`. This module knows nothing of sockets,
//! storage or HTTP.

pub mod call;
pub mod client;
pub mod codes;
pub mod mentoring;
pub mod notify;
pub mod server;
pub mod sfu;
pub mod system;
pub mod vocabulary;
pub mod webrtc;

pub use client::{ClientFrame, DecodeError};
pub use codes::{ErrorCode, close};
pub use server::{EventFrame, ServerFrame};
