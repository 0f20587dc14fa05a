//! Stored records → wire frames. Bodies are decrypted here and only here.

use crate::crypto::Sealed;
use crate::ids::ConversationId;
use crate::protocol::EventFrame;
use crate::protocol::server::{DeleteEvent, EditEvent, MessageEvent, SystemEvent};
use crate::protocol::system::SystemKind;
use crate::store::{EventKind, StoredEvent};

use super::Mentoring;

/// Bodies are bound to their conversation: a ciphertext moved to another
/// conversation's row does not decrypt.
pub(crate) fn body_aad(conversation: &ConversationId) -> Vec<u8> {
    let mut aad = b"mentorhub/body/v1/".to_vec();
    aad.extend_from_slice(conversation.as_str().as_bytes());
    aad
}

impl Mentoring {
    pub(crate) fn seal_body(&self, conversation: &ConversationId, body: &str) -> Sealed {
        self.cipher.seal(&body_aad(conversation), body.as_bytes())
    }

    fn open_body(&self, conversation: &ConversationId, sealed: Option<&Sealed>) -> Option<String> {
        let sealed = sealed?;
        match self.cipher.open(&body_aad(conversation), sealed) {
            Ok(plain) => String::from_utf8(plain).ok(),
            Err(_) => {
                // Wrong or missing key: say so without content; the event still counts.
                tracing::error!(conversation = %conversation, key_id = sealed.key_id, "cannot decrypt a stored body");
                None
            }
        }
    }

    /// Renders one stored event as its wire frame.
    pub fn render(&self, event: &StoredEvent) -> EventFrame {
        let sender = || {
            event
                .sender
                .clone()
                .unwrap_or_else(|| crate::ids::MemberId::from_stored(String::new()))
        };
        match event.kind {
            EventKind::Message => EventFrame::Message(MessageEvent {
                conversation: event.conversation.clone(),
                seq: event.seq,
                sender: sender(),
                thread: event.thread_root,
                body: if event.deleted {
                    None
                } else {
                    self.open_body(&event.conversation, event.body.as_ref())
                },
                ts: event.created_at,
                edited_at: event.edited_at,
                deleted: event.deleted,
            }),
            EventKind::Edit => EventFrame::MessageEdited(EditEvent {
                conversation: event.conversation.clone(),
                seq: event.seq,
                sender: sender(),
                target: event.target.unwrap_or_default(),
                body: self.open_body(&event.conversation, event.body.as_ref()),
                ts: event.created_at,
            }),
            EventKind::Delete => EventFrame::MessageDeleted(DeleteEvent {
                conversation: event.conversation.clone(),
                seq: event.seq,
                sender: sender(),
                target: event.target.unwrap_or_default(),
                ts: event.created_at,
            }),
            EventKind::System => EventFrame::System(SystemEvent {
                conversation: event.conversation.clone(),
                seq: event.seq,
                event: event.meta.as_deref().map_or(
                    SystemKind::Unrecognised(serde_json::Value::Null),
                    SystemKind::from_meta,
                ),
                ts: event.created_at,
            }),
        }
    }
}
