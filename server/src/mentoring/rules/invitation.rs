//! Invitations to a room: one pending invitation per account and room (a second is
//! not written and not refused, so the answer never says one was pending), and a cap
//! on a room's live invite codes.

use super::caps;
use crate::store::{InviteAtCreate, InviteDecision, WriteError};

/// Whether an invitation is written, from what the room already has.
pub fn create(at: &InviteAtCreate, max_live_codes: u32) -> Result<InviteDecision, WriteError> {
    match *at {
        InviteAtCreate::Account { pending: true } => Ok(InviteDecision::AlreadyPending),
        InviteAtCreate::Account { pending: false } => Ok(InviteDecision::Write),
        InviteAtCreate::Code { live } => {
            caps::one_more(live, max_live_codes).map(|()| InviteDecision::Write)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_pending_invitation_is_skipped_not_refused() {
        let pending = InviteAtCreate::Account { pending: true };
        assert_eq!(create(&pending, 0).unwrap(), InviteDecision::AlreadyPending);
        let fresh = InviteAtCreate::Account { pending: false };
        assert_eq!(
            create(&fresh, 0).unwrap(),
            InviteDecision::Write,
            "the code cap does not apply to invitations of one account"
        );
    }

    #[test]
    fn codes_are_capped_per_room() {
        let below = InviteAtCreate::Code { live: 9 };
        assert_eq!(create(&below, 10).unwrap(), InviteDecision::Write);
        let at = InviteAtCreate::Code { live: 10 };
        assert!(matches!(create(&at, 10), Err(WriteError::LimitReached)));
    }
}
