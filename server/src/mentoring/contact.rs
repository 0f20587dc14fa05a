//! Blocks and new contact: the one policy every entry point that lets one account
//! reach another consults.
//!
//! A block acts in two places, and nowhere else:
//! - **where it was made**: in that conversation (and in rooms either account joins
//!   after the block) without a current facilitator, nothing the blocked member sends
//!   reaches the blocker (the store's block edges; fan-out, catch-up, history, threads,
//!   presence and calls all read them through [`MemberCtx`](super::MemberCtx));
//! - **new contact**: requests, offers and room invitations from the blocked account
//!   are *silenced* — answered and kept exactly as if delivered, never shown to the
//!   blocker. The blocked side sees what it would see from a person who simply did not
//!   answer: a request or offer stays pending until withdrawn, an invitation unanswered.
//!
//! Conversations the two already share elsewhere are untouched: the blocker may not
//! know that the account behind them is the one they blocked, and a change there
//! would tell both sides that it is.

use crate::ids::AccountId;
use crate::protocol::vocabulary::{ConversationKind, ConversationState, RelationshipState};
use crate::store::{Membership, RelationshipRecord};

use super::Mentoring;
use crate::error::DomainResult;

/// Whether something one account starts reaches another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contact {
    Delivered,
    /// Kept and answered as if delivered, never shown to the recipient.
    Silenced,
}

impl Mentoring {
    /// The policy: new contact from `from` reaches `to` unless `to` blocked `from`.
    pub(crate) async fn contact(&self, from: &AccountId, to: &AccountId) -> DomainResult<Contact> {
        Ok(if self.store.is_blocked(to, from).await? {
            Contact::Silenced
        } else {
            Contact::Delivered
        })
    }

    /// Whether `viewer` sees a relationship at all. One that never became active is
    /// silenced for the parties who blocked its initiator: they get no frame about it
    /// and do not see it listed (a pending request from someone one then blocks
    /// disappears too). Only the initiator can end it, by withdrawing.
    pub(super) async fn sees_relationship(
        &self,
        record: &RelationshipRecord,
        viewer: &AccountId,
    ) -> DomainResult<bool> {
        let never_active = matches!(
            record.state,
            RelationshipState::Pending | RelationshipState::Withdrawn | RelationshipState::Declined
        );
        if !never_active || &record.created_by == viewer {
            return Ok(true);
        }
        Ok(self.contact(&record.created_by, viewer).await? == Contact::Delivered)
    }

    /// Whether a membership is listed to its account: a pending relationship started
    /// by someone the account blocked is not.
    pub(super) async fn lists_membership(&self, membership: &Membership) -> DomainResult<bool> {
        let conversation = &membership.conversation;
        let pending_relationship = conversation.kind == ConversationKind::Relationship
            && conversation.state == ConversationState::Pending;
        match (&conversation.created_by, pending_relationship) {
            (Some(creator), true) if creator != &membership.member.account => {
                Ok(self.contact(creator, &membership.member.account).await? == Contact::Delivered)
            }
            _ => Ok(true),
        }
    }
}
