//! Any text a client can send as a WebSocket text frame (the transport has already
//! refused invalid UTF-8 with 1007): decoding never panics, and a refusal echoes at
//! most a short `ref` and, for a known frame type, nothing the client wrote.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mentorhub::protocol::{ClientFrame, ErrorCode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ClientFrame::decode(text) {
        Ok(frame) => {
            let _ = frame.kind();
        }
        Err(error) => {
            if let Some(reference) = &error.reference {
                assert!(reference.len() <= 64, "ref echoed unbounded");
            }
            match error.code {
                // The diagnosis re-parses only what the typed parse refused.
                ErrorCode::InvalidJson => assert!(error.reference.is_none()),
                // Names the unknown type, cut to 32 characters.
                ErrorCode::UnknownType => assert!(error.detail.chars().count() <= 64),
                // Field names and serde's expectations only: plain ASCII, so no
                // non-ASCII value the client sent can be in it.
                ErrorCode::InvalidFrame => assert!(
                    error.detail.is_ascii(),
                    "detail echoes input: {:?}",
                    error.detail
                ),
                other => panic!("unexpected decode code {other:?}"),
            }
        }
    }
});
