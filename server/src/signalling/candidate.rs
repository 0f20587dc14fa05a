//! ICE candidates: validated with the `webrtc` crate's candidate parser, and rewritten
//! for relay-only members so that nothing but a TURN relay address leaves them.
//!
//! A candidate line is `foundation component transport priority address port typ TYPE
//! [raddr ADDR rport PORT] [extensions…]` (RFC 8839 §5.1), with or without the
//! `candidate:` prefix trickled candidates carry.

use webrtc::ice::candidate::CandidateType;
use webrtc::ice::candidate::candidate_base::unmarshal_candidate;

use super::SignalError;

/// Longer than any real candidate line (about 150 bytes with every extension).
pub const MAX_CANDIDATE_BYTES: usize = 512;

/// A candidate line that parsed, with its type.
#[derive(Debug)]
pub struct Candidate<'a> {
    /// The line without the `candidate:` prefix.
    body: &'a str,
    pub kind: CandidateType,
}

/// Parses a candidate with or without its `candidate:` prefix.
pub fn parse(raw: &str) -> Result<Candidate<'_>, SignalError> {
    if raw.len() > MAX_CANDIDATE_BYTES {
        return Err(SignalError::Candidate("longer than 512 bytes"));
    }
    if raw.chars().any(char::is_control) {
        return Err(SignalError::Candidate("contains control characters"));
    }
    // Fields are separated by spaces (RFC 8839). Any other whitespace would be read as a
    // separator by one parser and as part of a field by another, and the rewrite below
    // must see the same fields as every parser downstream.
    if raw.chars().any(|c| c.is_whitespace() && c != ' ') {
        return Err(SignalError::Candidate("fields must be separated by spaces"));
    }
    let body = raw.strip_prefix("candidate:").unwrap_or(raw);
    let tokens: Vec<&str> = body.split_whitespace().collect();
    // The parser below trusts position 6 to be `typ`; check it ourselves.
    if tokens.len() < 8 || tokens[6] != "typ" {
        return Err(SignalError::Candidate("not a candidate line"));
    }
    if !matches!(tokens[2].to_ascii_lowercase().as_str(), "udp" | "tcp") {
        return Err(SignalError::Candidate("transport must be udp or tcp"));
    }
    let parsed = unmarshal_candidate(body).map_err(|_| SignalError::Candidate("does not parse"))?;
    use webrtc::ice::candidate::Candidate as _;
    let kind = parsed.candidate_type();
    if kind == CandidateType::Unspecified {
        return Err(SignalError::Candidate("unknown candidate type"));
    }
    Ok(Candidate { body, kind })
}

impl Candidate<'_> {
    pub fn is_relay(&self) -> bool {
        self.kind == CandidateType::Relay
    }

    /// The line with its related address blanked (`raddr 0.0.0.0 rport 0`): on a
    /// relay candidate that is the member's own host or reflexive address, the very
    /// thing relay-only must not reveal. Only the extensions browsers send and that carry
    /// no address are kept: an unknown one (`reladdr 192.0.2.2`, a misspelt `raddr`)
    /// could carry the address as text. Returned without the `candidate:` prefix.
    pub fn without_related_address(&self) -> String {
        let tokens: Vec<&str> = self.body.split_whitespace().collect();
        // `parse` checked the eight fixed fields up to the type.
        let mut out: Vec<&str> = tokens[..8].to_vec();
        let mut related = false;
        let mut extensions = Vec::new();
        let mut rest = tokens[8..].iter();
        while let Some(&key) = rest.next() {
            match key {
                "raddr" | "rport" => {
                    related = true;
                    rest.next();
                }
                _ if SAFE_EXTENSIONS.contains(&key) => {
                    if let Some(&value) = rest.next().filter(|v| safe_value(key, v)) {
                        extensions.extend([key, value]);
                    }
                }
                // Anything else goes, one token at a time: an unknown word may lack a value.
                _ => {}
            }
        }
        if related {
            out.extend(["raddr", "0.0.0.0", "rport", "0"]);
        }
        out.extend(extensions);
        out.join(" ")
    }
}

/// Candidate extensions that carry no address (RFC 8839 and what browsers add).
const SAFE_EXTENSIONS: [&str; 5] = [
    "generation",
    "ufrag",
    "network-id",
    "network-cost",
    "tcptype",
];

/// A kept extension's value in its own grammar: numbers, a TCP type, or ice-chars for
/// `ufrag` (no `.` or `:`, so never an address).
fn safe_value(key: &str, value: &str) -> bool {
    match key {
        "tcptype" => matches!(value, "active" | "passive" | "so"),
        "ufrag" => {
            value.len() <= 256
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        }
        _ => value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "candidate:1966762133 1 udp 2130706431 192.0.2.2 51234 typ host";
    const RELAY: &str = "candidate:3 1 udp 16777215 203.0.113.9 40001 typ relay \
                         raddr 192.0.2.2 rport 51234 generation 0 ufrag abcd";

    #[test]
    fn relay_rewrite_drops_unknown_extensions_that_could_carry_an_address() {
        for raw in [
            "3 1 udp 16777215 203.0.113.9 40001 typ relay raddrZ192.0.2.2 rport 51234",
            "3 1 udp 16777215 2001:db8::9 40001 typ relay rad typ reladr fd00::2 rport 5 nowtr-ikd 1",
        ] {
            let rewritten = parse(raw).unwrap().without_related_address();
            assert!(
                !rewritten.contains("192.0.2.2") && !rewritten.contains("fd00"),
                "{rewritten}"
            );
            assert!(rewritten.ends_with("raddr 0.0.0.0 rport 0"), "{rewritten}");
            let again = unmarshal_candidate(&rewritten).unwrap();
            use webrtc::ice::candidate::Candidate as _;
            assert_eq!(again.related_address().unwrap().address, "0.0.0.0");
        }
        let kept = parse(RELAY).unwrap().without_related_address();
        assert_eq!(
            kept,
            "3 1 udp 16777215 203.0.113.9 40001 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag abcd"
        );
    }

    #[test]
    fn parses_types() {
        assert_eq!(parse(HOST).unwrap().kind, CandidateType::Host);
        assert!(parse(RELAY).unwrap().is_relay());
        let srflx = "1 1 udp 1694498815 198.51.100.4 6000 typ srflx raddr 192.0.2.2 rport 51234";
        assert_eq!(parse(srflx).unwrap().kind, CandidateType::ServerReflexive);
        let mdns = "1 1 udp 2130706431 4b7f3c1e-1d2a.local 51234 typ host";
        assert_eq!(parse(mdns).unwrap().kind, CandidateType::Host);
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "candidate:",
            "hello world",
            "1 1 udp 2130706431 192.0.2.2 51234 type host",
            "1 1 udp notanumber 192.0.2.2 51234 typ host",
            "1 1 udp 2130706431 192.0.2.2 99999 typ host",
            "1 1 udp 2130706431 not-an-ip 51234 typ host",
            "1 1 udp 2130706431 192.0.2.2 51234 typ teleport",
            "1 1 sctp 2130706431 192.0.2.2 51234 typ host",
            "1 1 udp 2130706431 192.0.2.2 51234 typ host\r\na=inject",
            // A separator the candidate parser splits on but a space-only reader does not.
            "3 1 udp 16777215 203.0.113.9 40001 typ relay\u{a0}raddr 192.0.2.2 rport 5",
            "3 1 udp 16777215 203.0.113.9 40001 typ relay raddr\u{2003}192.0.2.2 rport 5",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&format!("{HOST} {}", "x".repeat(600))).is_err());
    }

    #[test]
    fn blanks_related_address() {
        let rewritten = parse(RELAY).unwrap().without_related_address();
        assert_eq!(
            rewritten,
            "3 1 udp 16777215 203.0.113.9 40001 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag abcd"
        );
        assert!(!rewritten.contains("192.0.2.2"));
        assert!(parse(&rewritten).unwrap().is_relay());
    }
}
