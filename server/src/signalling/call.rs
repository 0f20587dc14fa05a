//! One call's state and its life cycle, as pure transitions: each takes the state and
//! an input and returns what to tell whom ([`Step`]). Nothing here does I/O, so the
//! rules are unit-tested directly and the state can live in any [`super::registry`].
//!
//! Life cycle: the caller's device is the first participant and every other eligible
//! member is rung. A member answers (`accept`, on one device: that member's other
//! devices stop ringing) or declines; a member already in another call is busy. The
//! call is *answered* once anyone but the caller joins. Unanswered, it ends when
//! nobody is left ringing (everyone declined or was busy), when the ring times out, or
//! when the caller hangs up (cancel). Answered, it goes on while anyone is in it;
//! members may join and leave; it ends when the last participant leaves. A participant
//! whose connection drops keeps its place for a grace period.

use serde::{Deserialize, Serialize};

use super::sfu::SfuRoom;
use crate::error::Refusal;
use crate::ids::{AccountId, CallId, ConversationId, MemberId, Millis};
use crate::protocol::ErrorCode;
use crate::protocol::call::{
    CallEvent, MAX_VIDEO_KBPS, MIN_VIDEO_KBPS, Media, Reason, ReceiveLimit, RingStop,
};
use crate::protocol::sfu::Topology;

// Leaving, declining, lost connections and the end of a call.
mod ending;

/// One connection, on one node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Device {
    pub node: String,
    pub conn: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Participant {
    pub member: MemberId,
    pub account: AccountId,
    pub device: Device,
    /// Pseudonymous in this conversation: relay-only ICE, sanitised signals.
    pub relay_only: bool,
    /// Members this participant blocked or was blocked by here (as of joining): no
    /// signal passes between them, so their pair never connects.
    #[serde(default)]
    pub avoid: Vec<MemberId>,
    pub joined_at: Millis,
    /// Set while the device's connection is gone and the grace period runs.
    pub lost_at: Option<Millis>,
    /// `audio`: takes part without video, sent or received (never more than the call).
    #[serde(default = "video")]
    pub media: Media,
    /// Most kbit/s of video this participant asked the others to send it (0: none).
    #[serde(default)]
    pub receive_limit: Option<u32>,
}

fn video() -> Media {
    Media::Video
}

impl Participant {
    pub fn connected(&self) -> bool {
        self.lost_at.is_none()
    }

    /// The cap on video sent to this participant, if it asked for one. Taking part with
    /// audio only is about what it sends: it still receives video unless it asks not to.
    pub fn video_cap(&self) -> Option<u32> {
        self.receive_limit
    }
}

/// A `receive_limit` request, checked: `None` lifts the cap, `Some(0)` asks for no
/// video, otherwise a bitrate within [`MIN_VIDEO_KBPS`]..=[`MAX_VIDEO_KBPS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoCap(Option<u32>);

impl VideoCap {
    pub fn parse(kbps: Option<u32>) -> Result<VideoCap, Refusal> {
        match kbps {
            None | Some(0) => Ok(VideoCap(kbps)),
            Some(k) if (MIN_VIDEO_KBPS..=MAX_VIDEO_KBPS).contains(&k) => Ok(VideoCap(kbps)),
            Some(_) => Err(Refusal::new(
                ErrorCode::InvalidFrame,
                format!(
                    "max_video_kbps is 0 (no video), {MIN_VIDEO_KBPS} to {MAX_VIDEO_KBPS}, or null (no cap)"
                ),
            )),
        }
    }

    pub fn kbps(self) -> Option<u32> {
        self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Ringing,
    Joined,
    Declined,
    Busy,
    Missed,
}

/// A member the call rang.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Invitee {
    pub member: MemberId,
    pub account: AccountId,
    pub answer: Answer,
    /// Pseudonymous in the conversation: relay-only once in the call.
    #[serde(default)]
    pub relay_only: bool,
    /// Blocked the caller here: listed as ringing to the caller and missed when the
    /// ring times out, as anyone who does not answer, but never rung or told.
    #[serde(default)]
    pub silenced: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallState {
    pub id: CallId,
    pub conversation: ConversationId,
    pub media: Media,
    /// Bumped on every change (compare-and-set in the registry).
    pub version: u64,
    pub started_at: Millis,
    pub answered_at: Option<Millis>,
    pub caller: MemberId,
    pub participants: Vec<Participant>,
    pub invitees: Vec<Invitee>,
    /// Every member who has been a participant (the stored participant count).
    pub took_part: Vec<MemberId>,
    /// How media flows: a mesh until the call outgrows it, then the SFU for good.
    #[serde(default)]
    pub topology: Topology,
    /// The call's SFU room, once it has one.
    #[serde(default)]
    pub sfu: Option<SfuRoom>,
}

/// Who a call event goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One connection.
    Device(Device),
    /// Every device of these members.
    Members(Vec<MemberId>),
    /// Every device of every member of the conversation.
    Everyone,
    /// Every device of every member of the conversation but these.
    EveryoneExcept(Vec<MemberId>),
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub to: Target,
    pub event: CallEvent,
}

/// What a transition asks the service to do.
#[derive(Debug, Default)]
pub struct Step {
    pub deliveries: Vec<Delivery>,
    /// The call is over: remove it, record the end, tell everyone.
    pub ended: Option<Reason>,
    /// Start a grace timer for this participant's device.
    pub grace: Option<(MemberId, Device)>,
    /// A join took over a place the account already held.
    pub rejoined: bool,
    /// Devices that no longer hold a place in the call (left, lost, moved): their SFU
    /// legs end.
    pub gone: Vec<(MemberId, Device)>,
}

fn call_state(message: &'static str) -> Refusal {
    Refusal::new(ErrorCode::CallState, message)
}

impl CallState {
    /// A new call with the caller as first participant, ringing `invitees` (those
    /// already marked busy are not rung).
    pub fn start(
        id: CallId,
        conversation: ConversationId,
        media: Media,
        caller: Participant,
        invitees: Vec<Invitee>,
        ring_timeout_ms: u64,
    ) -> (CallState, Step) {
        let mut call = CallState {
            id,
            conversation,
            media,
            version: 0,
            started_at: caller.joined_at,
            answered_at: None,
            caller: caller.member.clone(),
            took_part: vec![caller.member.clone()],
            participants: vec![caller],
            invitees,
            topology: Topology::Mesh,
            sfu: None,
        };
        let mut step = Step::default();
        let ringing = call.rung_with(Answer::Ringing);
        if !ringing.is_empty() {
            step.deliveries.push(Delivery {
                to: Target::Members(ringing),
                event: CallEvent::Ringing {
                    call: call.id.clone(),
                    conversation: call.conversation.clone(),
                    media,
                    from: call.caller.clone(),
                    ring_timeout_ms,
                },
            });
        }
        for member in call.members_with(Answer::Busy) {
            let event = call.declined(member, Reason::UserBusy);
            step.deliveries.push(Delivery {
                to: Target::Device(call.participants[0].device.clone()),
                event,
            });
        }
        call.end_if_unanswered(&mut step);
        (call, step)
    }

    pub fn participant_by_account(&self, account: &AccountId) -> Option<&Participant> {
        self.participants.iter().find(|p| &p.account == account)
    }

    pub fn participant_by_device(&self, device: &Device) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| &p.device == device && p.connected())
    }

    /// The account's place among those the call rang (a silenced invitee has none:
    /// for them the call does not exist).
    pub fn invitee(&self, account: &AccountId) -> Option<&Invitee> {
        self.invitees
            .iter()
            .find(|i| &i.account == account && !i.silenced)
    }

    /// Someone who knows about this call: rung, or in it.
    pub fn involves(&self, account: &AccountId) -> bool {
        self.invitee(account).is_some() || self.participant_by_account(account).is_some()
    }

    /// Anyone in the call, or rung for it, is relay-only: then everyone's transport is
    /// relay-only (their peers' allocations admit only relay addresses).
    pub fn has_relay_only(&self) -> bool {
        self.participants.iter().any(|p| p.relay_only) || self.invitees.iter().any(|i| i.relay_only)
    }

    pub fn members_with(&self, answer: Answer) -> Vec<MemberId> {
        self.invitees
            .iter()
            .filter(|i| i.answer == answer)
            .map(|i| i.member.clone())
            .collect()
    }

    /// Like [`Self::members_with`], leaving out silenced invitees: who is actually
    /// rung or told that the ringing stopped.
    pub fn rung_with(&self, answer: Answer) -> Vec<MemberId> {
        self.invitees
            .iter()
            .filter(|i| i.answer == answer && !i.silenced)
            .map(|i| i.member.clone())
            .collect()
    }

    /// Silenced invitees: no event of this call reaches them.
    pub fn silenced(&self) -> Vec<MemberId> {
        self.invitees
            .iter()
            .filter(|i| i.silenced)
            .map(|i| i.member.clone())
            .collect()
    }

    /// Connected participants other than `member`.
    pub fn others(&self, member: &MemberId) -> impl Iterator<Item = &Participant> {
        self.participants
            .iter()
            .filter(move |p| &p.member != member && p.connected())
    }

    fn tell_others(&self, step: &mut Step, member: &MemberId, event: CallEvent) {
        for other in self.others(member) {
            step.deliveries.push(Delivery {
                to: Target::Device(other.device.clone()),
                event: event.clone(),
            });
        }
    }

    fn declined(&self, member: MemberId, reason: Reason) -> CallEvent {
        CallEvent::Declined {
            call: self.id.clone(),
            conversation: self.conversation.clone(),
            member,
            reason,
        }
    }

    /// Adds `joiner` (or moves the account's place to the joiner's device: `join` from
    /// another device, or either action while the held place is in its grace period).
    /// `answering`: the member must be ringing (`accept`), not just a member (`join`).
    pub fn join(
        &mut self,
        joiner: Participant,
        answering: bool,
        max: usize,
    ) -> Result<Step, Refusal> {
        let mut step = Step::default();
        // Only a member the call rang can answer it: never the caller, whose own
        // `accept` would otherwise read as `joined` on a call nobody answered.
        if answering && self.invitee(&joiner.account).is_none() {
            return Err(call_state("this call is not ringing for you"));
        }
        if let Some(index) = self
            .participants
            .iter()
            .position(|p| p.account == joiner.account)
        {
            let held = &mut self.participants[index];
            if held.device == joiner.device && held.connected() {
                return Ok(step); // repeated join from the same device
            }
            if answering && held.connected() {
                // Two devices answered at once: the first wins. (`join` moves on purpose.)
                return Err(call_state("you already answered on another device"));
            }
            let previous = std::mem::replace(&mut held.device, joiner.device.clone());
            let was_connected = held.lost_at.take().is_none();
            held.media = joiner.media;
            let media = held.media;
            let member = held.member.clone();
            step.gone.push((member.clone(), previous.clone()));
            if was_connected {
                step.deliveries.push(Delivery {
                    to: Target::Device(previous),
                    event: CallEvent::Left {
                        call: self.id.clone(),
                        conversation: self.conversation.clone(),
                        reason: Reason::JoinedElsewhere,
                    },
                });
            }
            let event = CallEvent::ParticipantReconnected {
                call: self.id.clone(),
                conversation: self.conversation.clone(),
                member: member.clone(),
                media,
            };
            self.tell_others(&mut step, &member, event);
            step.rejoined = true;
            return Ok(step);
        }
        let invitee = self
            .invitees
            .iter()
            .position(|i| i.account == joiner.account && !i.silenced);
        let ringing = invitee.is_some_and(|i| self.invitees[i].answer == Answer::Ringing);
        if answering && !ringing {
            return Err(call_state("this call is not ringing for you"));
        }
        if self.participants.len() >= max {
            return Err(Refusal::new(
                ErrorCode::CallFull,
                "the call has the most participants allowed",
            ));
        }
        if let Some(index) = invitee {
            self.invitees[index].answer = Answer::Joined;
        }
        if ringing {
            step.deliveries.push(Delivery {
                to: Target::Members(vec![joiner.member.clone()]),
                event: CallEvent::RingStopped {
                    call: self.id.clone(),
                    conversation: self.conversation.clone(),
                    reason: RingStop::Answered,
                },
            });
        }
        self.answered_at.get_or_insert(joiner.joined_at);
        if !self.took_part.contains(&joiner.member) {
            self.took_part.push(joiner.member.clone());
        }
        let event = CallEvent::ParticipantJoined {
            call: self.id.clone(),
            conversation: self.conversation.clone(),
            member: joiner.member.clone(),
            media: joiner.media,
        };
        self.tell_others(&mut step, &joiner.member, event);
        self.participants.push(joiner);
        Ok(step)
    }

    /// The participant on `device` asks the others to send it at most this much video.
    /// `None` if the request changes nothing (the same cap again).
    pub fn limit_receive(
        &mut self,
        device: &Device,
        cap: VideoCap,
    ) -> Result<Option<Step>, Refusal> {
        let held = self
            .participants
            .iter_mut()
            .find(|p| &p.device == device && p.connected())
            .ok_or_else(|| call_state("you are not in this call on this connection"))?;
        if held.receive_limit == cap.kbps() {
            return Ok(None);
        }
        held.receive_limit = cap.kbps();
        let member = held.member.clone();
        let mut step = Step::default();
        let event = CallEvent::ReceiveLimit {
            call: self.id.clone(),
            conversation: self.conversation.clone(),
            member: member.clone(),
            max_video_kbps: cap.kbps(),
        };
        self.tell_others(&mut step, &member, event);
        Ok(Some(step))
    }

    /// Participants without video, and the standing caps on video sent to the others.
    pub fn video_caps(&self) -> (Vec<MemberId>, Vec<ReceiveLimit>) {
        let audio_only = self
            .participants
            .iter()
            .filter(|p| p.media == Media::Audio)
            .map(|p| p.member.clone())
            .collect();
        let limits = self
            .participants
            .iter()
            .filter_map(|p| {
                p.receive_limit.map(|max_video_kbps| ReceiveLimit {
                    member: p.member.clone(),
                    max_video_kbps,
                })
            })
            .collect();
        (audio_only, limits)
    }
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
