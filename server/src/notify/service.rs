//! What the REST API asks of notifications: a device's subscription, the account's
//! preferences, the VAPID public key.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::push::PushSender;
use crate::auth::Principal;
use crate::error::{DomainResult, Refusal};
use crate::ids::{PushSubscriptionId, now_millis};
use crate::protocol::ErrorCode;
use crate::protocol::notify::{
    NotificationPreferences, PushInfo, PushSubscriptionBody, PushSubscriptionRequest,
};
use crate::store::{PushSubscriptionRecord, Store, WriteError};

/// Most devices one account may subscribe.
pub const MAX_SUBSCRIPTIONS_PER_ACCOUNT: u32 = 20;
/// Longest endpoint URL accepted (push services' are a few hundred bytes).
const MAX_ENDPOINT_BYTES: usize = 2048;

#[derive(Clone)]
pub struct Notifications {
    store: Arc<dyn Store>,
    /// `None`: Web Push is off on this server.
    sender: Option<PushSender>,
    /// Plain `http://` endpoints on a loopback address are accepted (tests, `--dev`).
    allow_http_loopback: bool,
}

impl Notifications {
    pub fn new(
        store: Arc<dyn Store>,
        sender: Option<PushSender>,
        allow_http_loopback: bool,
    ) -> Notifications {
        Notifications {
            store,
            sender,
            allow_http_loopback,
        }
    }

    /// `/api/info`'s `push`, when Web Push is on.
    pub fn push_info(&self) -> Option<PushInfo> {
        self.sender.as_ref().map(|s| PushInfo {
            vapid_public_key: s.public_key().to_owned(),
        })
    }

    /// Saves a device's subscription: `true` with a new one, `false` when the endpoint
    /// was known (same id, keys refreshed).
    pub async fn subscribe(
        &self,
        principal: &Principal,
        request: &PushSubscriptionRequest,
    ) -> DomainResult<(PushSubscriptionBody, bool)> {
        if self.sender.is_none() {
            return Err(Refusal::new(
                ErrorCode::NotFound,
                "Web Push is not configured on this server",
            ));
        }
        check_endpoint(&request.endpoint, self.allow_http_loopback)?;
        check_key(&request.keys.p256dh, 65, Some(4), "keys.p256dh")?;
        check_key(&request.keys.auth, 16, None, "keys.auth")?;
        let record = PushSubscriptionRecord {
            id: PushSubscriptionId::random(),
            account: principal.account.clone(),
            endpoint: request.endpoint.clone(),
            p256dh: request.keys.p256dh.clone(),
            auth: request.keys.auth.clone(),
            created_at: now_millis(),
        };
        let saved = match self
            .store
            .save_push_subscription(&record, MAX_SUBSCRIPTIONS_PER_ACCOUNT)
            .await
        {
            Err(WriteError::LimitReached) => {
                return Err(Refusal::limit_reached(
                    "too many push subscriptions: remove an old device first",
                ));
            }
            Err(WriteError::Conflict) => {
                return Err(Refusal::conflict(
                    "the same subscription was saved at the same moment: try again",
                ));
            }
            other => other.map_err(store_refusal)?,
        };
        Ok((
            PushSubscriptionBody {
                id: saved.id.as_str().to_owned(),
            },
            saved.created,
        ))
    }

    /// Removes one of the caller's subscriptions; not found otherwise (also when the id
    /// is someone else's).
    pub async fn unsubscribe(&self, principal: &Principal, raw_id: &str) -> DomainResult<()> {
        let id = PushSubscriptionId::parse(raw_id).ok_or_else(Refusal::not_found)?;
        if self
            .store
            .delete_push_subscription(&principal.account, &id)
            .await?
        {
            Ok(())
        } else {
            Err(Refusal::not_found())
        }
    }

    pub async fn preferences(
        &self,
        principal: &Principal,
    ) -> DomainResult<NotificationPreferences> {
        Ok(self
            .store
            .notification_preferences(&principal.account)
            .await?
            .unwrap_or_default())
    }

    pub async fn set_preferences(
        &self,
        principal: &Principal,
        preferences: NotificationPreferences,
    ) -> DomainResult<NotificationPreferences> {
        super::rules::validate(&preferences)?;
        // Stored as minutes: `7:5`-style input never gets here, and `07:05` reads back.
        self.store
            .save_notification_preferences(&principal.account, &preferences, now_millis())
            .await?;
        Ok(preferences)
    }
}

fn store_refusal(error: WriteError) -> Refusal {
    match error {
        WriteError::Store(e) => e.into(),
        other => Refusal::new(ErrorCode::Internal, other.to_string()),
    }
}

fn invalid(message: &'static str) -> Refusal {
    Refusal::new(ErrorCode::BodyInvalid, message)
}

/// An endpoint must be an https URL without user info; plain http only to a loopback
/// address, and only where allowed (tests).
pub fn check_endpoint(endpoint: &str, allow_http_loopback: bool) -> Result<(), Refusal> {
    if endpoint.len() > MAX_ENDPOINT_BYTES {
        return Err(invalid("endpoint is too long"));
    }
    let uri: hyper::Uri = endpoint
        .parse()
        .map_err(|_| invalid("endpoint must be an absolute https URL"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| invalid("endpoint must be an absolute https URL"))?;
    if authority.as_str().contains('@') {
        return Err(invalid("endpoint must not carry user info"));
    }
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if allow_http_loopback && is_loopback(authority.host()) => Ok(()),
        _ => Err(invalid("endpoint must be an absolute https URL")),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_key(raw: &str, len: usize, first: Option<u8>, field: &'static str) -> Result<(), Refusal> {
    let message = match field {
        "keys.p256dh" => "keys.p256dh must be an uncompressed P-256 point, base64url",
        _ => "keys.auth must be 16 bytes, base64url",
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| invalid(message))?;
    if bytes.len() != len || first.is_some_and(|b| bytes.first() != Some(&b)) {
        return Err(invalid(message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_allowed_loopback_http() {
        assert!(check_endpoint("https://push.example/abc", false).is_ok());
        assert!(check_endpoint("http://push.example/abc", true).is_err());
        assert!(check_endpoint("http://127.0.0.1:9000/abc", false).is_err());
        assert!(check_endpoint("http://127.0.0.1:9000/abc", true).is_ok());
        assert!(check_endpoint("http://[::1]:9000/abc", true).is_ok());
        assert!(check_endpoint("https://user:pw@push.example/abc", false).is_err());
        assert!(check_endpoint("/relative", true).is_err());
        assert!(check_endpoint("ftp://push.example/", true).is_err());
        let long = format!("https://push.example/{}", "a".repeat(MAX_ENDPOINT_BYTES));
        assert!(check_endpoint(&long, false).is_err());
    }

    #[test]
    fn keys_must_have_their_sizes() {
        let point = URL_SAFE_NO_PAD.encode([4u8; 65]);
        assert!(check_key(&point, 65, Some(4), "keys.p256dh").is_ok());
        let compressed = URL_SAFE_NO_PAD.encode([2u8; 33]);
        assert!(check_key(&compressed, 65, Some(4), "keys.p256dh").is_err());
        let auth = URL_SAFE_NO_PAD.encode([7u8; 16]);
        assert!(check_key(&auth, 16, None, "keys.auth").is_ok());
        assert!(check_key("not base64!", 16, None, "keys.auth").is_err());
    }
}
