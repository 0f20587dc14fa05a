//! Edit and delete one's own messages: live events, history shapes, refusals, and the
//! files afterwards — a deleted message's ciphertext and an edited message's earlier
//! ciphertext are gone from the SQLite files, and no plaintext was ever there.

use std::time::Duration;

use mentorhub_tests::disk::{contains, sqlite_bytes, stored_ciphertext};
use mentorhub_tests::process::spawn_process;
use mentorhub_tests::{Pair, WsClient};
use rand::Rng;
use serde_json::json;

use super::{ack_seq, assert_error, history};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::rng().random::<u64>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_edit_and_delete_remove_old_bodies_from_the_database_files() {
    let mut server = spawn_process().await;
    let pair = Pair::create(&server.rest, "Lucia Fernandez", "Dr Tom Reed").await;
    let conversation = pair.conversation.as_str();
    let mut lucia = WsClient::connect(&server.ws_url, &pair.mentee.token).await;
    let mut tom = WsClient::connect(&server.ws_url, &pair.mentor.token).await;

    let kept_body = unique("kept message");
    let doomed_body = unique("doomed message");
    let draft_body = unique("first draft");
    let final_body = unique("second draft");
    let kept = lucia.say(conversation, "l-1", &kept_body).await;
    let doomed = lucia.say(conversation, "l-2", &doomed_body).await;
    let draft = lucia.say(conversation, "l-3", &draft_body).await;
    let kept_cipher = stored_ciphertext(&server.data_dir, conversation, kept)
        .await
        .expect("a stored body");
    let doomed_cipher = stored_ciphertext(&server.data_dir, conversation, doomed)
        .await
        .expect("a stored body");
    let draft_cipher = stored_ciphertext(&server.data_dir, conversation, draft)
        .await
        .expect("a stored body");
    assert!(
        !contains(&kept_cipher, kept_body.as_bytes()),
        "bodies are encrypted at rest"
    );

    // Only one's own messages can be changed.
    let refused = tom
        .request(
            json!({"type": "edit", "conversation": conversation, "seq": draft,
                        "body": "Tom was here"}),
        )
        .await;
    assert_error(&refused, "not_own_message");
    let refused = tom
        .request(json!({"type": "delete", "conversation": conversation, "seq": doomed}))
        .await;
    assert_error(&refused, "not_own_message");
    let refused = lucia
        .request(
            json!({"type": "edit", "conversation": conversation, "seq": draft,
                        "body": "   "}),
        )
        .await;
    assert_error(&refused, "body_invalid");

    // Edit: a timeline event of its own; live it carries the new body.
    let edit = lucia
        .request(
            json!({"type": "edit", "conversation": conversation, "seq": draft,
                        "body": final_body}),
        )
        .await;
    let edit_seq = ack_seq(&edit);
    assert_eq!(edit_seq, draft + 1);
    assert!(edit.get("client_id").is_none(), "{edit}");
    let edited = tom
        .next_matching("message_edited", |f| f["type"] == "message_edited")
        .await;
    assert_eq!(edited["seq"], edit_seq);
    assert_eq!(edited["target"], draft);
    assert_eq!(edited["body"], final_body.as_str());

    // Delete: a tombstone stays, the body is gone; twice is `not_found`.
    let delete = lucia
        .request(json!({"type": "delete", "conversation": conversation, "seq": doomed}))
        .await;
    let delete_seq = ack_seq(&delete);
    let deleted = tom
        .next_matching("message_deleted", |f| f["type"] == "message_deleted")
        .await;
    assert_eq!(
        (deleted["seq"].clone(), deleted["target"].clone()),
        (json!(delete_seq), json!(doomed))
    );
    assert!(deleted.get("body").is_none(), "{deleted}");
    let again = lucia
        .request(json!({"type": "delete", "conversation": conversation, "seq": doomed}))
        .await;
    assert_error(&again, "not_found");
    let edit_deleted = lucia
        .request(
            json!({"type": "edit", "conversation": conversation, "seq": doomed,
                        "body": "resurrected"}),
        )
        .await;
    assert_error(&edit_deleted, "not_found");

    // History shows the current text, the tombstone, and body-less edit/delete events.
    let (events, _) = history(&mut tom, json!({"conversation": conversation})).await;
    let by_seq = |seq: u64| {
        events
            .iter()
            .find(|e| e["seq"] == seq)
            .unwrap_or_else(|| panic!("seq {seq} missing from {events:?}"))
            .clone()
    };
    assert_eq!(by_seq(kept)["body"], kept_body.as_str());
    let tombstone = by_seq(doomed);
    assert_eq!(tombstone["deleted"], true);
    assert!(tombstone.get("body").is_none(), "{tombstone}");
    let current = by_seq(draft);
    assert_eq!(current["body"], final_body.as_str());
    assert!(current["edited_at"].as_u64().is_some(), "{current}");
    let edit_event = by_seq(edit_seq);
    assert_eq!(edit_event["type"], "message_edited");
    assert_eq!(edit_event["body"], final_body.as_str(), "the current text");
    assert_eq!(by_seq(delete_seq)["type"], "message_deleted");
    assert_eq!(
        stored_ciphertext(&server.data_dir, conversation, doomed).await,
        None,
        "the deleted message's body column is cleared"
    );

    // Stop the server the normal way (it checkpoints the write-ahead log), then look at
    // every byte of the database files.
    lucia.close().await;
    tom.close().await;
    server.sigterm();
    server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the server stops on SIGTERM");
    let files = sqlite_bytes(&server.data_dir);
    assert!(
        contains(&files, &kept_cipher),
        "control: a live message's ciphertext is found in the files"
    );
    assert!(
        !contains(&files, &doomed_cipher),
        "the deleted message's ciphertext is still in the database files"
    );
    assert!(
        !contains(&files, &draft_cipher),
        "the edited message's earlier ciphertext is still in the database files"
    );
    for plaintext in [&kept_body, &doomed_body, &draft_body, &final_body] {
        assert!(
            !contains(&files, plaintext.as_bytes()),
            "a message body is stored in plaintext"
        );
    }
    // The restarted server still serves the edited message and the tombstone.
    server.restart().await;
    let page = server
        .rest
        .get(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&pair.mentor.token),
        )
        .await
        .ok();
    let events = page["events"].as_array().unwrap();
    let current = events.iter().find(|e| e["seq"] == draft).unwrap();
    assert_eq!(current["body"], final_body.as_str());
    let tombstone = events.iter().find(|e| e["seq"] == doomed).unwrap();
    assert_eq!(tombstone["deleted"], true);
}
