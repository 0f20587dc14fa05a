//! Presence: whether a member is `online`, `away` or `offline`, as the other members of
//! a conversation see it.
//!
//! Who may see it: only members who share an *active* conversation with the account and
//! may read it (in rooms: both have accepted the agreement). It is announced per
//! conversation, under that conversation's member id. A member someone blocked there is
//! not shown to them (the blocked account still sees the blocker: it is never told). The
//! combined status over every device and node lives in the bus's
//! [`SharedState`](crate::bus::SharedState).
//!
//! A **pseudonymous** membership shows no presence unless its member turned it on for
//! that conversation: one account's status changing in several conversations at once
//! would link its pseudonyms. Where she turned it on, only `online` / `offline` is shown
//! (`away` would add a second signal), and each change is shown after a random delay
//! drawn independently per conversation and change, up to
//! `pseudonymous_presence_delay_secs`; member lists show what was last announced.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use rand::Rng;

use crate::auth::Principal;
use crate::bus::{Audience, Bus, Envelope, Payload, PresenceStatus, Topic};
use crate::error::{DomainResult, Refusal};
use crate::ids::{AccountId, ConversationId, MemberId};
use crate::protocol::ServerFrame;
use crate::protocol::server::ConversationSummary;
use crate::protocol::vocabulary::{ConversationKind, ConversationState};
use crate::store::MemberRecord;

use super::{MemberCtx, Mentoring};

/// A member's choice to show their presence in one conversation, or not.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceChoice {
    /// `true`: the others here see when the caller is online (for a pseudonymous
    /// member only online or offline, each change after a random delay).
    pub shown: bool,
}

/// Pseudonymous memberships' presence on this node: what each was last shown as, and
/// the delayed announcements that change it.
pub(crate) struct PseudonymousPresence {
    bus: Arc<dyn Bus>,
    node: Arc<str>,
    /// Longest delay before a change is shown.
    delay: Duration,
    /// The coarse status each membership was last announced with.
    shown: DashMap<(ConversationId, MemberId), PresenceStatus>,
    /// Bumped when a membership's presence is turned off, so announcements still
    /// waiting for their delay are dropped.
    generation: DashMap<(ConversationId, MemberId), u64>,
}

impl PseudonymousPresence {
    pub(crate) fn new(bus: Arc<dyn Bus>, node: Arc<str>, delay: Duration) -> Arc<Self> {
        Arc::new(PseudonymousPresence {
            bus,
            node,
            delay,
            shown: DashMap::new(),
            generation: DashMap::new(),
        })
    }

    /// Announces the account's status in one conversation after a random delay of its
    /// own, if by then it differs from what was last shown there.
    fn announce_later(self: &Arc<Self>, account: AccountId, ctx: &MemberCtx) {
        let this = self.clone();
        let key = (ctx.conversation.clone(), ctx.member.clone());
        let except = unseen_by(ctx);
        let wait = random_delay(self.delay);
        let generation = self.generation_of(&key);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if this.generation_of(&key) != generation {
                return;
            }
            let status = match this
                .bus
                .state()
                .presence(std::slice::from_ref(&account))
                .await
            {
                Ok(statuses) => coarse(
                    statuses
                        .get(&account)
                        .copied()
                        .unwrap_or(PresenceStatus::Offline),
                ),
                Err(error) => {
                    tracing::warn!(%error, "presence unavailable");
                    return;
                }
            };
            // Before the first announcement the membership was shown offline.
            let before = this
                .shown
                .get(&key)
                .map_or(PresenceStatus::Offline, |shown| *shown);
            if before == status {
                return;
            }
            this.shown.insert(key.clone(), status);
            this.publish(&key, status, except);
        });
    }

    /// Shows the membership as offline at once (its member turned presence off).
    fn hide(&self, ctx: &MemberCtx) {
        let key = (ctx.conversation.clone(), ctx.member.clone());
        *self.generation.entry(key.clone()).or_insert(0) += 1;
        if self.shown.remove(&key).is_some() {
            self.publish(&key, PresenceStatus::Offline, unseen_by(ctx));
        }
    }

    fn publish(
        &self,
        (conversation, member): &(ConversationId, MemberId),
        status: PresenceStatus,
        except: Vec<MemberId>,
    ) {
        self.bus.publish(Envelope {
            origin: self.node.clone(),
            topic: Topic::Conversation(conversation.clone()),
            audience: Audience::Except(except),
            payload: presence_frame(conversation, member, status),
        });
        metrics::counter!("mentorhub_presence_announcements_total").increment(1);
    }

    fn generation_of(&self, key: &(ConversationId, MemberId)) -> u64 {
        self.generation.get(key).map_or(0, |generation| *generation)
    }

    /// What a member list shows for a pseudonymous membership: its last announcement
    /// (offline before the first).
    fn last_shown(&self, conversation: &ConversationId, member: &MemberId) -> PresenceStatus {
        self.shown
            .get(&(conversation.clone(), member.clone()))
            .map_or(PresenceStatus::Offline, |status| *status)
    }
}

/// Online or offline: `away` is shown as `online` for pseudonymous memberships.
fn coarse(status: PresenceStatus) -> PresenceStatus {
    match status {
        PresenceStatus::Offline => PresenceStatus::Offline,
        _ => PresenceStatus::Online,
    }
}

/// A delay drawn uniformly from zero to `max`.
fn random_delay(max: Duration) -> Duration {
    let millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

/// Who is not told of a member's presence in its conversation: the member itself, and
/// those who blocked it (they do not see it come and go either).
fn unseen_by(ctx: &MemberCtx) -> Vec<MemberId> {
    ctx.blocked_by
        .iter()
        .chain([&ctx.member])
        .cloned()
        .collect()
}

/// The `presence` frame announcing one membership's status.
fn presence_frame(
    conversation: &ConversationId,
    member: &MemberId,
    status: PresenceStatus,
) -> Payload {
    let frame = ServerFrame::Presence {
        conversation: conversation.clone(),
        member: member.clone(),
        status: status.as_str().to_owned(),
    };
    Payload::Frame {
        json: frame.to_json().into(),
    }
}

/// Whether a member shows presence in a conversation: as chosen, else named members do
/// and pseudonymous ones do not.
fn shown(choice: Option<bool>, pseudonymous: bool) -> bool {
    choice.unwrap_or(!pseudonymous)
}

impl Mentoring {
    /// Shows a named membership's status to the others in its conversation at once.
    fn show_presence(&self, ctx: &MemberCtx, status: PresenceStatus) {
        self.publish(
            Topic::Conversation(ctx.conversation.clone()),
            Audience::Except(unseen_by(ctx)),
            presence_frame(&ctx.conversation, &ctx.member, status),
        );
    }

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
        let choices: HashMap<ConversationId, bool> = self
            .store
            .presence_choices_of(account)
            .await?
            .into_iter()
            .collect();
        for membership in &memberships {
            let ctx = MemberCtx::from_membership(membership).with_blocks(&blocks);
            let pseudonymous = membership.member.pseudonymous;
            if !shows_presence(&ctx)
                || !shown(choices.get(&ctx.conversation).copied(), pseudonymous)
            {
                continue;
            }
            if pseudonymous {
                self.pseudonymous_presence
                    .announce_later(account.clone(), &ctx);
                continue;
            }
            self.show_presence(&ctx, status);
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
        choices: &HashMap<MemberId, bool>,
    ) -> HashMap<String, PresenceStatus> {
        if !shows_presence(viewer) {
            return HashMap::new();
        }
        let visible: Vec<&MemberRecord> = members
            .iter()
            .filter(|m| m.member != viewer.member && m.left_at.is_none())
            .filter(|m| !viewer.hidden.iter().any(|h| h.member == m.member))
            .filter(|m| viewer.kind != ConversationKind::Room || m.agreed_at.is_some())
            .filter(|m| shown(choices.get(&m.member).copied(), m.pseudonymous))
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
                let status = if m.pseudonymous {
                    self.pseudonymous_presence
                        .last_shown(&viewer.conversation, &m.member)
                } else {
                    statuses
                        .get(&m.account)
                        .copied()
                        .unwrap_or(PresenceStatus::Offline)
                };
                (m.member.as_str().to_owned(), status)
            })
            .collect()
    }
}

impl Mentoring {
    /// A member turns their presence in one conversation on or off. Turning it on
    /// announces it (after the delay, where pseudonymous); turning it off shows them
    /// offline at once.
    pub async fn choose_presence(
        &self,
        principal: &Principal,
        raw_conversation: &str,
        shown_now: bool,
    ) -> DomainResult<ConversationSummary> {
        let ctx = self
            .member_ctx(&principal.account, raw_conversation)
            .await?;
        self.store
            .choose_presence(&ctx.conversation, &ctx.member, shown_now)
            .await?;
        let membership = self
            .store
            .membership(&ctx.conversation, &principal.account)
            .await?
            .ok_or_else(Refusal::not_found)?;
        if membership.member.pseudonymous {
            if shown_now && shows_presence(&ctx) {
                self.pseudonymous_presence
                    .announce_later(principal.account.clone(), &ctx);
            } else if !shown_now {
                self.pseudonymous_presence.hide(&ctx);
            }
        } else if shows_presence(&ctx) {
            let status = if shown_now {
                self.presence_of(&principal.account).await
            } else {
                PresenceStatus::Offline
            };
            self.show_presence(&ctx, status);
        }
        self.summary(&membership).await
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
