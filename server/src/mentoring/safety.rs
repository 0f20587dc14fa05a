//! Blocking: a member can block another member, silently.
//!
//! A block is made on one membership, through the member id the blocker saw (so a
//! pseudonymous member can be blocked without anyone learning who they are). It acts
//! where it was made and on new contact only, as the contact policy says
//! ([`super::contact`]): in that conversation, while it has no current facilitator,
//! nothing the blocked member sends from the block on reaches the blocker (left out at
//! fan-out with `Audience::Except`, in history, catch-up, threads and unread counts;
//! what it said before the block stays, unless it edits it afterwards), and requests,
//! offers, invitations from the account behind it are silenced. The blocker's other
//! conversations show no change. The blocked party is never told.

use serde::Deserialize;

use crate::auth::Principal;
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, ConversationId, MemberId, now_millis};
use crate::protocol::ErrorCode;
use crate::protocol::mentoring::BlockView;
use crate::store::{BlockRecord, NewBlock};

use super::Mentoring;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    pub conversation: String,
    pub member: String,
}

fn no_member() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "no such member")
}

fn block_view(record: &BlockRecord) -> BlockView {
    BlockView {
        conversation: record.conversation.clone(),
        member: record.member.clone(),
        display_name: record.display_name.clone(),
        created_at: record.created_at,
    }
}

impl Mentoring {
    /// Blocks the account behind a member of a conversation the caller is in.
    pub async fn block(
        &self,
        principal: &Principal,
        request: &BlockRequest,
    ) -> DomainResult<BlockView> {
        let ctx = self
            .member_ctx(&principal.account, &request.conversation)
            .await?;
        let member = MemberId::parse(&request.member).ok_or_else(no_member)?;
        let target = self
            .store
            .members(&ctx.conversation)
            .await?
            .into_iter()
            .find(|m| m.member == member)
            .ok_or_else(no_member)?;
        if target.account == principal.account {
            return Err(Refusal::invalid("you cannot block yourself"));
        }
        let now = now_millis();
        self.store
            .add_block(NewBlock {
                blocker: principal.account.clone(),
                blocked: target.account.clone(),
                conversation: ctx.conversation.clone(),
                member: member.clone(),
                display_name: target.display_name.clone(),
                now,
            })
            .await?;
        self.refresh_pair(&principal.account, &target.account, &ctx.conversation);
        let existing = self.store.blocks_of(&principal.account).await?;
        Ok(existing
            .iter()
            .find(|b| b.member == member && b.conversation == ctx.conversation)
            .map(block_view)
            .unwrap_or(BlockView {
                conversation: ctx.conversation,
                member,
                display_name: target.display_name,
                created_at: now,
            }))
    }

    /// Lifts a block, named as it is listed (conversation + member id).
    pub async fn unblock(
        &self,
        principal: &Principal,
        raw_conversation: &str,
        raw_member: &str,
    ) -> DomainResult<()> {
        let not_found = || Refusal::new(ErrorCode::NotFound, "no such block");
        let conversation = ConversationId::parse(raw_conversation).ok_or_else(not_found)?;
        let member = MemberId::parse(raw_member).ok_or_else(not_found)?;
        let blocks = self.store.blocks_of(&principal.account).await?;
        if !blocks
            .iter()
            .any(|b| b.conversation == conversation && b.member == member)
        {
            return Err(not_found());
        }
        let blocked = self
            .store
            .members(&conversation)
            .await?
            .into_iter()
            .find(|m| m.member == member)
            .map(|m| m.account)
            .ok_or_else(not_found)?;
        self.store
            .remove_block(&principal.account, &conversation, &member)
            .await?;
        self.refresh_pair(&principal.account, &blocked, &conversation);
        Ok(())
    }

    pub async fn blocks(&self, principal: &Principal) -> DomainResult<Vec<BlockView>> {
        Ok(self
            .store
            .blocks_of(&principal.account)
            .await?
            .iter()
            .map(block_view)
            .collect())
    }

    /// Both accounts' connections re-read their standing in the conversation where
    /// the block was made, so fan-out and catch-up apply it (or stop applying it) at
    /// once. Nothing visible is sent, and no other conversation is touched.
    fn refresh_pair(&self, a: &AccountId, b: &AccountId, conversation: &ConversationId) {
        self.resubscribe(a, conversation, 0);
        self.resubscribe(b, conversation, 0);
    }
}
