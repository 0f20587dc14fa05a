//! Identifier newtypes.
//!
//! Every id that crosses the wire is an opaque random string with a short prefix
//! naming its kind (`c_…` conversation, `m_…` member, `r_…` relationship). Member ids
//! are drawn fresh for every (conversation, account) pair, so nothing another party
//! sees can be reversed or linked back to an account id, and the same account in two
//! conversations has two unrelated member ids.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// 96 random bits, base32 (lower case, no padding): 20 characters.
fn random_token() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    base32_lower(&bytes)
}

fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn random() -> Self {
                Self(format!("{}{}", $prefix, random_token()))
            }

            /// Accepts a string from the wire if it has this id's shape; anything else
            /// is treated as "not found" by callers, never as an internal error.
            pub fn parse(raw: &str) -> Option<Self> {
                let rest = raw.strip_prefix($prefix)?;
                let ok = !rest.is_empty()
                    && rest.len() <= 40
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                ok.then(|| Self(raw.to_owned()))
            }

            /// Wraps a value read back from our own store.
            pub fn from_stored(raw: String) -> Self {
                Self(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": concat!("^", $prefix, "[a-z0-9]{1,40}$"),
                })
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

random_id!(
    /// A conversation: a relationship's dyad/triad or a group/peer room.
    ConversationId,
    "c_"
);
random_id!(
    /// A member of one conversation. Random per (conversation, account); never derived
    /// from the account id.
    MemberId,
    "m_"
);
random_id!(
    /// A mentoring relationship (request, offer or assignment and its life cycle).
    RelationshipId,
    "r_"
);
random_id!(
    /// A call inside a conversation.
    CallId,
    "k_"
);
random_id!(
    /// A safeguarding report.
    ReportId,
    "p_"
);
random_id!(
    /// A device's push subscription.
    PushSubscriptionId,
    "w_"
);
random_id!(
    /// One notification in the outbox.
    NotificationId,
    "n_"
);

/// An account as named by the institution's identity provider (the token's `sub`).
///
/// Never sent to anyone but the account itself (and, for assigned relationships, the
/// coordinator who assigned it). Not logged next to pseudonymous activity.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub const MAX_LEN: usize = 200;

    pub fn parse(raw: &str) -> Option<Self> {
        let ok =
            !raw.is_empty() && raw.len() <= Self::MAX_LEN && !raw.chars().any(|c| c.is_control());
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl schemars::JsonSchema for AccountId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AccountId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": AccountId::MAX_LEN,
            "description": "An account as the identity provider names it (the token's `sub`).",
        })
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

/// A message's position in its conversation: gap-free, starting at 1.
pub type Seq = u64;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A fresh opaque token (invite codes, session ids, TURN usernames).
pub fn opaque_token() -> String {
    random_token()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_prefix_and_parse_back() {
        let id = MemberId::random();
        assert!(id.as_str().starts_with("m_"));
        assert_eq!(MemberId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn ids_of_other_kinds_do_not_parse() {
        let conversation = ConversationId::random();
        assert_eq!(MemberId::parse(conversation.as_str()), None);
        assert_eq!(MemberId::parse("m_"), None);
        assert_eq!(MemberId::parse("m_ABC"), None);
    }

    #[test]
    fn member_ids_do_not_repeat() {
        let a = MemberId::random();
        let b = MemberId::random();
        assert_ne!(a, b);
    }
}
