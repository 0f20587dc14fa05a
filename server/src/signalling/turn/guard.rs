//! The TURN listener socket, wrapped: it reads every control message before the
//! `turn` crate's server does, to enforce what that server has no hook for.
//!
//! - `CreatePermission` and `ChannelBind` naming a peer the [`PeerPolicy`] refuses are
//!   answered `403 Forbidden` here and never reach the server, so no permission to an
//!   internal address ever exists; `Send` indications to such peers are dropped.
//! - An authenticated `Allocate` from a user who already holds the maximum number of
//!   allocations is answered `486 Allocation Quota Reached`. Allocations are counted
//!   from the server's own success responses (seen on the way out) and its
//!   allocation-closed notifications.
//! - Every signed request is authenticated by [`TurnAuth`] first: a bad or expired
//!   credential is answered `401` with realm and nonce; the success responses to
//!   `Allocate` and `Refresh` get their lifetime capped on the way out.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::net::UdpSocket;
use webrtc::stun::attributes::{
    ATTR_MESSAGE_INTEGRITY, ATTR_NONCE, ATTR_REALM, ATTR_USERNAME, ATTR_XOR_PEER_ADDRESS,
};
use webrtc::stun::error_code::{
    CODE_ALLOC_QUOTA_REACHED, CODE_FORBIDDEN, CODE_UNAUTHORIZED, ErrorCode, ErrorCodeAttribute,
};
use webrtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE,
    METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_REFRESH, METHOD_SEND, Message,
    MessageType, Method, Setter, is_message,
};
use webrtc::stun::textattrs::TextAttribute;
use webrtc::util::Conn;

use super::REALM;
use super::auth::{TurnAuth, nonce_of};
use super::policy::PeerPolicy;
use crate::signalling::credentials::TurnCredentials;

const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Authenticated Allocate requests waiting for the server's answer are forgotten after
/// this long (the server answers within microseconds; clients retransmit).
const PENDING_TTL: Duration = Duration::from_secs(30);
const PENDING_MAX: usize = 4096;

/// Live allocations per TURN user (the opaque part of the username).
pub(super) struct Quota {
    max: usize,
    live: Mutex<HashMap<String, HashSet<SocketAddr>>>,
}

impl Quota {
    pub fn new(max: usize) -> Self {
        Quota {
            max,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `user` may allocate from `client` (an allocation it already holds there
    /// is the server's business: it answers 437).
    fn admits(&self, user: &str, client: SocketAddr) -> bool {
        let Ok(live) = self.live.lock() else {
            return false;
        };
        live.get(user)
            .is_none_or(|held| held.contains(&client) || held.len() < self.max)
    }

    fn add(&self, user: String, client: SocketAddr) {
        if let Ok(mut live) = self.live.lock() {
            live.entry(user).or_default().insert(client);
        }
    }

    pub fn remove(&self, username: &str, client: SocketAddr) {
        let user = TurnCredentials::user_of(username);
        if let Ok(mut live) = self.live.lock()
            && let Some(held) = live.get_mut(user)
        {
            held.remove(&client);
            if held.is_empty() {
                live.remove(user);
            }
        }
    }
}

enum Verdict {
    Pass,
    Drop,
    Refuse(Vec<u8>),
}

/// A signed `Allocate` or `Refresh` waiting for the server's answer.
struct Pending {
    method: Method,
    username: String,
    client: SocketAddr,
    seen: Instant,
}

pub(super) struct GuardedListener {
    socket: UdpSocket,
    policy: PeerPolicy,
    quota: std::sync::Arc<Quota>,
    auth: std::sync::Arc<TurnAuth>,
    pending: Mutex<HashMap<[u8; 12], Pending>>,
}

impl GuardedListener {
    pub fn new(
        socket: UdpSocket,
        policy: PeerPolicy,
        quota: std::sync::Arc<Quota>,
        auth: std::sync::Arc<TurnAuth>,
    ) -> Self {
        GuardedListener {
            socket,
            policy,
            quota,
            auth,
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn inspect(&self, datagram: &[u8], from: SocketAddr) -> Verdict {
        if !is_message(datagram) {
            return Verdict::Pass; // ChannelData: only flows on channels we let be bound
        }
        let mut message = Message::new();
        message.raw = datagram.to_vec();
        if message.decode().is_err() {
            return Verdict::Pass; // the server answers malformed requests itself
        }
        let (method, class) = (message.typ.method, message.typ.class);
        if class == CLASS_REQUEST
            && !self
                .auth
                .admits(&message, from, crate::ids::now_millis() / 1000)
        {
            metrics::counter!("mentorhub_turn_auth_refusals_total").increment(1);
            return unauthorized(&message);
        }
        if method == METHOD_REFRESH && class == CLASS_REQUEST {
            self.await_answer(&message, from);
        } else if method == METHOD_CREATE_PERMISSION || method == METHOD_CHANNEL_BIND {
            if class == CLASS_REQUEST && !self.peers_permitted(&message) {
                metrics::counter!("mentorhub_turn_refused_peers_total").increment(1);
                return refuse(&message, CODE_FORBIDDEN, "peer address not allowed");
            }
        } else if method == METHOD_SEND && class == CLASS_INDICATION {
            if !self.peers_permitted(&message) {
                return Verdict::Drop;
            }
        } else if method == METHOD_ALLOCATE && class == CLASS_REQUEST {
            return self.inspect_allocate(&message, from);
        }
        Verdict::Pass
    }

    fn inspect_allocate(&self, message: &Message, from: SocketAddr) -> Verdict {
        // Only authenticated attempts count; the first, unauthenticated one just
        // fetches a nonce.
        if !message.contains(ATTR_MESSAGE_INTEGRITY) {
            return Verdict::Pass;
        }
        let Ok(username) = message.get(ATTR_USERNAME) else {
            return Verdict::Pass;
        };
        let username = String::from_utf8_lossy(&username).into_owned();
        let user = TurnCredentials::user_of(&username).to_owned();
        if !self.quota.admits(&user, from) {
            metrics::counter!("mentorhub_turn_quota_refusals_total").increment(1);
            return refuse(
                message,
                CODE_ALLOC_QUOTA_REACHED,
                "allocation quota reached",
            );
        }
        self.await_answer(message, from);
        Verdict::Pass
    }

    /// Remembers a signed `Allocate` or `Refresh` until the server's answer goes out.
    fn await_answer(&self, message: &Message, from: SocketAddr) {
        let Ok(username) = message.get(ATTR_USERNAME) else {
            return;
        };
        if let Ok(mut pending) = self.pending.lock() {
            if pending.len() >= PENDING_MAX {
                let now = Instant::now();
                pending.retain(|_, p| now.duration_since(p.seen) < PENDING_TTL);
            }
            if pending.len() < PENDING_MAX {
                pending.insert(
                    message.transaction_id.0,
                    Pending {
                        method: message.typ.method,
                        username: String::from_utf8_lossy(&username).into_owned(),
                        client: from,
                        seen: Instant::now(),
                    },
                );
            }
        }
    }

    /// Records an allocation when the server's success response goes out, and caps the
    /// lifetime it grants. `Some` replaces the datagram.
    fn outgoing(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        // Cheap test first: this runs for every relayed packet. Allocate and Refresh
        // success responses are message types 0x0103 and 0x0104.
        if datagram.len() < 20 || datagram[0] != 0x01 || !matches!(datagram[1], 0x03 | 0x04) {
            return None;
        }
        let mut message = Message::new();
        message.raw = datagram.to_vec();
        if message.decode().is_err() || message.typ.class != CLASS_SUCCESS_RESPONSE {
            return None;
        }
        let entry = self
            .pending
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(&message.transaction_id.0))?;
        if entry.method != message.typ.method {
            return None;
        }
        let released = message
            .get(webrtc::stun::attributes::ATTR_LIFETIME)
            .is_ok_and(|l| l.iter().all(|b| *b == 0));
        if entry.method == METHOD_REFRESH && !released {
            metrics::counter!("mentorhub_turn_allocation_refreshes_total").increment(1);
        }
        if entry.method == METHOD_ALLOCATE {
            let user = TurnCredentials::user_of(&entry.username).to_owned();
            self.quota.add(user, entry.client);
            self.auth.hold(entry.client, entry.username.clone());
        }
        self.auth.capped(&message, &entry.username)
    }

    /// Every XOR-PEER-ADDRESS in the message is allowed (and decodes).
    fn peers_permitted(&self, message: &Message) -> bool {
        message
            .attributes
            .0
            .iter()
            .filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS)
            .all(|a| {
                xor_address(&a.value, &message.transaction_id.0)
                    .is_some_and(|peer| self.policy.permits(peer))
            })
    }
}

/// Decodes an XOR-PEER-ADDRESS value (RFC 8489 §14.2).
fn xor_address(value: &[u8], transaction_id: &[u8; 12]) -> Option<SocketAddr> {
    if value.len() < 4 {
        return None;
    }
    let port = u16::from_be_bytes([value[2], value[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let ip = match (value[1], &value[4..]) {
        (0x01, bytes) if bytes.len() == 4 => {
            let mut octets = [0u8; 4];
            for (i, octet) in octets.iter_mut().enumerate() {
                *octet = bytes[i] ^ cookie[i];
            }
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        (0x02, bytes) if bytes.len() == 16 => {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&cookie);
            key[4..].copy_from_slice(transaction_id);
            let mut octets = [0u8; 16];
            for (i, octet) in octets.iter_mut().enumerate() {
                *octet = bytes[i] ^ key[i];
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn refuse(request: &Message, code: ErrorCode, reason: &str) -> Verdict {
    respond(request, code, reason, vec![])
}

/// `401` with the realm and the request's nonce, as RFC 8489 §9.2.5 asks: the client
/// may retry with other credentials.
fn unauthorized(request: &Message) -> Verdict {
    let mut extra: Vec<Box<dyn Setter>> =
        vec![Box::new(TextAttribute::new(ATTR_REALM, REALM.to_owned()))];
    if let Some(nonce) = nonce_of(request) {
        extra.push(Box::new(TextAttribute::new(
            ATTR_NONCE,
            String::from_utf8_lossy(&nonce).into_owned(),
        )));
    }
    respond(
        request,
        CODE_UNAUTHORIZED,
        "invalid or expired credentials",
        extra,
    )
}

fn respond(
    request: &Message,
    code: ErrorCode,
    reason: &str,
    extra: Vec<Box<dyn Setter>>,
) -> Verdict {
    let mut response = Message::new();
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(request.clone()), // copies the transaction id
        Box::new(MessageType::new(request.typ.method, CLASS_ERROR_RESPONSE)),
        Box::new(ErrorCodeAttribute {
            code,
            reason: reason.as_bytes().to_vec(),
        }),
    ];
    setters.extend(extra);
    match response.build(&setters) {
        Ok(()) => Verdict::Refuse(response.raw),
        Err(_) => Verdict::Drop,
    }
}

type ConnResult<T> = Result<T, webrtc::util::Error>;

#[async_trait]
impl Conn for GuardedListener {
    async fn connect(&self, addr: SocketAddr) -> ConnResult<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> ConnResult<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> ConnResult<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            match self.inspect(&buf[..n], from) {
                Verdict::Pass => return Ok((n, from)),
                Verdict::Drop => {}
                Verdict::Refuse(reply) => {
                    let _ = self.socket.send_to(&reply, from).await;
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> ConnResult<usize> {
        Ok(self.socket.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> ConnResult<usize> {
        if let Some(replaced) = self.outgoing(buf) {
            self.socket.send_to(&replaced, target).await?;
            return Ok(buf.len());
        }
        Ok(self.socket.send_to(buf, target).await?)
    }

    fn local_addr(&self) -> ConnResult<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> ConnResult<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_xor_peer_addresses() {
        let tid = [7u8; 12];
        // 127.0.0.1:5000 XOR-encoded.
        let port = (5000u16 ^ 0x2112).to_be_bytes();
        let ip = [127 ^ 0x21, 0x12, 0xA4, 1 ^ 0x42];
        let value = [0, 1, port[0], port[1], ip[0], ip[1], ip[2], ip[3]];
        assert_eq!(
            xor_address(&value, &tid),
            Some("127.0.0.1:5000".parse().unwrap())
        );
        assert_eq!(xor_address(&value[..6], &tid), None);
        assert_eq!(xor_address(&[0, 9, 0, 0, 1, 2, 3, 4], &tid), None);
    }

    #[test]
    fn quota_counts_distinct_clients_per_user() {
        let quota = Quota::new(2);
        let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:1001".parse().unwrap();
        let c: SocketAddr = "192.0.2.1:1002".parse().unwrap();
        quota.add("u".into(), a);
        quota.add("u".into(), b);
        assert!(quota.admits("u", a));
        assert!(!quota.admits("u", c));
        assert!(quota.admits("v", c));
        quota.remove("123:u", a);
        assert!(quota.admits("u", c));
    }
}
