//! One participant device's place in an SFU room, run by a task of its own (an actor):
//! its publisher handle (joined at once, so it hears of every feed in the room), its
//! subscriber handle (created with the first feed to receive), the feeds it may see
//! and the quality it asked for.
//!
//! Requests from the device (its publish offer, its answer to a subscribe offer,
//! trickled candidates, a quality choice, a mute) and events from Janus (new feeds,
//! feeds gone, offers for the subscribe leg) are handled one at a time, in the order
//! they arrive, so the two never race on a handle. Offers from Janus are validated
//! like any SDP before they are sent to the device, with the member each media
//! section carries. When the instance goes away, the handles' event channels close and
//! the leg ends; the call's participants are moved by the signalling service.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::connection::JanusError;
use super::pool::Pool;
use super::session::{Answer, Handle};
use super::videoroom::{self, RoomEvent, StreamChoice, SubStream};
use super::wire::{Incoming, Jsep, JsepKind};
use super::{LegSpec, SfuError};
use crate::ids::MemberId;
use crate::protocol::ServerFrame;
use crate::protocol::call::CallEvent;
use crate::protocol::sfu::{Quality, SfuLeg, SfuStream, StreamKind};
use crate::protocol::webrtc::{SdpKind, SessionDescription};
use crate::signalling::sdp;

/// Requests waiting for a leg; a device sends one at a time, so a few are plenty.
const MAILBOX: usize = 16;

pub enum LegRequest {
    /// The device's offer for its publish leg (first, renegotiation or ICE restart).
    Publish(String, oneshot::Sender<Result<(), SfuError>>),
    /// The device's answer to the last subscribe offer.
    Answer(String, oneshot::Sender<Result<(), SfuError>>),
    /// A trickled candidate (already validated and sanitised), or end of candidates.
    Trickle(SfuLeg, Value, oneshot::Sender<Result<(), SfuError>>),
    Receive(
        Quality,
        Option<MemberId>,
        oneshot::Sender<Result<(), SfuError>>,
    ),
    /// The member was muted (`true`) or unmuted: its streams stop or resume at the SFU.
    Mute(bool),
}

/// The device's end of a running leg. Dropping it ends the leg.
pub struct LegLink {
    pub call: crate::ids::CallId,
    pub room: super::SfuRoom,
    pub feed: u64,
    requests: mpsc::Sender<LegRequest>,
}

impl LegLink {
    /// Sends a request and waits for the leg's answer.
    pub async fn ask(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), SfuError>>) -> LegRequest,
    ) -> Result<(), SfuError> {
        let (reply, answered) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| SfuError::Gone)?;
        answered.await.map_err(|_| SfuError::Gone)?
    }

    pub fn mute(&self, muted: bool) {
        let _ = self.requests.try_send(LegRequest::Mute(muted));
    }

    pub fn is_running(&self) -> bool {
        !self.requests.is_closed()
    }
}

struct Leg {
    spec: LegSpec,
    pool: Arc<Pool>,
    feed: u64,
    private_id: u64,
    publisher: Handle,
    subscriber: Option<Handle>,
    subscriber_events: Option<mpsc::Receiver<Incoming>>,
    /// Feeds in the room this member may receive, with the member each belongs to.
    feeds: HashMap<u64, MemberId>,
    subscribed: HashSet<u64>,
    /// The subscribe leg's media sections, as last negotiated.
    layout: Vec<SubStream>,
    /// The mids of this device's own published audio/video sections.
    own_mids: Vec<String>,
    published: bool,
    quality: Quality,
    quality_of: HashMap<MemberId, Quality>,
    /// What was last configured per subscribed video mid.
    applied: HashMap<String, Quality>,
}

/// Joins the room as a (not yet publishing) participant and starts the leg's task.
pub async fn open(spec: LegSpec, pool: Arc<Pool>) -> Result<LegLink, SfuError> {
    let session = pool.session(&spec.room.instance).await?;
    let mut publisher = session.attach().await?;
    let feed = spec.feed;
    let joined = publisher
        .message(
            &videoroom::join_publisher(spec.room.room, feed, spec.member.as_str()),
            None,
        )
        .await?;
    let RoomEvent::Joined {
        private_id,
        publishers,
    } = RoomEvent::parse(&joined.data)
    else {
        return Err(refused(&joined.data));
    };
    let publisher_events = publisher.take_events();
    let (requests, mailbox) = mpsc::channel(MAILBOX);
    let link = LegLink {
        call: spec.call.clone(),
        room: spec.room.clone(),
        feed,
        requests,
    };
    let mut leg = Leg {
        quality: spec.quality,
        spec,
        pool: pool.clone(),
        feed,
        private_id,
        publisher,
        subscriber: None,
        subscriber_events: None,
        feeds: HashMap::new(),
        subscribed: HashSet::new(),
        layout: Vec::new(),
        own_mids: Vec::new(),
        published: false,
        quality_of: HashMap::new(),
        applied: HashMap::new(),
    };
    pool.count_leg(&leg.spec.room.instance, true);
    tokio::spawn(async move {
        if let Err(error) = leg.add_feeds(publishers).await {
            tracing::debug!(%error, "SFU leg: first subscription failed");
        }
        leg.run(mailbox, publisher_events).await;
        leg.pool.count_leg(&leg.spec.room.instance, false);
    });
    Ok(link)
}

fn refused(data: &Value) -> SfuError {
    match RoomEvent::parse(data) {
        RoomEvent::Error { code, reason } => SfuError::Janus(JanusError::Refused { code, reason }),
        _ => SfuError::Janus(JanusError::Unexpected("an unexpected VideoRoom answer")),
    }
}

impl Leg {
    async fn run(
        &mut self,
        mut mailbox: mpsc::Receiver<LegRequest>,
        mut publisher_events: mpsc::Receiver<Incoming>,
    ) {
        loop {
            tokio::select! {
                request = mailbox.recv() => match request {
                    Some(request) => self.handle(request).await,
                    None => break, // the signalling side let go: leave
                },
                event = publisher_events.recv() => match event {
                    Some(event) => {
                        if !self.on_publisher_event(event).await {
                            break;
                        }
                    }
                    None => break, // connection lost
                },
                event = next(&mut self.subscriber_events) => match event {
                    Some(event) => self.on_subscriber_event(event),
                    None => self.subscriber_events = None,
                },
            }
        }
    }

    async fn handle(&mut self, request: LegRequest) {
        match request {
            LegRequest::Publish(sdp, reply) => {
                let _ = reply.send(self.publish(sdp).await);
            }
            LegRequest::Answer(sdp, reply) => {
                let _ = reply.send(self.answer(sdp).await);
            }
            LegRequest::Trickle(side, candidate, reply) => {
                let _ = reply.send(self.trickle(side, &candidate).await);
            }
            LegRequest::Receive(quality, member, reply) => {
                match member {
                    Some(member) => {
                        self.quality_of.insert(member, quality);
                    }
                    None => {
                        self.quality = quality;
                        self.quality_of.clear();
                    }
                }
                let _ = reply.send(self.apply_quality().await);
            }
            LegRequest::Mute(muted) => {
                self.spec.muted = muted;
                if let Err(error) = self.moderate().await {
                    tracing::warn!(%error, "SFU leg: could not apply a mute at the SFU");
                }
            }
        }
    }

    async fn publish(&mut self, offer: String) -> Result<(), SfuError> {
        let body = if self.published {
            videoroom::configure_publisher()
        } else {
            videoroom::publish()
        };
        let jsep = Jsep {
            kind: JsepKind::Offer,
            sdp: offer.clone(),
        };
        let answer = self.publisher.message(&body, Some(&jsep)).await?;
        if RoomEvent::parse(&answer.data) != RoomEvent::Configured {
            return Err(refused(&answer.data));
        }
        let jsep = self.checked_jsep(answer, JsepKind::Answer)?;
        self.published = true;
        self.own_mids = sdp::media_mids(&offer);
        self.send(ServerFrame::Call(CallEvent::SfuDescription {
            call: self.spec.call.clone(),
            conversation: self.spec.conversation.clone(),
            sfu: SfuLeg::Publish,
            description: SessionDescription {
                kind: SdpKind::Answer,
                sdp: jsep.sdp,
            },
            streams: Vec::new(),
        }));
        if self.spec.muted {
            self.moderate().await?;
        }
        Ok(())
    }

    /// A muted member's streams are stopped at the SFU with the room secret, which the
    /// client never has: it cannot undo it. Unmuting lifts the block.
    async fn moderate(&mut self) -> Result<(), SfuError> {
        for mid in &self.own_mids {
            let body = videoroom::moderate(
                self.spec.room.room,
                &self.spec.room.secret,
                self.feed,
                mid,
                self.spec.muted,
            );
            let answer = self.publisher.message(&body, None).await?;
            if RoomEvent::parse(&answer.data) != RoomEvent::Success {
                return Err(refused(&answer.data));
            }
        }
        Ok(())
    }

    async fn answer(&mut self, answer: String) -> Result<(), SfuError> {
        let subscriber = self
            .subscriber
            .as_ref()
            .ok_or(SfuError::State("there is no subscribe offer to answer"))?;
        let jsep = Jsep {
            kind: JsepKind::Answer,
            sdp: answer,
        };
        let started = subscriber.message(&videoroom::start(), Some(&jsep)).await?;
        match RoomEvent::parse(&started.data) {
            RoomEvent::Started | RoomEvent::Other | RoomEvent::Done => Ok(()),
            _ => Err(refused(&started.data)),
        }
    }

    async fn trickle(&mut self, side: SfuLeg, candidate: &Value) -> Result<(), SfuError> {
        let handle = match side {
            SfuLeg::Publish => &self.publisher,
            SfuLeg::Subscribe => self
                .subscriber
                .as_ref()
                .ok_or(SfuError::State("the subscribe leg is not set up yet"))?,
        };
        handle.trickle(candidate).await?;
        Ok(())
    }

    /// Events on the publisher handle: feeds come and go; a kick or a destroyed room
    /// ends the leg (`false`).
    async fn on_publisher_event(&mut self, event: Incoming) -> bool {
        let Some(data) = event.plugindata.map(|p| p.data) else {
            return true; // webrtcup, media, hangup, slowlink: nothing to do here
        };
        match RoomEvent::parse(&data) {
            RoomEvent::Publishers(feeds) => {
                if let Err(error) = self.add_feeds(feeds).await {
                    tracing::debug!(%error, "SFU leg: subscribing to new feeds failed");
                }
                true
            }
            RoomEvent::Gone(feed) => {
                // The subscription drops the feed's sections and re-offers by itself.
                self.feeds.remove(&feed);
                self.subscribed.remove(&feed);
                true
            }
            RoomEvent::Kicked | RoomEvent::Destroyed => false,
            _ => true,
        }
    }

    fn on_subscriber_event(&mut self, event: Incoming) {
        let Some(data) = event.plugindata.map(|p| p.data) else {
            return;
        };
        if let RoomEvent::Streams(layout) = RoomEvent::parse(&data) {
            self.layout = layout;
        }
        if let Some(jsep) = event.jsep
            && jsep.kind == JsepKind::Offer
        {
            self.offer_to_device(jsep);
        }
    }

    /// Subscribes to the feeds this member may receive (never its own, never a member
    /// on the other side of a block).
    async fn add_feeds(&mut self, feeds: Vec<super::videoroom::Feed>) -> Result<(), SfuError> {
        let mut new = Vec::new();
        for feed in feeds {
            let Some(member) = feed.display.as_deref().and_then(MemberId::parse) else {
                continue;
            };
            if feed.id == self.feed
                || member == self.spec.member
                || self.spec.avoid.contains(&member)
            {
                continue;
            }
            self.feeds.insert(feed.id, member);
            if !self.subscribed.contains(&feed.id) {
                new.push(feed.id);
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let substream = substream(self.quality);
        let answer = match &self.subscriber {
            Some(subscriber) => {
                let body = videoroom::update(&new, &[], substream);
                subscriber.message(&body, None).await?
            }
            None => {
                let session = self.pool.session(&self.spec.room.instance).await?;
                let mut subscriber = session.attach().await?;
                let body = videoroom::join_subscriber(
                    self.spec.room.room,
                    self.private_id,
                    &new,
                    substream,
                );
                let answer = subscriber.message(&body, None).await?;
                self.subscriber_events = Some(subscriber.take_events());
                self.subscriber = Some(subscriber);
                answer
            }
        };
        self.subscribed.extend(new);
        match RoomEvent::parse(&answer.data) {
            RoomEvent::Streams(layout) => self.layout = layout,
            RoomEvent::Updating | RoomEvent::Done => {}
            _ => return Err(refused(&answer.data)),
        }
        if let Some(jsep) = answer.jsep
            && jsep.kind == JsepKind::Offer
        {
            self.offer_to_device(jsep);
        }
        self.apply_quality().await
    }

    /// Sends a subscribe offer to the device with its stream map, if it is valid SDP.
    fn offer_to_device(&mut self, jsep: Jsep) {
        if sdp::validate(&jsep.sdp, super::MAX_SFU_SDP_BYTES).is_err() {
            metrics::counter!("mentorhub_sfu_bad_messages_total").increment(1);
            tracing::warn!("SFU leg: the SFU sent an offer that does not parse; not relayed");
            return;
        }
        let streams = self
            .layout
            .iter()
            .filter(|s| s.active)
            .filter_map(|s| {
                let member = self.feeds.get(&s.feed?)?.clone();
                let kind = match s.kind {
                    videoroom::StreamKind::Audio => StreamKind::Audio,
                    videoroom::StreamKind::Video => StreamKind::Video,
                    videoroom::StreamKind::Data => return None,
                };
                Some(SfuStream {
                    mid: s.mid.clone(),
                    kind,
                    member,
                })
            })
            .collect();
        self.send(ServerFrame::Call(CallEvent::SfuDescription {
            call: self.spec.call.clone(),
            conversation: self.spec.conversation.clone(),
            sfu: SfuLeg::Subscribe,
            description: SessionDescription {
                kind: SdpKind::Offer,
                sdp: jsep.sdp,
            },
            streams,
        }));
    }

    /// Brings each subscribed video section to the layer its member should be received
    /// at: the highest, the lowest, or none (audio only).
    async fn apply_quality(&mut self) -> Result<(), SfuError> {
        let mut changes = Vec::new();
        for stream in &self.layout {
            if stream.kind != videoroom::StreamKind::Video || !stream.active {
                continue;
            }
            let Some(member) = stream.feed.and_then(|f| self.feeds.get(&f)) else {
                continue;
            };
            let wanted = self.quality_of.get(member).copied().unwrap_or(self.quality);
            let current = self.applied.get(&stream.mid).copied().unwrap_or_default();
            if wanted != current {
                changes.push((stream.mid.clone(), wanted));
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let Some(subscriber) = &self.subscriber else {
            return Ok(());
        };
        let choices: Vec<StreamChoice> = changes
            .iter()
            .map(|(mid, quality)| StreamChoice {
                mid: mid.clone(),
                send: *quality != Quality::Audio,
                substream: (*quality != Quality::Audio).then_some(substream(*quality)),
            })
            .collect();
        let answer = subscriber
            .message(&videoroom::configure_subscriber(&choices), None)
            .await?;
        if let RoomEvent::Error { .. } = RoomEvent::parse(&answer.data) {
            return Err(refused(&answer.data));
        }
        self.applied.extend(changes);
        Ok(())
    }

    fn checked_jsep(&self, answer: Answer, kind: JsepKind) -> Result<Jsep, SfuError> {
        let jsep = answer
            .jsep
            .filter(|j| j.kind == kind)
            .ok_or(SfuError::Janus(JanusError::Unexpected(
                "an answer without a session description",
            )))?;
        sdp::validate(&jsep.sdp, super::MAX_SFU_SDP_BYTES)
            .map_err(|_| SfuError::Janus(JanusError::Unexpected("an SDP that does not parse")))?;
        Ok(jsep)
    }

    fn send(&self, frame: ServerFrame) {
        self.spec.device.send(&frame);
    }
}

/// The simulcast layer Janus should forward for a quality (2 is the highest).
fn substream(quality: Quality) -> u8 {
    match quality {
        Quality::High => 2,
        Quality::Low | Quality::Audio => 0,
    }
}

async fn next(events: &mut Option<mpsc::Receiver<Incoming>>) -> Option<Incoming> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}
