//! Web Push delivery: one encrypted, VAPID-signed POST to a subscription's endpoint.
//!
//! The `web-push` crate does the cryptography (RFC 8291 `aes128gcm` encryption with the
//! browser's keys, the RFC 8292 JWT) and builds the request; it goes out over our own
//! hyper client (rustls, the system's roots), with a timeout well inside the outbox
//! lease. Endpoints and keys are secrets of the browser: nothing here logs them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use web_push::{ContentEncoding, SubscriptionInfo, Urgency, WebPushMessageBuilder};

use super::vapid::VapidKey;
use crate::store::PushSubscriptionRecord;

/// Longest wait for a push service's answer; well below the outbox lease, so a send
/// that started under a lease ends before another node could claim the row.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

type HttpsClient = crate::outbound::HttpsClient<Full<Bytes>>;

/// How one delivery went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted (201).
    Delivered,
    /// 404 or 410: the subscription is gone; remove it.
    Gone,
    /// Unreachable, timed out, 429 or 5xx: try again later.
    Retry,
    /// Refused for good (another 4xx, or a subscription whose keys cannot encrypt).
    Rejected,
}

/// One message: the plaintext and its headers.
#[derive(Clone, Debug)]
pub struct PushMessage<'a> {
    pub payload: &'a [u8],
    pub ttl: Duration,
    pub topic: String,
    pub urgent: bool,
}

/// Sends push messages signed with the server's VAPID key.
#[derive(Clone)]
pub struct PushSender {
    client: HttpsClient,
    key: Arc<VapidKey>,
    /// The JWT's `sub`: a contact for the push service's operator (mailto: or https:).
    subject: Arc<str>,
}

impl PushSender {
    pub fn new(key: Arc<VapidKey>, subject: &str) -> Result<PushSender, String> {
        // Plain http only reaches endpoints the subscription check let through
        // (loopback, where allowed for tests).
        let client = crate::outbound::https_client()?;
        Ok(PushSender {
            client,
            key,
            subject: subject.into(),
        })
    }

    pub fn public_key(&self) -> &str {
        self.key.public_key()
    }

    /// Encrypts, signs and posts one message to one subscription.
    pub async fn send(
        &self,
        to: &PushSubscriptionRecord,
        message: &PushMessage<'_>,
    ) -> PushOutcome {
        let request = match self.request(to, message) {
            Ok(request) => request,
            Err(reason) => {
                tracing::warn!(subscription = %to.id, reason, "push message not built");
                return PushOutcome::Rejected;
            }
        };
        let answer = tokio::time::timeout(SEND_TIMEOUT, self.client.request(request)).await;
        let status = match answer {
            Ok(Ok(response)) => response.status().as_u16(),
            Ok(Err(error)) => {
                // The error's text can name the endpoint's host: its kind only.
                let kind = if error.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                tracing::info!(subscription = %to.id, kind, "push service unreachable");
                return PushOutcome::Retry;
            }
            Err(_) => {
                tracing::info!(subscription = %to.id, "push service timed out");
                return PushOutcome::Retry;
            }
        };
        outcome_of(status)
    }

    fn request(
        &self,
        to: &PushSubscriptionRecord,
        message: &PushMessage<'_>,
    ) -> Result<hyper::Request<Full<Bytes>>, &'static str> {
        let info =
            SubscriptionInfo::new(to.endpoint.as_str(), to.p256dh.as_str(), to.auth.as_str());
        let audience = origin(&to.endpoint).ok_or("endpoint is not an absolute URL")?;
        let mut signature = self.key.signer().add_sub_info(&info);
        // RFC 8292 §2: `aud` is the push resource's origin, port included (the crate's
        // own default leaves the port out).
        signature.add_claim("aud", audience);
        signature.add_claim("sub", self.subject.to_string());
        let signature = signature.build().map_err(|_| "VAPID signature failed")?;
        let mut builder = WebPushMessageBuilder::new(&info);
        builder.set_payload(ContentEncoding::Aes128Gcm, message.payload);
        builder.set_vapid_signature(signature);
        builder.set_ttl(message.ttl.as_secs().min(u64::from(u32::MAX)) as u32);
        builder.set_topic(message.topic.clone());
        builder.set_urgency(if message.urgent {
            Urgency::High
        } else {
            Urgency::Normal
        });
        let built = builder
            .build()
            .map_err(|_| "subscription keys cannot encrypt")?;
        let built = web_push::request_builder::build_request::<Vec<u8>>(built);
        // `web-push` speaks `http` 0.2; hyper 1 takes the same parts.
        let mut request = hyper::Request::builder()
            .method(hyper::Method::POST)
            .uri(built.uri().to_string());
        for (name, value) in built.headers() {
            request = request.header(name.as_str(), value.as_bytes());
        }
        request
            .body(Full::new(Bytes::from(built.into_body())))
            .map_err(|_| "request not built")
    }
}

/// RFC 8030 §5 and §7.3: 201 is success; 404 and 410 mean the subscription expired.
pub fn outcome_of(status: u16) -> PushOutcome {
    match status {
        200..=299 => PushOutcome::Delivered,
        404 | 410 => PushOutcome::Gone,
        408 | 429 | 500..=599 => PushOutcome::Retry,
        _ => PushOutcome::Rejected,
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin(url: &str) -> Option<String> {
    let uri: hyper::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    // Userinfo never belongs in an origin (and the subscription check refuses it).
    let host_port = authority.as_str().rsplit('@').next()?;
    Some(format!("{scheme}://{host_port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(outcome_of(201), PushOutcome::Delivered);
        assert_eq!(outcome_of(410), PushOutcome::Gone);
        assert_eq!(outcome_of(404), PushOutcome::Gone);
        assert_eq!(outcome_of(429), PushOutcome::Retry);
        assert_eq!(outcome_of(503), PushOutcome::Retry);
        assert_eq!(outcome_of(400), PushOutcome::Rejected);
        assert_eq!(outcome_of(413), PushOutcome::Rejected);
    }

    #[test]
    fn the_audience_keeps_the_port() {
        assert_eq!(
            origin("http://127.0.0.1:4567/push/abc").as_deref(),
            Some("http://127.0.0.1:4567")
        );
        assert_eq!(
            origin("https://fcm.googleapis.com/fcm/send/x").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(origin("/relative"), None);
    }
}
