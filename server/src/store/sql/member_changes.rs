//! How a membership change is written: the one statement that changes the member row
//! and the JSON of the system event that records it on the timeline. Plain functions,
//! shared by both engines' [`super::mentoring`] SQL.

use crate::ids::MemberId;
use crate::store::MemberChange;

/// A system event's JSON: its kind, the member it is about and any extra fields.
pub(crate) fn member_meta(kind: &str, member: &MemberId, extra: &[(&str, &str)]) -> String {
    let mut object = serde_json::Map::new();
    object.insert("kind".into(), kind.into());
    object.insert("member".into(), member.as_str().into());
    for (key, value) in extra {
        object.insert((*key).into(), (*value).into());
    }
    serde_json::Value::Object(object).to_string()
}

/// The system event kind and extra fields recording one membership change.
pub(crate) fn change_meta(member: &MemberId, change: &MemberChange) -> String {
    match change {
        MemberChange::Agree => member_meta("agreement_accepted", member, &[]),
        MemberChange::Leave => member_meta("member_left", member, &[]),
        MemberChange::Remove { by } => {
            member_meta("member_removed", member, &[("by", by.as_str())])
        }
        MemberChange::Mute { by, muted: true } => {
            member_meta("member_muted", member, &[("by", by.as_str())])
        }
        MemberChange::Mute { by, muted: false } => {
            member_meta("member_unmuted", member, &[("by", by.as_str())])
        }
        MemberChange::Role { by, role } => member_meta(
            "role_changed",
            member,
            &[("role", role.as_str()), ("by", by.as_str())],
        ),
        MemberChange::Reveal { display_name } => member_meta(
            "identity_revealed",
            member,
            &[("display_name", display_name)],
        ),
    }
}

/// The one value a membership change writes (bound as `$3` after the ids; a name also
/// binds its comparison key as `$4`).
pub(crate) enum ChangeValue {
    Int(i64),
    Text(String),
    Name(String),
}

pub(crate) fn change_statement(change: &MemberChange, now: i64) -> (&'static str, ChangeValue) {
    match change {
        MemberChange::Agree => (
            "UPDATE members SET agreed_at = $3 WHERE conversation_id = $1 AND member_id = $2",
            ChangeValue::Int(now),
        ),
        MemberChange::Leave | MemberChange::Remove { .. } => (
            "UPDATE members SET left_at = $3 WHERE conversation_id = $1 AND member_id = $2",
            ChangeValue::Int(now),
        ),
        MemberChange::Mute { muted, .. } => (
            "UPDATE members SET muted = $3 WHERE conversation_id = $1 AND member_id = $2",
            ChangeValue::Int(i64::from(*muted)),
        ),
        MemberChange::Role { role, .. } => (
            "UPDATE members SET role = $3 WHERE conversation_id = $1 AND member_id = $2",
            ChangeValue::Text(role.as_str().to_owned()),
        ),
        MemberChange::Reveal { display_name } => (
            "UPDATE members SET display_name = $3, name_key = $4, pseudonymous = 0 \
             WHERE conversation_id = $1 AND member_id = $2",
            ChangeValue::Name(display_name.clone()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_events_name_the_member_and_never_an_account() {
        let member = MemberId::from_stored("m_a".into());
        let by = MemberId::from_stored("m_f".into());
        let meta: serde_json::Value = serde_json::from_str(&change_meta(
            &member,
            &MemberChange::Mute {
                by: by.clone(),
                muted: true,
            },
        ))
        .unwrap();
        assert_eq!(
            meta,
            serde_json::json!({"kind": "member_muted", "member": "m_a", "by": "m_f"})
        );
        let meta: serde_json::Value = serde_json::from_str(&change_meta(
            &member,
            &MemberChange::Reveal {
                display_name: "Dr Real".into(),
            },
        ))
        .unwrap();
        assert_eq!(meta["kind"], "identity_revealed");
        assert_eq!(meta["display_name"], "Dr Real");
    }

    #[test]
    fn every_change_writes_one_value_after_the_ids() {
        for change in [
            MemberChange::Agree,
            MemberChange::Leave,
            MemberChange::Mute {
                by: MemberId::from_stored("m_f".into()),
                muted: false,
            },
            MemberChange::Role {
                by: MemberId::from_stored("m_f".into()),
                role: crate::protocol::vocabulary::MemberRole::Member,
            },
            MemberChange::Reveal {
                display_name: "x".into(),
            },
        ] {
            let (sql, _) = change_statement(&change, 1);
            assert!(
                sql.contains("$3") && sql.ends_with("conversation_id = $1 AND member_id = $2"),
                "{sql}"
            );
        }
    }
}
