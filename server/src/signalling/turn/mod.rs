//! The embedded TURN server: `webrtc` 0.17's `turn::server::Server` on one UDP port,
//! accepting the TURN REST credentials [`TurnCredentials`] issues.
//!
//! Why embedded: a rural mentee behind a carrier NAT often cannot reach a mentor
//! peer to peer, and a pseudonymous mentee must never try (relay-only). One binary
//! that already relays keeps small deployments simple; larger ones switch it off
//! (`turn_enabled = false`) and point `turn_urls` at coturn with the same secret.
//!
//! What we add around the crate's server (it has no hooks for these): a peer-address
//! policy and a per-user allocation cap, enforced on the listener socket
//! ([`guard`]) and on every relay socket ([`relay`]); authentication that answers `401`
//! and lets an allocation outlive its credential, and a cap on allocation lifetimes
//! ([`auth`]).

mod auth;
mod guard;
pub mod policy;
mod relay;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use webrtc::turn::auth::AuthHandler;
use webrtc::turn::server::Server;
use webrtc::turn::server::config::{ConnConfig, ServerConfig};

use self::auth::TurnAuth;
use self::guard::{GuardedListener, Quota};
use self::policy::PeerPolicy;
use self::relay::GuardedRelays;
use super::credentials::TurnCredentials;

/// The realm in the long-term credential mechanism; clients learn it from the server.
pub const REALM: &str = "mentorhub";

#[derive(Clone, Debug)]
pub struct TurnSettings {
    pub listen: SocketAddr,
    pub public_ip: Option<IpAddr>,
    pub allow_private_peers: bool,
    pub max_allocations_per_user: u32,
    /// Longest allocation lifetime granted (clients refresh within it).
    pub max_allocation_lifetime: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(
        "turn_listen {0} is a wildcard address: set turn_public_ip to the address clients reach"
    )]
    NeedsPublicIp(SocketAddr),
    #[error("binding the TURN listener on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("starting the TURN server: {0}")]
    Start(String),
}

pub struct EmbeddedTurn {
    server: Server,
    /// The bound listener (port 0 resolved).
    local: SocketAddr,
    /// What clients are told to reach.
    advertised: SocketAddr,
}

impl EmbeddedTurn {
    pub async fn start(
        settings: &TurnSettings,
        credentials: TurnCredentials,
    ) -> Result<EmbeddedTurn, TurnError> {
        let listen_ip = settings.listen.ip();
        let advertised_ip = match settings.public_ip {
            Some(ip) => ip,
            None if listen_ip.is_unspecified() => {
                return Err(TurnError::NeedsPublicIp(settings.listen));
            }
            None => listen_ip,
        };
        let socket = UdpSocket::bind(settings.listen)
            .await
            .map_err(|source| TurnError::Bind {
                addr: settings.listen,
                source,
            })?;
        let local = socket.local_addr().map_err(|source| TurnError::Bind {
            addr: settings.listen,
            source,
        })?;
        let mut own = vec![advertised_ip];
        if !listen_ip.is_unspecified() && listen_ip != advertised_ip {
            own.push(listen_ip);
        }
        let policy = PeerPolicy::new(settings.allow_private_peers, own, local.port());
        let quota = Arc::new(Quota::new(settings.max_allocations_per_user as usize));
        let auth = Arc::new(TurnAuth::new(credentials, settings.max_allocation_lifetime));
        let (closed_tx, closed_rx) = mpsc::channel(64);
        tokio::spawn(forget_closed_allocations(
            quota.clone(),
            auth.clone(),
            closed_rx,
        ));
        let listener = GuardedListener::new(socket, policy.clone(), quota, auth.clone());
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: Arc::new(listener),
                relay_addr_generator: Box::new(GuardedRelays {
                    bind_ip: listen_ip,
                    advertised_ip,
                    policy,
                }),
            }],
            realm: REALM.to_owned(),
            auth_handler: Arc::new(RestAuth { auth }),
            channel_bind_timeout: std::time::Duration::ZERO, // the crate's default (10 min)
            alloc_close_notify: Some(closed_tx),
        })
        .await
        .map_err(|e| TurnError::Start(e.to_string()))?;
        let advertised = SocketAddr::new(advertised_ip, local.port());
        // The server's own listening address, from its configuration: no client's.
        tracing::info!(%local, %advertised, allow_private_peers = settings.allow_private_peers, "embedded TURN server listening");
        Ok(EmbeddedTurn {
            server,
            local,
            advertised,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `turn:` URL clients use (UDP).
    pub fn turn_url(&self) -> String {
        format!("turn:{}?transport=udp", host_port(self.advertised))
    }

    /// The same port answers STUN binding requests.
    pub fn stun_url(&self) -> String {
        format!("stun:{}", host_port(self.advertised))
    }

    pub async fn close(&self) {
        if let Err(error) = self.server.close().await {
            tracing::warn!(%error, "closing the TURN server");
        }
    }
}

/// `1.2.3.4:3478` or `[2001:db8::1]:3478` (RFC 7065 URIs bracket IPv6 literals).
fn host_port(addr: SocketAddr) -> String {
    addr.to_string()
}

async fn forget_closed_allocations(
    quota: Arc<Quota>,
    auth: Arc<TurnAuth>,
    mut closed: mpsc::Receiver<webrtc::turn::allocation::AllocationInfo>,
) {
    while let Some(info) = closed.recv().await {
        quota.remove(&info.username, info.five_tuple.src_addr);
        auth.release(info.five_tuple.src_addr);
    }
}

/// Long-term credentials derived from TURN REST usernames. The listener has already
/// answered `401` to anything this refuses; this is the crate's own check.
struct RestAuth {
    auth: Arc<TurnAuth>,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, webrtc::turn::Error> {
        let now = crate::ids::now_millis() / 1000;
        // Expired `Allocate`s never get here (the listener refuses them), so only a
        // live allocation's own username is let past its expiry.
        self.auth
            .key(username, realm, src_addr, false, now)
            .ok_or_else(|| webrtc::turn::Error::Other("unknown or expired TURN username".into()))
    }
}
