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
        media: Media::Video,
        receive_limit: None,
    }
}

fn invitee(name: &str, answer: Answer) -> Invitee {
    Invitee {
        member: member(name),
        account: account(name),
        answer,
        relay_only: false,
        silenced: false,
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
    // The busy member was never rung: the call's end is not theirs to hear.
    assert_eq!(
        events(&step).last(),
        Some(&(&Target::EveryoneExcept(vec![member("a")]), "ended"))
    );
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

#[test]
fn a_member_who_was_busy_is_not_told_the_call_ended() {
    let (_, step) = start(vec![invitee("busy", Answer::Busy)]);
    assert_eq!(step.ended, Some(Reason::UserBusy));
    assert_eq!(
        events(&step).last(),
        Some(&(&Target::EveryoneExcept(vec![member("busy")]), "ended"))
    );
}

#[test]
fn audio_only_joiner_is_announced_with_its_media_and_listed_in_the_view() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    let joiner = Participant {
        media: Media::Video.for_participant(Some(Media::Audio)),
        ..participant("a", 2)
    };
    let step = call.join(joiner, true, 6).unwrap();
    let announced = step
        .deliveries
        .iter()
        .find_map(|d| match &d.event {
            CallEvent::ParticipantJoined { media, .. } => Some(*media),
            _ => None,
        })
        .expect("participant_joined");
    assert_eq!(announced, Media::Audio);
    let (audio_only, limits) = call.video_caps();
    assert_eq!(audio_only, vec![member("a")]);
    assert!(limits.is_empty());
    // Audio only is about sending: she still receives video until she asks for less.
    assert_eq!(call.participants[1].video_cap(), None);
    call.limit_receive(&device(2), VideoCap::parse(Some(300)).unwrap())
        .unwrap()
        .expect("a new limit is told to the others");
    assert_eq!(call.participants[1].video_cap(), Some(300));
}

#[test]
fn receive_limit_is_told_to_the_others_kept_and_validated() {
    let (mut call, _) = start(vec![invitee("a", Answer::Ringing)]);
    call.join(participant("a", 2), true, 6).unwrap();
    let step = call
        .limit_receive(&device(2), VideoCap::parse(Some(150)).unwrap())
        .unwrap()
        .expect("a change");
    assert_eq!(
        events(&step),
        vec![(&Target::Device(device(1)), "receive_limit")]
    );
    assert!(
        call.limit_receive(&device(2), VideoCap::parse(Some(150)).unwrap())
            .unwrap()
            .is_none(),
        "the same cap again changes nothing"
    );
    assert_eq!(
        call.video_caps().1,
        vec![ReceiveLimit {
            member: member("a"),
            max_video_kbps: 150
        }]
    );
    let lifted = call
        .limit_receive(&device(2), VideoCap::parse(None).unwrap())
        .unwrap()
        .expect("a change");
    assert!(matches!(
        lifted.deliveries[0].event,
        CallEvent::ReceiveLimit {
            max_video_kbps: None,
            ..
        }
    ));
    assert_eq!(
        call.limit_receive(&device(9), VideoCap::parse(Some(0)).unwrap())
            .unwrap_err()
            .code,
        ErrorCode::CallState,
        "a connection not in the call"
    );
    for bad in [1, MIN_VIDEO_KBPS - 1, MAX_VIDEO_KBPS + 1, u32::MAX] {
        assert_eq!(
            VideoCap::parse(Some(bad)).unwrap_err().code,
            ErrorCode::InvalidFrame
        );
    }
    assert!(VideoCap::parse(Some(0)).is_ok());
    assert!(VideoCap::parse(Some(MAX_VIDEO_KBPS)).is_ok());
}

#[test]
fn media_never_exceeds_the_call() {
    assert_eq!(
        Media::Audio.for_participant(Some(Media::Video)),
        Media::Audio
    );
    assert_eq!(Media::Video.for_participant(None), Media::Video);
    assert_eq!(
        Media::Video.for_participant(Some(Media::Audio)),
        Media::Audio
    );
}

#[test]
fn a_silenced_invitee_is_never_rung_and_the_call_rings_out_for_the_caller() {
    let mut blocker = invitee("a", Answer::Ringing);
    blocker.silenced = true;
    let (mut call, step) = start(vec![blocker]);
    assert!(step.ended.is_none(), "the caller hears it ring");
    assert!(
        events(&step).is_empty(),
        "nobody is rung: {:?}",
        events(&step)
    );
    assert_eq!(call.members_with(Answer::Ringing), vec![member("a")]);
    assert!(call.invitee(&account("a")).is_none());
    assert!(call.decline(&account("a"), Reason::UserDeclined).is_err());
    let step = call.ring_timeout().expect("it rang");
    assert_eq!(step.ended, Some(Reason::InviteTimeout));
    assert_eq!(events(&step), vec![(&Target::Everyone, "ended")]);
    assert_eq!(call.silenced(), vec![member("a")]);
}
