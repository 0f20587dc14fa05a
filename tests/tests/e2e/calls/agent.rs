//! A call participant as a real client behaves: one WebSocket device speaking the call
//! protocol and one `webrtc` (0.17) peer connection per other participant, each with a
//! data channel that says hello once open.
//!
//! Rules it follows (`server/PROTOCOL.md` §13): the participant who joins offers to
//! everyone in its `started`/`joined` view; the others answer. Candidates are trickled.
//! Everything it sends and every description/candidate it receives is recorded, so
//! tests can inspect exactly what crossed the server.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mentorhub_tests::WsClient;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use webrtc::api::APIBuilder;
use webrtc::api::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use webrtc::data_channel::RTCDataChannel;
use webrtc::data_channel::data_channel_message::DataChannelMessage;
use webrtc::ice_transport::ice_candidate::{RTCIceCandidate, RTCIceCandidateInit};
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtp_transceiver::rtp_codec::{RTCRtpCodecCapability, RTPCodecType};
use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
use webrtc::track::track_local::TrackLocal;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;

use super::ice::{Leak, leak_into, rtc_config};
use super::is_event;

/// Connecting through ICE, DTLS and SCTP on a loaded 2-core machine.
pub const CONNECT: Duration = Duration::from_secs(40);

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Gather relay candidates only, whatever the server says.
    pub force_relay: bool,
    /// Gather every kind of candidate, whatever the server says (a client that ignores
    /// `iceTransportPolicy: "relay"`).
    pub ignore_relay_policy: bool,
    /// Behave like a client that ignores relay-only: put these host candidates (lines
    /// without `a=`) and this address into every description it sends, and trickle the
    /// candidates too.
    pub leak: Option<Leak>,
    /// Send a microphone track (silent: the SDP is what the tests read).
    pub audio: bool,
    /// Send a camera track too, except to the members in `no_video_to`.
    pub video: bool,
    /// Members who asked for no video (audio-only): their peer gets no video track.
    pub no_video_to: Vec<String>,
}

#[derive(Default)]
struct Shared {
    /// Remote members whose peer connection reached `connected`.
    connected: HashSet<String>,
    /// (remote member, text) received over data channels.
    messages: Vec<(String, String)>,
    /// Every `description` / `candidate` event received.
    received: Vec<Value>,
    /// Every call frame sent.
    sent: Vec<Value>,
    /// Errors the server answered with.
    errors: Vec<Value>,
    /// `topology` events: the call moved to the SFU.
    topology: Vec<Value>,
    /// The open data channel with each remote member.
    channels: HashMap<String, Arc<RTCDataChannel>>,
}

pub struct Agent {
    pub name: String,
    pub me: String,
    shared: Arc<Mutex<Shared>>,
    peers: Arc<tokio::sync::Mutex<HashMap<String, Arc<RTCPeerConnection>>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<WsClient>>,
    call: String,
    outgoing: mpsc::UnboundedSender<Value>,
}

struct Loop {
    name: String,
    me: String,
    call: String,
    config: RTCConfiguration,
    options: Options,
    shared: Arc<Mutex<Shared>>,
    peers: Arc<tokio::sync::Mutex<HashMap<String, Arc<RTCPeerConnection>>>>,
    outgoing: mpsc::UnboundedSender<Value>,
}

impl Agent {
    /// Takes over a device that just got its `started`/`joined` view and runs the call
    /// from there: offers to every participant listed, answers offers, trickles.
    pub async fn run(name: &str, ws: WsClient, view: &Value, options: Options) -> Agent {
        let me = super::text(&view["me"]);
        let call = super::text(&view["call"]);
        let mut config = rtc_config(&view["ice"], options.force_relay);
        if options.ignore_relay_policy {
            config.ice_transport_policy = RTCIceTransportPolicy::All;
        }
        let shared = Arc::new(Mutex::new(Shared::default()));
        let peers = Arc::new(tokio::sync::Mutex::new(HashMap::new()));
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let state = Loop {
            name: name.to_owned(),
            me: me.clone(),
            call,
            config,
            options,
            shared: shared.clone(),
            peers: peers.clone(),
            outgoing,
        };
        let offer_to: Vec<String> = view["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        let outgoing = state.outgoing.clone();
        let call = state.call.clone();
        let task = tokio::spawn(state.run(ws, offer_to, outgoing_rx, stopped));
        Agent {
            name: name.to_owned(),
            me,
            call,
            outgoing,
            shared,
            peers,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Waits until the peer connection with each of `members` is `connected`.
    pub async fn wait_connected(&self, members: &[&str]) {
        let what = format!("{}: connected to {members:?}", self.name);
        mentorhub_tests::eventually(CONNECT, &what, || async {
            let shared = self.shared.lock().unwrap();
            members
                .iter()
                .all(|m| shared.connected.contains(*m))
                .then_some(())
        })
        .await;
    }

    /// Waits for the hello each of `members` sends over its data channel.
    pub async fn wait_hello_from(&self, members: &[&str]) {
        let what = format!("{}: data-channel hello from {members:?}", self.name);
        mentorhub_tests::eventually(CONNECT, &what, || async {
            let shared = self.shared.lock().unwrap();
            members
                .iter()
                .all(|m| {
                    shared
                        .messages
                        .iter()
                        .any(|(from, text)| from == m && *text == format!("hello from {m}"))
                })
                .then_some(())
        })
        .await;
    }

    /// Sends `text` to `member` over the data channel (media still flowing).
    pub async fn say(&self, member: &str, text: &str) {
        let channel = self
            .shared
            .lock()
            .unwrap()
            .channels
            .get(member)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no data channel with {member}", self.name));
        channel
            .send_text(text.to_owned())
            .await
            .unwrap_or_else(|e| panic!("{}: sending to {member}: {e}", self.name));
    }

    /// Waits until `text` arrived from `member` over the data channel.
    pub async fn wait_message(&self, member: &str, text: &str) {
        let what = format!("{}: {text:?} from {member}", self.name);
        mentorhub_tests::eventually(CONNECT, &what, || async {
            let shared = self.shared.lock().unwrap();
            shared
                .messages
                .iter()
                .any(|(from, said)| from == member && said == text)
                .then_some(())
        })
        .await;
    }

    /// The remote candidate of the selected pair with `member`: its type and
    /// `address port`.
    pub async fn selected_remote(&self, member: &str) -> (RTCIceCandidateType, String) {
        let pc = self
            .peers
            .lock()
            .await
            .get(member)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no peer connection with {member}", self.name));
        let pair = pc
            .sctp()
            .transport()
            .ice_transport()
            .get_selected_candidate_pair()
            .await
            .unwrap_or_else(|| panic!("{}: no selected candidate pair", self.name));
        (
            pair.remote.typ,
            format!("{} {}", pair.remote.address, pair.remote.port),
        )
    }

    /// The local and remote candidate types of the selected pair with `member`.
    pub async fn selected_pair(&self, member: &str) -> (RTCIceCandidateType, RTCIceCandidateType) {
        let pc = self
            .peers
            .lock()
            .await
            .get(member)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no peer connection with {member}", self.name));
        let pair = pc
            .sctp()
            .transport()
            .ice_transport()
            .get_selected_candidate_pair()
            .await
            .unwrap_or_else(|| panic!("{}: no selected candidate pair", self.name));
        (pair.local.typ, pair.remote.typ)
    }

    /// Sends a fresh offer (with an ICE restart) on the connection with `member`, as a
    /// client renegotiating mid-call does; the answer comes back through the loop.
    pub async fn renegotiate(&self, member: &str) {
        let pc = self
            .peers
            .lock()
            .await
            .get(member)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no peer connection with {member}", self.name));
        let offer = pc
            .create_offer(Some(
                webrtc::peer_connection::offer_answer_options::RTCOfferOptions {
                    ice_restart: true,
                    ..Default::default()
                },
            ))
            .await
            .expect("create offer");
        pc.set_local_description(offer)
            .await
            .expect("set local offer");
        let sdp = pc.local_description().await.expect("local offer").sdp;
        let frame = json!({"type": "call", "action": "description", "call": self.call,
            "to": member, "description": {"type": "offer", "sdp": sdp}});
        self.outgoing
            .send(frame)
            .expect("the agent loop is running");
    }

    /// Every description/candidate event received so far.
    pub fn received(&self) -> Vec<Value> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Every call frame sent so far.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.lock().unwrap().sent.clone()
    }

    pub fn errors(&self) -> Vec<Value> {
        self.shared.lock().unwrap().errors.clone()
    }

    /// `topology` events received so far.
    pub fn topology(&self) -> Vec<Value> {
        self.shared.lock().unwrap().topology.clone()
    }

    /// Stops signalling but leaves the peer connections running (media keeps flowing
    /// while the device moves to the SFU); hands back the device and the connections.
    pub async fn detach(mut self) -> (WsClient, Vec<Arc<RTCPeerConnection>>) {
        let peers = self.peers.lock().await.values().cloned().collect();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let ws = self
            .task
            .take()
            .expect("running")
            .await
            .expect("the agent task");
        (ws, peers)
    }

    /// Closes every peer connection and hands the device back.
    pub async fn stop(mut self) -> WsClient {
        for pc in self.peers.lock().await.values() {
            let _ = pc.close().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
            .take()
            .expect("running")
            .await
            .expect("the agent task")
    }
}

impl Drop for Agent {
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
        offer_to: Vec<String>,
        mut outgoing: mpsc::UnboundedReceiver<Value>,
        mut stopped: oneshot::Receiver<()>,
    ) -> WsClient {
        for member in offer_to {
            let offer = self.offer(&member).await;
            self.send(&mut ws, offer).await;
        }
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

    async fn send(&self, ws: &mut WsClient, frame: Value) {
        self.shared.lock().unwrap().sent.push(frame.clone());
        ws.send(&frame).await;
    }

    async fn on_frame(&self, ws: &mut WsClient, frame: Value) {
        if frame["type"] == "error" {
            self.shared.lock().unwrap().errors.push(frame);
            return;
        }
        if frame["call"] != self.call.as_str() {
            return;
        }
        if is_event(&frame, "topology") {
            self.shared.lock().unwrap().topology.push(frame);
        } else if is_event(&frame, "description") {
            self.shared.lock().unwrap().received.push(frame.clone());
            let from = super::text(&frame["from"]);
            let sdp = super::text(&frame["description"]["sdp"]);
            if frame["description"]["type"] == "offer" {
                let answer = self.answer(&from, sdp).await;
                self.send(ws, answer).await;
            } else {
                let pc = self.peer(&from).await.expect("an answer to our offer");
                let answer = RTCSessionDescription::answer(sdp).expect("answer");
                pc.set_remote_description(answer)
                    .await
                    .unwrap_or_else(|e| panic!("{}: remote answer refused: {e}", self.name));
            }
        } else if is_event(&frame, "candidate") {
            self.shared.lock().unwrap().received.push(frame.clone());
            let from = super::text(&frame["from"]);
            let Some(pc) = self.peer(&from).await else {
                return;
            };
            let candidate = &frame["candidate"];
            let init = RTCIceCandidateInit {
                candidate: super::text(&candidate["candidate"]),
                sdp_mid: candidate["sdpMid"].as_str().map(str::to_owned),
                sdp_mline_index: candidate["sdpMLineIndex"].as_u64().map(|i| i as u16),
                username_fragment: None,
            };
            // A candidate the agent cannot use is the test's business, not a crash.
            let _ = pc.add_ice_candidate(init).await;
        }
    }

    async fn peer(&self, member: &str) -> Option<Arc<RTCPeerConnection>> {
        self.peers.lock().await.get(member).cloned()
    }

    async fn offer(&self, member: &str) -> Value {
        let pc = self.new_peer(member, true).await;
        let offer = pc.create_offer(None).await.expect("create offer");
        pc.set_local_description(offer)
            .await
            .expect("set local offer");
        let sdp = pc.local_description().await.expect("local offer").sdp;
        self.description(member, "offer", sdp)
    }

    async fn answer(&self, member: &str, sdp: String) -> Value {
        let pc = match self.peer(member).await {
            Some(pc) => pc, // renegotiation / ICE restart
            None => self.new_peer(member, false).await,
        };
        let offer = RTCSessionDescription::offer(sdp).expect("offer");
        pc.set_remote_description(offer)
            .await
            .unwrap_or_else(|e| panic!("{}: remote offer refused: {e}", self.name));
        if self.options.audio && !self.options.video {
            // Audio only: no video either way, whatever the offer proposes.
            for transceiver in pc.get_transceivers().await {
                if transceiver.kind() == RTPCodecType::Video {
                    transceiver
                        .set_direction(RTCRtpTransceiverDirection::Inactive)
                        .await;
                }
            }
        }
        let answer = pc.create_answer(None).await.expect("create answer");
        pc.set_local_description(answer)
            .await
            .expect("set local answer");
        let sdp = pc.local_description().await.expect("local answer").sdp;
        self.description(member, "answer", sdp)
    }

    fn description(&self, member: &str, kind: &str, sdp: String) -> Value {
        let sdp = match &self.options.leak {
            Some(leak) => leak_into(&sdp, leak),
            None => sdp,
        };
        let frame = json!({"type": "call", "action": "description", "call": self.call,
            "to": member, "description": {"type": kind, "sdp": sdp}});
        if let Some(leak) = &self.options.leak {
            for line in &leak.candidates {
                let _ = self
                    .outgoing
                    .send(candidate_frame(&self.call, member, line));
            }
        }
        frame
    }

    async fn new_peer(&self, member: &str, offerer: bool) -> Arc<RTCPeerConnection> {
        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        let api = APIBuilder::new().with_media_engine(media).build();
        let pc = Arc::new(
            api.new_peer_connection(self.config.clone())
                .await
                .expect("peer connection"),
        );
        self.add_tracks(&pc, member).await;
        let outgoing = self.outgoing.clone();
        let (call, to) = (self.call.clone(), member.to_owned());
        pc.on_ice_candidate(Box::new(move |candidate: Option<RTCIceCandidate>| {
            if let Some(init) = candidate.and_then(|c| c.to_json().ok()) {
                let _ = outgoing.send(candidate_frame(&call, &to, &init.candidate));
            }
            Box::pin(async {})
        }));
        let (shared, remote) = (self.shared.clone(), member.to_owned());
        pc.on_peer_connection_state_change(Box::new(move |state| {
            if state == RTCPeerConnectionState::Connected {
                shared.lock().unwrap().connected.insert(remote.clone());
            }
            Box::pin(async {})
        }));
        if offerer {
            let channel = pc
                .create_data_channel("chat", None)
                .await
                .expect("data channel");
            wire_channel(channel, member, &self.me, &self.shared);
        } else {
            let (me, remote, shared) = (self.me.clone(), member.to_owned(), self.shared.clone());
            pc.on_data_channel(Box::new(move |channel: Arc<RTCDataChannel>| {
                wire_channel(channel, &remote, &me, &shared);
                Box::pin(async {})
            }));
        }
        self.peers
            .lock()
            .await
            .insert(member.to_owned(), pc.clone());
        pc
    }
}

impl Loop {
    /// The tracks the options ask for (no video to a member who asked for none).
    async fn add_tracks(&self, pc: &Arc<RTCPeerConnection>, member: &str) {
        let stream = format!("{}-stream", self.name);
        let mut tracks: Vec<Arc<TrackLocalStaticSample>> = Vec::new();
        if self.options.audio {
            let opus = RTCRtpCodecCapability {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                ..Default::default()
            };
            tracks.push(Arc::new(TrackLocalStaticSample::new(
                opus,
                "audio".into(),
                stream.clone(),
            )));
        }
        if self.options.video && !self.options.no_video_to.iter().any(|m| m == member) {
            let vp8 = RTCRtpCodecCapability {
                mime_type: MIME_TYPE_VP8.to_owned(),
                clock_rate: 90_000,
                ..Default::default()
            };
            tracks.push(Arc::new(TrackLocalStaticSample::new(
                vp8,
                "video".into(),
                stream,
            )));
        }
        for track in tracks {
            pc.add_track(track as Arc<dyn TrackLocal + Send + Sync>)
                .await
                .expect("add track");
        }
    }
}

/// Says hello once open; records what arrives.
fn wire_channel(channel: Arc<RTCDataChannel>, remote: &str, me: &str, shared: &Arc<Mutex<Shared>>) {
    let opened = channel.clone();
    let hello = format!("hello from {me}");
    let (open_shared, open_remote) = (shared.clone(), remote.to_owned());
    channel.on_open(Box::new(move || {
        open_shared
            .lock()
            .unwrap()
            .channels
            .insert(open_remote.clone(), opened.clone());
        Box::pin(async move {
            let _ = opened.send_text(hello).await;
        })
    }));
    let (shared, remote) = (shared.clone(), remote.to_owned());
    channel.on_message(Box::new(move |message: DataChannelMessage| {
        let text = String::from_utf8_lossy(&message.data).into_owned();
        shared.lock().unwrap().messages.push((remote.clone(), text));
        Box::pin(async {})
    }));
}

fn candidate_frame(call: &str, to: &str, candidate: &str) -> Value {
    json!({"type": "call", "action": "candidate", "call": call, "to": to,
        "candidate": {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0}})
}
