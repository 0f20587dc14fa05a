//! Group calls through an SFU: Janus (its VideoRoom plugin) driven by Mentorhub, which
//! stays the only signalling authority — clients never talk to Janus's API.
//!
//! For a call on the SFU, a room is created on one Janus instance (chosen by load, see
//! [`pool`]) with a random secret only Mentorhub knows. Each participant device gets a
//! *leg* on the node it is connected to ([`leg`]): a publisher handle for what it sends
//! and a subscriber handle for what it receives, through which Mentorhub relays the
//! device's offers, answers and candidates and Janus's, and nothing else. The rules
//! (who may join, blocks, mutes, removal) stay in signalling; the room secret lets any
//! node enforce them at the SFU (kick, moderate) whichever node holds the legs.
//!
//! | file | owns |
//! |---|---|
//! | `wire.rs` | the Janus API's JSON, validated |
//! | `connection.rs` | one WebSocket to one instance: transactions, deadlines, event routing |
//! | `session.rs` | a kept-alive Janus session and its VideoRoom handles |
//! | `videoroom.rs` | VideoRoom requests and events, typed |
//! | `pool.rs` | the configured instances, their health, the choice by load |
//! | `board.rs` | load and health shared by nodes (in-process; Redis: `adapters::redis_sfu`) |
//! | `leg.rs` | one device's publisher and subscriber, as a task |

pub mod board;
mod connection;
mod leg;
pub mod pool;
mod session;
pub mod videoroom;
pub mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use self::board::SfuBoard;
pub use self::connection::JanusError;
pub use self::leg::{LegLink, LegRequest};
use self::pool::Pool;
use self::videoroom::{MAX_ID, RoomEvent, RoomSpec};
use super::DeviceLink;
use super::call::Device;
use crate::config::Secret;
use crate::ids::{CallId, ConversationId, MemberId};
use crate::protocol::sfu::Quality;

/// Deadline of every request to Janus: it answers in milliseconds when healthy.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Cap on each publisher's video (all simulcast layers together), bits per second.
pub const PUBLISHER_BITRATE: u32 = 1_500_000;

/// Largest SDP relayed to or from the SFU: a subscription carries two sections per
/// other participant, so it grows with the call (≈ 1 KiB per section).
pub const MAX_SFU_SDP_BYTES: usize = 96 * 1024;

/// SFU behaviour, from configuration.
#[derive(Clone, Debug)]
pub struct SfuSettings {
    /// Janus WebSocket URLs; empty: no SFU, every call is a mesh.
    pub urls: Vec<String>,
    /// Janus's API secret, also the VideoRoom `admin_key`.
    pub secret: Option<Secret>,
    /// Deadline of every request to Janus.
    pub timeout: Duration,
    /// Most participants of a call through the SFU.
    pub max_participants: usize,
    /// Cap on each publisher's video bitrate, bits per second.
    pub bitrate: u32,
}

/// Where a call's room is: instance, room id, the room's secret. `epoch` counts the
/// rooms the call has had (it moves when an instance is lost).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfuRoom {
    pub instance: String,
    pub room: u64,
    pub secret: String,
    pub epoch: u32,
}

impl fmt::Debug for SfuRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SfuRoom")
            .field("instance", &self.instance)
            .field("room", &self.room)
            .field("secret", &"<redacted>")
            .field("epoch", &self.epoch)
            .finish()
    }
}

impl SfuRoom {
    /// The publisher id of a participant's device in this room: the same on every
    /// node, so any node can kick it.
    pub fn feed_of(&self, member: &MemberId, device: &Device) -> u64 {
        let mut hash = Sha256::new();
        hash.update(self.room.to_be_bytes());
        hash.update(self.epoch.to_be_bytes());
        hash.update(member.as_str().as_bytes());
        hash.update([0]);
        hash.update(device.node.as_bytes());
        hash.update([0]);
        hash.update(device.conn.to_be_bytes());
        let digest = hash.finalize();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(bytes) & MAX_ID).max(1)
    }

    pub fn same_room(&self, other: &SfuRoom) -> bool {
        self.instance == other.instance && self.room == other.room
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    #[error(transparent)]
    Janus(#[from] JanusError),
    #[error("the SFU leg is gone")]
    Gone,
    #[error("{0}")]
    State(&'static str),
    #[error("no SFU instance is available")]
    NoInstance,
}

/// TURN REST credentials as Janus's `turn_rest_api` expects them.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct SfuTurn {
    pub username: String,
    pub password: String,
    /// Seconds the credentials stay valid.
    pub ttl: i64,
    pub uris: Vec<String>,
}

/// What a leg needs to know about its participant.
pub struct LegSpec {
    pub call: CallId,
    pub conversation: ConversationId,
    pub room: SfuRoom,
    pub member: MemberId,
    pub feed: u64,
    pub device: Arc<dyn DeviceLink>,
    /// Members on the other side of a block: never subscribed to.
    pub avoid: Vec<MemberId>,
    pub muted: bool,
    pub quality: Quality,
}

/// The SFU as the signalling service uses it: rooms, and this node's legs by
/// connection.
pub struct Sfu {
    pool: Arc<Pool>,
    settings: SfuSettings,
    secret: Secret,
    legs: DashMap<u64, Arc<LegLink>>,
}

impl Sfu {
    /// `None` without instances. Losses of instances are announced on `lost`.
    pub fn new(
        settings: SfuSettings,
        board: Arc<dyn SfuBoard>,
        node: Arc<str>,
        lost: mpsc::UnboundedSender<String>,
    ) -> Option<Sfu> {
        let secret = settings.secret.clone()?;
        if settings.urls.is_empty() {
            return None;
        }
        let pool = Pool::new(
            &settings.urls,
            secret.clone(),
            settings.timeout,
            board,
            node,
            lost,
        );
        Some(Sfu {
            pool,
            settings,
            secret,
            legs: DashMap::new(),
        })
    }

    /// Whether `key` is the Janus secret (compared in constant time).
    pub fn is_secret(&self, key: &str) -> bool {
        let (a, b) = (self.secret.expose(), key.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
    }

    pub fn max_participants(&self) -> usize {
        self.settings.max_participants
    }

    /// Creates a room on the least loaded instance (not `avoid`).
    pub async fn create_room(&self, avoid: Option<&str>, epoch: u32) -> Result<SfuRoom, SfuError> {
        let instance = self.pool.choose(avoid).await.ok_or(SfuError::NoInstance)?;
        let room = SfuRoom {
            room: rand::rng().random_range(1..=MAX_ID),
            secret: rand::rng()
                .sample_iter(Alphanumeric)
                .take(32)
                .map(char::from)
                .collect(),
            instance,
            epoch,
        };
        let spec = RoomSpec {
            room: room.room,
            secret: &room.secret,
            admin_key: std::str::from_utf8(self.secret.expose()).unwrap_or_default(),
            publishers: self.settings.max_participants,
            bitrate: self.settings.bitrate,
        };
        let created = self
            .pool
            .room_request(&room.instance, &videoroom::create(&spec))
            .await
            .inspect_err(|_| self.note_failure(&room.instance))?;
        match created {
            RoomEvent::Created => {
                metrics::counter!("mentorhub_sfu_rooms_created_total").increment(1);
                Ok(room)
            }
            RoomEvent::Error { code, reason } => {
                Err(SfuError::Janus(JanusError::Refused { code, reason }))
            }
            _ => Err(SfuError::Janus(JanusError::Unexpected("create"))),
        }
    }

    /// Destroys a room (best effort: a lost instance took it with it).
    pub async fn destroy_room(&self, room: &SfuRoom) {
        if self.pool.is_down(&room.instance).await {
            return;
        }
        let body = videoroom::destroy(room.room, &room.secret);
        if let Err(error) = self.pool.room_request(&room.instance, &body).await {
            tracing::debug!(%error, "destroying an SFU room");
        }
    }

    /// Takes a participant's device out of the room at once: its feed stops, and so do
    /// its subscriptions (the rooms require a private id, which binds them to it).
    pub async fn kick(&self, room: &SfuRoom, member: &MemberId, device: &Device) {
        let body = videoroom::kick(room.room, &room.secret, room.feed_of(member, device));
        match self.pool.room_request(&room.instance, &body).await {
            Ok(RoomEvent::Success) | Ok(RoomEvent::Error { .. }) => {} // kicked, or not in it
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "kicking from an SFU room"),
        }
    }

    /// Whether the room's instance is out of service.
    pub async fn is_down(&self, room: &SfuRoom) -> bool {
        self.pool.is_down(&room.instance).await
    }

    /// A request to an instance failed: if it timed out, the instance is out.
    pub fn note_failure(&self, instance: &str) {
        let (pool, instance) = (self.pool.clone(), instance.to_owned());
        tokio::spawn(async move {
            if let Ok(session) = pool.session(&instance).await
                && !session.is_closed()
            {
                return; // it answers: the failure was the request's own
            }
            pool.mark_down(&instance).await;
        });
    }

    /// The connection's leg in `spec.room`, opened (joining the room) if it has none
    /// there yet. A leg in an older room is closed first.
    pub async fn leg(&self, conn: u64, spec: LegSpec) -> Result<Arc<LegLink>, SfuError> {
        if let Some(link) = self.legs.get(&conn).map(|l| l.clone()) {
            if link.room.same_room(&spec.room) && link.is_running() {
                return Ok(link);
            }
            self.legs.remove(&conn);
        }
        let instance = spec.room.instance.clone();
        let link = Arc::new(
            leg::open(spec, self.pool.clone())
                .await
                .inspect_err(|error| {
                    if matches!(error, SfuError::Janus(JanusError::Timeout(_))) {
                        self.note_failure(&instance);
                    }
                })?,
        );
        self.legs.insert(conn, link.clone());
        Ok(link)
    }

    /// The connection's running leg, if any.
    pub fn existing_leg(&self, conn: u64) -> Option<Arc<LegLink>> {
        self.legs
            .get(&conn)
            .map(|l| l.clone())
            .filter(|l| l.is_running())
    }

    /// Ends the connection's leg (its handles detach; Janus hangs up its media).
    pub fn close_leg(&self, conn: u64) {
        self.legs.remove(&conn);
    }

    /// The connections whose legs are on `instance`, with their calls.
    pub fn legs_on(&self, instance: &str) -> Vec<(u64, CallId)> {
        self.legs
            .iter()
            .filter(|l| l.room.instance == instance)
            .map(|l| (*l.key(), l.call.clone()))
            .collect()
    }
}
