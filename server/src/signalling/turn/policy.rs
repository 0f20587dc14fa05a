//! Which peer addresses the embedded TURN server relays to.
//!
//! A TURN relay sends UDP wherever its authenticated users ask, from inside the
//! server's network. Without a policy, anyone holding call credentials could use it to
//! reach the server's own loopback services or the private network behind it. So
//! internal destinations are refused unless `turn_allow_private_peers` is set (tests
//! and single-machine development, where peers really are on loopback).
//!
//! The server itself is never a peer: relaying to its own addresses is refused except to
//! the relay ports of its live allocations (two relay-only participants reach each other
//! relay to relay). Otherwise a client could loop the relay into the TURN listener, or
//! reach any other UDP service on the host. Where private peers are allowed (tests, one
//! development machine), every peer shares the host's loopback address, so there only
//! the TURN listener itself is refused.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct PeerPolicy {
    pub allow_private: bool,
    /// The server's own addresses (advertised, and bound when not a wildcard).
    pub own: Vec<IpAddr>,
    /// The TURN listener's port.
    pub listener_port: u16,
    /// Ports of live relay sockets, which are peers like any other.
    pub relay_ports: Arc<Mutex<HashSet<u16>>>,
}

impl PeerPolicy {
    pub fn new(allow_private: bool, own: Vec<IpAddr>, listener_port: u16) -> Self {
        PeerPolicy {
            allow_private,
            own,
            listener_port,
            relay_ports: Arc::default(),
        }
    }

    /// Whether the relay may exchange datagrams with `peer`.
    pub fn permits(&self, peer: SocketAddr) -> bool {
        (self.allow_private || !is_internal(peer.ip())) && !self.is_self(peer)
    }

    fn is_self(&self, peer: SocketAddr) -> bool {
        let ip = match peer.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.own.contains(&ip)
            && (!self.allow_private || peer.port() == self.listener_port)
            && !self
                .relay_ports
                .lock()
                .is_ok_and(|ports| ports.contains(&peer.port()))
    }

    pub fn relay_opened(&self, port: u16) {
        if let Ok(mut ports) = self.relay_ports.lock() {
            ports.insert(port);
        }
    }

    pub fn relay_closed(&self, port: u16) {
        if let Ok(mut ports) = self.relay_ports.lock() {
            ports.remove(&port);
        }
    }
}

/// Unspecified, loopback, link-local, private, shared (CGNAT), multicast and broadcast
/// addresses, the IETF protocol assignments (192.0.0.0/24), benchmarking (198.18.0.0/15)
/// and reserved (240.0.0.0/4) ranges, and IPv4 addresses mapped or embedded in IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_private()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        // 100.64.0.0/10: carrier-grade NAT, i.e. someone's private network.
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // ::/96 IPv4-compatible (deprecated; may reach IPv4 internals)
        || ip.segments()[..6].iter().all(|s| *s == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_addresses() {
        for internal in [
            "0.0.0.0",
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.10.10",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fd00::2",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "ff02::1",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.254",
            "240.0.0.1",
            "::ffff:198.18.3.4",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            let peer = SocketAddr::new(ip, 4000);
            assert!(is_internal(ip), "{internal}");
            assert!(!PeerPolicy::new(false, vec![], 3478).permits(peer));
            assert!(PeerPolicy::new(true, vec![], 3478).permits(peer));
        }
    }

    #[test]
    fn the_server_is_a_peer_only_at_its_live_relay_ports() {
        let own: IpAddr = "203.0.113.5".parse().unwrap();
        let policy = PeerPolicy::new(false, vec![own], 3478);
        let listener = SocketAddr::new(own, 3478);
        let relay = SocketAddr::new(own, 50_000);
        assert!(!policy.permits(listener));
        assert!(!policy.permits(relay));
        assert!(!policy.permits("[::ffff:203.0.113.5]:3478".parse().unwrap()));
        policy.relay_opened(50_000);
        assert!(policy.permits(relay));
        assert!(!policy.permits(listener));
        policy.relay_closed(50_000);
        assert!(!policy.permits(relay));
        assert!(policy.permits("203.0.113.6:3478".parse().unwrap()));
        // Private peers allowed (one machine): only the listener is refused.
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let policy = PeerPolicy::new(true, vec![loopback], 3478);
        assert!(!policy.permits(SocketAddr::new(loopback, 3478)));
        assert!(policy.permits(SocketAddr::new(loopback, 3479)));
    }

    #[test]
    fn permits_public_addresses() {
        for public in [
            "8.8.8.8",
            "198.51.100.7",
            "100.128.0.1",
            "198.20.0.1",
            "192.0.1.1",
            "223.255.255.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(!is_internal(ip), "{public}");
        }
    }
}
