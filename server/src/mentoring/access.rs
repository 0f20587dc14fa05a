//! Who may read and post where: a member's standing in one conversation.

use crate::bus::Audience;
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, ConversationId, MemberId, Seq};
use crate::protocol::vocabulary::{ConversationKind, ConversationState, MemberRole};
use crate::store::{BlockEdge, BlockSide, HiddenSender, Membership};

use super::Mentoring;

/// One account's standing in one conversation, as needed on every request. Held in
/// each live connection's cache (kept current by hub control messages) and re-read
/// from the store for REST requests. The store re-checks the conversation's state
/// inside every write transaction, so a stale cache can never let a write through
/// to an ended conversation.
#[derive(Clone, Debug)]
pub struct MemberCtx {
    pub conversation: ConversationId,
    pub member: MemberId,
    pub account: AccountId,
    pub kind: ConversationKind,
    pub state: ConversationState,
    pub role: MemberRole,
    pub visible_from: Seq,
    /// Rooms: the agreement is accepted (always true in relationships).
    pub agreed: bool,
    pub muted: bool,
    /// Members this account blocked here: what they send from the block on is never
    /// sent to it.
    pub hidden: Vec<HiddenSender>,
    /// Members who blocked this account here: nothing it sends reaches them (they are
    /// left out at fan-out; the account is never told).
    pub blocked_by: Vec<MemberId>,
}

impl MemberCtx {
    pub fn from_membership(membership: &Membership) -> Self {
        MemberCtx {
            conversation: membership.conversation.id.clone(),
            member: membership.member.member.clone(),
            account: membership.member.account.clone(),
            kind: membership.conversation.kind,
            state: membership.conversation.state,
            role: membership.member.role,
            visible_from: membership.member.visible_from,
            agreed: membership.member.agreed_at.is_some(),
            muted: membership.member.muted,
            hidden: Vec::new(),
            blocked_by: Vec::new(),
        }
    }

    /// Applies the blocks made on memberships of this conversation (the store reads
    /// only those, and none while a facilitator is present), as the contact policy
    /// says for everything that flows inside it.
    pub fn with_blocks(mut self, edges: &[BlockEdge]) -> Self {
        const SILENCED: bool = super::contact::silenced_where_made();
        if !SILENCED {
            return self;
        }
        for edge in edges.iter().filter(|e| e.conversation == self.conversation) {
            match edge.side {
                BlockSide::Hidden => self.hidden.push(HiddenSender {
                    member: edge.member.clone(),
                    since: edge.since,
                }),
                BlockSide::BlockedBy => self.blocked_by.push(edge.member.clone()),
            }
        }
        self
    }

    /// Who receives what this member sends: everyone allowed, minus those who blocked it.
    pub fn audience(&self) -> Audience {
        if self.blocked_by.is_empty() {
            Audience::Members
        } else {
            Audience::Except(self.blocked_by.clone())
        }
    }

    /// May receive the conversation's content (events, typing, presence).
    pub fn can_read(&self) -> bool {
        self.agreed
            && matches!(
                self.state,
                ConversationState::Active | ConversationState::ReadOnly
            )
    }

    pub fn check_read(&self) -> DomainResult<()> {
        if !self.agreed {
            return Err(Refusal::new(
                crate::protocol::ErrorCode::AgreementRequired,
                "accept the room's confidentiality agreement first",
            ));
        }
        if !self.can_read() {
            return Err(Refusal::new(
                crate::protocol::ErrorCode::ConversationClosed,
                "this conversation has nothing to read yet",
            ));
        }
        Ok(())
    }

    /// A seq a request acts on (a thread root, a message to edit or delete). One from
    /// before the member's `visible_from` is answered as one that does not exist: what
    /// was said before they could read is not theirs to learn, not even its shape.
    pub fn check_target(&self, seq: Seq) -> DomainResult<()> {
        if seq < self.visible_from {
            return Err(crate::store::WriteError::TargetNotFound.into());
        }
        Ok(())
    }

    pub fn check_post(&self) -> DomainResult<()> {
        self.check_send()?;
        if self.state != ConversationState::Active {
            return Err(Refusal::new(
                crate::protocol::ErrorCode::ConversationClosed,
                "this conversation does not accept messages",
            ));
        }
        Ok(())
    }

    /// What `send` checks before the store: the conversation's state is checked by the
    /// store itself *after* its duplicate check, so a send retried after the
    /// conversation ended still gets its original acknowledgement.
    pub fn check_send(&self) -> DomainResult<()> {
        if !self.agreed {
            return self.check_read();
        }
        if self.muted {
            return Err(Refusal::new(
                crate::protocol::ErrorCode::Muted,
                "the facilitator has muted you in this room",
            ));
        }
        Ok(())
    }
}

impl Mentoring {
    /// Resolves a wire conversation id for an account from the store.
    pub async fn member_ctx(&self, account: &AccountId, raw: &str) -> DomainResult<MemberCtx> {
        let conversation = ConversationId::parse(raw).ok_or_else(Refusal::not_found)?;
        let membership = self
            .store
            .membership(&conversation, account)
            .await?
            .ok_or_else(Refusal::not_found)?;
        if membership.conversation.state == ConversationState::Closed {
            return Err(Refusal::not_found());
        }
        let edges = self
            .store
            .block_edges(account, Some(&membership.conversation.id))
            .await?;
        Ok(MemberCtx::from_membership(&membership).with_blocks(&edges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(conversation: &str) -> MemberCtx {
        MemberCtx {
            conversation: ConversationId::from_stored(conversation.into()),
            member: MemberId::from_stored("m_me".into()),
            account: AccountId::from_stored("acct-me".into()),
            kind: ConversationKind::Relationship,
            state: ConversationState::Active,
            role: MemberRole::Mentee,
            visible_from: 0,
            agreed: true,
            muted: false,
            hidden: Vec::new(),
            blocked_by: Vec::new(),
        }
    }

    fn edge(conversation: &str, member: &str, side: BlockSide) -> BlockEdge {
        BlockEdge {
            conversation: ConversationId::from_stored(conversation.into()),
            member: MemberId::from_stored(member.into()),
            side,
            since: 5,
        }
    }

    #[test]
    fn blocks_apply_per_conversation_and_shape_the_audience() {
        let edges = [
            edge("c_a", "m_blocked", BlockSide::Hidden),
            edge("c_a", "m_blocker", BlockSide::BlockedBy),
            edge("c_b", "m_other", BlockSide::BlockedBy),
        ];
        let here = ctx("c_a").with_blocks(&edges);
        assert_eq!(
            here.hidden,
            [HiddenSender {
                member: MemberId::from_stored("m_blocked".into()),
                since: 5
            }]
        );
        let audience = here.audience();
        assert!(!audience.includes(&MemberId::from_stored("m_blocker".into())));
        assert!(
            audience.includes(&MemberId::from_stored("m_blocked".into())),
            "blocks are one-way"
        );
        assert_eq!(ctx("c_c").with_blocks(&edges).audience(), Audience::Members);
    }

    #[test]
    fn the_gate_refuses_reading_and_posting_before_agreement() {
        let mut gated = ctx("c_r");
        gated.kind = ConversationKind::Room;
        gated.agreed = false;
        assert!(!gated.can_read());
        assert_eq!(
            gated.check_read().unwrap_err().code,
            crate::protocol::ErrorCode::AgreementRequired
        );
        assert_eq!(
            gated.check_post().unwrap_err().code,
            crate::protocol::ErrorCode::AgreementRequired
        );
        let mut muted = ctx("c_r");
        muted.muted = true;
        assert!(muted.can_read());
        assert_eq!(
            muted.check_post().unwrap_err().code,
            crate::protocol::ErrorCode::Muted
        );
    }
}
