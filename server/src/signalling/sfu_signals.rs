//! A device's signals for its two SFU legs: its publish offer (the SFU's answer comes
//! back as a `description` event), its answers to the SFU's subscribe offers, its
//! trickled candidates and the quality it wants to receive.
//!
//! The same rules as for a mesh hold: the sender is the participant holding this
//! connection, everything is validated, a relay-only member's SDP and candidates are
//! stripped of everything but relay addresses before Janus sees them — so it reaches
//! the SFU only through the TURN relay — and nothing is stored or logged. An audio
//! call carries no video: a publish offer that sends video is refused.

use std::sync::Arc;

use serde_json::json;

use super::call::{CallState, Participant};
use super::sfu::{LegRequest, MAX_SFU_SDP_BYTES};
use super::signals::outgoing_candidate;
use super::{DeviceLink, SignalError, Signalling, call_state, sdp};
use crate::error::Refusal;
use crate::ids::MemberId;
use crate::protocol::ServerFrame;
use crate::protocol::call::Media;
use crate::protocol::sfu::{Quality, SfuLeg};
use crate::protocol::webrtc::{IceCandidate, SdpKind, SessionDescription};

impl Signalling {
    pub(super) async fn sfu_description(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        leg: SfuLeg,
        description: SessionDescription,
    ) -> Result<(), Refusal> {
        let (call, me) = self.sfu_sender(device, raw_call).await?;
        let expected = match leg {
            SfuLeg::Publish => SdpKind::Offer,
            SfuLeg::Subscribe => SdpKind::Answer,
        };
        if description.kind != expected {
            return Err(SignalError::Sdp(match leg {
                SfuLeg::Publish => "for the publish leg must be an offer",
                SfuLeg::Subscribe => "for the subscribe leg must be an answer",
            })
            .into());
        }
        let limit = match leg {
            SfuLeg::Publish => self.settings.max_sdp_bytes,
            SfuLeg::Subscribe => MAX_SFU_SDP_BYTES,
        };
        sdp::validate(&description.sdp, limit)?;
        let sdp = if me.relay_only {
            sdp::relay_only(&description.sdp)
        } else {
            description.sdp
        };
        if leg == SfuLeg::Publish
            && (call.media == Media::Audio || me.media == Media::Audio)
            && sdp::sends_video(&sdp)
        {
            return Err(SignalError::Sdp("sends video in an audio call").into());
        }
        let link = self.open_leg(device, &call, &me).await?;
        link.ask(|reply| match leg {
            SfuLeg::Publish => LegRequest::Publish(sdp, reply),
            SfuLeg::Subscribe => LegRequest::Answer(sdp, reply),
        })
        .await?;
        if reference.is_some() {
            device.send(&ServerFrame::Ok { reference });
        }
        Ok(())
    }

    pub(super) async fn sfu_candidate(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        leg: SfuLeg,
        candidate: IceCandidate,
    ) -> Result<(), Refusal> {
        let (call, me) = self.sfu_sender(device, raw_call).await?;
        let Some(line) = outgoing_candidate(&candidate, me.relay_only)? else {
            device.send(&ServerFrame::Ok { reference });
            return Ok(());
        };
        let sfu = self
            .sfu
            .as_ref()
            .ok_or_else(|| call_state("this server has no SFU"))?;
        let link = sfu
            .existing_leg(device.id())
            .filter(|l| call.sfu.as_ref().is_some_and(|r| r.same_room(&l.room)))
            .ok_or_else(|| call_state("send your publish offer before its candidates"))?;
        let value = if line.is_empty() {
            json!({"completed": true})
        } else {
            // Janus bundles on the first section and ignores a candidate whose mid is
            // not that one's — an empty mid included, which some clients send: then the
            // section index decides.
            let mut value = json!({
                "candidate": line,
                "sdpMLineIndex": candidate.sdp_mline_index.unwrap_or(0),
            });
            if let Some(mid) = candidate.sdp_mid.as_deref().filter(|m| !m.is_empty()) {
                value["sdpMid"] = json!(mid);
            }
            value
        };
        link.ask(|reply| LegRequest::Trickle(leg, value, reply))
            .await?;
        if reference.is_some() {
            device.send(&ServerFrame::Ok { reference });
        }
        Ok(())
    }

    /// `receive`: the quality of the others' video this device wants (all, or one
    /// member's). Also how a device that publishes nothing starts receiving.
    pub(super) async fn receive(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        quality: Quality,
        member: Option<&str>,
    ) -> Result<(), Refusal> {
        let (call, me) = self.sfu_sender(device, raw_call).await?;
        let member = match member {
            None => None,
            Some(raw) => Some(
                MemberId::parse(raw)
                    .filter(|m| call.participants.iter().any(|p| &p.member == m))
                    .ok_or_else(|| call_state("that member is not in this call"))?,
            ),
        };
        let link = self.open_leg(device, &call, &me).await?;
        link.ask(|reply| LegRequest::Receive(quality, member, reply))
            .await?;
        metrics::counter!("mentorhub_sfu_quality_requests_total", "quality" => quality.as_str())
            .increment(1);
        device.send(&ServerFrame::Ok { reference });
        Ok(())
    }

    /// The call and this connection's participant in it; the call must be on the SFU.
    async fn sfu_sender(
        &self,
        device: &Arc<dyn DeviceLink>,
        raw_call: &str,
    ) -> Result<(CallState, Participant), Refusal> {
        let call = self.visible_call(device.account(), raw_call).await?;
        let me = call
            .participant_by_device(&self.device_of(device))
            .cloned()
            .ok_or_else(|| call_state("you are not in this call on this connection"))?;
        if call.topology != crate::protocol::sfu::Topology::Sfu || self.sfu.is_none() {
            return Err(call_state(
                "this call is a mesh: signal the participants directly",
            ));
        }
        Ok((call, me))
    }
}
