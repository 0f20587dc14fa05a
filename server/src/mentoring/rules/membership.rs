//! What a room's timeline records about its members: one [`SystemKind`] per change,
//! naming members by member id and display name, never by account.

use crate::ids::MemberId;
use crate::protocol::system::SystemKind;
use crate::store::MemberChange;

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

/// The stored `member_joined` event of a join (the store knows the member id only in
/// its transaction: a returning member keeps theirs).
pub fn joined_event(member: &MemberId, display_name: &str) -> String {
    SystemKind::MemberJoined {
        member: member.clone(),
        display_name: display_name.to_owned(),
    }
    .to_meta()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vocabulary::MemberRole;

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
        let by = MemberId::from_stored("m_f".into());
        let kinds: Vec<String> = [
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
        ]
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
                "\"member_unmuted\""
            ]
        );
        assert_eq!(
            joined_event(&member, "Ann"),
            r#"{"display_name":"Ann","kind":"member_joined","member":"m_a"}"#,
            "keys in one order, as stored events always had them"
        );
    }
}
