//! `hello` frames with cursors of every JSON shape. The input is lines: the `ref` (empty:
//! none), the token, then one `conversation=value` line per cursor with the value as
//! raw JSON. The frame decodes exactly when every cursor is a sequence number (an
//! integer from 0 to 2^64-1), with the cursors as sent (a repeated conversation: the
//! last one); a refusal carries a short `ref` and never the token.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use mentorhub::protocol::{ClientFrame, ErrorCode};
use serde_json::{Value, json};

const CANARY: &str = "tok\u{e9}n-canary:";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let reference = lines.next().filter(|r| !r.is_empty()).map(str::to_owned);
    let token = format!("{CANARY}{}", lines.next().unwrap_or_default());
    let mut entries = Vec::new();
    let mut expected: HashMap<String, u64> = HashMap::new();
    let mut valid = true;
    for line in lines {
        let Some((conversation, raw)) = line.split_once('=') else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(raw) else {
            continue;
        };
        match value.as_u64() {
            Some(seq) => {
                expected.insert(conversation.to_owned(), seq);
            }
            None => {
                valid = false;
                expected.remove(conversation);
            }
        }
        entries.push(format!("{}:{raw}", json!(conversation)));
    }
    let reference_field = match &reference {
        Some(r) => format!(r#""ref":{},"#, json!(r)),
        None => String::new(),
    };
    let frame = format!(
        r#"{{"type":"hello",{reference_field}"token":{},"cursors":{{{}}}}}"#,
        json!(token),
        entries.join(",")
    );
    match ClientFrame::decode(&frame) {
        Ok(ClientFrame::Hello(hello)) => {
            assert!(valid, "accepted invalid cursors: {frame}");
            assert_eq!(hello.token, token);
            assert_eq!(hello.cursors, expected, "{frame}");
            assert_eq!(hello.reference, reference);
        }
        Ok(other) => panic!("hello decoded as {}", other.kind()),
        Err(error) => {
            assert!(!valid, "refused valid cursors ({}): {frame}", error.detail);
            assert_eq!(error.code, ErrorCode::InvalidFrame, "{frame}");
            let short = reference.filter(|r| r.len() <= 64);
            assert_eq!(error.reference, short);
            assert!(!error.detail.contains(CANARY), "token echoed");
        }
    }
});
