//! Blocks and contact: the one policy every entry point that lets one account reach
//! another consults ([`reach`]).
//!
//! A block is made on one membership (a member id in one conversation) and acts in two
//! places, and nowhere else:
//! - **that membership**: in the conversation where it was made, while it has no
//!   current facilitator, nothing the blocked member sends from then on reaches the
//!   blocker — messages, edits, typing, receipts, presence, calls, thread and unread
//!   counts (the store's block edges, read through [`MemberCtx`](super::MemberCtx));
//! - **new contact**: requests, offers and room invitations from the account behind it
//!   are *silenced* — answered and kept exactly as if delivered, never shown to the
//!   blocker. The blocked side sees what it would see from a person who simply did not
//!   answer: a request or offer stays pending until withdrawn, an invitation
//!   unanswered, a call rings out.
//!
//! Conversations the two already share elsewhere are untouched, and so are rooms both
//! join later by code: the blocker may not know that the account behind them is the one
//! they blocked, and any change there would tell both sides that it is. The directory
//! is the same for everyone.

use crate::ids::AccountId;
use crate::protocol::vocabulary::{ConversationKind, ConversationState, Origin, RelationshipState};
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

/// Every way one account can reach another. A new entry point names its channel here,
/// and [`reach`] (an exhaustive match) decides what a block does to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    /// A mentee's request for mentoring.
    Request,
    /// A mentor's offer.
    Offer,
    /// A room invitation, at the room's creation or later.
    Invitation,
    /// Joining a room by invite code (the joiner meets whoever is there).
    RoomJoin,
    /// Being rung by a call.
    Call,
    /// Messages, edits, deletions, typing and receipts in a conversation.
    Messages,
    /// The `threads` list and unread counts.
    Counts,
    /// Online / away / offline.
    Presence,
    /// A mentor's directory profile.
    Directory,
}

/// How a block stands between the account that acts and the one it would reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The recipient blocked no membership of this account.
    Clear,
    /// The recipient blocked a membership of this account in another conversation.
    BlockedElsewhere,
    /// The recipient blocked this very membership (in a conversation without a current
    /// facilitator).
    BlockedHere,
}

/// The policy: what a block does to each way of reaching someone.
pub(crate) const fn reach(channel: Channel, standing: Standing) -> Contact {
    use Channel::*;
    match (channel, standing) {
        (_, Standing::Clear) => Contact::Delivered,
        // New contact from a blocked account: kept, never shown, never refused.
        (Request | Offer | Invitation, _) => Contact::Silenced,
        // In an existing conversation only where the block was made: elsewhere a
        // change would link the two memberships.
        (Call | Messages | Counts | Presence, Standing::BlockedHere) => Contact::Silenced,
        (Call | Messages | Counts | Presence, Standing::BlockedElsewhere) => Contact::Delivered,
        // Joining by code: hiding one member of a room from another would identify
        // them to the room, so the room stays whole (its members can block anew).
        (RoomJoin, _) => Contact::Delivered,
        // Everyone sees the same directory: a profile shown differently to one
        // person would tell her she is blocked.
        (Directory, _) => Contact::Delivered,
    }
}

/// Whether a block never changes what `channel` delivers. Entry points that read no
/// blocks (room joins by code, the directory) assert it at compile time, so a change of
/// policy for them cannot go unimplemented.
pub(crate) const fn never_silenced(channel: Channel) -> bool {
    matches!(
        reach(channel, Standing::BlockedElsewhere),
        Contact::Delivered
    ) && matches!(reach(channel, Standing::BlockedHere), Contact::Delivered)
}

/// Whether everything that flows inside a conversation — messages, counts, presence,
/// calls — is silenced where a block was made. The store's block edges carry exactly
/// those blocks, and [`MemberCtx::with_blocks`](super::MemberCtx::with_blocks) applies
/// them to every one of these channels only while this holds.
pub(crate) const fn silenced_where_made() -> bool {
    let here = Standing::BlockedHere;
    matches!(reach(Channel::Messages, here), Contact::Silenced)
        && matches!(reach(Channel::Counts, here), Contact::Silenced)
        && matches!(reach(Channel::Presence, here), Contact::Silenced)
        && matches!(reach(Channel::Call, here), Contact::Silenced)
}

impl Mentoring {
    /// New contact from `from` to `to` by `channel`: the policy, given whether `to`
    /// blocked any membership of `from`.
    pub(crate) async fn contact(
        &self,
        channel: Channel,
        from: &AccountId,
        to: &AccountId,
    ) -> DomainResult<Contact> {
        let standing = if self.store.is_blocked(to, from).await? {
            Standing::BlockedElsewhere
        } else {
            Standing::Clear
        };
        Ok(reach(channel, standing))
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
        let channel = match record.origin {
            Origin::Offered => Channel::Offer,
            Origin::Requested | Origin::Assigned => Channel::Request,
        };
        Ok(self.contact(channel, &record.created_by, viewer).await? == Contact::Delivered)
    }

    /// Whether a membership is listed to its account: a pending relationship started
    /// by someone the account blocked is not.
    pub(super) async fn lists_membership(&self, membership: &Membership) -> DomainResult<bool> {
        let conversation = &membership.conversation;
        let pending_relationship = conversation.kind == ConversationKind::Relationship
            && conversation.state == ConversationState::Pending;
        match (&conversation.created_by, pending_relationship) {
            (Some(creator), true) if creator != &membership.member.account => Ok(self
                .contact(Channel::Request, creator, &membership.member.account)
                .await?
                == Contact::Delivered),
            _ => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_contact_is_silenced_wherever_the_block_was_made() {
        for channel in [Channel::Request, Channel::Offer, Channel::Invitation] {
            assert_eq!(reach(channel, Standing::Clear), Contact::Delivered);
            assert_eq!(
                reach(channel, Standing::BlockedElsewhere),
                Contact::Silenced
            );
            assert_eq!(reach(channel, Standing::BlockedHere), Contact::Silenced);
        }
    }

    #[test]
    fn existing_conversations_change_only_where_the_block_was_made() {
        for channel in [
            Channel::Call,
            Channel::Messages,
            Channel::Counts,
            Channel::Presence,
        ] {
            assert_eq!(reach(channel, Standing::BlockedHere), Contact::Silenced);
            assert_eq!(
                reach(channel, Standing::BlockedElsewhere),
                Contact::Delivered,
                "{channel:?} would link two memberships"
            );
        }
    }

    #[test]
    fn room_joins_and_the_directory_are_the_same_for_everyone() {
        for standing in [
            Standing::Clear,
            Standing::BlockedElsewhere,
            Standing::BlockedHere,
        ] {
            assert_eq!(reach(Channel::RoomJoin, standing), Contact::Delivered);
            assert_eq!(reach(Channel::Directory, standing), Contact::Delivered);
        }
    }
}
