//! Read markers, unread counts (`welcome` and `GET /api/conversations`) and receipts,
//! which other members see only when the reader opted in.

use mentorhub_tests::{Pair, Person, TestApp, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{arrived, summary};

/// `GET /api/conversations` → this conversation's summary for `person`.
async fn listed(app: &TestApp, person: &Person, conversation: &str) -> Value {
    let list = app
        .rest
        .get("/api/conversations", Some(&person.token))
        .await
        .ok();
    summary(&list["conversations"], conversation).clone()
}

async fn read(ws: &mut WsClient, conversation: &str, seq: u64, thread: Option<u64>) {
    let mut frame = json!({"type": "read", "conversation": conversation, "seq": seq});
    if let Some(thread) = thread {
        frame["thread"] = json!(thread);
    }
    let reply = ws.request(frame).await;
    assert_eq!(reply["type"], "ok", "read refused: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_unread_counts_follow_read_markers() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Nia Owusu", "Dr Jan Novak").await;
    let conversation = pair.conversation.as_str();
    let mut jan = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut nia = WsClient::connect(&app.ws_url, &pair.mentee.token).await;

    jan.say(conversation, "j-1", "one").await; // 2
    let removed = jan.say(conversation, "j-2", "two").await; // 3
    jan.say(conversation, "j-3", "three").await; // 4
    let root = nia.say(conversation, "n-1", "a question").await; // 5
    for (id, body) in [("j-4", "answer"), ("j-5", "more")] {
        let reply = jan
            .request(
                json!({"type": "send", "conversation": conversation, "client_id": id,
                            "body": body, "thread": root}),
            )
            .await;
        super::ack_seq(&reply); // 6, 7
    }
    let deleted = jan
        .request(json!({"type": "delete", "conversation": conversation, "seq": removed}))
        .await;
    assert_eq!(super::ack_seq(&deleted), 8);

    // A fresh session's welcome: others' top-level messages (not deleted, not replies),
    // and per thread the others' replies.
    let nia2 = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let welcome = nia2.welcome.clone().unwrap();
    let mine = summary(&welcome["conversations"], conversation);
    assert_eq!(mine["last_seq"], 8);
    assert_eq!(mine["read_seq"], 0);
    assert_eq!(mine["unread"], 2, "{mine}");
    assert_eq!(
        mine["thread_unread"],
        json!({root.to_string(): 2}),
        "{mine}"
    );
    let theirs = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let theirs = summary(
        &theirs.welcome.as_ref().unwrap()["conversations"],
        conversation,
    )
    .clone();
    assert_eq!(
        theirs["unread"], 1,
        "the mentee's root is unread for the mentor"
    );
    assert!(
        theirs.get("thread_unread").is_none(),
        "own replies: {theirs}"
    );
    // REST says the same.
    let rest = listed(&app, &pair.mentee, conversation).await;
    assert_eq!(
        (rest["unread"].clone(), rest["thread_unread"].clone()),
        (json!(2), json!({root.to_string(): 2}))
    );

    // Markers move forward only, never past the last event.
    read(&mut nia, conversation, 4, None).await;
    let now = listed(&app, &pair.mentee, conversation).await;
    assert_eq!(
        (now["read_seq"].clone(), now["unread"].clone()),
        (json!(4), json!(0))
    );
    read(&mut nia, conversation, 2, None).await;
    assert_eq!(
        listed(&app, &pair.mentee, conversation).await["read_seq"],
        4
    );
    read(&mut nia, conversation, 999, None).await;
    let now = listed(&app, &pair.mentee, conversation).await;
    assert_eq!(
        now["read_seq"], 4,
        "a marker cannot mark future messages: {now}"
    );
    read(&mut nia, conversation, 6, Some(root)).await;
    let now = listed(&app, &pair.mentee, conversation).await;
    assert_eq!(now["thread_unread"], json!({root.to_string(): 1}), "{now}");
    read(&mut nia, conversation, 7, Some(root)).await;
    let now = listed(&app, &pair.mentee, conversation).await;
    assert!(
        now.get("thread_unread").is_none(),
        "all replies read: {now}"
    );

    // New messages count again, also in the next welcome.
    jan.say(conversation, "j-6", "four").await; // 9
    let nia3 = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mine = summary(
        &nia3.welcome.as_ref().unwrap()["conversations"],
        conversation,
    )
    .clone();
    assert_eq!(
        (mine["unread"].clone(), mine["read_seq"].clone()),
        (json!(1), json!(4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_receipts_reach_others_only_when_the_reader_opted_in() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Omar Haddad", "Dr Eva Holm").await;
    let conversation = pair.conversation.as_str();
    let mut omar = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut omar_phone = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut eva = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let welcome = omar.welcome.clone().unwrap();
    assert_eq!(
        welcome["settings"]["read_receipts"], false,
        "off by default"
    );
    let omar_member = summary(&welcome["conversations"], conversation)["me"].clone();
    let me = app.rest.get("/api/me", Some(&pair.mentee.token)).await.ok();
    assert_eq!(me["settings"]["read_receipts"], false);

    // Not opted in: the reader's own devices clear their badges, the mentor learns nothing.
    let first = eva.say(conversation, "e-1", "How was the exam?").await;
    omar.wait_for_seq(conversation, first).await;
    read(&mut omar, conversation, first, None).await;
    let receipt = omar_phone.next_of_type("receipt").await;
    assert_eq!(receipt["conversation"], conversation);
    assert_eq!(receipt["member"], omar_member);
    assert_eq!(receipt["seq"], first);
    assert!(
        arrived(&mut eva, "receipt").await.is_empty(),
        "receipt leaked"
    );

    // Opting in takes effect at once on the live connections.
    let settings = app
        .rest
        .put(
            "/api/me/settings",
            Some(&pair.mentee.token),
            &json!({"read_receipts": true}),
        )
        .await
        .ok();
    assert_eq!(settings["read_receipts"], true);
    let second = eva.say(conversation, "e-2", "And the viva?").await;
    let reply = eva
        .request(
            json!({"type": "send", "conversation": conversation, "client_id": "e-3",
                        "body": "In the thread", "thread": second}),
        )
        .await;
    let in_thread = super::ack_seq(&reply);
    omar.wait_for_seq(conversation, in_thread).await;
    read(&mut omar, conversation, second, None).await;
    let receipt = eva.next_of_type("receipt").await;
    assert_eq!(
        (receipt["member"].clone(), receipt["seq"].clone()),
        (omar_member.clone(), json!(second))
    );
    assert!(receipt.get("thread").is_none(), "{receipt}");
    read(&mut omar, conversation, in_thread, Some(second)).await;
    let receipt = eva.next_of_type("receipt").await;
    assert_eq!(
        (receipt["seq"].clone(), receipt["thread"].clone()),
        (json!(in_thread), json!(second))
    );

    // The mentor never opted in: the mentee gets none of hers.
    let asked = omar.say(conversation, "o-1", "Went fine!").await;
    eva.wait_for_seq(conversation, asked).await;
    read(&mut eva, conversation, asked, None).await;
    let to_omar = arrived(&mut omar, "receipt").await;
    assert!(
        to_omar.iter().all(|r| r["member"] == omar_member),
        "the mentor's receipt reached the mentee: {to_omar:?}"
    );

    // Opting out again hides the next one.
    app.rest
        .put(
            "/api/me/settings",
            Some(&pair.mentee.token),
            &json!({"read_receipts": false}),
        )
        .await
        .ok();
    let last = eva.say(conversation, "e-4", "Great").await;
    omar.wait_for_seq(conversation, last).await;
    eva.drain_backlog();
    read(&mut omar, conversation, last, None).await;
    omar_phone
        .next_matching("own receipt", |f| {
            f["type"] == "receipt" && f["seq"] == last
        })
        .await;
    assert!(
        arrived(&mut eva, "receipt").await.is_empty(),
        "receipt after opting out"
    );
}
