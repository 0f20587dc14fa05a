//! Who may use the embedded TURN server, and for how long.
//!
//! A TURN REST credential admits new allocations until its expiry. An allocation made
//! before then lives on while its client refreshes it: `Refresh`, `CreatePermission` and
//! `ChannelBind` from the client address holding the allocation, signed with the very
//! username it was made with, are accepted after that username expired (so a call
//! outlives its credential). A new `Allocate` always needs an unexpired one.
//!
//! The listener checks every signed request here before the `turn` crate's server sees
//! it, so a bad or expired credential is answered `401 Unauthorized` with the realm and a
//! nonce (RFC 8489 §9.2), never the crate's bare `400`.
//!
//! Allocation lifetimes are capped at `turn_allocation_lifetime`: the lifetime in the
//! server's `Allocate` and `Refresh` success responses is lowered to the cap and the
//! response re-signed, so clients refresh within it and ask for it on every refresh.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use webrtc::stun::attributes::{
    ATTR_FINGERPRINT, ATTR_LIFETIME, ATTR_MESSAGE_INTEGRITY, ATTR_NONCE, ATTR_REALM, ATTR_USERNAME,
};
use webrtc::stun::fingerprint::FINGERPRINT;
use webrtc::stun::integrity::MessageIntegrity;
use webrtc::stun::message::{METHOD_ALLOCATE, Message, Setter};

use super::REALM;
use crate::signalling::credentials::TurnCredentials;

pub(super) struct TurnAuth {
    credentials: TurnCredentials,
    /// Client address → the username its live allocation was made with.
    holders: Mutex<HashMap<SocketAddr, String>>,
    max_lifetime: Duration,
}

impl TurnAuth {
    pub fn new(credentials: TurnCredentials, max_lifetime: Duration) -> Self {
        TurnAuth {
            credentials,
            holders: Mutex::new(HashMap::new()),
            max_lifetime,
        }
    }

    /// The long-term key for `username` from `client`, if it may use the server now:
    /// an unexpired credential, or (`allocating` false) the expired one `client`'s live
    /// allocation was made with.
    pub fn key(
        &self,
        username: &str,
        realm: &str,
        client: SocketAddr,
        allocating: bool,
        now_secs: i64,
    ) -> Option<Vec<u8>> {
        let password = match self.credentials.password_if_valid(username, now_secs) {
            Some(password) => password,
            None if !allocating && self.holds(client, username) => {
                self.credentials.password_of(username)?
            }
            None => return None,
        };
        Some(long_term_key(username, realm, &password))
    }

    /// Whether a signed request passes: its username may be used and its
    /// MESSAGE-INTEGRITY matches. Requests without MESSAGE-INTEGRITY are the server's to
    /// answer (`401` with a nonce, or `400` for missing attributes).
    pub fn admits(&self, message: &Message, client: SocketAddr, now_secs: i64) -> bool {
        if !message.contains(ATTR_MESSAGE_INTEGRITY) {
            return true;
        }
        let (Ok(username), Ok(realm)) = (message.get(ATTR_USERNAME), message.get(ATTR_REALM))
        else {
            return true; // malformed: the server answers 400
        };
        let username = String::from_utf8_lossy(&username);
        let realm = String::from_utf8_lossy(&realm);
        let allocating = message.typ.method == METHOD_ALLOCATE;
        let Some(key) = self.key(&username, &realm, client, allocating, now_secs) else {
            return false;
        };
        MessageIntegrity(key).check(&mut message.clone()).is_ok()
    }

    fn holds(&self, client: SocketAddr, username: &str) -> bool {
        self.holders
            .lock()
            .is_ok_and(|holders| holders.get(&client).is_some_and(|held| held == username))
    }

    pub fn hold(&self, client: SocketAddr, username: String) {
        if let Ok(mut holders) = self.holders.lock() {
            holders.insert(client, username);
        }
    }

    pub fn release(&self, client: SocketAddr) {
        if let Ok(mut holders) = self.holders.lock() {
            holders.remove(&client);
        }
    }

    /// The server's success response to `username`'s `Allocate` or `Refresh` with its
    /// lifetime capped, re-signed; `None` when it is within the cap already (or cannot
    /// be rewritten: it then goes out as the server made it).
    pub fn capped(&self, response: &Message, username: &str) -> Option<Vec<u8>> {
        let lifetime = response.get(ATTR_LIFETIME).ok()?;
        let seconds = u32::from_be_bytes(lifetime.as_slice().try_into().ok()?);
        let cap = self.max_lifetime.as_secs().min(u64::from(u32::MAX)) as u32;
        if seconds <= cap {
            return None;
        }
        let password = self.credentials.password_of(username)?;
        let mut out = Message::new();
        out.typ = response.typ;
        out.transaction_id = response.transaction_id;
        out.write_header();
        let mut signed = false;
        let mut fingerprinted = false;
        for attribute in &response.attributes.0 {
            match attribute.typ {
                ATTR_MESSAGE_INTEGRITY => signed = true,
                ATTR_FINGERPRINT => fingerprinted = true,
                ATTR_LIFETIME => out.add(ATTR_LIFETIME, &cap.to_be_bytes()),
                other => out.add(other, &attribute.value),
            }
        }
        if signed {
            MessageIntegrity(long_term_key(username, REALM, &password))
                .add_to(&mut out)
                .ok()?;
        }
        if fingerprinted {
            FINGERPRINT.add_to(&mut out).ok()?;
        }
        Some(out.raw)
    }
}

fn long_term_key(username: &str, realm: &str, password: &str) -> Vec<u8> {
    MessageIntegrity::new_long_term_integrity(
        username.to_owned(),
        realm.to_owned(),
        password.to_owned(),
    )
    .0
}

/// The nonce a request carried, to echo in a `401` (the client retries with it).
pub(super) fn nonce_of(message: &Message) -> Option<Vec<u8>> {
    message.get(ATTR_NONCE).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::ids::AccountId;
    use webrtc::stun::message::{CLASS_REQUEST, METHOD_REFRESH, MessageType};
    use webrtc::stun::textattrs::TextAttribute;

    fn auth() -> (TurnAuth, TurnCredentials) {
        let credentials = TurnCredentials::new(
            Secret::new(b"0123456789abcdef".to_vec()),
            Duration::from_secs(60),
        );
        (
            TurnAuth::new(credentials.clone(), Duration::from_secs(30)),
            credentials,
        )
    }

    fn signed(method: webrtc::stun::message::Method, username: &str, password: &str) -> Message {
        let mut message = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(webrtc::stun::agent::TransactionId::new()),
            Box::new(MessageType::new(method, CLASS_REQUEST)),
            Box::new(TextAttribute::new(ATTR_USERNAME, username.into())),
            Box::new(TextAttribute::new(ATTR_REALM, REALM.into())),
            Box::new(TextAttribute::new(ATTR_NONCE, "n".into())),
            Box::new(MessageIntegrity::new_long_term_integrity(
                username.into(),
                REALM.into(),
                password.into(),
            )),
        ];
        message.build(&setters).unwrap();
        let mut decoded = Message::new();
        decoded.raw = message.raw.clone();
        decoded.decode().unwrap();
        decoded
    }

    #[test]
    fn an_allocation_outlives_its_credential_but_a_new_one_needs_a_fresh_credential() {
        let (auth, credentials) = auth();
        let issued = credentials.issue(&AccountId::parse("a").unwrap(), 1_000);
        let client: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let later = issued.expires_at + 100;
        let refresh = signed(METHOD_REFRESH, &issued.username, &issued.credential);
        let allocate = signed(METHOD_ALLOCATE, &issued.username, &issued.credential);
        assert!(auth.admits(&allocate, client, 1_000));
        assert!(!auth.admits(&refresh, client, later), "no allocation held");
        auth.hold(client, issued.username.clone());
        assert!(auth.admits(&refresh, client, later));
        assert!(!auth.admits(&allocate, client, later), "a new allocation");
        let elsewhere: SocketAddr = "192.0.2.1:5001".parse().unwrap();
        assert!(!auth.admits(&refresh, elsewhere, later));
        let forged = signed(METHOD_REFRESH, &issued.username, "not-the-credential");
        assert!(!auth.admits(&forged, client, 1_000));
        auth.release(client);
        assert!(!auth.admits(&refresh, client, later));
    }
}
