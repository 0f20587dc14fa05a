//! Relay sockets for allocations: one UDP socket per allocation, advertised under the
//! public address, and guarded by the [`PeerPolicy`] as a second line behind the
//! listener's permission check (nothing is sent to, or accepted from, a refused peer).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::UdpSocket;
use webrtc::turn::relay::RelayAddressGenerator;
use webrtc::util::Conn;

use super::policy::PeerPolicy;

pub(super) struct GuardedRelays {
    /// Where relay sockets bind (the listener's IP, possibly unspecified).
    pub bind_ip: IpAddr,
    /// The address clients and peers see in relay candidates.
    pub advertised_ip: IpAddr,
    pub policy: PeerPolicy,
}

#[async_trait]
impl RelayAddressGenerator for GuardedRelays {
    fn validate(&self) -> Result<(), webrtc::turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), webrtc::turn::Error> {
        if use_ipv4 != self.bind_ip.is_ipv4() {
            return Err(webrtc::turn::Error::Other(
                "address family not served by this relay".into(),
            ));
        }
        let socket = UdpSocket::bind(SocketAddr::new(self.bind_ip, requested_port))
            .await
            .map_err(|e| webrtc::turn::Error::Other(e.to_string()))?;
        let mut relay = socket
            .local_addr()
            .map_err(|e| webrtc::turn::Error::Other(e.to_string()))?;
        relay.set_ip(self.advertised_ip);
        self.policy.relay_opened(relay.port());
        let conn = GuardedRelay {
            socket,
            port: relay.port(),
            policy: self.policy.clone(),
        };
        Ok((Arc::new(conn), relay))
    }
}

struct GuardedRelay {
    socket: UdpSocket,
    port: u16,
    policy: PeerPolicy,
}

impl Drop for GuardedRelay {
    fn drop(&mut self) {
        self.policy.relay_closed(self.port);
    }
}

type ConnResult<T> = Result<T, webrtc::util::Error>;

#[async_trait]
impl Conn for GuardedRelay {
    async fn connect(&self, addr: SocketAddr) -> ConnResult<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> ConnResult<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> ConnResult<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            if self.policy.permits(from) {
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> ConnResult<usize> {
        Ok(self.socket.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> ConnResult<usize> {
        if !self.policy.permits(target) {
            return Err(webrtc::util::Error::Other(
                "peer address refused by policy".into(),
            ));
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
