//! An SFU call participant as a real client behaves (`server/PROTOCOL.md` §13.7): one
//! WebSocket device and two `webrtc` (0.17) peer connections with the SFU — a publish
//! leg that sends audio and video (VP8, optionally simulcast in three layers of
//! different bitrates) and a subscribe leg that answers the SFU's offers and counts the
//! RTP packets and bytes it receives from each member, by the stream map of each offer.
//!
//! The media is synthetic (`synthetic.rs`). On `topology` (the SFU instance was lost)
//! it connects again from scratch; mesh connections it was handed are closed once SFU
//! media flows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mentorhub_tests::WsClient;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use webrtc::api::APIBuilder;
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use webrtc::ice_transport::ice_candidate::RTCIceCandidate;
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtp_transceiver::rtp_codec::{
    RTCRtpCodecCapability, RTCRtpHeaderExtensionCapability, RTPCodecType,
};
use webrtc::track::track_local::TrackLocal;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;

use super::synthetic::{LAYERS, SINGLE_FRAME, Writer, write_loop};
use crate::calls::ice::{Leak, rtc_config};
use crate::calls::{is_event, text};

/// Connecting and starting media through Janus on a loaded 2-core machine.
pub const CONNECT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct SfuOptions {
    pub video: bool,
    pub simulcast: bool,
    /// Gather relay candidates only, whatever the server says.
    pub force_relay: bool,
    /// Put these host candidates and this address into the publish offer (a client
    /// ignoring relay-only).
    pub leak: Option<Leak>,
}

impl Default for SfuOptions {
    fn default() -> Self {
        SfuOptions {
            video: true,
            simulcast: false,
            force_relay: false,
            leak: None,
        }
    }
}

#[derive(Default, Clone, Copy, Debug)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Default)]
struct Shared {
    /// mid of the subscribe leg → (member, kind), from the last offer.
    streams: HashMap<String, (String, String)>,
    /// mid → what arrived on it.
    received: HashMap<String, Counter>,
    /// Every call event received for the call.
    events: Vec<Value>,
    /// Every call frame sent.
    sent: Vec<Value>,
    errors: Vec<Value>,
    publish_connected: bool,
    subscribe_connected: bool,
}

pub struct SfuAgent {
    pub name: String,
    pub me: String,
    pub call: String,
    shared: Arc<Mutex<Shared>>,
    legs: Arc<tokio::sync::Mutex<Legs>>,
    outgoing: mpsc::UnboundedSender<Value>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<WsClient>>,
}

#[derive(Default)]
struct Legs {
    publish: Option<Arc<RTCPeerConnection>>,
    subscribe: Option<Arc<RTCPeerConnection>>,
    /// Mesh connections still carrying media until the SFU does.
    mesh: Vec<Arc<RTCPeerConnection>>,
    /// Media writers of the publish leg; dropping stops them.
    writers: Vec<Writer>,
}

struct Loop {
    name: String,
    call: String,
    config: RTCConfiguration,
    options: SfuOptions,
    shared: Arc<Mutex<Shared>>,
    legs: Arc<tokio::sync::Mutex<Legs>>,
    outgoing: mpsc::UnboundedSender<Value>,
}

impl SfuAgent {
    /// Takes over a device whose `started`/`joined` view (or `topology` event, with the
    /// view's `ice`) says the call is on the SFU, and connects to it.
    pub async fn run(name: &str, ws: WsClient, view: &Value, options: SfuOptions) -> SfuAgent {
        Self::run_after_mesh(name, ws, view, options, Vec::new()).await
    }

    /// As [`run`](Self::run), closing `mesh` connections once SFU media arrives.
    pub async fn run_after_mesh(
        name: &str,
        ws: WsClient,
        view: &Value,
        options: SfuOptions,
        mesh: Vec<Arc<RTCPeerConnection>>,
    ) -> SfuAgent {
        let me = text(&view["me"]);
        let call = text(&view["call"]);
        let config = rtc_config(&view["ice"], options.force_relay);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let legs = Arc::new(tokio::sync::Mutex::new(Legs {
            mesh,
            ..Legs::default()
        }));
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let state = Loop {
            name: name.to_owned(),
            call: call.clone(),
            config,
            options,
            shared: shared.clone(),
            legs: legs.clone(),
            outgoing: outgoing.clone(),
        };
        let task = tokio::spawn(state.run(ws, outgoing_rx, stopped));
        SfuAgent {
            name: name.to_owned(),
            me,
            call,
            shared,
            legs,
            outgoing,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// What arrived from `member`'s `kind` (`audio`/`video`) stream so far.
    pub fn received(&self, member: &str, kind: &str) -> Counter {
        let shared = self.shared.lock().unwrap();
        shared
            .streams
            .iter()
            .filter(|(_, (m, k))| m == member && k == kind)
            .filter_map(|(mid, _)| shared.received.get(mid))
            .fold(Counter::default(), |sum, c| Counter {
                packets: sum.packets + c.packets,
                bytes: sum.bytes + c.bytes,
            })
    }

    /// Waits until audio and video from each of `members` are arriving (counters grow
    /// over a second).
    pub async fn wait_receiving(&self, members: &[&str]) {
        self.wait_receiving_kinds(members, &["audio", "video"])
            .await;
    }

    pub async fn wait_receiving_kinds(&self, members: &[&str], kinds: &[&str]) {
        let what = format!("{}: media {kinds:?} from {members:?}", self.name);
        mentorhub_tests::eventually(CONNECT, &what, || async {
            let before: Vec<u64> = members
                .iter()
                .flat_map(|m| kinds.iter().map(move |k| (m, k)))
                .map(|(m, k)| self.received(m, k).packets)
                .collect();
            if before.contains(&0) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
            let after: Vec<u64> = members
                .iter()
                .flat_map(|m| kinds.iter().map(move |k| (m, k)))
                .map(|(m, k)| self.received(m, k).packets)
                .collect();
            before.iter().zip(&after).all(|(b, a)| a > b).then_some(())
        })
        .await;
    }

    /// Bits per second received from `member`'s `kind` over `window`.
    pub async fn bitrate(&self, member: &str, kind: &str, window: Duration) -> f64 {
        let before = self.received(member, kind).bytes;
        tokio::time::sleep(window).await;
        let after = self.received(member, kind).bytes;
        (after - before) as f64 * 8.0 / window.as_secs_f64()
    }

    /// Packets received from `member`'s `kind` during `window`.
    pub async fn packets_during(&self, member: &str, kind: &str, window: Duration) -> u64 {
        let before = self.received(member, kind).packets;
        tokio::time::sleep(window).await;
        self.received(member, kind).packets - before
    }

    /// Sends a call action (e.g. `receive`) on the agent's device.
    pub fn act(&self, action: &str, fields: Value) {
        let mut frame = fields;
        frame["type"] = json!("call");
        frame["action"] = json!(action);
        frame["call"] = json!(self.call);
        frame["ref"] = json!(format!("{action}-{}", rand::random::<u32>()));
        let _ = self.outgoing.send(frame);
    }

    /// Every call event received.
    pub fn events(&self) -> Vec<Value> {
        self.shared.lock().unwrap().events.clone()
    }

    pub fn errors(&self) -> Vec<Value> {
        self.shared.lock().unwrap().errors.clone()
    }

    /// Every call frame sent.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.lock().unwrap().sent.clone()
    }

    /// Whether the mesh connections handed over are closed (SFU media flows).
    pub async fn mesh_closed(&self) -> bool {
        self.legs.lock().await.mesh.is_empty()
    }

    /// The local and remote candidate types of the publish leg's selected pair.
    pub async fn publish_pair(&self) -> (RTCIceCandidateType, RTCIceCandidateType) {
        let pc = self
            .legs
            .lock()
            .await
            .publish
            .clone()
            .expect("a publish leg");
        let pair = pc
            .sctp()
            .transport()
            .ice_transport()
            .get_selected_candidate_pair()
            .await
            .unwrap_or_else(|| panic!("{}: no selected pair", self.name));
        (pair.local.typ, pair.remote.typ)
    }

    pub async fn stop(mut self) -> WsClient {
        // The loop stops first, so no offer arrives for a connection being closed.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let ws = self
            .task
            .take()
            .expect("running")
            .await
            .expect("the agent task");
        let mut legs = self.legs.lock().await;
        legs.writers.clear();
        for pc in legs.publish.iter().chain(&legs.subscribe).chain(&legs.mesh) {
            let _ = pc.close().await;
        }
        ws
    }
}

impl Drop for SfuAgent {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Loop {
    async fn run(
        self,
        mut ws: WsClient,
        mut outgoing: mpsc::UnboundedReceiver<Value>,
        mut stopped: oneshot::Receiver<()>,
    ) -> WsClient {
        self.connect(&mut ws).await;
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                frame = outgoing.recv() => match frame {
                    Some(frame) => self.send(&mut ws, frame).await,
                    None => break,
                },
                frame = ws.try_next(Duration::from_millis(100)) => {
                    if let Some(frame) = frame {
                        self.on_frame(&mut ws, frame).await;
                    }
                }
            }
        }
        ws
    }

    /// A publish leg with fresh media; the subscribe leg follows the SFU's offer.
    async fn connect(&self, ws: &mut WsClient) {
        let pc = self.new_pc("publish").await;
        let writers = self.add_media(&pc).await;
        let offer = pc.create_offer(None).await.expect("create offer");
        pc.set_local_description(offer).await.expect("local offer");
        let sdp = pc.local_description().await.expect("offer").sdp;
        let sdp = match &self.options.leak {
            Some(leak) => crate::calls::ice::leak_into(&sdp, leak),
            None => sdp,
        };
        {
            let mut legs = self.legs.lock().await;
            legs.publish = Some(pc);
            legs.writers = writers;
        }
        let offer = json!({"type": "call", "action": "description", "call": self.call,
            "sfu": "publish", "description": {"type": "offer", "sdp": sdp}});
        self.send(ws, offer).await;
        if let Some(leak) = &self.options.leak {
            for line in &leak.candidates {
                let candidate = json!({"type": "call", "action": "candidate", "call": self.call,
                    "sfu": "publish", "candidate": {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}});
                self.send(ws, candidate).await;
            }
        }
    }

    async fn send(&self, ws: &mut WsClient, frame: Value) {
        self.shared.lock().unwrap().sent.push(frame.clone());
        ws.send(&frame).await;
    }

    async fn on_frame(&self, ws: &mut WsClient, frame: Value) {
        if frame["type"] == "error" {
            eprintln!("{}: error {frame}", self.name);
            self.shared.lock().unwrap().errors.push(frame);
            return;
        }
        if frame["call"] != self.call.as_str() {
            return;
        }
        self.shared.lock().unwrap().events.push(frame.clone());
        if is_event(&frame, "topology") {
            // `call_grew` only concerns devices still on the mesh; this one is on the SFU.
            if frame["reason"] == "sfu_lost" {
                self.reconnect(ws).await;
            }
        } else if is_event(&frame, "description") && frame.get("sfu").is_some() {
            let sdp = text(&frame["description"]["sdp"]);
            if frame["sfu"] == "publish" {
                let pc = self.legs.lock().await.publish.clone();
                if let Some(pc) = pc {
                    let answer = RTCSessionDescription::answer(sdp).expect("answer");
                    if let Err(e) = pc.set_remote_description(answer).await {
                        panic!("{}: the SFU's answer was refused: {e}", self.name);
                    }
                }
            } else {
                self.on_subscribe_offer(ws, &frame, sdp).await;
            }
        }
    }

    async fn on_subscribe_offer(&self, ws: &mut WsClient, frame: &Value, sdp: String) {
        {
            let mut shared = self.shared.lock().unwrap();
            for stream in frame["streams"].as_array().into_iter().flatten() {
                shared.streams.insert(
                    text(&stream["mid"]),
                    (text(&stream["member"]), text(&stream["kind"])),
                );
            }
        }
        let existing = self.legs.lock().await.subscribe.clone();
        let pc = match existing {
            Some(pc) => pc,
            None => {
                let pc = self.new_pc("subscribe").await;
                self.count_tracks(&pc);
                self.legs.lock().await.subscribe = Some(pc.clone());
                pc
            }
        };
        let offer = RTCSessionDescription::offer(sdp).expect("offer");
        pc.set_remote_description(offer)
            .await
            .unwrap_or_else(|e| panic!("{}: the SFU's offer was refused: {e}", self.name));
        let answer = pc.create_answer(None).await.expect("answer");
        pc.set_local_description(answer)
            .await
            .expect("local answer");
        let sdp = pc.local_description().await.expect("answer").sdp;
        let answer = json!({"type": "call", "action": "description", "call": self.call,
            "sfu": "subscribe", "description": {"type": "answer", "sdp": sdp}});
        self.send(ws, answer).await;
    }

    /// The SFU instance changed: both legs start over.
    async fn reconnect(&self, ws: &mut WsClient) {
        {
            let mut legs = self.legs.lock().await;
            legs.writers.clear();
            for pc in [legs.publish.take(), legs.subscribe.take()]
                .into_iter()
                .flatten()
            {
                let _ = pc.close().await;
            }
            self.shared.lock().unwrap().streams.clear();
        }
        self.connect(ws).await;
    }

    async fn new_pc(&self, leg: &'static str) -> Arc<RTCPeerConnection> {
        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        for uri in [
            "urn:ietf:params:rtp-hdrext:sdes:mid",
            "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
        ] {
            media
                .register_header_extension(
                    RTCRtpHeaderExtensionCapability {
                        uri: uri.to_owned(),
                    },
                    RTPCodecType::Video,
                    None,
                )
                .expect("extension");
        }
        media
            .register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: "urn:ietf:params:rtp-hdrext:sdes:mid".to_owned(),
                },
                RTPCodecType::Audio,
                None,
            )
            .expect("extension");
        let registry =
            register_default_interceptors(Registry::new(), &mut media).expect("interceptors");
        let api = APIBuilder::new()
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build();
        let pc = Arc::new(
            api.new_peer_connection(self.config.clone())
                .await
                .expect("peer connection"),
        );
        let (outgoing, call) = (self.outgoing.clone(), self.call.clone());
        pc.on_ice_candidate(Box::new(move |candidate: Option<RTCIceCandidate>| {
            if let Some(init) = candidate.and_then(|c| c.to_json().ok()) {
                let _ = outgoing.send(candidate_frame(&call, leg, &init));
            }
            Box::pin(async {})
        }));
        let (shared, legs) = (self.shared.clone(), self.legs.clone());
        pc.on_peer_connection_state_change(Box::new(move |state| {
            if state == RTCPeerConnectionState::Connected {
                let mut shared = shared.lock().unwrap();
                match leg {
                    "publish" => shared.publish_connected = true,
                    _ => shared.subscribe_connected = true,
                }
                // Media flows through the SFU now: the mesh connections may go.
                if shared.publish_connected && shared.subscribe_connected {
                    let legs = legs.clone();
                    tokio::spawn(async move {
                        let mesh: Vec<_> = legs.lock().await.mesh.drain(..).collect();
                        for pc in mesh {
                            let _ = pc.close().await;
                        }
                    });
                }
            }
            Box::pin(async {})
        }));
        pc
    }

    /// Audio (and video: one layer, or three simulcast layers) with writers.
    async fn add_media(&self, pc: &Arc<RTCPeerConnection>) -> Vec<Writer> {
        let mut writers = Vec::new();
        let audio = Arc::new(TrackLocalStaticSample::new(
            RTCRtpCodecCapability {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                ..Default::default()
            },
            "audio".to_owned(),
            format!("{}-stream", self.name),
        ));
        pc.add_track(audio.clone() as Arc<dyn TrackLocal + Send + Sync>)
            .await
            .expect("add audio");
        writers.push(write_loop(audio, Duration::from_millis(20), 60, None));
        if !self.options.video {
            return writers;
        }
        let vp8 = RTCRtpCodecCapability {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90_000,
            ..Default::default()
        };
        let stream = format!("{}-stream", self.name);
        if !self.options.simulcast {
            let video = Arc::new(TrackLocalStaticSample::new(vp8, "video".into(), stream));
            pc.add_track(video.clone() as Arc<dyn TrackLocal + Send + Sync>)
                .await
                .expect("add video");
            writers.push(write_loop(
                video,
                Duration::from_millis(33),
                SINGLE_FRAME,
                Some(30),
            ));
            return writers;
        }
        let tracks: Vec<Arc<TrackLocalStaticSample>> = LAYERS
            .iter()
            .map(|(rid, _)| {
                Arc::new(TrackLocalStaticSample::new_with_rid(
                    vp8.clone(),
                    "video".into(),
                    (*rid).into(),
                    stream.clone(),
                ))
            })
            .collect();
        let sender = pc
            .add_track(tracks[0].clone() as Arc<dyn TrackLocal + Send + Sync>)
            .await
            .expect("add video");
        for track in &tracks[1..] {
            sender
                .add_encoding(track.clone() as Arc<dyn TrackLocal + Send + Sync>)
                .await
                .expect("add a simulcast layer");
        }
        for (track, (_, size)) in tracks.into_iter().zip(LAYERS) {
            writers.push(write_loop(track, Duration::from_millis(33), size, Some(30)));
        }
        writers
    }

    /// Counts RTP per mid on the subscribe leg.
    fn count_tracks(&self, pc: &Arc<RTCPeerConnection>) {
        let shared = self.shared.clone();
        pc.on_track(Box::new(move |track, _receiver, transceiver| {
            let shared = shared.clone();
            Box::pin(async move {
                let Some(mid) = transceiver.mid() else { return };
                let mid = mid.to_string();
                tokio::spawn(async move {
                    while let Ok((packet, _)) = track.read_rtp().await {
                        let mut shared = shared.lock().unwrap();
                        let counter = shared.received.entry(mid.clone()).or_default();
                        counter.packets += 1;
                        counter.bytes += packet.payload.len() as u64;
                    }
                });
            })
        }));
    }
}

fn candidate_frame(call: &str, leg: &str, init: &RTCIceCandidateInit) -> Value {
    json!({"type": "call", "action": "candidate", "call": call, "sfu": leg,
        "candidate": {"candidate": init.candidate, "sdpMid": init.sdp_mid,
                      "sdpMLineIndex": init.sdp_mline_index}})
}
