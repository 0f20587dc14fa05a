//! Relaying offers, answers and trickled candidates between two participants of one
//! call. The sender is the participant holding the requesting connection; the target
//! must be another connected participant of the same call. Everything is validated
//! before it is relayed. Between a relay-only (pseudonymous) member and anyone else,
//! signals are sanitised in BOTH directions so that only TURN relay addresses pass:
//! her own, so the peer never learns her address; and the peer's, so the peer's client
//! only ever creates TURN permissions for her relay address — a check sent from her
//! real address by a client that ignores the relay policy then reaches nobody (the
//! peer's allocation drops it) and never becomes a peer-reflexive candidate. Nothing
//! here is stored or logged.

use std::sync::Arc;

use super::call::{CallState, Participant, Target};
use super::{DeviceLink, SignalError, Signalling, call_state, candidate, sdp};
use crate::error::Refusal;
use crate::ids::MemberId;
use crate::protocol::ServerFrame;
use crate::protocol::call::{CallEvent, Media};
use crate::protocol::webrtc::{IceCandidate, SessionDescription};

const MAX_MID_CHARS: usize = 64;
const MAX_UFRAG_CHARS: usize = 256;

impl Signalling {
    pub(super) async fn relay_description(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        raw_to: &str,
        description: SessionDescription,
    ) -> Result<(), Refusal> {
        let (call, sender, target) = self.route(device, raw_call, raw_to).await?;
        sdp::validate(&description.sdp, self.settings.max_sdp_bytes)?;
        // Audio-only is the participant's own word to the others: its descriptions
        // never offer or answer video, whatever its client would send.
        if sender.media == Media::Audio && sdp::sends_video(&description.sdp) {
            return Err(SignalError::Sdp("sends video, and you take part audio only").into());
        }
        let sdp = if sender.relay_only || target.relay_only {
            sdp::relay_only(&description.sdp)
        } else {
            description.sdp
        };
        let event = CallEvent::Description {
            call: call.id.clone(),
            conversation: call.conversation.clone(),
            from: sender.member.clone(),
            description: SessionDescription {
                kind: description.kind,
                sdp,
            },
        };
        self.relay(&call, (&sender, target), event, device, reference);
        Ok(())
    }

    pub(super) async fn relay_candidate(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        raw_to: &str,
        candidate: IceCandidate,
    ) -> Result<(), Refusal> {
        let (call, sender, target) = self.route(device, raw_call, raw_to).await?;
        let strict = sender.relay_only || target.relay_only;
        let Some(line) = outgoing_candidate(&candidate, strict)? else {
            device.send(&ServerFrame::Ok { reference });
            return Ok(());
        };
        let event = CallEvent::Candidate {
            call: call.id.clone(),
            conversation: call.conversation.clone(),
            from: sender.member.clone(),
            candidate: IceCandidate {
                candidate: line,
                ..candidate
            },
        };
        self.relay(&call, (&sender, target), event, device, reference);
        Ok(())
    }

    /// Sends `event` to `target` — unless a block stands between sender and target,
    /// in which case it is dropped and the sender is not told (as with messages).
    fn relay(
        &self,
        call: &CallState,
        (sender, target): (&Participant, Participant),
        event: CallEvent,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
    ) {
        if sender.avoid.contains(&target.member) {
            if reference.is_some() {
                device.send(&ServerFrame::Ok { reference });
            }
            return;
        }
        let delivery = super::call::Delivery {
            to: Target::Device(target.device),
            event,
        };
        self.deliver(call, delivery);
        if reference.is_some() {
            device.send(&ServerFrame::Ok { reference });
        }
    }

    /// The call, the sender (this connection's participant) and the target.
    async fn route(
        &self,
        device: &Arc<dyn DeviceLink>,
        raw_call: &str,
        raw_to: &str,
    ) -> Result<(CallState, Participant, Participant), Refusal> {
        let call = self.visible_call(device.account(), raw_call).await?;
        let me = self.device_of(device);
        let sender = call
            .participant_by_device(&me)
            .cloned()
            .ok_or_else(|| call_state("you are not in this call on this connection"))?;
        let target = MemberId::parse(raw_to)
            .filter(|to| *to != sender.member)
            .and_then(|to| call.participants.iter().find(|p| p.member == to))
            .cloned()
            .ok_or_else(|| call_state("that member is not in this call"))?;
        if !target.connected() {
            return Err(call_state(
                "that member is reconnecting: send again after participant_reconnected",
            ));
        }
        Ok((call, sender, target))
    }
}

/// A candidate as it may leave its sender: validated, and for a relay-only sender only
/// relay candidates, without their related address. `None`: drop it (the sender was
/// told to gather relay candidates only; whatever else its client sends goes nowhere).
/// An empty string is the end-of-candidates marker.
pub(super) fn outgoing_candidate(
    candidate: &IceCandidate,
    relay_only: bool,
) -> Result<Option<String>, Refusal> {
    check_short(
        candidate.sdp_mid.as_deref(),
        MAX_MID_CHARS,
        "has an invalid sdpMid",
    )?;
    check_short(
        candidate.username_fragment.as_deref(),
        MAX_UFRAG_CHARS,
        "has an invalid usernameFragment",
    )?;
    if candidate.candidate.is_empty() {
        return Ok(Some(String::new()));
    }
    let parsed = candidate::parse(&candidate.candidate)?;
    if !relay_only {
        return Ok(Some(candidate.candidate.clone()));
    }
    if !parsed.is_relay() {
        metrics::counter!("mentorhub_call_candidates_dropped_total").increment(1);
        return Ok(None);
    }
    let prefix = if candidate.candidate.starts_with("candidate:") {
        "candidate:"
    } else {
        ""
    };
    Ok(Some(format!(
        "{prefix}{}",
        parsed.without_related_address()
    )))
}

fn check_short(value: Option<&str>, max: usize, problem: &'static str) -> Result<(), Refusal> {
    let Some(value) = value else { return Ok(()) };
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(SignalError::Candidate(problem).into());
    }
    Ok(())
}
