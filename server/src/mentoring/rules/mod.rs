//! The mentoring aggregates' rules as pure transitions: each takes an aggregate as
//! stored and a command and returns what changes, or the [`Refusal`](crate::error::Refusal)
//! the caller gets. Nothing here does I/O: the store reads the aggregate inside its
//! transaction, applies the transition and writes the result with a compare-and-set,
//! so a rule holds under concurrency and is unit-tested without a database.

pub mod membership;
pub mod relationship;
