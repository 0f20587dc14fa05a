use std::collections::HashMap;

use super::*;
use crate::crypto::Sealed;
use crate::ids::{ConversationId, MemberId};
use crate::store::SenderStanding;

fn message(conversation: &str, sender: &str, client_id: Option<&str>) -> AppendRequest {
    AppendRequest {
        conversation: ConversationId::from_stored(conversation.into()),
        sender: Some(MemberId::from_stored(sender.into())),
        client_id: client_id.map(Into::into),
        kind: AppendKind::Message {
            body: Sealed {
                key_id: 1,
                nonce: vec![0; 12],
                ciphertext: vec![1; 20],
            },
            thread: None,
        },
        now: 7,
    }
}

const OK: SenderStanding = SenderStanding {
    current: true,
    agreed: true,
    muted: false,
};

/// The test's own posting rule (the domain's lives in the domain): the plan must
/// carry out whatever verdict the rule gives.
fn rule(standing: Option<SenderStanding>) -> Result<(), WriteError> {
    match standing {
        Some(s) if s.current && s.agreed && !s.muted => Ok(()),
        Some(s) if s.current && s.agreed => Err(WriteError::Muted),
        Some(s) if s.current => Err(WriteError::AgreementRequired),
        _ => Err(WriteError::NotMember),
    }
}

fn all_ok(n: usize) -> HashMap<usize, SenderStanding> {
    (0..n).map(|i| (i, OK)).collect()
}

fn seqs(outcomes: &[Result<Appended, WriteError>]) -> Vec<Option<(u64, bool)>> {
    outcomes
        .iter()
        .map(|o| o.as_ref().ok().map(|a| (a.seq, a.duplicate)))
        .collect()
}

#[test]
fn seqs_are_gap_free_per_conversation_in_run_order() {
    let (a1, b1, a2) = (
        message("c_a", "m_1", Some("x")),
        message("c_b", "m_2", Some("x")),
        message("c_a", "m_1", Some("y")),
    );
    let run = [&a1, &b1, &a2];
    let plan = Plan::new(&run, &HashMap::new(), &all_ok(3), rule);
    assert_eq!(
        plan.seq_demand(),
        &[("c_a".to_string(), 2), ("c_b".to_string(), 1)]
    );
    let last = HashMap::from([("c_a".to_string(), 12), ("c_b".to_string(), 4)]);
    let (outcomes, rows) = plan.assign(&run, &last);
    assert_eq!(
        seqs(&outcomes),
        vec![Some((11, false)), Some((4, false)), Some((12, false))]
    );
    assert_eq!(rows, vec![(0, 11), (1, 4), (2, 12)]);
}

#[test]
fn committed_and_in_run_duplicates_take_the_original() {
    let (old, new, again) = (
        message("c_a", "m_1", Some("old")),
        message("c_a", "m_1", Some("new")),
        message("c_a", "m_1", Some("new")),
    );
    let run = [&old, &new, &again];
    // A committed duplicate wins even over a refusal (the sender has since left).
    let mut standing = all_ok(3);
    standing.insert(
        0,
        SenderStanding {
            current: false,
            ..OK
        },
    );
    let plan = Plan::new(&run, &HashMap::from([(0, (5, 1))]), &standing, rule);
    assert_eq!(plan.seq_demand(), &[("c_a".to_string(), 1)]);
    let (outcomes, rows) = plan.assign(&run, &HashMap::from([("c_a".to_string(), 6)]));
    assert_eq!(
        seqs(&outcomes),
        vec![Some((5, true)), Some((6, false)), Some((6, true))]
    );
    assert_eq!(rows, vec![(1, 6)]);
}

#[test]
fn refusals_take_no_seq() {
    let msgs: Vec<AppendRequest> = (0..4)
        .map(|i| message("c_a", &format!("m_{i}"), None))
        .collect();
    let run: Vec<&AppendRequest> = msgs.iter().collect();
    let standing = HashMap::from([
        (
            1,
            SenderStanding {
                agreed: false,
                ..OK
            },
        ),
        (2, SenderStanding { muted: true, ..OK }),
        (3, OK),
    ]);
    let plan = Plan::new(&run, &HashMap::new(), &standing, rule);
    assert_eq!(plan.seq_demand(), &[("c_a".to_string(), 1)]);
    let (outcomes, rows) = plan.assign(&run, &HashMap::from([("c_a".to_string(), 1)]));
    assert!(matches!(outcomes[0], Err(WriteError::NotMember)));
    assert!(matches!(outcomes[1], Err(WriteError::AgreementRequired)));
    assert!(matches!(outcomes[2], Err(WriteError::Muted)));
    assert_eq!(seqs(&outcomes)[3], Some((1, false)));
    assert_eq!(rows, vec![(3, 1)]);
}

#[test]
fn an_inactive_conversation_refuses_its_whole_share() {
    let (a, b, a_again) = (
        message("c_a", "m_1", Some("k")),
        message("c_b", "m_2", None),
        message("c_a", "m_1", Some("k")),
    );
    let run = [&a, &b, &a_again];
    let plan = Plan::new(&run, &HashMap::new(), &all_ok(3), rule);
    let (outcomes, rows) = plan.assign(&run, &HashMap::from([("c_b".to_string(), 9)]));
    assert!(matches!(outcomes[0], Err(WriteError::ConversationClosed)));
    assert_eq!(seqs(&outcomes)[1], Some((9, false)));
    assert!(matches!(outcomes[2], Err(WriteError::ConversationClosed)));
    assert_eq!(rows, vec![(1, 9)]);
}
