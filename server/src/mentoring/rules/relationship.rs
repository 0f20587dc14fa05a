//! A relationship's life cycle as pure transitions.
//!
//! - `pending` → every party answers. A decline makes it `declined` at once; the last
//!   acceptance makes it `active`, unless a mentor already has as many active mentees
//!   as their capacity (then nothing changes and the answer is `capacity_reached`).
//! - `pending` → `withdrawn`: only by whoever started it.
//! - `active` → `ended`: by any party, no fault, at any time.
//!
//! Someone who is not a party (for a withdrawal: not the initiator) is told there is
//! no such relationship, so a relationship's existence never leaks. Each state has a
//! conversation state ([`conversation_state`]), and the two changes that open or end
//! the conversation are recorded on its timeline as a [`SystemKind`].

use crate::crypto::Sealed;
use crate::error::Refusal;
use crate::ids::{AccountId, Millis};
use crate::protocol::ErrorCode;
use crate::protocol::system::SystemKind;
use crate::protocol::vocabulary::{ConversationState, PartyRole, RelationshipState, Response};
use crate::store::{RelationshipRecord, RelationshipWrite, WriteError};

/// What someone asks of a relationship.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// A party answers; `pseudonym` when they chose a name to be shown under.
    Respond {
        account: AccountId,
        accept: bool,
        pseudonym: bool,
    },
    /// The initiator takes a pending relationship back.
    Withdraw { account: AccountId },
    /// A party ends an active relationship.
    End { account: AccountId },
}

/// A mentor's standing, read where the change commits: how many mentees they take at
/// most and how many relationships they are active in already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Places {
    pub mentor: AccountId,
    pub capacity: u64,
    pub active: u64,
}

/// What a transition changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub state: RelationshipState,
    /// A party's new answer.
    pub answer: Option<(AccountId, Response)>,
    /// The change ends the relationship (`ended_at` is set).
    pub ended: bool,
    /// What the conversation's timeline records.
    pub events: Vec<SystemKind>,
}

/// The conversation state that goes with a relationship state.
pub fn conversation_state(state: RelationshipState) -> ConversationState {
    match state {
        RelationshipState::Pending => ConversationState::Pending,
        RelationshipState::Active => ConversationState::Active,
        RelationshipState::Ended => ConversationState::ReadOnly,
        RelationshipState::Declined | RelationshipState::Withdrawn => ConversationState::Closed,
    }
}

pub fn no_relationship() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "no such relationship")
}

pub fn capacity_reached() -> Refusal {
    Refusal::new(ErrorCode::CapacityReached, "this mentor has no free place")
}

/// Applies `command` to the relationship as stored. `places` are the mentors' standings;
/// a mentor without one is not checked for capacity.
pub fn apply(
    current: &RelationshipRecord,
    command: &Command,
    places: &[Places],
) -> Result<Change, Refusal> {
    match command {
        Command::Respond {
            account,
            accept,
            pseudonym,
        } => respond(current, account, *accept, *pseudonym, places),
        Command::Withdraw { account } => {
            if &current.created_by != account {
                return Err(no_relationship());
            }
            if current.state != RelationshipState::Pending {
                return Err(Refusal::conflict(
                    "only a pending relationship can be withdrawn",
                ));
            }
            Ok(Change::to(RelationshipState::Withdrawn))
        }
        Command::End { account } => {
            if !current.parties.iter().any(|p| &p.account == account) {
                return Err(no_relationship());
            }
            if current.state != RelationshipState::Active {
                return Err(Refusal::conflict(
                    "only an active relationship can be ended",
                ));
            }
            Ok(Change {
                ended: true,
                events: vec![SystemKind::RelationshipEnded {
                    relationship: current.id.clone(),
                }],
                ..Change::to(RelationshipState::Ended)
            })
        }
    }
}

fn respond(
    current: &RelationshipRecord,
    account: &AccountId,
    accept: bool,
    pseudonym: bool,
    places: &[Places],
) -> Result<Change, Refusal> {
    let party = current
        .parties
        .iter()
        .find(|p| &p.account == account)
        .ok_or_else(no_relationship)?;
    if current.state != RelationshipState::Pending || party.response != Response::Pending {
        return Err(Refusal::conflict(
            "this relationship is not awaiting your answer",
        ));
    }
    if pseudonym && party.role != PartyRole::Mentee {
        return Err(Refusal::invalid("only the mentee chooses a pseudonym"));
    }
    let answer = Some((
        account.clone(),
        if accept {
            Response::Accepted
        } else {
            Response::Declined
        },
    ));
    if !accept {
        return Ok(Change {
            answer,
            ..Change::to(RelationshipState::Declined)
        });
    }
    let everyone = current
        .parties
        .iter()
        .all(|p| &p.account == account || p.response == Response::Accepted);
    if !everyone {
        return Ok(Change {
            answer,
            ..Change::to(RelationshipState::Pending)
        });
    }
    let mentors = current
        .parties
        .iter()
        .filter(|p| p.role == PartyRole::Mentor);
    for mentor in mentors {
        let full = places
            .iter()
            .find(|p| p.mentor == mentor.account)
            .is_some_and(|p| p.active >= p.capacity);
        if full {
            return Err(capacity_reached());
        }
    }
    Ok(Change {
        answer,
        events: vec![SystemKind::RelationshipActive {
            relationship: current.id.clone(),
        }],
        ..Change::to(RelationshipState::Active)
    })
}

impl Change {
    fn to(state: RelationshipState) -> Change {
        Change {
            state,
            answer: None,
            ended: false,
            events: Vec::new(),
        }
    }
}

/// One change as the store asks for it: the command with what it carries to write.
#[derive(Clone, Debug)]
pub struct Request {
    pub command: Command,
    /// Each mentor's capacity (read before the transaction: a mentor's own setting).
    pub capacities: Vec<(AccountId, u64)>,
    /// With an acceptance: the name (and whether it is a pseudonym) to be shown under.
    pub rename: Option<(String, bool)>,
    /// With an ending: the ender's private note, sealed.
    pub note: Option<Sealed>,
    pub now: Millis,
}

impl Request {
    /// A command that carries nothing else to write.
    pub fn new(command: Command, now: Millis) -> Request {
        Request {
            command,
            capacities: Vec::new(),
            rename: None,
            note: None,
            now,
        }
    }

    /// What to write for the relationship as read inside the store's transaction, with
    /// each mentor's active relationships counted there.
    pub fn decide(
        &self,
        current: &RelationshipRecord,
        active: &[(AccountId, u64)],
    ) -> Result<RelationshipWrite, WriteError> {
        let places: Vec<Places> = self
            .capacities
            .iter()
            .map(|(mentor, capacity)| Places {
                mentor: mentor.clone(),
                capacity: *capacity,
                active: active
                    .iter()
                    .find(|(a, _)| a == mentor)
                    .map_or(0, |(_, n)| *n),
            })
            .collect();
        let change = apply(current, &self.command, &places).map_err(WriteError::Refused)?;
        let moved = change.state != current.state;
        let actor = match &self.command {
            Command::Respond { account, .. }
            | Command::Withdraw { account }
            | Command::End { account } => account,
        };
        let accepted = matches!(change.answer, Some((_, Response::Accepted)));
        Ok(RelationshipWrite {
            version: current.version,
            state: change.state,
            updated_at: if moved { self.now } else { current.updated_at },
            ended_at: if change.ended {
                Some(self.now)
            } else {
                current.ended_at
            },
            conversation: moved.then(|| conversation_state(change.state)),
            answer: change.answer,
            rename: self
                .rename
                .clone()
                .filter(|_| accepted)
                .map(|(name, pseudonymous)| (actor.clone(), name, pseudonymous)),
            note: self
                .note
                .clone()
                .filter(|_| change.ended)
                .map(|note| (actor.clone(), note)),
            events: change.events.iter().map(SystemKind::to_meta).collect(),
            now: self.now,
        })
    }
}

#[cfg(test)]
#[path = "relationship_tests.rs"]
mod tests;
