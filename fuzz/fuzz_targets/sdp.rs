//! Session descriptions as a participant sends them: validation never panics, and what
//! the relay-only sanitiser makes of a valid description still validates and, read by
//! the same parser, carries no address but the unspecified one and no candidate but a
//! relay whose related address is blanked.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use mentorhub::signalling::{candidate, sdp};
use webrtc::ice::candidate::Candidate as _;
use webrtc::ice::candidate::candidate_base::unmarshal_candidate;
use webrtc::sdp::SessionDescription;

const MAX_SDP_BYTES: usize = 16 * 1024;

/// Blank, or empty: the webrtc parser reports a relay candidate without `raddr` as "".
fn unspecified(address: &str) -> bool {
    matches!(address, "0.0.0.0" | "::" | "")
}

fn is_candidate_line(line: &str) -> bool {
    line.get(..12)
        .is_some_and(|head| head.eq_ignore_ascii_case("a=candidate:"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sdp::media_mids(text);
    if sdp::validate(text, MAX_SDP_BYTES).is_err() {
        return;
    }
    let clean = sdp::relay_only(text);
    // Blanking an address can lengthen it: only the shape is checked again.
    if let Err(error) = sdp::validate(&clean, usize::MAX) {
        panic!("sanitised description no longer validates ({error:?}):\n{clean}");
    }
    let parsed = SessionDescription::unmarshal(&mut Cursor::new(clean.as_bytes()))
        .expect("validated, so it parses");
    assert!(
        unspecified(&parsed.origin.unicast_address),
        "origin address left: {clean}"
    );
    let connections = parsed.connection_information.iter().chain(
        parsed
            .media_descriptions
            .iter()
            .filter_map(|m| m.connection_information.as_ref()),
    );
    for connection in connections {
        if let Some(address) = &connection.address {
            assert!(unspecified(&address.address), "c= address left: {clean}");
        }
    }
    let attributes = parsed
        .attributes
        .iter()
        .chain(parsed.media_descriptions.iter().flat_map(|m| &m.attributes));
    for attribute in attributes {
        let value = attribute.value.as_deref().unwrap_or_default();
        if attribute.key.eq_ignore_ascii_case("rtcp") {
            let fields: Vec<&str> = value.split_whitespace().collect();
            if let Some(address) = fields.get(3) {
                assert!(unspecified(address), "rtcp address left: {clean}");
            }
        }
    }
    for line in clean.lines().filter(|l| is_candidate_line(l)) {
        let value = &line["a=candidate:".len()..];
        let ours = candidate::parse(value).expect("a sanitised candidate parses");
        assert!(ours.is_relay(), "non-relay candidate left: {line}");
        let theirs = unmarshal_candidate(value).expect("a sanitised candidate parses");
        if let Some(related) = theirs.related_address() {
            assert!(
                unspecified(&related.address),
                "related address left: {line}"
            );
        }
    }
});
