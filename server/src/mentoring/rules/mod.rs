//! The mentoring aggregates' rules as pure transitions: each takes an aggregate as
//! stored and a command and returns what changes, or the [`Refusal`](crate::error::Refusal)
//! the caller gets. Nothing here does I/O: the store reads the aggregate inside its
//! transaction, applies the transition and writes the result with a compare-and-set,
//! so a rule holds under concurrency and is unit-tested without a database.

pub mod caps;
pub mod digest;
pub mod invitation;
pub mod membership;
pub mod posting;
pub mod relationship;
pub mod report;
pub mod room;

use crate::store::StoreRules;

/// A current member of conversation `c_1` for the rules' tests.
#[cfg(test)]
pub(crate) fn test_member(
    role: crate::protocol::vocabulary::MemberRole,
    agreed: bool,
) -> crate::store::MemberRecord {
    use crate::ids::{AccountId, ConversationId, MemberId};
    crate::store::MemberRecord {
        conversation: ConversationId::from_stored("c_1".into()),
        member: MemberId::from_stored("m_a".into()),
        account: AccountId::from_stored("test:a".into()),
        display_name: "Ann".into(),
        role,
        pseudonymous: false,
        agreed_at: agreed.then_some(5),
        visible_from: 0,
        joined_at: 1,
        left_at: None,
        muted: false,
        read_seq: 0,
    }
}

/// The rules a store applies inside its own transactions, where no domain call is in
/// between (the group-commit writer's appends).
pub fn store_rules() -> StoreRules {
    StoreRules {
        may_post: posting::may_post,
    }
}
