use super::*;

fn account(name: &str) -> AccountId {
    AccountId::parse(name).unwrap()
}

fn member(name: &str) -> MemberId {
    MemberId::from_stored(format!("m_{name}"))
}

fn device(conn: u64) -> Device {
    Device {
        node: "n1".into(),
        conn,
    }
}

fn participant(name: &str, conn: u64) -> Participant {
    Participant {
        member: member(name),
        account: account(name),
        device: device(conn),
        relay_only: false,
        avoid: vec![],
        joined_at: 1_000,
        lost_at: None,
    }
}

fn invitee(name: &str, answer: Answer) -> Invitee {
    Invitee {
        member: member(name),
        account: account(name),
        answer,
        relay_only: false,
    }
}

fn start(invitees: Vec<Invitee>) -> (CallState, Step) {
    CallState::start(
        CallId::from_stored("k_1".into()),
        ConversationId::from_stored("c_1".into()),
        Media::Video,
        participant("caller", 1),
        invitees,
        60_000,
    )
}

fn events(step: &Step) -> Vec<(&Target, &'static str)> {
    step.deliveries
        .iter()
        .map(|d| (&d.to, d.event.name()))
        .collect()
}

#[test]
fn start_rings_every_invitee_and_reports_busy_ones_to_the_caller() {
    let (call, step) = start(vec![
        invitee("a", Answer::Ringing),
        invitee("b", Answer::Busy),
    ]);
    assert_eq!(
        events(&step),
        vec![
            (&Target::Members(vec![member("a")]), "ringing"),
            (&Target::Device(device(1)), "declined"),
        ]
    );
    assert_eq!(step.ended, None);
    assert_eq!(call.participants.len(), 1);
}

#[test]
fn start_with_everyone_busy_ends_user_busy() {
    let (_, step) = start(vec![invitee("a", Answer::Busy)]);
    assert_eq!(step.ended, Some(Reason::UserBusy));
    assert_eq!(events(&step).last(), Some(&(&Target::Everyone, "ended")));
}

#[test]
fn accept_stops_ringing_on_the_members_devices_and_tells_the_caller() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    let step = call.join(participant("a", 2), true, 6).unwrap();
    assert_eq!(
        events(&step),
        vec![
            (&Target::Members(vec![member("a")]), "ring_stopped"),
            (&Target::Device(device(1)), "participant_joined"),
        ]
    );
    assert!(call.answered_at.is_some());
    assert_eq!(call.took_part.len(), 2);
    // A second accept from another device is refused: the first answer wins.
    let refused = call.join(participant("a", 3), true, 6).unwrap_err();
    assert_eq!(refused.code, ErrorCode::CallState);
    // `join` from another device moves the place there.
    let step = call.join(participant("a", 3), false, 6).unwrap();
    assert!(step.rejoined);
    assert_eq!(
        events(&step),
        vec![
            (&Target::Device(device(2)), "left"),
            (&Target::Device(device(1)), "participant_reconnected"),
        ]
    );
    assert_eq!(call.participants.len(), 2);
}

#[test]
fn accept_needs_a_ring_and_join_respects_the_size_limit() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    let refused = call.join(participant("x", 5), true, 6).unwrap_err();
    assert_eq!(refused.code, ErrorCode::CallState);
    call.join(participant("x", 5), false, 6).unwrap();
    let full = call.join(participant("y", 6), false, 2).unwrap_err();
    assert_eq!(full.code, ErrorCode::CallFull);
    assert_eq!(call.participants.len(), 2);
}

#[test]
fn decline_by_everyone_ends_the_call_but_not_while_others_ring() {
    let (mut call, _) = start(vec![
        invitee("a", Answer::Ringing),
        invitee("b", Answer::Ringing),
    ]);
    let step = call.decline(&account("a"), Reason::UserDeclined).unwrap();
    assert_eq!(step.ended, None);
    assert_eq!(
        events(&step),
        vec![
            (&Target::Members(vec![member("a")]), "ring_stopped"),
            (&Target::Device(device(1)), "declined"),
        ]
    );
    assert!(call.decline(&account("a"), Reason::UserDeclined).is_err());
    let step = call.decline(&account("b"), Reason::UserBusy).unwrap();
    assert_eq!(step.ended, Some(Reason::UserDeclined));
}

#[test]
fn busy_decline_ends_user_busy() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    let step = call.decline(&account("a"), Reason::UserBusy).unwrap();
    assert_eq!(step.ended, Some(Reason::UserBusy));
}

#[test]
fn caller_hanging_up_before_an_answer_cancels() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    let step = call
        .leave(&account("caller"), &device(1), Reason::UserHangup)
        .unwrap();
    assert_eq!(step.ended, Some(Reason::UserCancelled));
    assert_eq!(events(&step), vec![(&Target::Everyone, "ended")]);
}

#[test]
fn answered_call_ends_when_the_last_participant_leaves() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    call.join(participant("a", 2), true, 6).unwrap();
    let step = call
        .leave(&account("caller"), &device(1), Reason::UserHangup)
        .unwrap();
    assert_eq!(step.ended, None);
    assert_eq!(
        events(&step),
        vec![(&Target::Device(device(2)), "participant_left")]
    );
    let step = call
        .leave(&account("a"), &device(2), Reason::IceFailed)
        .unwrap();
    assert_eq!(step.ended, Some(Reason::IceFailed));
    assert!(
        call.leave(&account("a"), &device(2), Reason::UserHangup)
            .is_err()
    );
}

#[test]
fn lost_participant_keeps_its_place_until_the_grace_runs_out() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    call.join(participant("a", 2), true, 6).unwrap();
    let step = call.lose(&device(2), 2_000, 30_000).unwrap();
    assert_eq!(step.grace, Some((member("a"), device(2))));
    assert_eq!(
        events(&step),
        vec![(&Target::Device(device(1)), "participant_disconnected")]
    );
    assert!(call.participant_by_device(&device(2)).is_none());
    // Rejoin from a new connection within the grace period.
    let step = call.join(participant("a", 7), false, 6).unwrap();
    assert!(step.rejoined);
    assert_eq!(
        events(&step),
        vec![(&Target::Device(device(1)), "participant_reconnected")]
    );
    assert!(call.expire_grace(&member("a"), &device(2)).is_none());
    // Lost again, and this time the grace runs out.
    call.lose(&device(7), 3_000, 30_000).unwrap();
    let step = call.expire_grace(&member("a"), &device(7)).unwrap();
    assert_eq!(
        events(&step),
        vec![(&Target::Device(device(1)), "participant_left")]
    );
    assert_eq!(call.participants.len(), 1);
}

#[test]
fn ring_timeout_ends_an_unanswered_call_or_only_stops_ringing() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    let step = call.ring_timeout().unwrap();
    assert_eq!(step.ended, Some(Reason::InviteTimeout));

    let (mut call, _) = start(vec![
        invitee("a", Answer::Ringing),
        invitee("b", Answer::Ringing),
    ]);
    call.join(participant("a", 2), true, 6).unwrap();
    let step = call.ring_timeout().unwrap();
    assert_eq!(step.ended, None);
    assert_eq!(
        events(&step),
        vec![(&Target::Members(vec![member("b")]), "ring_stopped")]
    );
    assert!(call.ring_timeout().is_none());
}

#[test]
fn devices_that_lose_their_place_are_reported_gone() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    assert_eq!(call.topology, Topology::Mesh);
    let step = call.join(participant("a", 2), true, 6).unwrap();
    assert!(
        step.gone.is_empty(),
        "a new participant takes nobody's place"
    );
    // The same account joins from another device: the first device's place is gone.
    let step = call.join(participant("a", 3), false, 6).unwrap();
    assert_eq!(step.gone, vec![(member("a"), device(2))]);
    // Leaving frees the current device.
    let step = call
        .leave(&account("a"), &device(3), Reason::UserHangup)
        .unwrap();
    assert_eq!(step.gone, vec![(member("a"), device(3))]);
}

#[test]
fn only_the_carrying_device_leaves_and_only_an_invitee_accepts() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    // The caller was never rung: its own accept is refused, from any device.
    for conn in [1, 9] {
        let refused = call.join(participant("caller", conn), true, 6).unwrap_err();
        assert_eq!(refused.code, ErrorCode::CallState);
    }
    call.join(participant("a", 2), true, 6).unwrap();
    // Another device of "a" (never joined) cannot hang up for it.
    let refused = call
        .leave(&account("a"), &device(5), Reason::UserHangup)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::CallState);
    // Displaced by `join` elsewhere: the old device no longer carries the call.
    call.join(participant("a", 3), false, 6).unwrap();
    let refused = call
        .leave(&account("a"), &device(2), Reason::UserHangup)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::CallState);
    let refused = call.join(participant("a", 2), true, 6).unwrap_err();
    assert_eq!(refused.code, ErrorCode::CallState);
    assert_eq!(call.participants.len(), 2);
    assert!(
        call.leave(&account("a"), &device(3), Reason::UserHangup)
            .is_ok()
    );
    // A server-side removal takes whichever device holds the place.
    let step = call
        .remove_account(&account("caller"), Reason::ConversationClosed)
        .unwrap();
    assert_eq!(step.ended, Some(Reason::ConversationClosed));
}
