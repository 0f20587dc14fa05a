//! What a connection or REST caller learns about its own conversations.

use crate::auth::Principal;
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, ConversationId};
use crate::protocol::server::{ConversationSummary, MemberView};
use crate::protocol::vocabulary::{ConversationKind, ConversationState};
use crate::store::{AccountRecord, BlockEdge, MemberRecord, Membership};

use super::room_texts::RoomText;
use super::{MemberCtx, Mentoring};

/// A new session's account and the memberships it may see (closed conversations,
/// i.e. declined or withdrawn requests, are left out).
pub struct SessionStart {
    pub account: AccountRecord,
    pub memberships: Vec<Membership>,
    /// Blocks that apply in these conversations, both ways.
    pub blocks: Vec<BlockEdge>,
}

impl SessionStart {
    pub fn contexts(&self) -> Vec<MemberCtx> {
        self.memberships
            .iter()
            .map(|m| MemberCtx::from_membership(m).with_blocks(&self.blocks))
            .collect()
    }
}

pub(crate) fn member_view(member: &MemberRecord) -> MemberView {
    MemberView {
        member: member.member.clone(),
        display_name: member.display_name.clone(),
        role: member.role,
        pseudonymous: member.pseudonymous,
        agreed: member.agreed_at.is_some(),
        muted: member.muted,
        left: member.left_at.is_some(),
        presence: None,
    }
}

impl Mentoring {
    pub async fn start_session(&self, principal: &Principal) -> DomainResult<SessionStart> {
        let account = self.remember(principal).await?;
        let mut memberships = Vec::new();
        for membership in self.store.memberships(&principal.account).await? {
            if membership.conversation.state != ConversationState::Closed
                && self.lists_membership(&membership).await?
            {
                memberships.push(membership);
            }
        }
        let blocks = self.store.block_edges(&principal.account, None).await?;
        Ok(SessionStart {
            account,
            memberships,
            blocks,
        })
    }

    /// Every conversation the account is a member of, whatever its state: what a
    /// connection that may have missed membership changes re-reads.
    pub async fn member_conversations(
        &self,
        account: &AccountId,
    ) -> DomainResult<Vec<ConversationId>> {
        let memberships = self.store.memberships(account).await?;
        Ok(memberships
            .into_iter()
            .map(|membership| membership.conversation.id)
            .collect())
    }

    /// Summaries of the given memberships, read now (so `last_seq` is current).
    pub async fn summaries(
        &self,
        memberships: &[Membership],
    ) -> DomainResult<Vec<ConversationSummary>> {
        let mut summaries = Vec::with_capacity(memberships.len());
        for membership in memberships {
            summaries.push(self.summary(membership).await?);
        }
        Ok(summaries)
    }

    /// Conversations of an account, as listed by REST.
    pub async fn conversations(
        &self,
        principal: &Principal,
    ) -> DomainResult<Vec<ConversationSummary>> {
        let start = self.start_session(principal).await?;
        self.summaries(&start.memberships).await
    }

    /// One conversation as its member sees it. Before a room's agreement is accepted
    /// only its title and agreement are shown: no members, no activity.
    pub async fn summary(&self, membership: &Membership) -> DomainResult<ConversationSummary> {
        let ctx = MemberCtx::from_membership(membership);
        let conversation = &membership.conversation;
        let me = &membership.member;
        let gated = conversation.kind == ConversationKind::Room && !ctx.agreed;
        let choices: std::collections::HashMap<crate::ids::MemberId, bool> = self
            .store
            .presence_choices(&conversation.id)
            .await?
            .into_iter()
            .collect();
        let presence_shown = choices.get(&me.member).copied().unwrap_or(!me.pseudonymous);
        let (members, unread, last_seq) = if gated {
            (Vec::new(), Default::default(), 0)
        } else {
            let members = self.store.members(&conversation.id).await?;
            let blocks = self
                .store
                .block_edges(&me.account, Some(&conversation.id))
                .await?;
            let ctx = ctx.with_blocks(&blocks);
            let unread = if ctx.can_read() {
                self.store.unread(me, &ctx.hidden).await?
            } else {
                Default::default()
            };
            let presence = self.member_presence(&ctx, &members, &choices).await;
            (
                members
                    .iter()
                    .map(|m| {
                        let mut view = member_view(m);
                        view.presence = presence
                            .get(m.member.as_str())
                            .map(|s| s.as_str().to_owned());
                        view
                    })
                    .collect(),
                unread,
                conversation.last_seq,
            )
        };
        let relationship = if conversation.kind == ConversationKind::Relationship {
            self.store
                .relationship_of_conversation(&conversation.id)
                .await?
        } else {
            None
        };
        Ok(ConversationSummary {
            id: conversation.id.clone(),
            kind: conversation.kind,
            state: conversation.state,
            title: self.open_room_text(
                &conversation.id,
                RoomText::Title,
                conversation.title.as_ref(),
            ),
            room_kind: conversation.room_kind,
            relationship,
            me: me.member.clone(),
            my_role: me.role,
            last_seq,
            visible_from: (!gated).then_some(me.visible_from),
            read_seq: me.read_seq,
            unread: unread.main,
            thread_unread: unread.threads,
            agreement_required: gated,
            agreement: if conversation.kind == ConversationKind::Room {
                self.open_room_text(
                    &conversation.id,
                    RoomText::Agreement,
                    conversation.agreement.as_ref(),
                )
            } else {
                None
            },
            calls: (conversation.kind == ConversationKind::Room && !gated)
                .then_some(conversation.calls),
            members,
            presence_shown,
        })
    }
}

impl Mentoring {
    /// One conversation for REST; same refusal for missing and foreign ids.
    pub async fn conversation(
        &self,
        principal: &Principal,
        raw: &str,
    ) -> DomainResult<ConversationSummary> {
        let id = crate::ids::ConversationId::parse(raw).ok_or_else(Refusal::not_found)?;
        let membership = self
            .store
            .membership(&id, &principal.account)
            .await?
            .filter(|m| m.conversation.state != ConversationState::Closed)
            .ok_or_else(Refusal::not_found)?;
        self.summary(&membership).await
    }

    /// Saves the caller's settings and tells its live connections.
    pub async fn update_settings(
        &self,
        principal: &Principal,
        mut settings: crate::protocol::server::Settings,
    ) -> DomainResult<crate::protocol::server::Settings> {
        settings.default_pseudonym = settings
            .default_pseudonym
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(|p| self.check_display_name(p))
            .transpose()?;
        self.remember(principal).await?;
        self.store
            .update_settings(&principal.account, &settings)
            .await?;
        self.publish(
            crate::bus::Topic::Account(principal.account.clone()),
            crate::bus::Audience::Members,
            crate::bus::Payload::Control(crate::bus::Control::Settings {
                read_receipts: settings.read_receipts,
            }),
        );
        Ok(settings)
    }
}
