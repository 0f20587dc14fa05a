//! Presence: whether a member is `online`, `away` or `offline`, as the other members of
//! a conversation see it.
//!
//! Who may see it: only members who share an *active* conversation with the account and
//! may read it (in rooms: both have accepted the agreement). It is announced per
//! conversation, under that conversation's member id, so presence never links an
//! account's memberships. A member someone blocked is not shown to them (the blocked
//! account still sees the blocker: it is never told). The combined status over every
//! device and node lives in the bus's [`SharedState`](crate::bus::SharedState).

use std::collections::HashMap;

use crate::bus::{Audience, Payload, PresenceStatus, Topic};
use crate::error::{DomainResult, Refusal};
use crate::ids::AccountId;
use crate::protocol::ServerFrame;
use crate::protocol::vocabulary::{ConversationKind, ConversationState};
use crate::store::MemberRecord;

use super::{MemberCtx, Mentoring};

impl Mentoring {
    /// The account's status over every node (offline when the shared state cannot be read).
    pub async fn presence_of(&self, account: &AccountId) -> PresenceStatus {
        match self
            .bus
            .state()
            .presence(std::slice::from_ref(account))
            .await
        {
            Ok(statuses) => statuses
                .get(account)
                .copied()
                .unwrap_or(PresenceStatus::Offline),
            Err(error) => {
                tracing::warn!(%error, "presence unavailable");
                PresenceStatus::Offline
            }
        }
    }

    /// Tells every conversation where the account may be seen its current status.
    /// Returns the status announced.
    pub async fn announce_presence(&self, account: &AccountId) -> DomainResult<PresenceStatus> {
        let status = self.presence_of(account).await;
        let memberships = self.store.memberships(account).await?;
        let blocks = self.store.block_edges(account, None).await?;
        for membership in &memberships {
            let ctx = MemberCtx::from_membership(membership).with_blocks(&blocks);
            if !shows_presence(&ctx) {
                continue;
            }
            let frame = ServerFrame::Presence {
                conversation: ctx.conversation.clone(),
                member: ctx.member.clone(),
                status: status.as_str().to_owned(),
            };
            self.publish(
                Topic::Conversation(ctx.conversation.clone()),
                // Those who blocked the account do not see it come and go either.
                Audience::Except(
                    ctx.blocked_by
                        .iter()
                        .chain([&ctx.member])
                        .cloned()
                        .collect(),
                ),
                Payload::Frame {
                    json: frame.to_json().into(),
                },
            );
        }
        metrics::counter!("mentorhub_presence_announcements_total").increment(1);
        Ok(status)
    }

    /// Current statuses of the members a summary lists (the viewer itself, members
    /// who cannot be seen and members the viewer blocked are left out). Shared-state
    /// errors leave presence out rather than failing the summary.
    pub(crate) async fn member_presence(
        &self,
        viewer: &MemberCtx,
        members: &[MemberRecord],
    ) -> HashMap<String, PresenceStatus> {
        if !shows_presence(viewer) {
            return HashMap::new();
        }
        let visible: Vec<&MemberRecord> = members
            .iter()
            .filter(|m| m.member != viewer.member && m.left_at.is_none())
            .filter(|m| !viewer.hidden.iter().any(|h| h.member == m.member))
            .filter(|m| viewer.kind != ConversationKind::Room || m.agreed_at.is_some())
            .collect();
        let accounts: Vec<AccountId> = visible.iter().map(|m| m.account.clone()).collect();
        let statuses = match self.bus.state().presence(&accounts).await {
            Ok(statuses) => statuses,
            Err(error) => {
                tracing::warn!(%error, "presence unavailable for a summary");
                return HashMap::new();
            }
        };
        visible
            .into_iter()
            .map(|m| {
                let status = statuses
                    .get(&m.account)
                    .copied()
                    .unwrap_or(PresenceStatus::Offline);
                (m.member.as_str().to_owned(), status)
            })
            .collect()
    }
}

/// Presence is shown in active conversations the member may read.
fn shows_presence(ctx: &MemberCtx) -> bool {
    ctx.can_read() && ctx.state == ConversationState::Active
}

/// Parses the status a client may set for itself.
pub fn client_status(raw: &str) -> Result<PresenceStatus, Refusal> {
    match raw {
        "online" => Ok(PresenceStatus::Online),
        "away" => Ok(PresenceStatus::Away),
        _ => Err(Refusal::invalid("status must be `online` or `away`")),
    }
}
