//! A safeguarding report's life cycle: filed open, closed once by the safeguarding
//! role. Closing a closed report is a conflict (another holder got there first).

use crate::protocol::vocabulary::ReportState;
use crate::store::WriteError;

/// The state a report is filed in.
pub const FILED: ReportState = ReportState::Open;

/// Closing a report in `state`.
pub fn close(state: ReportState) -> Result<ReportState, WriteError> {
    match state {
        ReportState::Open => Ok(ReportState::Closed),
        ReportState::Closed => Err(WriteError::Conflict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filed_report_closes_once() {
        assert_eq!(FILED, ReportState::Open);
        let closed = close(FILED).unwrap();
        assert_eq!(closed, ReportState::Closed);
        assert!(matches!(close(closed), Err(WriteError::Conflict)));
    }

    #[test]
    fn every_state_has_an_answer() {
        for state in ReportState::ALL {
            let _ = close(*state);
        }
    }
}
