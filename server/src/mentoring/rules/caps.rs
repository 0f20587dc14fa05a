//! Caps on counts: a mentor's waiting requests, a creator's open rooms, a room's live
//! invite codes. The store counts inside the committing transaction, under the
//! owner's row lock; the comparison is here, so every cap means the same thing.

use crate::store::WriteError;

/// One more fits while fewer than `max` are there; at `max` it is `LimitReached`.
pub fn one_more(count: u64, max: u32) -> Result<(), WriteError> {
    if count >= u64::from(max) {
        Err(WriteError::LimitReached)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_more_fits_below_the_cap_and_none_at_or_over_it() {
        assert!(one_more(0, 1).is_ok());
        assert!(one_more(19, 20).is_ok());
        for (count, max) in [(20, 20), (21, 20), (0, 0), (u64::MAX, u32::MAX)] {
            assert!(
                matches!(one_more(count, max), Err(WriteError::LimitReached)),
                "{count} of {max}"
            );
        }
    }
}
