//! The mentoring domain: who may read and write what, and what happens when they do.
//!
//! Every operation takes the authenticated [`Principal`] and the raw ids from the wire;
//! an id that does not parse, a conversation that does not exist and one the caller
//! is not in all produce the same [`Refusal`](crate::error::Refusal) (`not_found`), so existence never leaks.
//! Operations commit to the [`Store`] first and publish on the [`Bus`] after, so what
//! anyone sees live is always already durable.

mod access;
mod budget;
mod contact;
pub mod digest;
pub mod directory;
mod lifecycle;
pub mod membership;
mod messaging;
mod oversight;
pub mod presence;
pub mod programme;
pub mod relationships;
mod render;
pub mod reports;
mod room_texts;
pub mod rooms;
pub mod rules;
pub mod safety;
mod search_terms;
mod session;

use std::sync::Arc;

pub use access::MemberCtx;
pub use messaging::{AckHook, Acked, HistoryPage, PendingAck};
pub use oversight::Oversight;
pub use presence::client_status;
pub use session::SessionStart;

use crate::auth::Principal;
use crate::bus::{Audience, Bus, Envelope, Payload, Topic};
use crate::crypto::BodyCipher;
use crate::error::DomainResult;
use crate::ids::AccountId;
use crate::protocol::ServerFrame;
use crate::store::Store;

/// A message body's largest size in bytes.
pub const MAX_BODY_BYTES: usize = 16_000;

/// Limits the mentoring domain enforces (from configuration); some of them are told
/// to clients in the wire's [`crate::protocol::server::Limits`].
#[derive(Clone, Debug)]
pub struct MentoringLimits {
    /// A message body's largest size in UTF-8 bytes (so also at most this many
    /// characters). The frame limit leaves room for it even fully `\u`-escaped.
    pub max_body_bytes: usize,
    pub history_page_max: u32,
    /// A history page's largest serialised size: a page is cut at this many bytes of
    /// events (always keeping one) and says so, and the client asks for the rest.
    pub history_page_bytes: usize,
    pub history_page_default: u32,
    pub max_intro_chars: usize,
    pub max_display_name_chars: usize,
    /// A room's member limit when its creator sets none (`room_member_limit`).
    pub room_member_limit: u32,
    /// Actions one account may take, over all its connections, REST and nodes.
    pub account_budget: crate::bus::state::Budget,
    /// Group and peer rooms one account may have open (created and not closed).
    pub max_rooms_per_account: u32,
    /// Unused, unexpired invite codes one room may have.
    pub max_invite_codes_per_room: u32,
    /// Requests one mentor may have waiting for an answer.
    pub max_pending_requests_per_mentor: u32,
    /// Longest random delay before a pseudonymous member's presence change is shown in
    /// one conversation (see `presence.rs`).
    pub pseudonymous_presence_delay: std::time::Duration,
}

/// A history page's largest serialised size (the socket's write buffer may cap it lower).
pub const HISTORY_PAGE_BYTES: usize = 256 * 1024;
/// Events in a history page when the client asks for no number.
pub const HISTORY_PAGE_DEFAULT: u32 = 50;
/// An introduction's or an end note's largest size in characters.
pub const MAX_INTRO_CHARS: usize = 4_000;
/// A display name's largest size in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// Publishes timeline events. Cheap to clone into a store commit hook, so events are
/// published from the store's writer in seq order.
#[derive(Clone)]
pub(crate) struct EventPublisher {
    bus: Arc<dyn Bus>,
    node: Arc<str>,
}

impl EventPublisher {
    /// Serialises a timeline event once and publishes it to the conversation's readers
    /// (except the given members).
    pub(crate) fn publish_event(
        &self,
        conversation: &crate::ids::ConversationId,
        seq: crate::ids::Seq,
        event: &crate::protocol::EventFrame,
        except: Vec<crate::ids::MemberId>,
    ) {
        let audience = if except.is_empty() {
            Audience::Members
        } else {
            Audience::Except(except)
        };
        self.bus.publish(Envelope {
            origin: self.node.clone(),
            topic: Topic::Conversation(conversation.clone()),
            audience,
            payload: Payload::Event {
                seq,
                target: event.target(),
                json: event.to_json().into(),
            },
        });
    }
}

/// The domain services shared by every connection and request. Cheap to clone (shared
/// handles), for work done after an answer.
#[derive(Clone)]
pub struct Mentoring {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    cipher: BodyCipher,
    node: Arc<str>,
    limits: MentoringLimits,
    pseudonymous_presence: Arc<presence::PseudonymousPresence>,
}

impl Mentoring {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        cipher: BodyCipher,
        node: Arc<str>,
        limits: MentoringLimits,
    ) -> Self {
        let pseudonymous_presence = presence::PseudonymousPresence::new(
            bus.clone(),
            node.clone(),
            limits.pseudonymous_presence_delay,
        );
        Mentoring {
            store,
            bus,
            cipher,
            node,
            limits,
            pseudonymous_presence,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn limits(&self) -> &MentoringLimits {
        &self.limits
    }

    pub fn node(&self) -> &Arc<str> {
        &self.node
    }

    /// Records the account behind a verified token (name, roles and the e-mail digest's
    /// address may change at the identity provider; the latest token wins).
    pub async fn remember(
        &self,
        principal: &Principal,
    ) -> DomainResult<crate::store::AccountRecord> {
        let account = self
            .store
            .upsert_account(
                &principal.account,
                &principal.name,
                &principal.roles,
                crate::ids::now_millis(),
            )
            .await?;
        self.refresh_digest_address(principal).await?;
        Ok(account)
    }

    pub(crate) fn publisher(&self) -> EventPublisher {
        EventPublisher {
            bus: self.bus.clone(),
            node: self.node.clone(),
        }
    }

    fn publish(&self, topic: Topic, audience: Audience, payload: Payload) {
        self.bus.publish(Envelope {
            origin: self.node.clone(),
            topic,
            audience,
            payload,
        });
    }

    /// Tells an account's connections to re-read their membership of a conversation
    /// (subscribe and catch up from `from_seq`, or stop receiving it).
    fn resubscribe(
        &self,
        account: &AccountId,
        conversation: &crate::ids::ConversationId,
        from_seq: crate::ids::Seq,
    ) {
        self.publish(
            Topic::Account(account.clone()),
            Audience::Members,
            Payload::Control(crate::bus::Control::Subscribe {
                conversation: conversation.clone(),
                from_seq,
            }),
        );
    }

    /// Sends one frame to every connection of an account.
    fn push_to_account(&self, account: &AccountId, frame: &ServerFrame) {
        self.publish(
            Topic::Account(account.clone()),
            Audience::Members,
            Payload::Frame {
                json: frame.to_json().into(),
            },
        );
    }
}
