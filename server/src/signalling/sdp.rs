//! Session descriptions: size-limited, parsed with the `webrtc` crate's SDP parser
//! (every `a=candidate` line with its candidate parser), and — for a relay-only
//! member — stripped of everything that could carry the member's IP address.
//!
//! Sanitising edits lines of the original text instead of re-serialising the parsed
//! description, so everything it does not touch reaches the peer byte for byte.

use std::io::Cursor;

use webrtc::sdp::SessionDescription;

use super::SignalError;
use super::candidate;

/// Checks that `sdp` is at most `max_bytes` long and parses, candidates included.
pub fn validate(sdp: &str, max_bytes: usize) -> Result<(), SignalError> {
    if sdp.len() > max_bytes {
        return Err(SignalError::SdpTooLarge(max_bytes));
    }
    if sdp
        .chars()
        .any(|c| c.is_control() && c != '\r' && c != '\n' && c != '\t')
    {
        return Err(SignalError::Sdp("contains control characters"));
    }
    // A carriage return ends a line only before a line feed: a lone one would be a line
    // break to some parsers and part of a line to others (and to the sanitiser).
    if sdp
        .split('\n')
        .any(|line| line.trim_end_matches('\r').contains('\r'))
    {
        return Err(SignalError::Sdp(
            "contains a carriage return outside a line ending",
        ));
    }
    let parsed = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes()))
        .map_err(|_| SignalError::Sdp("does not parse"))?;
    let session = parsed.attributes.iter();
    let media = parsed.media_descriptions.iter().flat_map(|m| &m.attributes);
    for attribute in session.chain(media) {
        if attribute.key.eq_ignore_ascii_case("candidate") {
            let value = attribute.value.as_deref().unwrap_or_default();
            candidate::parse(value)?;
        }
    }
    Ok(())
}

/// Rewrites a validated description to or from a relay-only member: drops every
/// candidate that is not `typ relay`, blanks the related address of those that are,
/// replaces the connection and origin addresses (`c=`, `o=`, `a=rtcp:`) with the
/// unspecified address, and drops `a=remote-candidates` (the other side's addresses as
/// this side saw them), experimental `a=x-…` attributes and `i=` titles (free text
/// either may carry an address).
pub fn relay_only(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let (content, ending) = split_ending(line);
        if let Some(rewritten) = sanitise_line(content) {
            out.push_str(&rewritten);
            out.push_str(ending);
        }
    }
    out
}

/// The media sections of a (validated) description: kind (`audio`, `video`, …),
/// mid, and whether the section sends (`sendrecv`/`sendonly`, the default).
pub fn media_sections(sdp: &str) -> Vec<MediaSection> {
    let mut sections: Vec<MediaSection> = Vec::new();
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            let mut fields = rest.split(' ');
            let kind = fields.next().unwrap_or_default().to_owned();
            // Port 0: a rejected or stopped section.
            let sends = fields.next() != Some("0");
            sections.push(MediaSection {
                kind,
                mid: None,
                sends,
            });
        } else if let Some(section) = sections.last_mut() {
            if let Some(mid) = line.strip_prefix("a=mid:") {
                section.mid = Some(mid.trim().to_owned());
            } else if matches!(line.trim(), "a=recvonly" | "a=inactive") {
                section.sends = false;
            }
        }
    }
    sections
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSection {
    pub kind: String,
    pub mid: Option<String>,
    pub sends: bool,
}

/// Whether a (validated) description sends a video section.
pub fn sends_video(sdp: &str) -> bool {
    media_sections(sdp)
        .iter()
        .any(|s| s.kind == "video" && s.sends)
}

/// The mids of the audio and video sections a description sends.
pub fn media_mids(sdp: &str) -> Vec<String> {
    media_sections(sdp)
        .into_iter()
        .filter(|s| s.sends && (s.kind == "audio" || s.kind == "video"))
        .filter_map(|s| s.mid)
        .collect()
}

fn split_ending(line: &str) -> (&str, &str) {
    if let Some(content) = line.strip_suffix("\r\n") {
        (content, "\r\n")
    } else if let Some(content) = line.strip_suffix('\n') {
        (content, "\n")
    } else {
        (line, "")
    }
}

/// `None` drops the line.
fn sanitise_line(line: &str) -> Option<String> {
    if strip_prefix_ignore_case(line, "a=remote-candidates").is_some()
        || strip_prefix_ignore_case(line, "a=x-").is_some()
        || line.starts_with("i=")
    {
        return None;
    }
    // Attribute names in any case: whatever a peer might read as a candidate is one.
    if let Some(value) = strip_prefix_ignore_case(line, "a=candidate:") {
        // Validated before: a line that no longer parses is dropped, never passed on.
        let parsed = candidate::parse(value).ok()?;
        return parsed
            .is_relay()
            .then(|| format!("a=candidate:{}", parsed.without_related_address()));
    }
    if let Some(value) = line.strip_prefix("c=") {
        return Some(format!("c={}", replace_last_address(value, 2)));
    }
    if let Some(value) = line.strip_prefix("o=") {
        return Some(format!("o={}", replace_last_address(value, 5)));
    }
    if let Some(value) = strip_prefix_ignore_case(line, "a=rtcp:") {
        return Some(format!("a=rtcp:{}", replace_last_address(value, 3)));
    }
    Some(line.to_owned())
}

fn strip_prefix_ignore_case<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &line[prefix.len()..])
}

/// Replaces the address in `<… nettype addrtype address>` fields, where the address is
/// the field at `position` (0-based) and the address type the one before it. Fields
/// are split on any whitespace, as the parser that validated the line splits them
/// (a tab or a double space must not hide the address), and joined by single spaces.
/// Fields that do not have that shape are left alone (the parser accepted them).
fn replace_last_address(value: &str, position: usize) -> String {
    let mut fields: Vec<&str> = value.split_whitespace().collect();
    if fields.len() <= position || position == 0 {
        return value.to_owned();
    }
    let unspecified = if fields[position - 1].eq_ignore_ascii_case("IP6") {
        "::"
    } else {
        "0.0.0.0"
    };
    // `c=` may carry a multicast TTL or count after a slash; no unicast form does.
    fields[position] = unspecified;
    fields.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape `webrtc` 0.17 peers produce, with candidates of every type added.
    const OFFER: &str = "v=0\r\n\
o=- 5523523523523 2 IN IP4 192.0.2.2\r\n\
s=-\r\n\
t=0 0\r\n\
a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:98:5F:AA:FA:8D:0F:C7:42:3E:AE:7A:6F:F9:18:E1:0F:6E:0E:2D:3B:F8\r\n\
a=extmap-allow-mixed\r\n\
a=group:BUNDLE 0\r\n\
m=application 51234 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 192.0.2.2\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sendrecv\r\n\
a=sctp-port:5000\r\n\
a=ice-ufrag:XlGKyzkOzgTPSBdb\r\n\
a=ice-pwd:CAJnBUsRcXEDunyyRfnJmpQpFRNhgJJT\r\n\
a=rtcp:51234 IN IP4 192.0.2.2\r\n\
a=candidate:1966762133 1 udp 2130706431 192.0.2.2 51234 typ host\r\n\
a=candidate:233762139 1 udp 2130706431 fd00::2 51235 typ host\r\n\
a=candidate:1 1 udp 1694498815 198.51.100.4 6000 typ srflx raddr 192.0.2.2 rport 51234\r\n\
a=candidate:3 1 udp 16777215 127.0.0.1 40001 typ relay raddr 192.0.2.2 rport 51234\r\n\
a=end-of-candidates\r\n";

    #[test]
    fn validates_real_offer() {
        validate(OFFER, 16 * 1024).unwrap();
        validate(&OFFER.replace("\r\n", "\n"), 16 * 1024).unwrap();
    }

    #[test]
    fn refuses_oversized_and_malformed() {
        assert!(matches!(
            validate(OFFER, 200),
            Err(SignalError::SdpTooLarge(200))
        ));
        for bad in [
            "",
            "hello",
            "v=0\r\nthis is not sdp\r\n",
            &OFFER.replace("typ host", "typ teleport"),
            &OFFER.replace("o=- 5523523523523 2", "o=- notanumber 2"),
            &OFFER.replace("v=0", "v=0\u{0}"),
        ] {
            assert!(validate(bad, 16 * 1024).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn relay_only_keeps_only_relay_candidates_and_no_host_address() {
        let clean = relay_only(OFFER);
        validate(&clean, 16 * 1024).unwrap();
        for address in ["192.0.2.2", "fd00::2", "198.51.100.4"] {
            assert!(!clean.contains(address), "{address} leaked:\n{clean}");
        }
        let candidates: Vec<&str> = clean
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .collect();
        assert_eq!(candidates.len(), 1);
        assert!(candidates[0].contains("typ relay"));
        assert!(candidates[0].contains("127.0.0.1 40001"));
        assert!(clean.contains("c=IN IP4 0.0.0.0\r\n"));
        assert!(clean.contains("o=- 5523523523523 2 IN IP4 0.0.0.0\r\n"));
        assert!(clean.contains("a=rtcp:51234 IN IP4 0.0.0.0\r\n"));
        // Untouched lines pass byte for byte.
        assert!(clean.contains("a=ice-pwd:CAJnBUsRcXEDunyyRfnJmpQpFRNhgJJT\r\n"));
        assert!(clean.ends_with("a=end-of-candidates\r\n"));
    }

    #[test]
    fn relay_only_drops_remote_candidates_experimental_attributes_and_titles() {
        let offer = OFFER
            .replace("s=-\r\n", "s=-\r\ni=laptop at 192.0.2.2\r\n")
            .replace(
                "a=sctp-port:5000\r\n",
                "a=sctp-port:5000\r\na=remote-candidates:1 198.51.100.8 6001\r\n\
                 a=X-Host-Addr:192.0.2.2\r\na=x-google-flag:conference\r\n",
            );
        validate(&offer, 16 * 1024).unwrap();
        let clean = relay_only(&offer);
        validate(&clean, 16 * 1024).unwrap();
        for gone in ["192.0.2.2", "198.51.100.8", "i=", "remote-candidates", "x-"] {
            assert!(
                !clean
                    .to_ascii_lowercase()
                    .contains(&gone.to_ascii_lowercase()),
                "{gone} left:\n{clean}"
            );
        }
        assert!(clean.contains("a=sctp-port:5000\r\n"));
    }

    #[test]
    fn relay_only_handles_ipv6_connection_lines() {
        let offer = OFFER.replace("c=IN IP4 192.0.2.2", "c=IN IP6 fd00::2");
        let clean = relay_only(&offer);
        assert!(clean.contains("c=IN IP6 ::\r\n"));
        assert!(!clean.contains("fd00::2"));
    }

    #[test]
    fn relay_only_finds_addresses_behind_any_whitespace() {
        for (from, to) in [
            ("c=IN IP4 192.0.2.2", "c=IN IP4\t192.0.2.2"),
            ("c=IN IP4 192.0.2.2", "c=IN  IP4  192.0.2.2"),
            (
                "o=- 5523523523523 2 IN IP4 192.0.2.2",
                "o=-\t5523523523523 2 IN IP4\t192.0.2.2",
            ),
            (
                "a=rtcp:51234 IN IP4 192.0.2.2",
                "a=rtcp:51234 IN IP4\t192.0.2.2",
            ),
            (
                "a=rtcp:51234 IN IP4 192.0.2.2",
                "a=RTCP:51234 IN IP4 192.0.2.2",
            ),
        ] {
            let offer = OFFER.replace(from, to);
            validate(&offer, 16 * 1024).unwrap();
            let clean = relay_only(&offer);
            assert!(!clean.contains("192.0.2.2"), "{to:?} leaked:\n{clean}");
        }
    }

    #[test]
    fn relay_only_drops_candidates_named_in_any_case() {
        let offer = OFFER.replace(
            "a=candidate:1966762133 1 udp 2130706431 192.0.2.2 51234 typ host",
            "a=CANDIDATE:1966762133 1 udp 2130706431 192.0.2.2 51234 typ host",
        );
        validate(&offer, 16 * 1024).unwrap();
        let clean = relay_only(&offer);
        assert!(!clean.to_ascii_lowercase().contains("typ host"), "{clean}");
        let bad = OFFER.replace("a=sendrecv", "a=CANDIDATE:not a candidate");
        assert!(validate(&bad, 16 * 1024).is_err());
    }

    #[test]
    fn refuses_a_lone_carriage_return() {
        let offer = OFFER.replace("a=sendrecv\r\n", "a=sendrecv\rc=IN IP4 192.0.2.2\r\n");
        assert!(matches!(
            validate(&offer, 16 * 1024),
            Err(SignalError::Sdp(_))
        ));
    }

    #[test]
    fn media_sections_say_what_a_description_sends() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n\
m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n";
        let sections = media_sections(sdp);
        assert_eq!(sections.len(), 4);
        assert_eq!(sections[0].mid.as_deref(), Some("0"));
        assert!(sections[0].sends);
        assert!(!sections[1].sends, "recvonly");
        assert!(!sections[2].sends, "port 0");
        assert_eq!(media_mids(sdp), vec!["0".to_owned()]);
    }
}
