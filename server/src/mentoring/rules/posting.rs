//! Who may post in a conversation: a current member who accepted its agreement and is
//! not muted. The store applies this to the sender's row read inside the committing
//! transaction (one message at a time and in bulk alike), so a connection's cached
//! standing never lets a message through after a removal or a mute.

use crate::store::{SenderStanding, WriteError};

/// Whether a sender with `standing` (`None`: never a member) may append.
pub fn may_post(standing: Option<SenderStanding>) -> Result<(), WriteError> {
    match standing {
        None => Err(WriteError::NotMember),
        Some(s) if !s.current => Err(WriteError::NotMember),
        Some(s) if !s.agreed => Err(WriteError::AgreementRequired),
        Some(s) if s.muted => Err(WriteError::Muted),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: SenderStanding = SenderStanding {
        current: true,
        agreed: true,
        muted: false,
    };

    #[test]
    fn a_current_agreed_unmuted_member_posts() {
        assert!(may_post(Some(OK)).is_ok());
    }

    #[test]
    fn refusals_in_their_order_membership_then_agreement_then_mute() {
        let verdict = |s| format!("{:?}", may_post(s));
        assert_eq!(verdict(None), "Err(NotMember)");
        let everything_wrong = SenderStanding {
            current: false,
            agreed: false,
            muted: true,
        };
        assert_eq!(verdict(Some(everything_wrong)), "Err(NotMember)");
        let not_agreed_and_muted = SenderStanding {
            agreed: false,
            muted: true,
            ..OK
        };
        assert_eq!(
            verdict(Some(not_agreed_and_muted)),
            "Err(AgreementRequired)"
        );
        let muted = SenderStanding { muted: true, ..OK };
        assert_eq!(verdict(Some(muted)), "Err(Muted)");
    }
}
