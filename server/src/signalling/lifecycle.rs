//! The call life cycle as requests and timers see it: each step reads what it needs,
//! applies one [`CallState`] transition with compare-and-set, replies to the
//! requesting device first and then tells everyone else.

use std::sync::Arc;

use super::call::{Answer, CallState, Device, Invitee, Participant, Step};
use super::{DeviceLink, Signalling, call_state, no_call};
use crate::error::Refusal;
use crate::ids::{CallId, MemberId, now_millis};
use crate::mentoring::MemberCtx;
use crate::protocol::ServerFrame;
use crate::protocol::call::{CallEvent, Media, Reason};
use crate::protocol::vocabulary::CallRouting;

impl Signalling {
    pub(super) async fn start_call(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_conversation: &str,
        media: Media,
    ) -> Result<(), Refusal> {
        let account = device.account().clone();
        let super::Standing {
            ctx,
            relay_only,
            routing,
        } = self.membership(&account, raw_conversation).await?;
        ctx.check_post()?;
        self.check_relay_possible(relay_only)?;
        if self.registry.participating(&account).await?.is_some() {
            return Err(call_state("you are already in a call: leave it first"));
        }
        if self
            .registry
            .in_conversation(&ctx.conversation)
            .await?
            .is_some()
        {
            return Err(call_state(
                "a call is already in progress in this conversation: join it",
            ));
        }
        let avoid = avoided(&ctx);
        let mut invitees = Vec::new();
        for member in self.store.members(&ctx.conversation).await? {
            // A pseudonymous member cannot take part without a TURN relay: ringing her
            // would ask for an answer the server must refuse.
            let eligible = member.account != account
                && !ctx.hidden.iter().any(|h| h.member == member.member)
                && member.left_at.is_none()
                && member.agreed_at.is_some()
                && !member.muted
                && (!member.pseudonymous || self.ice.has_turn());
            if !eligible {
                continue;
            }
            // Someone who blocked the caller here is never rung; to the caller the
            // call rings out as with anyone who does not answer (the contact policy).
            if ctx.blocked_by.contains(&member.member) {
                invitees.push(Invitee {
                    member: member.member,
                    account: member.account,
                    answer: Answer::Ringing,
                    relay_only: member.pseudonymous,
                    silenced: true,
                });
                continue;
            }
            let busy = self
                .registry
                .participating(&member.account)
                .await?
                .is_some();
            invitees.push(Invitee {
                member: member.member,
                account: member.account,
                answer: if busy { Answer::Busy } else { Answer::Ringing },
                relay_only: member.pseudonymous,
                silenced: false,
            });
        }
        if invitees.is_empty() {
            return Err(call_state("there is nobody else here to call"));
        }
        let caller = Participant {
            member: ctx.member.clone(),
            account,
            device: self.device_of(device),
            relay_only,
            avoid,
            joined_at: now_millis(),
            lost_at: None,
            media,
            receive_limit: None,
        };
        let ring_ms = self.settings.ring_timeout.as_millis() as u64;
        let (call, step) = CallState::start(
            CallId::random(),
            ctx.conversation.clone(),
            media,
            caller.clone(),
            invitees,
            ring_ms,
        );
        let live = step.ended.is_none();
        if live && !self.registry.create(&call).await? {
            return Err(call_state(
                "a call is already in progress in this conversation: join it",
            ));
        }
        if let Err(error) = self
            .store
            .record_call_start(&super::steps::record_of(&call))
            .await
        {
            if live {
                self.registry.remove(&call.id, call.version).await?;
            }
            return Err(error.into());
        }
        metrics::counter!("mentorhub_calls_started_total").increment(1);
        tracing::info!(call = %call.id, conversation = %call.conversation, media = media.as_str(), "call started");
        self.devices.insert(device.id(), device.clone());
        let call = if live && routing == CallRouting::Sfu {
            self.start_on_sfu(call, &caller.member).await
        } else {
            call
        };
        let view = self.view(&call, &caller, reference, false);
        device.send(&ServerFrame::Call(CallEvent::Started(view)));
        if live {
            self.arm_ring_timeout(call.id.clone());
        }
        self.apply(&call, step).await;
        if live {
            let rung = invitees_with(&call, Answer::Ringing);
            crate::notify::Notifier::new(self.store.clone())
                .ringing(&call.id, &call.conversation, &rung)
                .await;
        }
        Ok(())
    }

    /// Invitees whose call stopped ringing unanswered are told it was missed (once per
    /// call and account, however often this runs).
    pub(super) async fn notify_missed(&self, call: &CallState) {
        let missed = invitees_with(call, Answer::Missed);
        if !missed.is_empty() {
            crate::notify::Notifier::new(self.store.clone())
                .missed(&call.id, &call.conversation, &missed)
                .await;
        }
    }

    /// `accept` (`answering`) or `join`.
    pub(super) async fn join(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        answering: bool,
        media: Option<Media>,
    ) -> Result<(), Refusal> {
        let account = device.account().clone();
        let id = CallId::parse(raw_call).ok_or_else(no_call)?;
        let found = self.registry.get(&id).await?.ok_or_else(no_call)?;
        let super::Standing {
            ctx, relay_only, ..
        } = match self.membership(&account, found.conversation.as_str()).await {
            Ok(found) => found,
            Err(refusal) if refusal.code == crate::protocol::ErrorCode::NotFound => {
                return Err(no_call());
            }
            Err(refusal) => return Err(refusal),
        };
        ctx.check_post()?;
        self.check_relay_possible(relay_only)?;
        if let Some(other) = self.registry.participating(&account).await?
            && other != id
        {
            return Err(call_state(
                "you are already in another call: leave it first",
            ));
        }
        let joiner = Participant {
            member: ctx.member.clone(),
            account: account.clone(),
            device: self.device_of(device),
            relay_only,
            avoid: avoided(&ctx),
            joined_at: now_millis(),
            lost_at: None,
            media: found.media.for_participant(media),
            receive_limit: None,
        };
        let max = self.max_participants();
        let (call, step) = self
            .update(&id, |call| {
                // A rejoin without `media` keeps the place's own.
                let held = call.participant_by_account(&joiner.account);
                let media = match (media, held) {
                    (None, Some(held)) => held.media,
                    _ => call.media.for_participant(media),
                };
                let joiner = Participant {
                    media,
                    ..joiner.clone()
                };
                call.join(joiner, answering, max).map(Some)
            })
            .await?;
        self.devices.insert(device.id(), device.clone());
        // Past the largest mesh, the call moves to the SFU before the joiner dials.
        let call = self.grow_if_needed(call, &joiner.member).await;
        let me = call
            .participant_by_account(&account)
            .cloned()
            .unwrap_or(joiner);
        let view = self.view(&call, &me, reference, step.rejoined);
        device.send(&ServerFrame::Call(CallEvent::Joined(view)));
        self.apply(&call, step).await;
        Ok(())
    }

    pub(super) async fn decline(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        reason: Reason,
    ) -> Result<(), Refusal> {
        let account = device.account().clone();
        self.change_own_call(device, reference, raw_call, |call| {
            call.decline(&account, reason).map(Some)
        })
        .await
    }

    pub(super) async fn leave(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        reason: Reason,
    ) -> Result<(), Refusal> {
        let account = device.account().clone();
        let carrier = self.device_of(device);
        self.change_own_call(device, reference, raw_call, |call| {
            call.leave(&account, &carrier, reason).map(Some)
        })
        .await
    }

    /// A device's own change to a call it can see: applied with compare-and-set,
    /// answered with `ok`, then carried out for everyone else.
    async fn change_own_call<F>(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        change: F,
    ) -> Result<(), Refusal>
    where
        F: FnMut(&mut CallState) -> Result<Option<Step>, Refusal>,
    {
        let found = self.visible_call(device.account(), raw_call).await?;
        let (call, step) = self.update(&found.id, change).await?;
        device.send(&ServerFrame::Ok { reference });
        self.apply(&call, step).await;
        Ok(())
    }

    /// A connection closed. If it was in a call, its place is kept for the grace
    /// period (the others are told), after which it is gone.
    pub async fn disconnected(&self, device_id: u64) {
        self.stats_at.remove(&device_id);
        let Some((_, link)) = self.devices.remove(&device_id) else {
            return; // never started or joined a call
        };
        let device = Device {
            node: self.node.to_string(),
            conn: device_id,
        };
        let grace_ms = self.settings.reconnect_grace.as_millis() as u64;
        let result = async {
            let Some(id) = self.registry.participating(link.account()).await? else {
                return Ok(None);
            };
            let now = now_millis();
            self.update(&id, |call| Ok(call.lose(&device, now, grace_ms)))
                .await
                .map(Some)
        }
        .await;
        match result {
            Ok(Some((call, step))) => self.apply(&call, step).await,
            Ok(None) => {}
            Err(refusal) => tracing::debug!(%refusal, "dropped connection: call already gone"),
        }
    }

    /// Nodes died (their heartbeat expired): their connections closed without anyone
    /// running [`Self::disconnected`] for them, and their timers died with them. Every
    /// participant of any live call that was connected through one of them is treated
    /// as a dropped connection: the others are told (`participant_disconnected`) and
    /// the grace period runs here, so the participant can rejoin through another node —
    /// and a call whose participants were all on dead nodes ends when the grace period
    /// runs out (`connection_lost`) instead of staying in the registry. Every surviving
    /// node sweeps; compare-and-set lets one of them change each place, and only that
    /// one arms its timer.
    pub async fn nodes_lost(&self, nodes: &[String]) {
        if nodes.is_empty() {
            return;
        }
        let calls = match self.registry.live().await {
            Ok(calls) => calls,
            Err(error) => {
                tracing::warn!(%error, "node lost: live calls not read");
                return;
            }
        };
        let grace_ms = self.settings.reconnect_grace.as_millis() as u64;
        for id in calls {
            let Ok(Some(found)) = self.registry.get(&id).await else {
                continue;
            };
            let stranded: Vec<Device> = found
                .participants
                .iter()
                .filter(|p| p.connected() && nodes.contains(&p.device.node))
                .map(|p| p.device.clone())
                .collect();
            for device in stranded {
                let now = now_millis();
                match self
                    .update(&id, |call| Ok(call.lose(&device, now, grace_ms)))
                    .await
                {
                    Ok((call, step)) => self.apply(&call, step).await,
                    Err(refusal) => tracing::debug!(%refusal, "node lost: call already gone"),
                }
            }
            // Places already in their grace period may have had their timer on a dead
            // node: arm one here for the time left (a second expiry changes nothing).
            for held in found.participants.iter() {
                if let Some(lost_at) = held.lost_at {
                    let left = (lost_at + grace_ms as i64 - now_millis()).max(0) as u64;
                    self.arm_grace_after(
                        id.clone(),
                        held.member.clone(),
                        held.device.clone(),
                        std::time::Duration::from_millis(left),
                    );
                }
            }
        }
    }

    fn arm_ring_timeout(&self, id: CallId) {
        let me = self.me.clone();
        let after = self.settings.ring_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(signalling) = me.upgrade() {
                signalling.ring_expired(&id).await;
            }
        });
    }

    async fn ring_expired(&self, id: &CallId) {
        match self.update(id, |call| Ok(call.ring_timeout())).await {
            Ok((call, step)) => {
                self.apply(&call, step).await;
                self.notify_missed(&call).await;
            }
            Err(refusal) => tracing::debug!(%refusal, "ring timeout: call already gone"),
        }
    }

    pub(super) fn arm_grace(&self, id: CallId, member: MemberId, device: Device) {
        self.arm_grace_after(id, member, device, self.settings.reconnect_grace);
    }

    fn arm_grace_after(
        &self,
        id: CallId,
        member: MemberId,
        device: Device,
        after: std::time::Duration,
    ) {
        let me = self.me.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(signalling) = me.upgrade() {
                signalling.grace_expired(&id, &member, &device).await;
            }
        });
    }

    async fn grace_expired(&self, id: &CallId, member: &MemberId, device: &Device) {
        match self
            .update(id, |call| Ok(call.expire_grace(member, device)))
            .await
        {
            Ok((call, step)) => self.apply(&call, step).await,
            Err(refusal) => tracing::debug!(%refusal, "grace period over: call already gone"),
        }
    }
}

/// Members on either side of a block with this member here.
/// Accounts of invitees with this answer, leaving out those never told of the call
/// (silenced: they blocked the caller here).
fn invitees_with(call: &CallState, answer: Answer) -> Vec<crate::ids::AccountId> {
    call.invitees
        .iter()
        .filter(|i| i.answer == answer && !i.silenced)
        .map(|i| i.account.clone())
        .collect()
}

fn avoided(ctx: &MemberCtx) -> Vec<MemberId> {
    let mut avoid: Vec<MemberId> = ctx.hidden.iter().map(|h| h.member.clone()).collect();
    avoid.extend(ctx.blocked_by.iter().cloned());
    avoid
}

impl Signalling {
    /// A device came online: it rings for every call that rings its account now, with
    /// the time left.
    pub async fn session_started(&self, device: &Arc<dyn DeviceLink>, contexts: &[MemberCtx]) {
        let now = now_millis();
        let timeout = self.settings.ring_timeout.as_millis() as i64;
        for ctx in contexts.iter().filter(|c| c.can_read()) {
            let Ok(Some(call)) = self.registry.in_conversation(&ctx.conversation).await else {
                continue;
            };
            let ringing = call
                .invitee(device.account())
                .is_some_and(|i| i.answer == Answer::Ringing);
            let left = call.started_at + timeout - now;
            if ringing && left > 0 {
                device.send(&ServerFrame::Call(CallEvent::Ringing {
                    call: call.id.clone(),
                    conversation: call.conversation.clone(),
                    media: call.media,
                    from: call.caller.clone(),
                    ring_timeout_ms: left as u64,
                }));
            }
        }
    }

    /// The account's standing in a conversation changed. One who may no longer call
    /// there leaves the conversation's call, if it is in it. A muted (`Some(true)`) or
    /// unmuted member stays, but on the SFU its streams stop (or resume) at once.
    pub async fn standing_changed(
        &self,
        account: &crate::ids::AccountId,
        conversation: &crate::ids::ConversationId,
        may_call: bool,
        muted: Option<bool>,
    ) {
        let Ok(Some(found)) = self.registry.in_conversation(conversation).await else {
            return;
        };
        let Some(me) = found.participant_by_account(account) else {
            return;
        };
        if may_call {
            if let (Some(muted), Some(sfu)) = (muted, &self.sfu)
                && me.device.node == *self.node
                && let Some(leg) = sfu.existing_leg(me.device.conn)
            {
                leg.mute(muted);
            }
            return;
        }
        let result = self
            .update(&found.id, |call| {
                Ok(call.remove_account(account, Reason::ConversationClosed))
            })
            .await;
        match result {
            Ok((call, step)) => self.apply(&call, step).await,
            Err(refusal) => tracing::debug!(%refusal, "standing changed: call already gone"),
        }
    }
}
