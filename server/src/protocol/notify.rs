//! Notifications on the wire: the REST bodies of push subscriptions and notification
//! preferences, and the push payload a service worker decrypts.
//!
//! The payload is content-free by construction: a kind, a count and a link built from
//! an opaque conversation id. No field can carry a body, a title, an agreement or a
//! display name.

use serde::{Deserialize, Serialize};

/// What happened, as the recipient's service worker words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// New messages in a conversation.
    Message,
    /// New thread replies (and no new top-level message) in a conversation.
    Reply,
    /// A relationship request, offer or assignment waits for the recipient's answer.
    Relationship,
    /// An invitation to a room.
    Invitation,
    MissedCall,
    RingingCall,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 6] = [
        NotificationKind::Message,
        NotificationKind::Reply,
        NotificationKind::Relationship,
        NotificationKind::Invitation,
        NotificationKind::MissedCall,
        NotificationKind::RingingCall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Message => "message",
            NotificationKind::Reply => "reply",
            NotificationKind::Relationship => "relationship",
            NotificationKind::Invitation => "invitation",
            NotificationKind::MissedCall => "missed_call",
            NotificationKind::RingingCall => "ringing_call",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// The plaintext of one push message, before RFC 8291 encryption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushPayload {
    pub kind: NotificationKind,
    /// How many things of this kind (messages, replies; 1 otherwise).
    pub count: u64,
    /// Where a click leads: `/#/c/<conversation id>`, or `/#/` when there is none.
    pub link: String,
}

/// A browser's push subscription (`PushSubscription.toJSON()`, less `expirationTime`).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
pub struct PushSubscriptionRequest {
    /// The push service URL; https (plain http only to a loopback address where the
    /// server allows it, for tests).
    pub endpoint: String,
    pub keys: PushSubscriptionKeys,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionKeys {
    /// The browser's P-256 public key, uncompressed point, base64url.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

/// A stored subscription's opaque id.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PushSubscriptionBody {
    pub id: String,
}

/// Per-kind switches; `message` covers thread replies too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindSwitches {
    pub message: bool,
    pub relationship: bool,
    pub invitation: bool,
    pub missed_call: bool,
    pub ringing_call: bool,
}

impl KindSwitches {
    pub fn allows(&self, kind: NotificationKind) -> bool {
        match kind {
            NotificationKind::Message | NotificationKind::Reply => self.message,
            NotificationKind::Relationship => self.relationship,
            NotificationKind::Invitation => self.invitation,
            NotificationKind::MissedCall => self.missed_call,
            NotificationKind::RingingCall => self.ringing_call,
        }
    }
}

/// Quiet hours, in the recipient's own time zone; `end` before `start` spans midnight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Local time `HH:MM` (24-hour).
    pub start: String,
    /// Local time `HH:MM`; must differ from `start`.
    pub end: String,
    /// An IANA time zone name, e.g. `Europe/London`.
    pub time_zone: String,
}

/// What an account wants to be told, and when not (`GET`/`PUT /api/me/notifications`,
/// always the whole object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// Web Push to the devices the account subscribed.
    pub push: bool,
    pub kinds: KindSwitches,
    pub quiet_hours: Option<QuietHours>,
    /// A ringing call still rings through quiet hours.
    pub ringing_in_quiet_hours: bool,
    /// Most push notifications in any 24 hours, 0–1000.
    pub daily_cap: u32,
}

impl Default for NotificationPreferences {
    /// Defaults that protect attention: push only where the person subscribed a device,
    /// no quiet hours chosen yet, at most 20 a day. (The e-mail digest
    /// is chosen apart, at `/api/me/email-digest`: off by default.)
    fn default() -> Self {
        NotificationPreferences {
            push: true,
            kinds: KindSwitches {
                message: true,
                relationship: true,
                invitation: true,
                missed_call: true,
                ringing_call: true,
            },
            quiet_hours: None,
            ringing_in_quiet_hours: false,
            daily_cap: 20,
        }
    }
}

/// `GET /api/info`'s `push` field: what a service worker subscribes with.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PushInfo {
    /// The VAPID public key (`applicationServerKey`): an uncompressed P-256 point, base64url.
    pub vapid_public_key: String,
}
