//! Browser hardening of everything the server answers, and the DNS-rebinding guard.
//!
//! Headers (set only where a route did not set its own):
//! - `Content-Security-Policy`: scripts, styles, connections and workers from this origin
//!   only (connections also to the identity provider's origin when the web client signs
//!   people in there: discovery, the token endpoint), and `blob:` scripts: the packed web client's modules, which only a script
//!   already running here can create), no inline script, no plugins, no `<base>`, and
//!   no framing;
//! - `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`;
//! - `Permissions-Policy`: camera and microphone for this origin (calls), nothing else;
//! - `Cross-Origin-Opener-Policy: same-origin`, so a page that opened Mentorhub cannot
//!   script it;
//! - `Strict-Transport-Security` when `behind_tls` says clients arrive over HTTPS.
//!
//! **DNS rebinding.** A page on `http://evil.example:8080` whose name is re-pointed at
//! 127.0.0.1 reaches a development server on loopback *as its own origin*: the browser
//! sends `Host: evil.example:8080`. So a server listening on loopback answers only
//! requests whose `Host` names loopback (`localhost`, `*.localhost`, a loopback IP) or
//! a configured allowed origin; anything else gets `403`.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use super::ApiError;
use crate::protocol::ErrorCode;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' blob:; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
     connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// [`CONTENT_SECURITY_POLICY`], with the identity provider's origin (from its issuer URL)
/// added to `connect-src` when the web client signs people in there.
pub fn content_security_policy(issuer: Option<&str>) -> String {
    match issuer.and_then(origin_of) {
        Some(origin) => CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self';",
            &format!("connect-src 'self' {origin};"),
        ),
        None => CONTENT_SECURITY_POLICY.to_owned(),
    }
}

/// `scheme://host[:port]` of a URL, if it is one that can stand in a CSP source list.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    };
    (plain(scheme) && plain(authority)).then(|| format!("{scheme}://{authority}"))
}
pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), display-capture=(), \
     geolocation=(), payment=(), usb=(), serial=(), bluetooth=()";
/// A year, the preload lists' minimum. Sub-domains are the deployment's to decide.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The response-header layers, outermost last.
pub fn header_layers(
    behind_tls: bool,
    issuer: Option<&str>,
) -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    let csp = HeaderValue::from_str(&content_security_policy(issuer))
        .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    let mut layers = vec![
        SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, csp),
        SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ),
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS_POLICY),
        ),
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    if behind_tls {
        layers.push(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        ));
    }
    layers
}

/// Which `Host` values a loopback listener answers.
#[derive(Clone, Debug)]
pub struct HostGuard {
    /// Hosts (`host[:port]`, lower case) of the configured allowed origins.
    pub allowed_hosts: Vec<String>,
}

impl HostGuard {
    pub fn from_origins(origins: &[String]) -> Self {
        HostGuard {
            allowed_hosts: origins
                .iter()
                .filter_map(|o| o.split_once("://").map(|(_, host)| host.to_owned()))
                .collect(),
        }
    }

    pub fn permits(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.allowed_hosts.contains(&host) {
            return true;
        }
        is_loopback_name(host_without_port(&host))
    }
}

/// `localhost`, `*.localhost` (RFC 6761) and loopback IP literals.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    literal.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host` without `:port` (IPv6 literals keep their brackets).
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Middleware for loopback listeners: refuses requests addressed to another name.
pub async fn check_host(State(guard): State<HostGuard>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !guard.permits(host) {
        return ApiError::new(
            ErrorCode::Forbidden,
            "this server answers only requests addressed to it by a loopback name",
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_only_unless_allowed() {
        let guard = HostGuard::from_origins(&["https://mentor.example".into()]);
        for ok in [
            "localhost:8080",
            "LOCALHOST",
            "app.localhost:3000",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "mentor.example",
        ] {
            assert!(guard.permits(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "localhost.evil.example",
            "192.168.1.10:8080",
            "[::2]:8080",
            "mentor.example:8443",
            "",
        ] {
            assert!(!guard.permits(refused), "{refused}");
        }
    }

    #[test]
    fn the_identity_providers_origin_may_be_connected_to() {
        let csp = content_security_policy(Some("https://idp.example.edu:8443/realms/medicine"));
        assert!(
            csp.contains("connect-src 'self' https://idp.example.edu:8443;"),
            "{csp}"
        );
        assert_eq!(content_security_policy(None), CONTENT_SECURITY_POLICY);
        // Nothing that could end the directive and start another one.
        let odd = content_security_policy(Some("https://idp.example;script-src*/x"));
        assert_eq!(odd, CONTENT_SECURITY_POLICY);
    }
}
