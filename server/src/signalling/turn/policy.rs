//! Which peer addresses the embedded TURN server relays to.
//!
//! A TURN relay sends UDP wherever its authenticated users ask, from inside the
//! server's network. Without a policy, anyone holding call credentials could use it to
//! reach the server's own loopback services or the private network behind it. So
//! internal destinations are refused unless `turn_allow_private_peers` is set (tests
//! and single-machine development, where peers really are on loopback).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Copy, Debug)]
pub struct PeerPolicy {
    pub allow_private: bool,
}

impl PeerPolicy {
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_private || !is_internal(ip)
    }
}

/// Unspecified, loopback, link-local, private, shared (CGNAT), multicast and broadcast
/// addresses, and IPv4 addresses mapped or embedded in IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_private()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        // 100.64.0.0/10: carrier-grade NAT, i.e. someone's private network.
        || (a == 100 && (b & 0xc0) == 64)
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
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(is_internal(ip), "{internal}");
            assert!(
                !PeerPolicy {
                    allow_private: false
                }
                .permits(ip)
            );
            assert!(
                PeerPolicy {
                    allow_private: true
                }
                .permits(ip)
            );
        }
    }

    #[test]
    fn permits_public_addresses() {
        for public in [
            "8.8.8.8",
            "198.51.100.7",
            "100.128.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(!is_internal(ip), "{public}");
        }
    }
}
