//! A member's changes in a conversation: when one applies, and what the timeline
//! records about it (one [`SystemKind`] per change, naming members by member id and
//! display name, never by account).
//!
//! Every change needs the conversation active, except showing one's real name, which a
//! party may also do while a relationship is pending; the agreement is accepted once.

use crate::ids::MemberId;
use crate::protocol::system::SystemKind;
use crate::protocol::vocabulary::{ConversationKind, ConversationState};
use crate::store::{JoinDecision, MemberChange, MemberRecord, RoomAtJoin, WriteError};

/// Whether `change` applies to `member` (`None`: not a current member) in a
/// conversation in `state` (`None`: no such conversation), as read where it commits.
pub fn check(
    state: Option<ConversationState>,
    member: Option<&MemberRecord>,
    change: &MemberChange,
) -> Result<(), WriteError> {
    let open = match change {
        MemberChange::Reveal { .. } => matches!(
            state,
            Some(ConversationState::Active | ConversationState::Pending)
        ),
        _ => state == Some(ConversationState::Active),
    };
    if !open {
        return Err(WriteError::ConversationClosed);
    }
    let member = member.ok_or(WriteError::TargetNotFound)?;
    if *change == MemberChange::Agree && member.agreed_at.is_some() {
        return Err(WriteError::Conflict);
    }
    Ok(())
}

/// The system event recording `change` to `member`.
pub fn change_event(member: &MemberId, change: &MemberChange) -> SystemKind {
    let member = member.clone();
    match change {
        MemberChange::Agree => SystemKind::AgreementAccepted { member },
        MemberChange::Leave => SystemKind::MemberLeft { member },
        MemberChange::Remove { by } => SystemKind::MemberRemoved {
            member,
            by: by.clone(),
        },
        MemberChange::Mute { by, muted: true } => SystemKind::MemberMuted {
            member,
            by: by.clone(),
        },
        MemberChange::Mute { by, muted: false } => SystemKind::MemberUnmuted {
            member,
            by: by.clone(),
        },
        MemberChange::Role { by, role } => SystemKind::RoleChanged {
            member,
            role: *role,
            by: by.clone(),
        },
        MemberChange::Reveal { display_name } => SystemKind::IdentityRevealed {
            member,
            display_name: display_name.clone(),
        },
    }
}

/// A join with a ticket, decided on the room as read under its row lock: the room must
/// be an active room with a free place, and the account not a current member. A
/// returning member keeps the member id they had (`fresh` is for a first join); the
/// history is readable from its start if the room shows it, else from the join on.
pub fn join(
    room: &RoomAtJoin,
    fresh: &MemberId,
    display_name: &str,
) -> Result<JoinDecision, WriteError> {
    if room.kind != Some(ConversationKind::Room) {
        return Err(WriteError::TargetNotFound);
    }
    if room.state != Some(ConversationState::Active) {
        return Err(WriteError::ConversationClosed);
    }
    let member = match &room.earlier {
        Some((_, true)) => return Err(WriteError::Conflict),
        Some((earlier, false)) => earlier.clone(),
        None => fresh.clone(),
    };
    if room
        .member_limit
        .is_some_and(|limit| room.members >= u64::from(limit))
    {
        return Err(WriteError::RoomFull);
    }
    Ok(JoinDecision {
        event: SystemKind::MemberJoined {
            member: member.clone(),
            display_name: display_name.to_owned(),
        }
        .to_meta(),
        member,
        history_from_start: room.history_visible,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mentoring::rules::test_member;
    use crate::protocol::vocabulary::MemberRole;

    fn member(agreed: bool) -> MemberRecord {
        test_member(MemberRole::Member, agreed)
    }

    /// One change of every kind, made by facilitator `m_f` where someone makes it.
    fn changes() -> Vec<MemberChange> {
        let by = MemberId::from_stored("m_f".into());
        vec![
            MemberChange::Agree,
            MemberChange::Leave,
            MemberChange::Remove { by: by.clone() },
            MemberChange::Mute {
                by: by.clone(),
                muted: true,
            },
            MemberChange::Mute {
                by: by.clone(),
                muted: false,
            },
            MemberChange::Role {
                by,
                role: MemberRole::Facilitator,
            },
            MemberChange::Reveal {
                display_name: "Dr Real".into(),
            },
        ]
    }

    #[test]
    fn changes_need_an_active_conversation_but_a_name_may_be_shown_while_pending() {
        let closed = Err::<(), _>(WriteError::ConversationClosed);
        for change in changes() {
            let reveal = matches!(change, MemberChange::Reveal { .. });
            for state in [
                None,
                Some(ConversationState::ReadOnly),
                Some(ConversationState::Closed),
            ] {
                let result = check(state, Some(&member(false)), &change);
                assert_eq!(format!("{result:?}"), format!("{closed:?}"), "{change:?}");
            }
            let pending = check(
                Some(ConversationState::Pending),
                Some(&member(false)),
                &change,
            );
            assert_eq!(pending.is_ok(), reveal, "{change:?} while pending");
            assert!(
                check(
                    Some(ConversationState::Active),
                    Some(&member(false)),
                    &change
                )
                .is_ok()
            );
        }
    }

    #[test]
    fn only_a_current_member_changes_and_the_agreement_is_accepted_once() {
        let active = Some(ConversationState::Active);
        let gone = check(active, None, &MemberChange::Leave);
        assert!(matches!(gone, Err(WriteError::TargetNotFound)), "{gone:?}");
        let closed_first = check(None, None, &MemberChange::Leave);
        assert!(matches!(closed_first, Err(WriteError::ConversationClosed)));
        let again = check(active, Some(&member(true)), &MemberChange::Agree);
        assert!(matches!(again, Err(WriteError::Conflict)), "{again:?}");
        assert!(check(active, Some(&member(true)), &MemberChange::Leave).is_ok());
    }

    fn json(kind: &SystemKind) -> serde_json::Value {
        serde_json::from_str(&kind.to_meta()).unwrap()
    }

    #[test]
    fn change_events_name_the_member_and_never_an_account() {
        let member = MemberId::from_stored("m_a".into());
        let by = MemberId::from_stored("m_f".into());
        let muted = change_event(
            &member,
            &MemberChange::Mute {
                by: by.clone(),
                muted: true,
            },
        );
        assert_eq!(
            json(&muted),
            serde_json::json!({"kind": "member_muted", "member": "m_a", "by": "m_f"})
        );
        let revealed = change_event(
            &member,
            &MemberChange::Reveal {
                display_name: "Dr Real".into(),
            },
        );
        assert_eq!(json(&revealed)["kind"], "identity_revealed");
        assert_eq!(json(&revealed)["display_name"], "Dr Real");
        let role = change_event(
            &member,
            &MemberChange::Role {
                by,
                role: MemberRole::Facilitator,
            },
        );
        assert_eq!(
            json(&role),
            serde_json::json!({"kind": "role_changed", "member": "m_a", "role": "facilitator", "by": "m_f"})
        );
    }

    #[test]
    fn every_change_has_its_kind() {
        let member = MemberId::from_stored("m_a".into());
        let kinds: Vec<String> = changes()
            .iter()
            .map(|change| json(&change_event(&member, change))["kind"].to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "\"agreement_accepted\"",
                "\"member_left\"",
                "\"member_removed\"",
                "\"member_muted\"",
                "\"member_unmuted\"",
                "\"role_changed\"",
                "\"identity_revealed\""
            ]
        );
    }

    fn room() -> RoomAtJoin {
        RoomAtJoin {
            kind: Some(ConversationKind::Room),
            state: Some(ConversationState::Active),
            member_limit: Some(3),
            history_visible: false,
            members: 2,
            earlier: None,
        }
    }

    #[test]
    fn a_first_join_takes_a_free_place_with_a_fresh_member_id() {
        let fresh = MemberId::from_stored("m_new".into());
        let joined = join(&room(), &fresh, "Ann").unwrap();
        assert_eq!(joined.member, fresh);
        assert!(!joined.history_from_start, "reads from the join on");
        assert_eq!(
            joined.event, r#"{"display_name":"Ann","kind":"member_joined","member":"m_new"}"#,
            "keys in one order, as stored events always had them"
        );
        let open = RoomAtJoin {
            history_visible: true,
            member_limit: None,
            members: 500,
            ..room()
        };
        assert!(join(&open, &fresh, "Ann").unwrap().history_from_start);
    }

    #[test]
    fn a_returning_member_keeps_their_id_and_a_current_one_cannot_join_again() {
        let fresh = MemberId::from_stored("m_new".into());
        let old = MemberId::from_stored("m_old".into());
        let back = RoomAtJoin {
            earlier: Some((old.clone(), false)),
            ..room()
        };
        assert_eq!(join(&back, &fresh, "Ann").unwrap().member, old);
        let current = RoomAtJoin {
            earlier: Some((old, true)),
            ..room()
        };
        assert!(matches!(refusal(&current), WriteError::Conflict));
    }

    /// Why `join` turns away member `m_new` from `room`.
    fn refusal(room: &RoomAtJoin) -> WriteError {
        let fresh = MemberId::from_stored("m_new".into());
        match join(room, &fresh, "A") {
            Ok(_) => panic!("joined"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_join_needs_an_active_room_with_a_place() {
        let full = RoomAtJoin {
            members: 3,
            ..room()
        };
        assert!(matches!(refusal(&full), WriteError::RoomFull));
        let relationship = RoomAtJoin {
            kind: Some(ConversationKind::Relationship),
            ..room()
        };
        assert!(matches!(refusal(&relationship), WriteError::TargetNotFound));
        for state in [
            ConversationState::Pending,
            ConversationState::ReadOnly,
            ConversationState::Closed,
        ] {
            let closed = RoomAtJoin {
                state: Some(state),
                ..room()
            };
            assert!(matches!(refusal(&closed), WriteError::ConversationClosed));
        }
        // Closed comes before full or already a member.
        let closed_full = RoomAtJoin {
            state: Some(ConversationState::ReadOnly),
            members: 9,
            earlier: Some((MemberId::from_stored("m_new".into()), true)),
            ..room()
        };
        assert!(matches!(
            refusal(&closed_full),
            WriteError::ConversationClosed
        ));
    }
}
