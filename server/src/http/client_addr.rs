//! The client's address behind a trusted reverse proxy, and the per-address cap for
//! clients that come through one.
//!
//! A connection from a configured trusted proxy (`trusted_proxies`) carries many
//! clients, so the accept loop does not count it per address; instead each request is
//! counted under the client address the proxy put in `X-Forwarded-For` — the right-most
//! entry that is not itself a trusted proxy (entries to its left were written by the
//! client and prove nothing). A header from any other peer is ignored. An upgraded
//! WebSocket keeps its request's slot for as long as it is open.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::limits::{AddressSlot, AddressSlots, is_trusted};

/// Per-address counting of clients behind trusted proxies.
#[derive(Clone)]
pub struct ForwardedClients {
    pub trusted_proxies: Arc<[IpNet]>,
    pub slots: AddressSlots,
}

/// The slot a forwarded request holds (released when the last clone is dropped); the
/// WebSocket upgrade takes a clone along.
#[derive(Clone)]
pub struct ForwardedSlot {
    _held: Arc<AddressSlot>,
}

/// The client address as far as this server can tell: the TCP peer, or for a trusted
/// proxy the address it forwarded (`None` when it forwarded none that parses).
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> Option<IpAddr> {
    if !is_trusted(proxies, peer) {
        return Some(peer.to_canonical());
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return None;
        };
        hops.extend(text.split(',').map(str::trim));
    }
    for hop in hops.into_iter().rev() {
        let ip = hop.parse::<IpAddr>().ok()?.to_canonical();
        if !is_trusted(proxies, ip) {
            return Some(ip);
        }
    }
    None
}

/// Middleware: counts a request from a trusted proxy under its client's address.
/// Health checks are never refused.
pub async fn cap_forwarded(
    State(clients): State<ForwardedClients>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer: Option<SocketAddr> = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let forwarded = match peer {
        Some(peer) if is_trusted(&clients.trusted_proxies, peer.ip()) => {
            client_addr(peer.ip(), request.headers(), &clients.trusted_proxies)
        }
        _ => None,
    };
    if let Some(client) = forwarded
        && request.uri().path() != "/healthz"
    {
        match clients.slots.try_acquire(client) {
            Some(slot) => {
                request.extensions_mut().insert(ForwardedSlot {
                    _held: Arc::new(slot),
                });
            }
            None => {
                metrics::counter!("mentorhub_connections_refused_total", "why" => "address_full")
                    .increment(1);
                return super::listener::busy();
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn only_a_trusted_proxy_may_name_the_client() {
        let proxies = vec!["10.0.0.0/8".parse::<IpNet>().unwrap()];
        let spoofed = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_addr(ip("192.0.2.1"), &spoofed, &proxies),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            client_addr(ip("10.0.0.2"), &spoofed, &proxies),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxies = vec!["10.0.0.0/8".parse::<IpNet>().unwrap()];
        // The client wrote "1.2.3.4" itself; the proxy appended the real address, then
        // an inner proxy its own.
        let headers = forwarded(&["1.2.3.4, 198.51.100.7", "10.0.0.3"]);
        assert_eq!(
            client_addr(ip("10.0.0.2"), &headers, &proxies),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_addr(ip("10.0.0.2"), &HeaderMap::new(), &proxies),
            None
        );
        let garbage = forwarded(&["not-an-address"]);
        assert_eq!(client_addr(ip("10.0.0.2"), &garbage, &proxies), None);
    }
}
