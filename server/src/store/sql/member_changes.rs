//! How a membership change is written: the one statement that changes the member row.
//! Plain functions, shared by both engines' [`super::mentoring`] SQL.

use crate::store::MemberChange;

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
    use crate::ids::MemberId;

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
