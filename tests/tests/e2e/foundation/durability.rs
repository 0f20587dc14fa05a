//! An `ack` means durable: SIGKILL the server process right after an ack, restart it
//! on the same data dir, and the message is there — in history, in a resume, and as the
//! original of a retried client id.

use std::collections::BTreeMap;

use mentorhub_tests::process::spawn_process;
use mentorhub_tests::{Pair, WsClient};
use serde_json::json;

use super::{ack_seq, history, seqs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_durability_sigkill_right_after_an_ack_loses_nothing() {
    let mut server = spawn_process().await;
    let pair = Pair::create(&server.rest, "Hana Sato", "Dr Ike Obi").await;
    let conversation = pair.conversation.as_str();
    let mut hana = WsClient::connect(&server.ws_url, &pair.mentee.token).await;

    // A burst of sends without waiting, then the ack of the last one: kill at once.
    for i in 1..=4 {
        hana.send(
            &json!({"type": "send", "ref": format!("b{i}"), "conversation": conversation,
                          "client_id": format!("burst-{i}"), "body": format!("burst {i}")}),
        )
        .await;
    }
    let last = hana
        .request(
            json!({"type": "send", "ref": "last", "conversation": conversation,
                        "client_id": "the-last-one", "body": "acknowledged, then killed"}),
        )
        .await;
    let last_seq = ack_seq(&last);
    server.sigkill().await;
    assert_eq!(last_seq, 6, "the burst came first: {last}");

    server.restart().await;
    // History over REST (a new process, a new port, the same data dir and secret).
    let page = server
        .rest
        .get(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&pair.mentor.token),
        )
        .await
        .ok();
    let events = page["events"].as_array().unwrap();
    assert_eq!(seqs(events), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(events[5]["body"], "acknowledged, then killed");
    assert_eq!(events[5]["ts"], last["ts"]);
    let bursts: Vec<&serde_json::Value> = events[1..5].iter().map(|e| &e["body"]).collect();
    assert_eq!(bursts, ["burst 1", "burst 2", "burst 3", "burst 4"]);

    // A device resuming from before the burst gets exactly what it missed.
    let cursors = BTreeMap::from([(conversation.to_owned(), 1)]);
    let mut ike =
        WsClient::connect_with_cursors(&server.ws_url, &pair.mentor.token, &cursors).await;
    ike.wait_for_seq(conversation, 6).await;
    assert_eq!(seqs(ike.events()), vec![2, 3, 4, 5, 6]);

    // The sender never saw some acks before the crash: retries answer with the
    // originals and create nothing.
    let mut hana = WsClient::connect(&server.ws_url, &pair.mentee.token).await;
    let retry = hana
        .request(json!({"type": "send", "conversation": conversation,
                        "client_id": "the-last-one", "body": "acknowledged, then killed"}))
        .await;
    assert_eq!(ack_seq(&retry), 6);
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["ts"], last["ts"]);
    let next = hana.say(conversation, "after-restart", "still here").await;
    assert_eq!(
        next, 7,
        "the sequence continues without a gap or a duplicate"
    );
    let (events, _) = history(&mut hana, json!({"conversation": conversation})).await;
    assert_eq!(seqs(&events), (1..=7).collect::<Vec<u64>>());
}
