//! Calls: WebRTC signalling, ICE/TURN configuration, the embedded TURN server and the
//! relay-only policy for pseudonymous members.
//!
//! Media never passes through the hub. The server rings, keeps each call's life
//! cycle ([`call`]), relays offers/answers/candidates between the participants of one
//! call only — the sender always taken from the authenticated connection — after
//! validating them ([`sdp`], [`candidate`]), and hands out STUN/TURN configuration
//! with short-lived credentials ([`ice`], [`credentials`], [`turn`]).
//!
//! | file | owns |
//! |---|---|
//! | `call.rs`, `call/ending.rs` | one call's state and its transitions (pure); the ones that end it |
//! | `registry.rs` | where live calls are kept (in-process; Redis: `adapters::redis_calls`) |
//! | `lifecycle.rs` | start, accept/join, decline, leave, dropped connections, timers |
//! | `steps.rs` | carrying out a transition: compare-and-set, delivery, the end record |
//! | `signals.rs` | relaying descriptions and candidates |
//! | `quality.rs` | receive limits (less video for a weak link) and call quality figures |
//! | `topology.rs` | mesh or SFU: moving a growing call to the SFU, rooms, instance loss |
//! | `sfu_signals.rs` | relaying a device's offers, answers and candidates to its SFU legs |
//! | `sfu/` | the Janus client: API, sessions, instance pool, per-device legs |
//! | `sdp.rs`, `candidate.rs` | validation, relay-only sanitising |
//! | `ice.rs`, `credentials.rs` | ICE configuration, TURN REST credentials, the shared secret |
//! | `turn/` | the embedded TURN server with its peer policy and allocation quota |
//!
//! Only call metadata reaches the store (start, answer, end, participant count,
//! reason). SDP, candidates and addresses are never stored and never logged.

pub mod call;
pub mod candidate;
pub mod credentials;
pub mod ice;
mod lifecycle;
mod quality;
pub mod registry;
pub mod sdp;
pub mod sfu;
mod sfu_signals;
mod signals;
mod steps;
mod topology;
pub mod turn;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;

use self::call::{CallState, Device, Participant};
use self::credentials::TurnCredentials;
use self::ice::IceDirectory;
use self::registry::{CallRegistry, RegistryError};
use self::sfu::board::SfuBoard;
use self::sfu::{Sfu, SfuSettings};
use self::turn::{EmbeddedTurn, TurnSettings};
use crate::bus::Bus;
use crate::config::CallConfig;
use crate::error::Refusal;
use crate::ids::{AccountId, CallId, ConversationId};
use crate::mentoring::MemberCtx;
use crate::protocol::call::{CallRequest, CallView, Reason};
use crate::protocol::vocabulary::{CallRouting, ConversationState};
use crate::protocol::webrtc::{IceConfig, IcePolicy};
use crate::protocol::{ErrorCode, ServerFrame};
use crate::store::Store;

/// What signalling reads of an account's membership of a call's conversation.
struct Standing {
    ctx: MemberCtx,
    /// Pseudonymous there: relay-only in its calls.
    relay_only: bool,
    routing: CallRouting,
}

/// A live connection as signalling sees it (the hub's connection handle).
pub trait DeviceLink: Send + Sync + 'static {
    /// Unique on this node while the connection lives.
    fn id(&self) -> u64;
    fn account(&self) -> &AccountId;
    /// Queues a frame without waiting.
    fn send(&self, frame: &ServerFrame);
}

/// A session description or candidate that failed validation (`invalid_signal`).
/// Messages never quote the submitted text.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("the session description is larger than {0} bytes")]
    SdpTooLarge(usize),
    #[error("the session description {0}")]
    Sdp(&'static str),
    #[error("the candidate {0}")]
    Candidate(&'static str),
}

impl From<SignalError> for Refusal {
    fn from(error: SignalError) -> Self {
        Refusal::new(ErrorCode::InvalidSignal, error.to_string())
    }
}

impl From<RegistryError> for Refusal {
    fn from(error: RegistryError) -> Self {
        tracing::error!(%error, "call registry error");
        Refusal::new(
            ErrorCode::Unavailable,
            "calls are unavailable right now; nothing was changed, retry",
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignallingError {
    #[error("TURN shared secret: {0}")]
    Secret(#[from] credentials::SecretError),
    #[error(transparent)]
    Turn(#[from] turn::TurnError),
}

/// Call behaviour, from configuration.
#[derive(Clone, Debug)]
pub struct CallSettings {
    pub ring_timeout: Duration,
    /// Most participants of a mesh call (without an SFU, of any call).
    pub max_participants: usize,
    /// With an SFU: a call with more participants than this moves to it.
    pub mesh_max: usize,
    pub reconnect_grace: Duration,
    pub max_sdp_bytes: usize,
}

impl From<&CallConfig> for CallSettings {
    fn from(config: &CallConfig) -> Self {
        CallSettings {
            ring_timeout: config.ring_timeout,
            max_participants: config.max_participants as usize,
            mesh_max: config.mesh_max_participants as usize,
            reconnect_grace: config.reconnect_grace,
            max_sdp_bytes: config.max_sdp_bytes,
        }
    }
}

pub struct Signalling {
    settings: CallSettings,
    registry: Arc<dyn CallRegistry>,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    node: Arc<str>,
    ice: IceDirectory,
    turn: Option<EmbeddedTurn>,
    /// The SFU, when Janus instances are configured.
    sfu: Option<Sfu>,
    /// Connections on this node that started or joined a call, until they close.
    devices: DashMap<u64, Arc<dyn DeviceLink>>,
    /// When each connection's last call quality figures counted (`quality.rs`).
    stats_at: DashMap<u64, crate::ids::Millis>,
    /// For timers, which must not keep the service alive.
    me: Weak<Signalling>,
}

fn no_call() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "no such call, or you are not a member")
}

fn call_state(message: &'static str) -> Refusal {
    Refusal::new(ErrorCode::CallState, message)
}

fn one_destination() -> Refusal {
    Refusal::new(
        ErrorCode::InvalidFrame,
        "give either `to` (a participant, mesh) or `sfu` (publish or subscribe)",
    )
}

fn sfu_settings(config: &CallConfig) -> SfuSettings {
    SfuSettings {
        urls: config.janus_urls.clone(),
        secret: config.janus_secret.clone(),
        timeout: sfu::REQUEST_TIMEOUT,
        max_participants: config.sfu_max_participants as usize,
        bitrate: sfu::PUBLISHER_BITRATE,
    }
}

impl Signalling {
    /// Loads the TURN secret and, if enabled, starts the embedded TURN server.
    pub async fn start(
        config: &CallConfig,
        data_dir: &Path,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        registry: Arc<dyn CallRegistry>,
        sfu_board: Arc<dyn SfuBoard>,
        node: Arc<str>,
    ) -> Result<Arc<Signalling>, SignallingError> {
        let secret = credentials::load_secret(config.turn_secret.as_ref(), data_dir)?;
        let issuer = TurnCredentials::new(secret, config.turn_ttl);
        let turn = if config.turn_enabled {
            let settings = TurnSettings {
                listen: config.turn_listen,
                public_ip: config.turn_public_ip,
                allow_private_peers: config.turn_allow_private_peers,
                max_allocations_per_user: config.turn_max_allocations_per_user,
                max_allocation_lifetime: config.turn_allocation_lifetime,
            };
            Some(EmbeddedTurn::start(&settings, issuer.clone()).await?)
        } else {
            None
        };
        let mut turn_urls: Vec<String> = turn.iter().map(EmbeddedTurn::turn_url).collect();
        turn_urls.extend(config.turn_urls.iter().cloned());
        let mut stun_urls: Vec<String> = turn.iter().map(EmbeddedTurn::stun_url).collect();
        stun_urls.extend(config.stun_urls.iter().cloned());
        let ice = IceDirectory::new(issuer, turn_urls, stun_urls);
        let (lost, lost_instances) = tokio::sync::mpsc::unbounded_channel();
        let sfu = Sfu::new(sfu_settings(config), sfu_board, node.clone(), lost);
        let signalling = Arc::new_cyclic(|me| Signalling {
            settings: CallSettings::from(config),
            registry,
            store,
            bus,
            node,
            ice,
            turn,
            sfu,
            devices: DashMap::new(),
            stats_at: DashMap::new(),
            me: me.clone(),
        });
        signalling.watch_instances(lost_instances);
        Ok(signalling)
    }

    /// Whether calls may move to an SFU here.
    pub fn has_sfu(&self) -> bool {
        self.sfu.is_some()
    }

    /// How long a dropped participant may rejoin its call.
    pub fn reconnect_grace(&self) -> Duration {
        self.settings.reconnect_grace
    }

    /// The embedded TURN server's bound address, if it runs.
    pub fn turn_addr(&self) -> Option<SocketAddr> {
        self.turn.as_ref().map(EmbeddedTurn::local_addr)
    }

    pub async fn shutdown(&self) {
        if let Some(turn) = &self.turn {
            turn.close().await;
        }
    }

    /// TURN REST credentials for Janus's own candidates (`POST /api/sfu/turn-credentials`),
    /// if `key` is the Janus secret; `None` otherwise, or without an SFU or TURN. Each of
    /// Janus's peer connections is a TURN user of its own (the `username` Janus sends),
    /// so the per-user allocation cap never throttles the SFU.
    pub fn sfu_turn_credentials(&self, key: &str, username: &str) -> Option<sfu::SfuTurn> {
        let sfu = self.sfu.as_ref()?;
        if !sfu.is_secret(key) || !self.ice.has_turn() {
            return None;
        }
        let label: String = username
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(64)
            .collect();
        let user = AccountId::parse(&format!("sfu:{label}"))?;
        let config = self.ice.config(&user, IcePolicy::All);
        let relay = config
            .ice_servers
            .into_iter()
            .find(|s| s.username.is_some())?;
        Some(sfu::SfuTurn {
            ttl: (config.expires_at - crate::ids::now_millis() / 1000).max(0),
            username: relay.username?,
            password: relay.credential?,
            uris: relay.urls,
        })
    }

    /// `GET /api/ice-servers[?conversation=…]`: the policy is relay-only where the
    /// caller, or any other current member, is pseudonymous in that conversation (calls
    /// there are relay-only on both sides).
    pub async fn ice_for(
        &self,
        account: &AccountId,
        conversation: Option<&str>,
    ) -> Result<IceConfig, Refusal> {
        let relay_only = match conversation {
            Some(raw) => {
                let standing = self.membership(account, raw).await?;
                standing.relay_only
                    || self
                        .store
                        .members(&standing.ctx.conversation)
                        .await?
                        .iter()
                        .any(|m| m.pseudonymous && m.left_at.is_none())
            }
            None => false,
        };
        Ok(self.ice.config(account, policy(relay_only)))
    }

    /// One call frame from a connection. Replies (with the request's `ref`) and
    /// deliveries to others are queued here; a refusal is returned for the caller to
    /// answer with an `error` frame, and changes nothing.
    pub async fn handle(
        &self,
        device: Arc<dyn DeviceLink>,
        request: CallRequest,
    ) -> Result<(), Refusal> {
        metrics::counter!("mentorhub_call_requests_total", "action" => request.action())
            .increment(1);
        match request {
            CallRequest::Start {
                reference,
                conversation,
                media,
            } => {
                self.start_call(&device, reference, &conversation, media)
                    .await
            }
            CallRequest::Accept {
                reference,
                call,
                media,
            } => self.join(&device, reference, &call, true, media).await,
            CallRequest::Join {
                reference,
                call,
                media,
            } => self.join(&device, reference, &call, false, media).await,
            CallRequest::ReceiveLimit {
                reference,
                call,
                max_video_kbps,
            } => {
                let cap = call::VideoCap::parse(max_video_kbps)?;
                self.limit_receive(&device, reference, &call, cap).await
            }
            CallRequest::Stats {
                reference,
                call,
                stats,
            } => self.quality(&device, reference, &call, stats).await,
            CallRequest::Decline {
                reference,
                call,
                reason,
            } => {
                let reason = reason.map_or(Reason::UserDeclined, Reason::from);
                self.decline(&device, reference, &call, reason).await
            }
            CallRequest::Leave {
                reference,
                call,
                reason,
            } => {
                let reason = reason.map_or(Reason::UserHangup, Reason::from);
                self.leave(&device, reference, &call, reason).await
            }
            CallRequest::Description {
                reference,
                call,
                to,
                sfu,
                description,
            } => match (to, sfu) {
                (Some(to), None) => {
                    self.relay_description(&device, reference, &call, &to, description)
                        .await
                }
                (None, Some(leg)) => {
                    self.sfu_description(&device, reference, &call, leg, description)
                        .await
                }
                _ => Err(one_destination()),
            },
            CallRequest::Candidate {
                reference,
                call,
                to,
                sfu,
                candidate,
            } => match (to, sfu) {
                (Some(to), None) => {
                    self.relay_candidate(&device, reference, &call, &to, candidate)
                        .await
                }
                (None, Some(leg)) => {
                    self.sfu_candidate(&device, reference, &call, leg, candidate)
                        .await
                }
                _ => Err(one_destination()),
            },
            CallRequest::Receive {
                reference,
                call,
                quality,
                member,
            } => {
                self.receive(&device, reference, &call, quality, member.as_deref())
                    .await
            }
        }
    }

    // ---- shared helpers ----------------------------------------------------------

    fn device_of(&self, link: &Arc<dyn DeviceLink>) -> Device {
        Device {
            node: self.node.to_string(),
            conn: link.id(),
        }
    }

    /// The account's standing in a conversation (with the blocks that apply there),
    /// whether it is pseudonymous there, and how the conversation's calls carry media.
    async fn membership(
        &self,
        account: &AccountId,
        raw_conversation: &str,
    ) -> Result<Standing, Refusal> {
        let conversation =
            ConversationId::parse(raw_conversation).ok_or_else(Refusal::not_found)?;
        let membership = self
            .store
            .membership(&conversation, account)
            .await?
            .filter(|m| m.conversation.state != ConversationState::Closed)
            .ok_or_else(Refusal::not_found)?;
        let blocks = self.store.block_edges(account, Some(&conversation)).await?;
        Ok(Standing {
            ctx: MemberCtx::from_membership(&membership).with_blocks(&blocks),
            relay_only: membership.member.pseudonymous,
            routing: membership.conversation.calls,
        })
    }

    /// A call the account may know of: rung or in it, or a member of its conversation.
    /// Anything else — unknown id, someone else's call — is `not_found`.
    async fn visible_call(&self, account: &AccountId, raw: &str) -> Result<CallState, Refusal> {
        let id = CallId::parse(raw).ok_or_else(no_call)?;
        let call = self.registry.get(&id).await?.ok_or_else(no_call)?;
        if call.involves(account) {
            return Ok(call);
        }
        match self.membership(account, call.conversation.as_str()).await {
            Ok(_) => Ok(call),
            Err(refusal) if refusal.code == ErrorCode::NotFound => Err(no_call()),
            Err(refusal) => Err(refusal),
        }
    }

    fn check_relay_possible(&self, relay_only: bool) -> Result<(), Refusal> {
        if relay_only && !self.ice.has_turn() {
            return Err(call_state(
                "you are pseudonymous here, which needs a TURN relay, and none is configured",
            ));
        }
        Ok(())
    }

    fn view(
        &self,
        call: &CallState,
        me: &Participant,
        reference: Option<String>,
        rejoined: bool,
    ) -> CallView {
        let others = call.participants.iter().filter(|p| p.member != me.member);
        let (connected, lost): (Vec<&Participant>, Vec<&Participant>) =
            others.partition(|p| p.connected());
        let (audio_only, receive_limits) = call.video_caps();
        CallView {
            reference,
            call: call.id.clone(),
            conversation: call.conversation.clone(),
            media: call.media,
            topology: call.topology,
            me: me.member.clone(),
            participants: connected.iter().map(|p| p.member.clone()).collect(),
            reconnecting: lost.iter().map(|p| p.member.clone()).collect(),
            ringing: call.members_with(call::Answer::Ringing),
            audio_only,
            receive_limits,
            // Relay-only towards a pseudonymous member on both sides: her peers are told
            // so too, and their signals to her are stripped like hers (signals.rs).
            ice: self
                .ice
                .config(&me.account, policy(me.relay_only || call.has_relay_only())),
            rejoined,
        }
    }
}

fn policy(relay_only: bool) -> IcePolicy {
    if relay_only {
        IcePolicy::Relay
    } else {
        IcePolicy::All
    }
}
