//! Changes to one member: accepting a room's agreement, leaving, being removed or
//! muted by the facilitator, roles, and revealing one's identity.
//!
//! Each change is committed with a system event (`agreement_accepted`, `member_left`,
//! `member_removed`, `member_muted`, `member_unmuted`, `role_changed`,
//! `identity_revealed`) and the member's connections re-read their standing, so the
//! agreement gate, mutes and removals take effect on every device at once. The store
//! re-checks the sender's standing inside every message commit as well.

use serde::Deserialize;

use crate::auth::Principal;
use crate::bus::{Audience, Control, Payload, Topic};
use crate::error::{DomainResult, Refusal};
use crate::ids::{MemberId, now_millis};
use crate::protocol::server::{ConversationSummary, MemberView};
use crate::protocol::vocabulary::{ConversationKind, MemberRole};
use crate::protocol::{ErrorCode, ServerFrame};
use crate::store::{MemberChange, MemberChanged, MemberUpdate, WriteError};

use super::rules::membership::{change_event, check};
use super::session::member_view;
use super::{MemberCtx, Mentoring};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `facilitator` or `member`.
    #[schemars(schema_with = "room_role_schema")]
    pub role: String,
}

/// The two of [`MemberRole`]'s words a room member can be given.
fn room_role_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "enum": [MemberRole::Facilitator.as_str(), MemberRole::Member.as_str()],
    })
}

fn no_member() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "no such member")
}

impl Mentoring {
    async fn change(
        &self,
        ctx: &MemberCtx,
        member: MemberId,
        change: MemberChange,
    ) -> DomainResult<MemberChanged> {
        let changed = self
            .store
            .update_member(
                MemberUpdate {
                    conversation: ctx.conversation.clone(),
                    event: change_event(&member, &change).to_meta(),
                    member,
                    change: change.clone(),
                    now: now_millis(),
                },
                &|state, member| check(state, member, &change),
            )
            .await
            .map_err(|e| match e {
                WriteError::TargetNotFound => no_member(),
                WriteError::Conflict => Refusal::new(ErrorCode::Conflict, "nothing to change"),
                other => other.into(),
            })?;
        Ok(changed)
    }

    /// Publishes the change's system event. Called after the affected member's
    /// connections were told to re-read their standing, so nobody acts on the event
    /// before their own standing reflects it.
    fn announce_change(&self, ctx: &MemberCtx, changed: &MemberChanged) {
        self.publish_system(&ctx.conversation, changed.event, &changed.meta);
    }

    async fn room_ctx(&self, principal: &Principal, raw: &str) -> DomainResult<MemberCtx> {
        let ctx = self.member_ctx(&principal.account, raw).await?;
        if ctx.kind != ConversationKind::Room {
            return Err(Refusal::not_found());
        }
        Ok(ctx)
    }

    /// The target of a facilitator's action: another current member of the room.
    fn target(ctx: &MemberCtx, raw: &str) -> DomainResult<MemberId> {
        let member = MemberId::parse(raw).ok_or_else(no_member)?;
        if member == ctx.member {
            return Err(Refusal::invalid(
                "a facilitator cannot do this to themselves",
            ));
        }
        Ok(member)
    }

    /// The member accepts the room's confidentiality agreement: from now on they see
    /// the room's content (from where their history starts) and can post.
    pub async fn accept_agreement(
        &self,
        principal: &Principal,
        raw_room: &str,
    ) -> DomainResult<ConversationSummary> {
        let ctx = self.room_ctx(principal, raw_room).await?;
        if ctx.agreed {
            return Err(Refusal::new(
                ErrorCode::Conflict,
                "you already accepted this room's agreement",
            ));
        }
        let changed = self
            .change(&ctx, ctx.member.clone(), MemberChange::Agree)
            .await?;
        let summary = self
            .refresh_member(&principal.account, &ctx.conversation)
            .await;
        self.announce_change(&ctx, &changed);
        summary
    }

    /// The member leaves the room; they no longer see it.
    pub async fn leave_room(&self, principal: &Principal, raw_room: &str) -> DomainResult<()> {
        let ctx = self.room_ctx(principal, raw_room).await?;
        let changed = self
            .change(&ctx, ctx.member.clone(), MemberChange::Leave)
            .await?;
        self.drop_member(&changed);
        self.announce_change(&ctx, &changed);
        Ok(())
    }

    /// The facilitator removes a member: they no longer see the room.
    pub async fn remove_member(
        &self,
        principal: &Principal,
        raw_room: &str,
        raw_member: &str,
    ) -> DomainResult<MemberView> {
        let ctx = self.facilitator_ctx(principal, raw_room).await?;
        let target = Self::target(&ctx, raw_member)?;
        let by = ctx.member.clone();
        let changed = self
            .change(&ctx, target, MemberChange::Remove { by })
            .await?;
        self.drop_member(&changed);
        self.announce_change(&ctx, &changed);
        Ok(member_view(&changed.member))
    }

    /// The facilitator mutes (or unmutes) a member: a muted member reads but cannot
    /// post or type.
    pub async fn mute_member(
        &self,
        principal: &Principal,
        raw_room: &str,
        raw_member: &str,
        muted: bool,
    ) -> DomainResult<MemberView> {
        let ctx = self.facilitator_ctx(principal, raw_room).await?;
        let target = Self::target(&ctx, raw_member)?;
        let by = ctx.member.clone();
        let changed = self
            .change(&ctx, target, MemberChange::Mute { by, muted })
            .await?;
        self.resubscribe(&changed.member.account, &ctx.conversation, 0);
        self.announce_change(&ctx, &changed);
        Ok(member_view(&changed.member))
    }

    /// The facilitator makes a member a co-facilitator, or a facilitator a member.
    pub async fn set_member_role(
        &self,
        principal: &Principal,
        raw_room: &str,
        raw_member: &str,
        request: &RoleRequest,
    ) -> DomainResult<MemberView> {
        let ctx = self.facilitator_ctx(principal, raw_room).await?;
        let target = Self::target(&ctx, raw_member)?;
        let role = match MemberRole::parse(&request.role) {
            Some(role @ (MemberRole::Facilitator | MemberRole::Member)) => role,
            _ => return Err(Refusal::invalid("a room role is `facilitator` or `member`")),
        };
        let by = ctx.member.clone();
        let changed = self
            .change(&ctx, target, MemberChange::Role { by, role })
            .await?;
        self.resubscribe(&changed.member.account, &ctx.conversation, 0);
        self.announce_change(&ctx, &changed);
        Ok(member_view(&changed.member))
    }

    /// A pseudonymous member shows their real name in this one conversation, by their
    /// own act (nobody else can do it). Recorded as an `identity_revealed` event.
    pub async fn reveal(
        &self,
        principal: &Principal,
        raw: &str,
    ) -> DomainResult<ConversationSummary> {
        let ctx = self.member_ctx(&principal.account, raw).await?;
        if !ctx.agreed {
            return Err(Refusal::new(
                ErrorCode::AgreementRequired,
                "accept the room's confidentiality agreement first",
            ));
        }
        let membership = self
            .store
            .membership(&ctx.conversation, &principal.account)
            .await?
            .ok_or_else(Refusal::not_found)?;
        if !membership.member.pseudonymous {
            return Err(Refusal::new(
                ErrorCode::Conflict,
                "you already appear under your own name here",
            ));
        }
        let display_name = self.check_display_name(&principal.name)?;
        let changed = self
            .change(
                &ctx,
                ctx.member.clone(),
                MemberChange::Reveal { display_name },
            )
            .await?;
        self.announce_change(&ctx, &changed);
        if let Some(id) = self
            .store
            .relationship_of_conversation(&ctx.conversation)
            .await?
            && let Some(record) = self.store.relationship(&id).await?
        {
            self.announce_relationship(&record).await;
        }
        self.refresh_member(&principal.account, &ctx.conversation)
            .await
    }

    /// A member who left or was removed stops receiving the room on every device.
    fn drop_member(&self, changed: &MemberChanged) {
        let account = &changed.member.account;
        let conversation = &changed.member.conversation;
        self.publish(
            Topic::Account(account.clone()),
            Audience::Members,
            Payload::Control(Control::Unsubscribe {
                conversation: conversation.clone(),
            }),
        );
        self.push_to_account(
            account,
            &ServerFrame::ConversationRemoved {
                conversation: conversation.clone(),
            },
        );
    }
}
