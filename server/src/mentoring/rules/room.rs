//! A room's own settings. How its calls carry media is changed by a facilitator who
//! accepted the agreement, while the room is active; the standing is read where the
//! change commits, so a facilitator demoted or removed meanwhile changes nothing.

use crate::protocol::vocabulary::{CallRouting, ConversationKind, ConversationState, MemberRole};
use crate::store::{CallsDecision, RoomAtCallsChange, WriteError};

/// Whether the room (`None`: no such conversation) takes `calls`. Asking for what is
/// already set writes nothing and is no refusal.
pub fn change_calls(
    room: Option<&RoomAtCallsChange>,
    calls: CallRouting,
) -> Result<CallsDecision, WriteError> {
    let room = room.ok_or(WriteError::Conflict)?;
    if room.calls == Some(calls) {
        return Ok(CallsDecision::AlreadySo);
    }
    let facilitator = room
        .by
        .as_ref()
        .is_some_and(|by| by.role == MemberRole::Facilitator && by.agreed_at.is_some());
    if room.kind == Some(ConversationKind::Room)
        && room.state == Some(ConversationState::Active)
        && facilitator
    {
        Ok(CallsDecision::Write)
    } else {
        Err(WriteError::Conflict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mentoring::rules::test_member;
    use crate::store::MemberRecord;

    fn facilitator(role: MemberRole, agreed: bool) -> MemberRecord {
        test_member(role, agreed)
    }

    fn room() -> RoomAtCallsChange {
        RoomAtCallsChange {
            kind: Some(ConversationKind::Room),
            state: Some(ConversationState::Active),
            calls: Some(CallRouting::Auto),
            by: Some(facilitator(MemberRole::Facilitator, true)),
        }
    }

    fn refused(result: Result<CallsDecision, WriteError>) -> bool {
        matches!(result, Err(WriteError::Conflict))
    }

    #[test]
    fn an_agreed_facilitator_changes_an_active_rooms_calls() {
        let decided = change_calls(Some(&room()), CallRouting::Sfu).unwrap();
        assert_eq!(decided, CallsDecision::Write);
    }

    #[test]
    fn what_is_already_set_writes_nothing_whoever_asks() {
        let anyone = RoomAtCallsChange {
            by: None,
            state: Some(ConversationState::Closed),
            ..room()
        };
        let decided = change_calls(Some(&anyone), CallRouting::Auto).unwrap();
        assert_eq!(decided, CallsDecision::AlreadySo);
    }

    #[test]
    fn a_demoted_removed_or_unagreed_facilitator_changes_nothing() {
        for by in [
            None,
            Some(facilitator(MemberRole::Member, true)),
            Some(facilitator(MemberRole::Facilitator, false)),
        ] {
            let room = RoomAtCallsChange { by, ..room() };
            assert!(refused(change_calls(Some(&room), CallRouting::Sfu)));
        }
    }

    #[test]
    fn only_an_active_room_changes() {
        assert!(refused(change_calls(None, CallRouting::Sfu)));
        for state in [
            None,
            Some(ConversationState::Pending),
            Some(ConversationState::ReadOnly),
            Some(ConversationState::Closed),
        ] {
            let room = RoomAtCallsChange { state, ..room() };
            assert!(refused(change_calls(Some(&room), CallRouting::Sfu)));
        }
        let relationship = RoomAtCallsChange {
            kind: Some(ConversationKind::Relationship),
            ..room()
        };
        assert!(refused(change_calls(Some(&relationship), CallRouting::Sfu)));
    }
}
