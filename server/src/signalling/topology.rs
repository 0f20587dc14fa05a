//! Which way a call's media flows, and keeping its SFU room alive.
//!
//! A call starts as a mesh. With an SFU configured, the join that takes it past
//! `call_mesh_max_participants` moves it to the SFU for good: a room is created on the
//! least loaded instance and pinned in the call with compare-and-set (two nodes racing
//! keep one room and destroy the other), the joiner's view says `sfu`, and everyone
//! else gets `topology` and connects to the SFU while their mesh connections still
//! carry media — nobody redials.
//!
//! When the instance holding a room stops answering, the first node to notice pins a
//! new room on another instance and tells the participants (`topology`, `sfu_lost`);
//! they publish again there within the rejoin grace. A publish to a room whose
//! instance is down does the same, so a call is never stuck on a dead instance.

use std::collections::HashSet;

use super::call::{CallState, Delivery, Device, Participant, Target};
use super::sfu::{LegSpec, SfuError, SfuRoom};
use super::{DeviceLink, Signalling};
use crate::error::Refusal;
use crate::ids::{CallId, MemberId};
use crate::protocol::ErrorCode;
use crate::protocol::call::CallEvent;
use crate::protocol::sfu::{Quality, Topology, TopologyReason};

impl From<SfuError> for Refusal {
    fn from(error: SfuError) -> Self {
        match error {
            SfuError::State(message) => Refusal::new(ErrorCode::CallState, message),
            other => {
                tracing::warn!(error = %other, "SFU request failed");
                Refusal::new(
                    ErrorCode::Unavailable,
                    "the media server is unavailable right now; retry",
                )
            }
        }
    }
}

impl Signalling {
    /// Most participants a call may have: the SFU's cap when calls can move there.
    pub(super) fn max_participants(&self) -> usize {
        match &self.sfu {
            Some(sfu) => sfu.max_participants().max(self.settings.max_participants),
            None => self.settings.max_participants,
        }
    }

    /// After a join: a mesh call that outgrew the mesh moves to the SFU. Returns the
    /// call as it now stands.
    pub(super) async fn grow_if_needed(&self, call: CallState, joiner: &MemberId) -> CallState {
        let outgrown = call.topology == Topology::Mesh
            && call.participants.len() > self.settings.mesh_max
            && self.sfu.is_some();
        if !outgrown {
            return call;
        }
        match self.pin_room(&call.id, None, Some(joiner)).await {
            Ok(moved) => moved,
            Err(refusal) => {
                tracing::warn!(call = %call.id, %refusal, "could not move a call to the SFU; it stays a mesh");
                call
            }
        }
    }

    /// A new call in a room set to `sfu` goes to the SFU before anyone dials. Without an
    /// SFU, or if none answers, it starts as a mesh (with the mesh's cap) and may still
    /// move when it grows.
    pub(super) async fn start_on_sfu(&self, call: CallState, caller: &MemberId) -> CallState {
        if self.sfu.is_none() {
            return call;
        }
        match self.pin_room(&call.id, None, Some(caller)).await {
            Ok(moved) => moved,
            Err(refusal) => {
                tracing::warn!(call = %call.id, %refusal, "could not start a call on the SFU; it starts as a mesh");
                call
            }
        }
    }

    /// The call's live SFU room: pinned now if it has none, moved if its instance is
    /// down.
    pub(super) async fn live_room(
        &self,
        call: &CallState,
    ) -> Result<(CallState, SfuRoom), Refusal> {
        let sfu = self
            .sfu
            .as_ref()
            .ok_or_else(|| Refusal::new(ErrorCode::CallState, "this server has no SFU"))?;
        if let Some(room) = &call.sfu
            && !sfu.is_down(room).await
        {
            return Ok((call.clone(), room.clone()));
        }
        let moved = self.pin_room(&call.id, call.sfu.clone(), None).await?;
        let room = moved
            .sfu
            .clone()
            .ok_or_else(|| Refusal::new(ErrorCode::Unavailable, "no SFU room"))?;
        Ok((moved, room))
    }

    /// Creates a room and pins it in the call unless someone else replaced `old`
    /// first. The participants (all but `joiner`) are told to connect to it.
    async fn pin_room(
        &self,
        id: &CallId,
        old: Option<SfuRoom>,
        joiner: Option<&MemberId>,
    ) -> Result<CallState, Refusal> {
        let sfu = self
            .sfu
            .as_ref()
            .ok_or_else(|| Refusal::new(ErrorCode::CallState, "this server has no SFU"))?;
        let epoch = old.as_ref().map_or(0, |r| r.epoch + 1);
        let room = sfu
            .create_room(old.as_ref().map(|r| r.instance.as_str()), epoch)
            .await?;
        let mut won = false;
        let result = self
            .update(id, |call| {
                won = false;
                if call.sfu != old {
                    return Ok(None); // another node moved it first: use theirs
                }
                let was_mesh = call.topology == Topology::Mesh;
                call.topology = Topology::Sfu;
                call.sfu = Some(room.clone());
                won = true;
                let reason = if was_mesh {
                    TopologyReason::CallGrew
                } else {
                    TopologyReason::SfuLost
                };
                let mut step = super::call::Step::default();
                for other in call
                    .participants
                    .iter()
                    .filter(|p| Some(&p.member) != joiner)
                {
                    step.deliveries.push(Delivery {
                        to: Target::Device(other.device.clone()),
                        event: CallEvent::Topology {
                            call: call.id.clone(),
                            conversation: call.conversation.clone(),
                            topology: Topology::Sfu,
                            reason,
                        },
                    });
                }
                Ok(Some(step))
            })
            .await;
        let (call, step) = match result {
            Ok(done) => done,
            Err(refusal) => {
                sfu.destroy_room(&room).await;
                return Err(refusal);
            }
        };
        if !won {
            sfu.destroy_room(&room).await;
            return Ok(call);
        }
        metrics::counter!("mentorhub_sfu_calls_moved_total", "to" => if old.is_some() { "another_instance" } else { "sfu" })
            .increment(1);
        tracing::info!(call = %call.id, instance = %room.instance, epoch = room.epoch, "call pinned to an SFU room");
        if let Some(old) = &old {
            sfu.destroy_room(old).await;
        }
        self.apply(&call, step).await;
        Ok(call)
    }

    /// An instance was lost: this node's legs there are gone, and the calls they
    /// belonged to move to another instance (once, whichever node is first).
    pub(super) fn watch_instances(&self, mut lost: tokio::sync::mpsc::UnboundedReceiver<String>) {
        let me = self.me.clone();
        tokio::spawn(async move {
            while let Some(instance) = lost.recv().await {
                let Some(signalling) = me.upgrade() else {
                    break;
                };
                signalling.instance_lost(&instance).await;
            }
        });
    }

    async fn instance_lost(&self, instance: &str) {
        let Some(sfu) = &self.sfu else { return };
        let legs = sfu.legs_on(instance);
        let calls: HashSet<CallId> = legs.iter().map(|(_, call)| call.clone()).collect();
        for (conn, _) in legs {
            sfu.close_leg(conn);
        }
        for id in calls {
            let Ok(Some(call)) = self.registry.get(&id).await else {
                continue;
            };
            let Some(room) = call.sfu.clone().filter(|r| r.instance == instance) else {
                continue; // already moved by another node
            };
            if let Err(refusal) = self.pin_room(&id, Some(room), None).await {
                tracing::warn!(call = %id, %refusal, "could not move a call off a lost SFU instance");
            }
        }
    }

    /// Ends the SFU presence of devices that left the call: their legs here close, and
    /// any node's kick (with the room secret) cuts their media at once.
    pub(super) async fn end_legs(&self, call: &CallState, gone: &[(MemberId, Device)]) {
        let (Some(sfu), Some(room)) = (&self.sfu, &call.sfu) else {
            return;
        };
        for (member, device) in gone {
            if device.node == *self.node {
                sfu.close_leg(device.conn);
            }
            sfu.kick(room, member, device).await;
        }
    }

    /// The device's leg in the call's live room, opened if it has none there yet.
    pub(super) async fn open_leg(
        &self,
        link: &std::sync::Arc<dyn DeviceLink>,
        call: &CallState,
        me: &Participant,
    ) -> Result<std::sync::Arc<super::sfu::LegLink>, Refusal> {
        let sfu = self
            .sfu
            .as_ref()
            .ok_or_else(|| Refusal::new(ErrorCode::CallState, "this server has no SFU"))?;
        if call.topology != Topology::Sfu {
            return Err(Refusal::new(
                ErrorCode::CallState,
                "this call is a mesh: signal the participants directly",
            ));
        }
        let (call, room) = self.live_room(call).await?;
        if let Some(leg) = sfu.existing_leg(link.id())
            && leg.room.same_room(&room)
        {
            return Ok(leg);
        }
        let ctx = self
            .membership(&me.account, call.conversation.as_str())
            .await?
            .ctx;
        let spec = LegSpec {
            call: call.id.clone(),
            conversation: call.conversation.clone(),
            feed: room.feed_of(&me.member, &me.device),
            room,
            member: me.member.clone(),
            device: link.clone(),
            avoid: me.avoid.clone(),
            muted: ctx.muted,
            // Audio only is about what a participant sends: it receives video (and
            // lowers it with `receive` like anyone else).
            quality: Quality::High,
        };
        Ok(sfu.leg(link.id(), spec).await?)
    }
}
