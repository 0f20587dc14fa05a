//! Which web origins may open a WebSocket.
//!
//! Browsers always send `Origin` on a WebSocket handshake, so checking it stops
//! another site's page from opening a socket with a user's ambient credentials.
//! (Mentorhub uses no cookies — the token travels in `hello` — so this is defence in
//! depth.) Policy:
//! - a configured allow-list is matched exactly (`scheme://host[:port]`);
//! - with no list, only the server's own origin (the request's `Host`) is allowed, and
//!   only when that host is an IP address or a loopback name: a DNS name in `Host` may
//!   be an attacker's, re-pointed at this server (DNS rebinding), so a deployment
//!   reached by name lists its origin in `allowed_origins`;
//! - a request without `Origin` comes from a non-browser client (mobile app, bot,
//!   load generator) and is allowed unless `allow_missing_origin` is off;
//! - the opaque origin `null` is always refused.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

#[derive(Clone, Debug, Default)]
pub struct OriginPolicy {
    pub allowed: Vec<String>,
    pub allow_missing: bool,
}

impl OriginPolicy {
    pub fn permits(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
            return self.allow_missing;
        };
        if origin == "null" {
            return false;
        }
        if !self.allowed.is_empty() {
            return self.allowed.iter().any(|allowed| allowed == origin);
        }
        let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host));
        same && names_this_machine(host)
    }
}

/// An IP literal or a loopback name: a `Host` no DNS answer can have made up.
fn names_this_machine(host: &str) -> bool {
    let name = super::hardening::host_without_port(host);
    let literal = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    literal.parse::<std::net::IpAddr>().is_ok() || super::hardening::is_loopback_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn same_origin_by_default() {
        let policy = OriginPolicy {
            allowed: vec![],
            allow_missing: true,
        };
        assert!(policy.permits(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")));
        assert!(!policy.permits(&headers(Some("http://evil.example"), "127.0.0.1:8080")));
        assert!(!policy.permits(&headers(Some("null"), "127.0.0.1:8080")));
        assert!(policy.permits(&headers(None, "127.0.0.1:8080")));
        assert!(policy.permits(&headers(Some("http://localhost:8080"), "localhost:8080")));
        assert!(policy.permits(&headers(Some("http://[::1]:8080"), "[::1]:8080")));
    }

    #[test]
    fn a_dns_name_in_host_is_not_proof_of_same_origin() {
        // DNS rebinding: the attacker's name now points at this server, and the browser
        // sends matching Origin and Host.
        let policy = OriginPolicy {
            allowed: vec![],
            allow_missing: true,
        };
        assert!(!policy.permits(&headers(
            Some("http://evil.example:8080"),
            "evil.example:8080"
        )));
    }

    #[test]
    fn allow_list_is_exact() {
        let policy = OriginPolicy {
            allowed: vec!["https://mentor.example".into()],
            allow_missing: false,
        };
        assert!(policy.permits(&headers(Some("https://mentor.example"), "x")));
        assert!(!policy.permits(&headers(Some("https://mentor.example.evil"), "x")));
        assert!(!policy.permits(&headers(None, "x")));
    }
}
