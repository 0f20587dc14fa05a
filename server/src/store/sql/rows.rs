//! Row shapes as selected, decoded the same way on every engine (`sqlx::FromRow` is
//! generic over the row type), and their conversion into store records.

use crate::crypto::Sealed;
use crate::ids::{AccountId, ConversationId, MemberId, RelationshipId};
use crate::protocol::server::Settings;
use crate::protocol::vocabulary::{
    CallRouting, ConversationKind, ConversationState, MemberRole, PartyRole, Response, RoomKind,
};
use crate::store::{
    AccountRecord, ConversationRecord, EventKind, MemberRecord, Membership, RelationshipParty,
    StoreError, StoredEvent, ThreadRecord,
};

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

/// Reads a stored word (a state, role, …) back into its enum.
pub(crate) fn word<T>(
    raw: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, StoreError> {
    parse(raw).ok_or_else(|| corrupt(what))
}

pub(crate) fn sealed(
    key_id: Option<i64>,
    nonce: Option<Vec<u8>>,
    body: Option<Vec<u8>>,
) -> Option<Sealed> {
    match (key_id, nonce, body) {
        (Some(key_id), Some(nonce), Some(ciphertext)) => Some(Sealed {
            key_id: key_id as u32,
            nonce,
            ciphertext,
        }),
        _ => None,
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub read_receipts: i64,
    pub default_pseudonym: Option<String>,
    pub created_at: i64,
}

impl From<AccountRow> for AccountRecord {
    fn from(row: AccountRow) -> Self {
        AccountRecord {
            id: AccountId::from_stored(row.id),
            name: row.name,
            // A role this version does not know (written by a newer one) is left out.
            roles: row
                .roles
                .split(',')
                .filter_map(|r| r.parse().ok())
                .collect(),
            settings: Settings {
                read_receipts: row.read_receipts != 0,
                default_pseudonym: row.default_pseudonym,
            },
            created_at: row.created_at,
        }
    }
}

/// `conversations c` in [`ConversationRow`]'s order. The select lists are literals
/// (macros, for `concat!`) so every statement is a `&'static str` both engines share.
macro_rules! conversation_columns {
    () => {
        "c.id, c.kind, c.state, c.last_seq, \
    c.created_at, c.created_by, c.room_kind, c.member_limit, \
    c.history_visible, c.calls, c.sealed_title, c.sealed_agreement"
    };
}
pub(crate) use conversation_columns;

/// `members m` in [`MemberRow`]'s order.
macro_rules! member_columns {
    () => {
        "m.conversation_id, m.member_id, m.account_id, \
    m.display_name, m.role, m.pseudonymous, m.agreed_at, m.visible_from, m.joined_at, \
    m.left_at, m.muted, m.read_seq"
    };
}
pub(crate) use member_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ConversationRow {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub last_seq: i64,
    pub created_at: i64,
    pub created_by: Option<String>,
    pub room_kind: Option<String>,
    pub member_limit: Option<i64>,
    pub history_visible: i64,
    pub calls: String,
    pub sealed_title: Option<Vec<u8>>,
    pub sealed_agreement: Option<Vec<u8>>,
}

/// A room text stored as one blob ([`Sealed::to_bytes`]).
fn sealed_blob(blob: Option<Vec<u8>>, what: &str) -> Result<Option<Sealed>, StoreError> {
    blob.map(|b| Sealed::from_bytes(&b).map_err(|_| corrupt(what)))
        .transpose()
}

impl TryFrom<ConversationRow> for ConversationRecord {
    type Error = StoreError;
    fn try_from(row: ConversationRow) -> Result<Self, StoreError> {
        Ok(ConversationRecord {
            id: ConversationId::from_stored(row.id),
            kind: word(&row.kind, ConversationKind::parse, "conversation kind")?,
            state: word(&row.state, ConversationState::parse, "conversation state")?,
            last_seq: row.last_seq as u64,
            created_at: row.created_at,
            created_by: row.created_by.map(AccountId::from_stored),
            title: sealed_blob(row.sealed_title, "sealed room title")?,
            room_kind: row
                .room_kind
                .map(|k| word(&k, RoomKind::parse, "room kind"))
                .transpose()?,
            agreement: sealed_blob(row.sealed_agreement, "sealed room agreement")?,
            member_limit: row.member_limit.map(|l| l as u32),
            history_visible: row.history_visible != 0,
            calls: word(&row.calls, CallRouting::parse, "call routing")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    pub conversation_id: String,
    pub member_id: String,
    pub account_id: String,
    pub display_name: String,
    pub role: String,
    pub pseudonymous: i64,
    pub agreed_at: Option<i64>,
    pub visible_from: i64,
    pub joined_at: i64,
    pub left_at: Option<i64>,
    pub muted: i64,
    pub read_seq: i64,
}

impl TryFrom<MemberRow> for MemberRecord {
    type Error = StoreError;
    fn try_from(row: MemberRow) -> Result<Self, StoreError> {
        Ok(MemberRecord {
            conversation: ConversationId::from_stored(row.conversation_id),
            member: MemberId::from_stored(row.member_id),
            account: AccountId::from_stored(row.account_id),
            display_name: row.display_name,
            role: word(&row.role, MemberRole::parse, "member role")?,
            pseudonymous: row.pseudonymous != 0,
            agreed_at: row.agreed_at,
            visible_from: row.visible_from as u64,
            joined_at: row.joined_at,
            left_at: row.left_at,
            muted: row.muted != 0,
            read_seq: row.read_seq as u64,
        })
    }
}

/// A membership selected as one row: conversation columns then member columns.
#[derive(sqlx::FromRow)]
pub(crate) struct MembershipRow {
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    #[sqlx(flatten)]
    pub member: MemberRow,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = StoreError;
    fn try_from(row: MembershipRow) -> Result<Self, StoreError> {
        Ok(Membership {
            conversation: row.conversation.try_into()?,
            member: row.member.try_into()?,
        })
    }
}

/// Events are selected with their target message's current body joined in, so an
/// edit event carries the body without storing it twice (which kind takes it is
/// decided on the typed kind, in [`StoredEvent`]'s conversion).
macro_rules! event_select {
    () => {
        "SELECT e.conversation_id, e.seq, e.kind, e.sender, \
    e.client_id, e.thread_root, e.target_seq, e.created_at, e.edited_at, e.deleted, e.meta, \
    e.key_id, e.nonce, e.body, t.key_id AS target_key_id, t.nonce AS target_nonce, \
    t.body AS target_body FROM events e LEFT JOIN events t \
    ON t.conversation_id = e.conversation_id AND t.seq = e.target_seq"
    };
}
pub(crate) use event_select;

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub conversation_id: String,
    pub seq: i64,
    pub kind: String,
    pub sender: Option<String>,
    pub client_id: Option<String>,
    pub thread_root: Option<i64>,
    pub target_seq: Option<i64>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: i64,
    pub meta: Option<String>,
    pub key_id: Option<i64>,
    pub nonce: Option<Vec<u8>>,
    pub body: Option<Vec<u8>>,
    pub target_key_id: Option<i64>,
    pub target_nonce: Option<Vec<u8>>,
    pub target_body: Option<Vec<u8>>,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let kind = EventKind::parse(&row.kind).ok_or_else(|| corrupt("event kind"))?;
        // An edit carries its target's current text; every other event its own.
        let body = if kind == EventKind::Edit {
            sealed(row.target_key_id, row.target_nonce, row.target_body)
        } else {
            sealed(row.key_id, row.nonce, row.body)
        };
        Ok(StoredEvent {
            conversation: ConversationId::from_stored(row.conversation_id),
            seq: row.seq as u64,
            kind,
            sender: row.sender.map(MemberId::from_stored),
            client_id: row.client_id,
            thread_root: row.thread_root.map(|s| s as u64),
            target: row.target_seq.map(|s| s as u64),
            body,
            meta: row.meta,
            created_at: row.created_at,
            edited_at: row.edited_at,
            deleted: row.deleted != 0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ThreadRow {
    pub root: i64,
    pub replies: i64,
    pub last_seq: i64,
    pub last_ts: i64,
}

impl From<ThreadRow> for ThreadRecord {
    fn from(row: ThreadRow) -> Self {
        ThreadRecord {
            root: row.root as u64,
            replies: row.replies as u64,
            last_seq: row.last_seq as u64,
            last_ts: row.last_ts,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RelationshipRow {
    pub id: String,
    pub conversation_id: String,
    pub origin: String,
    pub state: String,
    pub version: i64,
    pub created_by: String,
    pub coordinator: Option<String>,
    pub intro_key_id: Option<i64>,
    pub intro_nonce: Option<Vec<u8>>,
    pub intro: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub ended_at: Option<i64>,
    pub first_conversation: i64,
}

macro_rules! relationship_columns {
    () => {
        "r.id, r.conversation_id, r.origin, r.state, \
    r.version, r.created_by, r.coordinator, r.intro_key_id, r.intro_nonce, r.intro, r.created_at, \
    r.updated_at, r.ended_at, r.first_conversation"
    };
}
pub(crate) use relationship_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct PartyRow {
    pub relationship_id: String,
    pub account_id: String,
    pub member_id: String,
    pub role: String,
    pub response: String,
    pub display_name: String,
    pub pseudonymous: i64,
    pub account_name: Option<String>,
    pub note_key_id: Option<i64>,
    pub note_nonce: Option<Vec<u8>>,
    pub note: Option<Vec<u8>>,
}

impl TryFrom<PartyRow> for RelationshipParty {
    type Error = StoreError;
    fn try_from(row: PartyRow) -> Result<Self, StoreError> {
        Ok(RelationshipParty {
            account: AccountId::from_stored(row.account_id),
            member: MemberId::from_stored(row.member_id),
            display_name: row.display_name,
            role: word(&row.role, PartyRole::parse, "party role")?,
            pseudonymous: row.pseudonymous != 0,
            response: word(&row.response, Response::parse, "party response")?,
            account_name: row.account_name.unwrap_or_default(),
            note: sealed(row.note_key_id, row.note_nonce, row.note),
        })
    }
}

pub(crate) fn relationship_id(raw: &str) -> RelationshipId {
    RelationshipId::from_stored(raw.to_owned())
}
