//! What a `system` timeline event says: membership and life-cycle changes, typed.
//!
//! A system event is the `event` object of a [`super::server::SystemEvent`]: a `kind`
//! and the member ids / display names involved, never an account id. The domain builds
//! one [`SystemKind`] per change, stores it as [`SystemKind::to_meta`] and reads it back
//! with [`SystemKind::from_meta`]; nothing else spells these objects. Their keys are
//! written in alphabetical order (the order the web client and stored events have
//! always had), whatever the kind.

use serde::{Deserialize, Serialize};

use super::vocabulary::{CallRouting, MemberRole};
use crate::ids::{MemberId, RelationshipId};

/// One membership or life-cycle change recorded in a conversation's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SystemKind {
    /// Every party accepted: the relationship's conversation opened.
    RelationshipActive {
        relationship: RelationshipId,
    },
    /// A party ended the relationship: the conversation is read-only from here.
    RelationshipEnded {
        relationship: RelationshipId,
    },
    /// The room was created; `member` is its first facilitator.
    RoomCreated {
        member: MemberId,
    },
    MemberJoined {
        member: MemberId,
        display_name: String,
    },
    /// The member accepted the room's confidentiality agreement.
    AgreementAccepted {
        member: MemberId,
    },
    MemberLeft {
        member: MemberId,
    },
    MemberRemoved {
        member: MemberId,
        by: MemberId,
    },
    MemberMuted {
        member: MemberId,
        by: MemberId,
    },
    MemberUnmuted {
        member: MemberId,
        by: MemberId,
    },
    RoleChanged {
        member: MemberId,
        role: MemberRole,
        by: MemberId,
    },
    /// The member shows their own name from here on.
    IdentityRevealed {
        member: MemberId,
        display_name: String,
    },
    /// A facilitator changed how the room's calls carry media (from the next call on).
    RoomCallsChanged {
        calls: CallRouting,
        by: MemberId,
    },
    /// A stored event this version cannot read (written by a newer one): passed on as
    /// it was stored.
    #[serde(skip)]
    Unrecognised(serde_json::Value),
}

/// The keys of every kind, in alphabetical order, for one serialisation.
#[derive(Serialize)]
struct Fields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a MemberId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calls: Option<CallRouting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a MemberId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relationship: Option<&'a RelationshipId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<MemberRole>,
}

impl<'a> Fields<'a> {
    fn of(kind: &'static str) -> Self {
        Fields {
            by: None,
            calls: None,
            display_name: None,
            kind,
            member: None,
            relationship: None,
            role: None,
        }
    }

    fn member(kind: &'static str, member: &'a MemberId) -> Self {
        Fields {
            member: Some(member),
            ..Fields::of(kind)
        }
    }

    fn by(kind: &'static str, member: &'a MemberId, by: &'a MemberId) -> Self {
        Fields {
            by: Some(by),
            ..Fields::member(kind, member)
        }
    }

    fn named(kind: &'static str, member: &'a MemberId, display_name: &'a str) -> Self {
        Fields {
            display_name: Some(display_name),
            ..Fields::member(kind, member)
        }
    }

    fn relationship(kind: &'static str, relationship: &'a RelationshipId) -> Self {
        Fields {
            relationship: Some(relationship),
            ..Fields::of(kind)
        }
    }
}

impl SystemKind {
    /// The member the change is about (for relationship changes: none).
    pub fn member(&self) -> Option<&MemberId> {
        match self {
            SystemKind::RoomCreated { member }
            | SystemKind::MemberJoined { member, .. }
            | SystemKind::AgreementAccepted { member }
            | SystemKind::MemberLeft { member }
            | SystemKind::MemberRemoved { member, .. }
            | SystemKind::MemberMuted { member, .. }
            | SystemKind::MemberUnmuted { member, .. }
            | SystemKind::RoleChanged { member, .. }
            | SystemKind::IdentityRevealed { member, .. } => Some(member),
            SystemKind::RelationshipActive { .. }
            | SystemKind::RelationshipEnded { .. }
            | SystemKind::RoomCallsChanged { .. }
            | SystemKind::Unrecognised(_) => None,
        }
    }

    fn fields(&self) -> Option<Fields<'_>> {
        Some(match self {
            SystemKind::RelationshipActive { relationship } => {
                Fields::relationship("relationship_active", relationship)
            }
            SystemKind::RelationshipEnded { relationship } => {
                Fields::relationship("relationship_ended", relationship)
            }
            SystemKind::RoomCreated { member } => Fields::member("room_created", member),
            SystemKind::MemberJoined {
                member,
                display_name,
            } => Fields::named("member_joined", member, display_name),
            SystemKind::AgreementAccepted { member } => {
                Fields::member("agreement_accepted", member)
            }
            SystemKind::MemberLeft { member } => Fields::member("member_left", member),
            SystemKind::MemberRemoved { member, by } => Fields::by("member_removed", member, by),
            SystemKind::MemberMuted { member, by } => Fields::by("member_muted", member, by),
            SystemKind::MemberUnmuted { member, by } => Fields::by("member_unmuted", member, by),
            SystemKind::RoleChanged { member, role, by } => Fields {
                role: Some(*role),
                ..Fields::by("role_changed", member, by)
            },
            SystemKind::IdentityRevealed {
                member,
                display_name,
            } => Fields::named("identity_revealed", member, display_name),
            SystemKind::RoomCallsChanged { calls, by } => Fields {
                by: Some(by),
                calls: Some(*calls),
                ..Fields::of("room_calls_changed")
            },
            SystemKind::Unrecognised(_) => return None,
        })
    }

    /// The text stored with the event.
    pub fn to_meta(&self) -> String {
        // Serialising plain strings and ids cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("null"))
    }

    /// Reads a stored event back; text this version does not know is kept as it was.
    pub fn from_meta(meta: &str) -> SystemKind {
        serde_json::from_str(meta).unwrap_or_else(|_| {
            SystemKind::Unrecognised(serde_json::from_str(meta).unwrap_or_default())
        })
    }
}

impl Serialize for SystemKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.fields(), self) {
            (Some(fields), _) => fields.serialize(serializer),
            (None, SystemKind::Unrecognised(raw)) => raw.serialize(serializer),
            (None, _) => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(raw: &str) -> MemberId {
        MemberId::from_stored(raw.into())
    }

    fn every_kind() -> Vec<SystemKind> {
        let relationship = RelationshipId::from_stored("r_1".into());
        let (m, by) = (member("m_a"), member("m_f"));
        vec![
            SystemKind::RelationshipActive {
                relationship: relationship.clone(),
            },
            SystemKind::RelationshipEnded { relationship },
            SystemKind::RoomCreated { member: m.clone() },
            SystemKind::MemberJoined {
                member: m.clone(),
                display_name: "Owl".into(),
            },
            SystemKind::AgreementAccepted { member: m.clone() },
            SystemKind::MemberLeft { member: m.clone() },
            SystemKind::MemberRemoved {
                member: m.clone(),
                by: by.clone(),
            },
            SystemKind::MemberMuted {
                member: m.clone(),
                by: by.clone(),
            },
            SystemKind::MemberUnmuted {
                member: m.clone(),
                by: by.clone(),
            },
            SystemKind::RoleChanged {
                member: m.clone(),
                role: MemberRole::Facilitator,
                by,
            },
            SystemKind::IdentityRevealed {
                member: m,
                display_name: "Dr Real".into(),
            },
            SystemKind::RoomCallsChanged {
                calls: CallRouting::Sfu,
                by: member("m_f"),
            },
        ]
    }

    #[test]
    fn every_kind_reads_back_as_written() {
        for kind in every_kind() {
            assert_eq!(SystemKind::from_meta(&kind.to_meta()), kind, "{kind:?}");
        }
    }

    #[test]
    fn keys_are_alphabetical_as_clients_and_stored_events_have_them() {
        let texts: Vec<String> = every_kind().iter().map(SystemKind::to_meta).collect();
        assert_eq!(
            texts[0],
            r#"{"kind":"relationship_active","relationship":"r_1"}"#
        );
        assert_eq!(
            texts[3],
            r#"{"display_name":"Owl","kind":"member_joined","member":"m_a"}"#
        );
        assert_eq!(
            texts[9],
            r#"{"by":"m_f","kind":"role_changed","member":"m_a","role":"facilitator"}"#
        );
        assert_eq!(
            texts[11],
            r#"{"by":"m_f","calls":"sfu","kind":"room_calls_changed"}"#
        );
        for text in texts {
            // What a generic JSON object (sorted keys) makes of it is the same text.
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value.to_string(), text);
        }
    }

    #[test]
    fn an_unknown_stored_event_passes_through_unchanged() {
        let stored = r#"{"kind":"from_the_future","member":"m_a"}"#;
        let kind = SystemKind::from_meta(stored);
        assert!(matches!(kind, SystemKind::Unrecognised(_)));
        assert_eq!(kind.to_meta(), stored);
        assert_eq!(kind.member(), None);
    }
}
