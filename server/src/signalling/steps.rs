//! Carrying out a call transition: storing it with compare-and-set, delivering its
//! events to devices here and on other nodes, arming its timer and recording the end.

use super::call::{CallState, Delivery, Device, Step, Target};
use super::{Signalling, no_call};
use crate::bus::{Audience, Envelope, Payload, Topic};
use crate::error::Refusal;
use crate::ids::CallId;
use crate::protocol::call::Reason;
use crate::protocol::{ErrorCode, ServerFrame};
use crate::store::CallRecord;

/// After this many lost compare-and-set rounds a request gives up (`unavailable`).
const MAX_ATTEMPTS: usize = 16;

impl Signalling {
    /// Applies `change` to the stored call with compare-and-set, retrying from a fresh
    /// read when another change won. `Ok(None)` from `change` means nothing to do.
    pub(super) async fn update<F>(
        &self,
        id: &CallId,
        mut change: F,
    ) -> Result<(CallState, Step), Refusal>
    where
        F: FnMut(&mut CallState) -> Result<Option<Step>, Refusal>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let mut call = self.registry.get(id).await?.ok_or_else(no_call)?;
            let expected = call.version;
            let Some(step) = change(&mut call)? else {
                return Ok((call, Step::default()));
            };
            call.version = expected + 1;
            let stored = if step.ended.is_some() {
                self.registry.remove(id, expected).await?
            } else {
                self.registry.replace(&call, expected).await?
            };
            if stored {
                return Ok((call, step));
            }
        }
        Err(Refusal::new(
            ErrorCode::Unavailable,
            "the call kept changing; retry",
        ))
    }

    /// Delivers a transition's events, arms its timer, ends the SFU legs of devices no
    /// longer in the call and records its end.
    pub(super) async fn apply(&self, call: &CallState, step: Step) {
        for delivery in step.deliveries {
            self.deliver(call, delivery);
        }
        self.end_legs(call, &step.gone).await;
        if let Some((member, device)) = step.grace {
            self.arm_grace(call.id.clone(), member, device);
        }
        if let Some(reason) = step.ended {
            self.record_end(call, reason).await;
        }
    }

    pub(super) fn deliver(&self, call: &CallState, delivery: Delivery) {
        let conversation = &call.conversation;
        metrics::counter!("mentorhub_call_events_total", "event" => delivery.event.name())
            .increment(1);
        let frame = ServerFrame::Call(delivery.event);
        let audience = match delivery.to {
            Target::Device(device) => {
                if self.send_to_device(&device, &frame) || device.node == *self.node {
                    return;
                }
                // A device on another node: the conversation's topic reaches that
                // node, whose hub hands it to that one connection only.
                Audience::Device {
                    node: device.node,
                    conn: device.conn,
                }
            }
            Target::Members(members) => Audience::Only(members),
            // Silenced invitees never learn of the call, not even that it ended.
            Target::Everyone => match call.silenced() {
                silenced if silenced.is_empty() => Audience::Members,
                silenced => Audience::Except(silenced),
            },
            Target::EveryoneExcept(mut members) => {
                members.extend(call.silenced());
                Audience::Except(members)
            }
        };
        self.bus.publish(Envelope {
            origin: self.node.clone(),
            topic: Topic::Conversation(conversation.clone()),
            audience,
            payload: Payload::Frame {
                json: frame.to_json().into(),
            },
        });
    }

    /// A device that is a connection on this node (others are reached over the bus).
    fn send_to_device(&self, device: &Device, frame: &ServerFrame) -> bool {
        if device.node != *self.node {
            return false;
        }
        match self.devices.get(&device.conn) {
            Some(link) => {
                link.send(frame);
                true
            }
            None => false,
        }
    }

    async fn record_end(&self, call: &CallState, reason: Reason) {
        metrics::counter!("mentorhub_calls_ended_total", "reason" => reason.as_str()).increment(1);
        tracing::info!(call = %call.id, reason = reason.as_str(), participants = call.took_part.len(), "call ended");
        let record = CallRecord {
            ended_at: Some(crate::ids::now_millis()),
            end_reason: Some(reason),
            ..record_of(call)
        };
        if let Err(error) = self.store.record_call_end(&record).await {
            tracing::warn!(call = %call.id, %error, "could not record the end of a call");
        }
        self.notify_missed(call).await;
        if let (Some(sfu), Some(room)) = (&self.sfu, &call.sfu) {
            sfu.destroy_room(room).await;
        }
    }
}

pub(super) fn record_of(call: &CallState) -> CallRecord {
    CallRecord {
        id: call.id.clone(),
        conversation: call.conversation.clone(),
        media: call.media,
        started_at: call.started_at,
        answered_at: call.answered_at,
        ended_at: None,
        participants: call.took_part.len() as u32,
        end_reason: None,
    }
}
