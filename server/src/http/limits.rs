//! How many connections the server holds, in all and per client address.
//!
//! Every TCP connection costs a file descriptor from the moment it is accepted, before
//! anyone is authenticated. Without caps, idle or slow ("slowloris") sockets from one
//! address exhaust the process's descriptors and then nothing works, health checks
//! included. So:
//! - a **global cap** below the open-file limit (a reserve stays for the database, Redis,
//!   TURN and answering refusals), counted from accept until the socket closes —
//!   WebSockets included, since an upgraded connection keeps its descriptor;
//! - a **per-address cap**, so one address cannot take the global cap alone. The address
//!   is the TCP peer's, except for peers that are configured trusted proxies, whose
//!   clients are counted per request by the address in `X-Forwarded-For`
//!   ([`super::client_addr`]). IPv6 addresses count per /64, what one subscriber usually
//!   holds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Descriptors kept back from the global cap: at least this many, or a twentieth of
/// the limit when that is more.
const MIN_RESERVE: u64 = 256;

/// The open-file limit after raising the soft limit to the hard one (as far as the
/// process may), and the connection cap derived from it.
pub fn connection_cap_from_open_file_limit() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let soft = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    };
    let reserve = MIN_RESERVE.max(soft / 20);
    soft.saturating_sub(reserve).max(16).min(usize::MAX as u64) as usize
}

/// The key an address is counted under: IPv4 as is, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Open connections per address key, with a cap. Cheap to clone.
#[derive(Clone)]
pub struct AddressSlots {
    max: usize,
    /// `std` mutex: held for a map update only, never across an `.await`.
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressSlots {
    pub fn new(max: usize) -> Self {
        AddressSlots {
            max,
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for `ip` if it holds fewer than the cap; released when dropped.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            key,
            counts: self.counts.clone(),
        })
    }

    #[cfg(test)]
    fn held(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap();
        counts.get(&address_key(ip)).copied().unwrap_or(0)
    }
}

/// One counted connection (or forwarded request) of one address.
pub struct AddressSlot {
    key: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        // A poisoned map still holds valid counts (updates are single statements).
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    ServerFull,
    AddressFull,
}

/// What an admitted connection holds until its socket closes.
pub struct Admitted {
    _global: OwnedSemaphorePermit,
    _address: Option<AddressSlot>,
}

/// Admission at accept time.
pub struct ConnectionCaps {
    global: Arc<Semaphore>,
    per_address: AddressSlots,
    trusted_proxies: Arc<[IpNet]>,
}

impl ConnectionCaps {
    pub fn new(max_total: usize, max_per_address: usize, trusted_proxies: Arc<[IpNet]>) -> Self {
        ConnectionCaps {
            global: Arc::new(Semaphore::new(max_total)),
            per_address: AddressSlots::new(max_per_address),
            trusted_proxies,
        }
    }

    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refused> {
        let global = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::ServerFull)?;
        let address = if is_trusted(&self.trusted_proxies, peer) {
            None
        } else {
            Some(
                self.per_address
                    .try_acquire(peer)
                    .ok_or(Refused::AddressFull)?,
            )
        };
        Ok(Admitted {
            _global: global,
            _address: address,
        })
    }
}

pub fn is_trusted(proxies: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_address_slots_are_capped_and_released() {
        let slots = AddressSlots::new(2);
        let a = slots.try_acquire(ip("192.0.2.1")).unwrap();
        let _b = slots.try_acquire(ip("192.0.2.1")).unwrap();
        assert!(slots.try_acquire(ip("192.0.2.1")).is_none());
        assert!(slots.try_acquire(ip("192.0.2.2")).is_some());
        drop(a);
        assert_eq!(slots.held(ip("192.0.2.1")), 1);
        assert!(slots.try_acquire(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let slots = AddressSlots::new(1);
        let _a = slots.try_acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(slots.try_acquire(ip("2001:db8:1:2::ffff")).is_none());
        assert!(slots.try_acquire(ip("2001:db8:1:3::1")).is_some());
        let _v4 = slots.try_acquire(ip("192.0.2.9")).unwrap();
        assert!(slots.try_acquire(ip("::ffff:192.0.2.9")).is_none());
    }

    #[test]
    fn admission_counts_globally_and_exempts_trusted_proxies() {
        let proxies: Arc<[IpNet]> = Arc::from(vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]);
        let caps = ConnectionCaps::new(3, 1, proxies);
        let _a = caps.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            caps.admit(ip("192.0.2.1")).err(),
            Some(Refused::AddressFull)
        );
        let _p1 = caps.admit(ip("10.1.1.1")).unwrap();
        let _p2 = caps.admit(ip("10.1.1.1")).unwrap();
        assert_eq!(caps.admit(ip("192.0.2.7")).err(), Some(Refused::ServerFull));
    }
}
