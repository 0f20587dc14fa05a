//! How a call loses its participants and ends: declining, leaving, a dropped
//! connection and its grace period, the ring timeout, and the end itself.

use super::{Answer, CallState, Delivery, Device, Step, Target, call_state};
use crate::error::Refusal;
use crate::ids::{AccountId, MemberId, Millis};
use crate::protocol::call::{CallEvent, Reason, RingStop};

impl CallState {
    /// A rung member refuses (on every device).
    pub fn decline(&mut self, account: &AccountId, reason: Reason) -> Result<Step, Refusal> {
        let invitee = self
            .invitees
            .iter_mut()
            .find(|i| &i.account == account && i.answer == Answer::Ringing && !i.silenced)
            .ok_or_else(|| call_state("this call is not ringing for you"))?;
        invitee.answer = if reason == Reason::UserBusy {
            Answer::Busy
        } else {
            Answer::Declined
        };
        let member = invitee.member.clone();
        let mut step = Step::default();
        step.deliveries.push(Delivery {
            to: Target::Members(vec![member.clone()]),
            event: CallEvent::RingStopped {
                call: self.id.clone(),
                conversation: self.conversation.clone(),
                reason: RingStop::Declined,
            },
        });
        let event = self.declined(member.clone(), reason);
        self.tell_others(&mut step, &member, event);
        self.end_if_unanswered(&mut step);
        Ok(step)
    }

    /// The device carrying the account's place hangs up. Another device of the same
    /// account (one displaced by `joined_elsewhere`, or one that never joined) is
    /// refused: it would end a call it does not carry behind the carrying device's back.
    pub fn leave(
        &mut self,
        account: &AccountId,
        device: &Device,
        reason: Reason,
    ) -> Result<Step, Refusal> {
        let index = self
            .participants
            .iter()
            .position(|p| &p.account == account)
            .ok_or_else(|| call_state("you are not in this call"))?;
        let held = &self.participants[index];
        if &held.device != device || !held.connected() {
            return Err(call_state(
                "another of your devices carries this call: leave there, or join here first",
            ));
        }
        Ok(self.remove_participant(index, reason))
    }

    /// The server removes the account's place, whichever device holds it (it may no
    /// longer call in the conversation). `None` if it holds none.
    pub fn remove_account(&mut self, account: &AccountId, reason: Reason) -> Option<Step> {
        let index = self
            .participants
            .iter()
            .position(|p| &p.account == account)?;
        Some(self.remove_participant(index, reason))
    }

    /// A participant's connection dropped. `None` if the device was not in the call.
    pub fn lose(&mut self, device: &Device, now: Millis, grace_ms: u64) -> Option<Step> {
        let held = self
            .participants
            .iter_mut()
            .find(|p| &p.device == device && p.lost_at.is_none())?;
        held.lost_at = Some(now);
        let member = held.member.clone();
        let mut step = Step {
            grace: Some((member.clone(), device.clone())),
            ..Step::default()
        };
        let event = CallEvent::ParticipantDisconnected {
            call: self.id.clone(),
            conversation: self.conversation.clone(),
            member: member.clone(),
            grace_ms,
        };
        self.tell_others(&mut step, &member, event);
        Some(step)
    }

    /// The grace period ran out. `None` if the participant came back (or left) since.
    pub fn expire_grace(&mut self, member: &MemberId, device: &Device) -> Option<Step> {
        let index = self
            .participants
            .iter()
            .position(|p| &p.member == member && &p.device == device && p.lost_at.is_some())?;
        Some(self.remove_participant(index, Reason::ConnectionLost))
    }

    /// Nobody answered in time: stop ringing; end the call if nobody answered at all.
    /// `None` if nobody was ringing any more.
    pub fn ring_timeout(&mut self) -> Option<Step> {
        if self.members_with(Answer::Ringing).is_empty() {
            return None;
        }
        let ringing = self.rung_with(Answer::Ringing);
        for invitee in &mut self.invitees {
            if invitee.answer == Answer::Ringing {
                invitee.answer = Answer::Missed;
            }
        }
        let mut step = Step::default();
        if self.answered_at.is_some() {
            step.deliveries.push(Delivery {
                to: Target::Members(ringing),
                event: CallEvent::RingStopped {
                    call: self.id.clone(),
                    conversation: self.conversation.clone(),
                    reason: RingStop::InviteTimeout,
                },
            });
        } else {
            self.end(&mut step, Reason::InviteTimeout);
        }
        Some(step)
    }

    fn remove_participant(&mut self, index: usize, reason: Reason) -> Step {
        let gone = self.participants.remove(index);
        let mut step = Step::default();
        step.gone.push((gone.member.clone(), gone.device.clone()));
        let event = CallEvent::ParticipantLeft {
            call: self.id.clone(),
            conversation: self.conversation.clone(),
            member: gone.member.clone(),
            reason,
        };
        self.tell_others(&mut step, &gone.member, event);
        if self.participants.is_empty() {
            let reason = if self.answered_at.is_none() && reason == Reason::UserHangup {
                Reason::UserCancelled
            } else {
                reason
            };
            self.end(&mut step, reason);
        }
        step
    }

    /// Unanswered and nobody left ringing: every member rung refused.
    pub(super) fn end_if_unanswered(&mut self, step: &mut Step) {
        if self.answered_at.is_some() || !self.members_with(Answer::Ringing).is_empty() {
            return;
        }
        let all_busy = self.invitees.iter().all(|i| i.answer == Answer::Busy);
        let reason = if all_busy {
            Reason::UserBusy
        } else {
            Reason::UserDeclined
        };
        self.end(step, reason);
    }

    fn end(&mut self, step: &mut Step, reason: Reason) {
        for invitee in &mut self.invitees {
            if invitee.answer == Answer::Ringing {
                invitee.answer = Answer::Missed;
            }
        }
        step.ended = Some(reason);
        // A member who was busy was never rung: the call was never theirs to end.
        let busy_only: Vec<MemberId> = self
            .members_with(Answer::Busy)
            .into_iter()
            .filter(|m| !self.took_part.contains(m))
            .collect();
        step.deliveries.push(Delivery {
            to: if busy_only.is_empty() {
                Target::Everyone
            } else {
                Target::EveryoneExcept(busy_only)
            },
            event: CallEvent::Ended {
                call: self.id.clone(),
                conversation: self.conversation.clone(),
                reason,
            },
        });
    }
}
