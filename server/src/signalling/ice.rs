//! The ICE configuration handed to clients: STUN/TURN URLs with fresh TURN REST
//! credentials, and the transport policy (relay-only for pseudonymous members).
//! Served by `GET /api/ice-servers` and inside `started` / `joined` call events.

use crate::ids::{AccountId, now_millis};
use crate::protocol::webrtc::{IceConfig, IcePolicy, IceServer};

use super::credentials::TurnCredentials;

pub struct IceDirectory {
    credentials: TurnCredentials,
    /// The embedded server's URL first, then configured ones (coturn).
    turn_urls: Vec<String>,
    stun_urls: Vec<String>,
}

impl IceDirectory {
    pub fn new(
        credentials: TurnCredentials,
        turn_urls: Vec<String>,
        stun_urls: Vec<String>,
    ) -> Self {
        IceDirectory {
            credentials,
            turn_urls,
            stun_urls,
        }
    }

    /// Whether any TURN server is configured (relay-only members need one).
    pub fn has_turn(&self) -> bool {
        !self.turn_urls.is_empty()
    }

    pub fn config(&self, account: &AccountId, policy: IcePolicy) -> IceConfig {
        let now = now_millis() / 1000;
        let issued = self.credentials.issue(account, now);
        let mut ice_servers = Vec::new();
        if !self.turn_urls.is_empty() {
            ice_servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(issued.username),
                credential: Some(issued.credential),
            });
        }
        if !self.stun_urls.is_empty() {
            ice_servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        IceConfig {
            ice_servers,
            ice_transport_policy: policy,
            expires_at: issued.expires_at,
        }
    }
}
