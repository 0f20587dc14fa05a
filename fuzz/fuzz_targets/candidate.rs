//! Trickled ICE candidates: parsing never panics, agrees with the `webrtc` parser on the
//! type, and the relay-only rewrite of a relay candidate still parses as a relay with
//! every related address blanked, as any reader of its fields would see it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mentorhub::signalling::candidate;
use webrtc::ice::candidate::Candidate as _;
use webrtc::ice::candidate::candidate_base::unmarshal_candidate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ours) = candidate::parse(text) else {
        return;
    };
    let body = text.strip_prefix("candidate:").unwrap_or(text);
    let theirs = unmarshal_candidate(body).expect("accepted, so the webrtc parser reads it");
    assert_eq!(theirs.candidate_type(), ours.kind);
    if !ours.is_relay() {
        return;
    }
    let rewritten = ours.without_related_address();
    let again = candidate::parse(&rewritten).expect("the rewrite parses");
    assert!(again.is_relay());
    let theirs = unmarshal_candidate(&rewritten).expect("the rewrite parses");
    // The webrtc parser reports a relay candidate without `raddr` as an empty address.
    if let Some(related) = theirs.related_address() {
        assert!(matches!(related.address.as_str(), "0.0.0.0" | ""), "{rewritten}");
    }
    // Whatever position a reader looks for it at: after each `raddr` only the blank.
    let fields: Vec<&str> = rewritten.split(' ').collect();
    for pair in fields.windows(2) {
        if pair[0] == "raddr" {
            assert_eq!(pair[1], "0.0.0.0", "{rewritten}");
        }
    }
    assert!(
        !rewritten.chars().any(|c| c.is_whitespace() && c != ' '),
        "{rewritten:?}"
    );
});
