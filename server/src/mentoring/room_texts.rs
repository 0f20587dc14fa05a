//! A room's title and agreement are conversation content: sealed at rest like message
//! bodies and opened only here, for the members (and invitees) who may read them.
//!
//! Each text is bound to its room and its field, so a title moved to another room or
//! into the agreement does not open. Rooms written before titles were sealed are sealed
//! by [`Mentoring::seal_plaintext_room_texts`] at start-up.

use crate::crypto::Sealed;
use crate::ids::ConversationId;
use crate::store::{SealedRoomTexts, StoreResult};

use super::Mentoring;

/// Which of a room's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RoomText {
    Title,
    Agreement,
}

impl RoomText {
    fn aad(self, conversation: &ConversationId) -> Vec<u8> {
        let field: &[u8] = match self {
            RoomText::Title => b"mentorhub/room-title/v1/",
            RoomText::Agreement => b"mentorhub/room-agreement/v1/",
        };
        let mut aad = field.to_vec();
        aad.extend_from_slice(conversation.as_str().as_bytes());
        aad
    }
}

impl Mentoring {
    pub(crate) fn seal_room_text(
        &self,
        conversation: &ConversationId,
        field: RoomText,
        text: &str,
    ) -> Sealed {
        self.cipher.seal(&field.aad(conversation), text.as_bytes())
    }

    /// The text, or `None` when there is none or it cannot be opened (a key since
    /// removed: said in the log without content).
    pub(crate) fn open_room_text(
        &self,
        conversation: &ConversationId,
        field: RoomText,
        sealed: Option<&Sealed>,
    ) -> Option<String> {
        let sealed = sealed?;
        match self.cipher.open(&field.aad(conversation), sealed) {
            Ok(plain) => String::from_utf8(plain).ok(),
            Err(_) => {
                tracing::error!(conversation = %conversation, key_id = sealed.key_id, ?field, "cannot decrypt a stored room text");
                None
            }
        }
    }

    /// Seals every room title and agreement still stored in plaintext and erases the
    /// plaintext; running it again finds nothing to do. Returns how many rooms it sealed.
    pub async fn seal_plaintext_room_texts(&self) -> StoreResult<usize> {
        let plain = self.store.plaintext_room_texts().await?;
        let sealed: Vec<SealedRoomTexts> = plain
            .into_iter()
            .map(|room| SealedRoomTexts {
                title: room
                    .title
                    .map(|t| self.seal_room_text(&room.conversation, RoomText::Title, &t)),
                agreement: room
                    .agreement
                    .map(|a| self.seal_room_text(&room.conversation, RoomText::Agreement, &a)),
                conversation: room.conversation,
            })
            .collect();
        let count = sealed.len();
        self.store.seal_room_texts(sealed).await?;
        Ok(count)
    }
}
