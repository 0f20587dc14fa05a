//! The mentoring model's words: every state, role, origin and response as an enum.
//!
//! Each word has exactly one spelling, written once in [`words!`]: the same string is
//! sent on the wire (serde), stored in the database and parsed back from it, so a state
//! is compared as an enum everywhere and a string appears only where it is
//! (de)serialised. Clients match these strings: they never change meaning.

/// Declares an enum of words, each with its one string, and derives from that table
/// `as_str`, `parse`, `Display`, `Serialize`, `Deserialize` and the JSON Schema.
macro_rules! words {
    ($(
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+ }
    )+) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )+ }
            }

            /// The word spelled `raw`, if it is one.
            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $( $text => Some($name::$variant), )+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "enum": [$($text),+] })
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&raw).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&raw, &[$($text),+])
                })
            }
        }
    )+};
}

words! {
    /// How often an account is e-mailed about its unread messages: never, unless it
    /// chooses so.
    pub enum EmailDigest {
        Off = "off",
        /// At most one e-mail a day.
        Daily = "daily",
        /// Once messages have been unread for the account's number of hours.
        AfterHours = "after_hours",
    }

    /// What a conversation belongs to.
    pub enum ConversationKind {
        Relationship = "relationship",
        Room = "room",
    }

    /// Whether a conversation can be read and written.
    pub enum ConversationState {
        /// Created with a relationship request: members exist, nobody may post yet.
        Pending = "pending",
        Active = "active",
        /// Ended relationship: members read, nobody posts, nobody joins.
        ReadOnly = "read_only",
        /// Declined or withdrawn request: nothing to read.
        Closed = "closed",
    }

    /// A room's shape: facilitated group mentoring, or peers supporting each other.
    pub enum RoomKind {
        Group = "group",
        Peer = "peer",
    }

    /// How a room's calls carry media: as a mesh until they outgrow it, then through
    /// the SFU (`auto`), or through the SFU from the first participant (`sfu`). A server
    /// without an SFU runs every call as a mesh whatever the room says.
    pub enum CallRouting {
        Auto = "auto",
        Sfu = "sfu",
    }

    /// Where a mentoring relationship is in its life cycle.
    pub enum RelationshipState {
        /// Waiting for every party's answer.
        Pending = "pending",
        /// Every party accepted: the conversation is open.
        Active = "active",
        /// A party declined (which one is never shown to the others).
        Declined = "declined",
        /// A party ended it, no fault: the conversation stays readable.
        Ended = "ended",
        /// Its initiator took the request back before it was answered.
        Withdrawn = "withdrawn",
    }

    /// How a relationship started.
    pub enum Origin {
        /// A mentee asked a mentor.
        Requested = "requested",
        /// A mentor offered to mentor a mentee.
        Offered = "offered",
        /// A programme coordinator paired them.
        Assigned = "assigned",
    }

    /// A party's side of a relationship.
    pub enum PartyRole {
        Mentee = "mentee",
        Mentor = "mentor",
    }

    /// A party's answer to a relationship.
    pub enum Response {
        Pending = "pending",
        Accepted = "accepted",
        Declined = "declined",
    }

    /// A member's role in a conversation: a relationship's parties, a room's members.
    pub enum MemberRole {
        Mentee = "mentee",
        Mentor = "mentor",
        /// Moderates a room (mutes, removes, invites).
        Facilitator = "facilitator",
        Member = "member",
    }

    /// Who is looking at a relationship: one of its parties, or the coordinator who
    /// assigned it.
    pub enum ViewerRole {
        Mentee = "mentee",
        Mentor = "mentor",
        Coordinator = "coordinator",
    }

    /// Where a safeguarding report is.
    pub enum ReportState {
        Open = "open",
        Closed = "closed",
    }

    /// What the safeguarding role did with a report (each access is recorded).
    pub enum ReportAction {
        Listed = "listed",
        Viewed = "viewed",
        Closed = "closed",
    }
}

impl From<PartyRole> for MemberRole {
    fn from(role: PartyRole) -> Self {
        match role {
            PartyRole::Mentee => MemberRole::Mentee,
            PartyRole::Mentor => MemberRole::Mentor,
        }
    }
}

impl From<PartyRole> for ViewerRole {
    fn from(role: PartyRole) -> Self {
        match role {
            PartyRole::Mentee => ViewerRole::Mentee,
            PartyRole::Mentor => ViewerRole::Mentor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
    {
        for word in all {
            let json = serde_json::to_string(word).unwrap();
            let back: T = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, word, "{json}");
        }
    }

    #[test]
    fn every_word_has_one_spelling_on_the_wire_and_in_the_store() {
        round_trips(ConversationKind::ALL);
        round_trips(ConversationState::ALL);
        round_trips(RoomKind::ALL);
        round_trips(CallRouting::ALL);
        round_trips(RelationshipState::ALL);
        round_trips(Origin::ALL);
        round_trips(PartyRole::ALL);
        round_trips(Response::ALL);
        round_trips(MemberRole::ALL);
        round_trips(ViewerRole::ALL);
        round_trips(ReportState::ALL);
        round_trips(ReportAction::ALL);
        assert_eq!(
            serde_json::to_string(&ConversationState::ReadOnly).unwrap(),
            "\"read_only\""
        );
        assert_eq!(
            ConversationState::parse("read_only"),
            Some(ConversationState::ReadOnly)
        );
        assert_eq!(
            RelationshipState::parse("Active"),
            None,
            "no other spelling"
        );
    }

    #[test]
    fn an_unknown_word_is_refused_by_name() {
        let error = serde_json::from_str::<RoomKind>("\"circle\"").unwrap_err();
        assert!(error.to_string().contains("group"), "{error}");
    }
}
