use super::*;
use crate::ids::{ConversationId, MemberId, RelationshipId};
use crate::protocol::vocabulary::Origin;
use crate::store::RelationshipParty;

fn account(name: &str) -> AccountId {
    AccountId::from_stored(format!("test:{name}"))
}

fn party(name: &str, role: PartyRole, response: Response) -> RelationshipParty {
    RelationshipParty {
        account: account(name),
        member: MemberId::from_stored(format!("m_{name}")),
        display_name: name.into(),
        role,
        pseudonymous: false,
        response,
        account_name: name.into(),
        note: None,
    }
}

/// A mentee's request to one mentor (or two: a triad), waiting for the mentors.
fn request(mentors: &[&str]) -> RelationshipRecord {
    let mut parties = vec![party("mentee", PartyRole::Mentee, Response::Accepted)];
    for mentor in mentors {
        parties.push(party(mentor, PartyRole::Mentor, Response::Pending));
    }
    RelationshipRecord {
        id: RelationshipId::from_stored("r_1".into()),
        conversation: ConversationId::from_stored("c_1".into()),
        origin: Origin::Requested,
        state: RelationshipState::Pending,
        version: 3,
        created_by: account("mentee"),
        coordinator: None,
        introduction: None,
        parties,
        first_conversation: false,
        created_at: 10,
        updated_at: 10,
        ended_at: None,
    }
}

fn in_state(state: RelationshipState) -> RelationshipRecord {
    let mut record = request(&["mentor"]);
    record.state = state;
    if state != RelationshipState::Pending {
        record.parties[1].response = Response::Accepted;
    }
    record
}

fn respond(name: &str, accept: bool) -> Command {
    Command::Respond {
        account: account(name),
        accept,
        pseudonym: false,
    }
}

fn places(mentor: &str, capacity: u64, active: u64) -> Places {
    Places {
        mentor: account(mentor),
        capacity,
        active,
    }
}

fn code(result: Result<Change, Refusal>) -> ErrorCode {
    result.expect_err("refused").code
}

#[test]
fn the_last_acceptance_opens_the_relationship_with_a_timeline_event() {
    let change = apply(&request(&["mentor"]), &respond("mentor", true), &[]).unwrap();
    assert_eq!(change.state, RelationshipState::Active);
    assert_eq!(change.answer, Some((account("mentor"), Response::Accepted)));
    assert_eq!(
        change.events,
        vec![SystemKind::RelationshipActive {
            relationship: RelationshipId::from_stored("r_1".into())
        }]
    );
    assert!(!change.ended);
}

#[test]
fn in_a_triad_one_acceptance_waits_for_the_other_mentor() {
    let mut record = request(&["a", "b"]);
    let first = apply(&record, &respond("a", true), &[]).unwrap();
    assert_eq!(first.state, RelationshipState::Pending);
    assert!(first.events.is_empty());
    record.parties[1].response = Response::Accepted;
    let second = apply(&record, &respond("b", true), &[]).unwrap();
    assert_eq!(second.state, RelationshipState::Active);
}

#[test]
fn one_decline_declines_the_relationship_at_once() {
    let change = apply(&request(&["a", "b"]), &respond("b", false), &[]).unwrap();
    assert_eq!(change.state, RelationshipState::Declined);
    assert_eq!(change.answer, Some((account("b"), Response::Declined)));
    assert!(change.events.is_empty());
}

#[test]
fn a_mentor_at_capacity_cannot_make_it_active() {
    let record = request(&["mentor"]);
    let full = apply(&record, &respond("mentor", true), &[places("mentor", 2, 2)]);
    assert_eq!(code(full), ErrorCode::CapacityReached);
    let free = apply(&record, &respond("mentor", true), &[places("mentor", 2, 1)]);
    assert_eq!(free.unwrap().state, RelationshipState::Active);
    // Capacity is a mentor's: the mentee's standing is never checked.
    let other = apply(&record, &respond("mentor", true), &[places("mentee", 0, 5)]);
    assert_eq!(other.unwrap().state, RelationshipState::Active);
}

#[test]
fn capacity_matters_only_when_the_answer_would_open_it() {
    let record = request(&["a", "b"]);
    let full = [places("a", 1, 1), places("b", 1, 1)];
    let waiting = apply(&record, &respond("a", true), &full).unwrap();
    assert_eq!(waiting.state, RelationshipState::Pending);
    let declined = apply(&record, &respond("a", false), &full).unwrap();
    assert_eq!(declined.state, RelationshipState::Declined);
    // The mentee accepting an offer fills the mentor's place: checked too.
    let mut offer = request(&["mentor"]);
    offer.origin = Origin::Offered;
    offer.created_by = account("mentor");
    offer.parties[0].response = Response::Pending;
    offer.parties[1].response = Response::Accepted;
    let refused = apply(&offer, &respond("mentee", true), &[places("mentor", 1, 1)]);
    assert_eq!(code(refused), ErrorCode::CapacityReached);
}

#[test]
fn only_a_party_waiting_to_answer_may_answer() {
    let record = request(&["mentor"]);
    let stranger = apply(&record, &respond("stranger", true), &[]);
    assert_eq!(code(stranger), ErrorCode::NotFound, "existence never leaks");
    let initiator = apply(&record, &respond("mentee", false), &[]);
    assert_eq!(code(initiator), ErrorCode::Conflict, "already accepted");
    for state in [
        RelationshipState::Active,
        RelationshipState::Declined,
        RelationshipState::Ended,
        RelationshipState::Withdrawn,
    ] {
        let mut record = request(&["mentor"]);
        record.state = state;
        let late = apply(&record, &respond("mentor", true), &[]);
        assert_eq!(code(late), ErrorCode::Conflict, "{state}");
    }
}

#[test]
fn only_the_mentee_chooses_a_pseudonym() {
    let mut offer = request(&["mentor"]);
    offer.parties[0].response = Response::Pending;
    offer.parties[1].response = Response::Accepted;
    let mentee = Command::Respond {
        account: account("mentee"),
        accept: true,
        pseudonym: true,
    };
    assert!(apply(&offer, &mentee, &[]).is_ok());
    let mentor = Command::Respond {
        account: account("mentor"),
        accept: true,
        pseudonym: true,
    };
    let refused = apply(&request(&["mentor"]), &mentor, &[]);
    assert_eq!(code(refused), ErrorCode::InvalidFrame);
}

#[test]
fn only_the_initiator_withdraws_and_only_while_pending() {
    let record = request(&["mentor"]);
    let withdraw = |name: &str| Command::Withdraw {
        account: account(name),
    };
    let change = apply(&record, &withdraw("mentee"), &[]).unwrap();
    assert_eq!(change.state, RelationshipState::Withdrawn);
    assert!(change.answer.is_none() && change.events.is_empty() && !change.ended);
    assert_eq!(
        code(apply(&record, &withdraw("mentor"), &[])),
        ErrorCode::NotFound,
        "the other party cannot withdraw it"
    );
    for state in [
        RelationshipState::Active,
        RelationshipState::Declined,
        RelationshipState::Ended,
        RelationshipState::Withdrawn,
    ] {
        let refused = apply(&in_state(state), &withdraw("mentee"), &[]);
        assert_eq!(code(refused), ErrorCode::Conflict, "{state}");
    }
}

#[test]
fn any_party_ends_an_active_relationship_and_only_that() {
    let end = |name: &str| Command::End {
        account: account(name),
    };
    for name in ["mentee", "mentor"] {
        let change = apply(&in_state(RelationshipState::Active), &end(name), &[]).unwrap();
        assert_eq!(change.state, RelationshipState::Ended);
        assert!(change.ended);
        assert_eq!(
            change.events,
            vec![SystemKind::RelationshipEnded {
                relationship: RelationshipId::from_stored("r_1".into())
            }]
        );
    }
    let stranger = apply(&in_state(RelationshipState::Active), &end("stranger"), &[]);
    assert_eq!(code(stranger), ErrorCode::NotFound);
    for state in [
        RelationshipState::Pending,
        RelationshipState::Declined,
        RelationshipState::Ended,
        RelationshipState::Withdrawn,
    ] {
        let refused = apply(&in_state(state), &end("mentor"), &[]);
        assert_eq!(code(refused), ErrorCode::Conflict, "{state}");
    }
}

#[test]
fn every_state_has_its_conversation_state() {
    use ConversationState as C;
    use RelationshipState as R;
    let expected = [
        (R::Pending, C::Pending),
        (R::Active, C::Active),
        (R::Declined, C::Closed),
        (R::Ended, C::ReadOnly),
        (R::Withdrawn, C::Closed),
    ];
    assert_eq!(expected.len(), R::ALL.len());
    for (relationship, conversation) in expected {
        assert_eq!(conversation_state(relationship), conversation);
    }
}

fn request_of(command: Command) -> Request {
    Request {
        command,
        capacities: vec![(account("mentor"), 1)],
        rename: Some(("Owl".into(), true)),
        note: Some(Sealed {
            key_id: 1,
            nonce: vec![0; 24],
            ciphertext: b"note".to_vec(),
        }),
        now: 99,
    }
}

#[test]
fn the_write_carries_the_version_read_and_only_what_changed() {
    let record = request(&["mentor"]);
    let write = request_of(respond("mentor", true))
        .decide(&record, &[(account("mentor"), 0)])
        .unwrap();
    assert_eq!(write.version, 3, "compare-and-set on the version read");
    assert_eq!(write.state, RelationshipState::Active);
    assert_eq!(write.conversation, Some(ConversationState::Active));
    assert_eq!(write.updated_at, 99);
    assert_eq!(write.ended_at, None);
    assert_eq!(
        write.rename,
        Some((account("mentor"), "Owl".into(), true)),
        "a name chosen on accepting"
    );
    assert!(write.note.is_none(), "a note only with an ending");
    assert_eq!(
        write.events,
        vec![r#"{"kind":"relationship_active","relationship":"r_1"}"#.to_owned()]
    );

    let full = request_of(respond("mentor", true)).decide(&record, &[(account("mentor"), 1)]);
    assert!(
        matches!(full, Err(WriteError::Refused(ref r)) if r.code == ErrorCode::CapacityReached),
        "active mentees counted in the transaction: {full:?}"
    );

    let triad = request(&["mentor", "b"]);
    let waiting = request_of(respond("mentor", true))
        .decide(&triad, &[])
        .unwrap();
    assert_eq!(waiting.state, RelationshipState::Pending);
    assert_eq!(waiting.conversation, None, "the conversation stays pending");
    assert_eq!(waiting.updated_at, 10, "no state change, no new time");

    let declined = request_of(respond("mentor", false))
        .decide(&record, &[])
        .unwrap();
    assert!(declined.rename.is_none(), "a name only with an acceptance");
    assert_eq!(declined.conversation, Some(ConversationState::Closed));

    let ended = request_of(Command::End {
        account: account("mentee"),
    })
    .decide(&in_state(RelationshipState::Active), &[])
    .unwrap();
    assert_eq!(ended.ended_at, Some(99));
    assert_eq!(ended.conversation, Some(ConversationState::ReadOnly));
    assert_eq!(ended.note.map(|(who, _)| who), Some(account("mentee")));
    assert!(ended.rename.is_none());
}
