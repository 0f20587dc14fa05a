//! History paging (the `history` frame and its REST twin) and threads with reply counts.

use mentorhub_tests::{Pair, WsClient, spawn_app, spawn_app_with};
use serde_json::{Value, json};

use super::{ack_seq, assert_error, history, seqs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_history_pages_back_and_forth_without_gaps() {
    // A small page maximum, so clamping is visible with few messages.
    let app = spawn_app_with(|c| c.mentoring.history_page_max = 20).await;
    let pair = Pair::create(&app.rest, "Amina Diallo", "Dr Paul Weber").await;
    let conversation = pair.conversation.as_str();
    let mut amina = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut paul = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    assert_eq!(
        amina.welcome.as_ref().unwrap()["limits"]["history_page_max"],
        20
    );
    for i in 0..25 {
        let (ws, who) = if i % 2 == 0 {
            (&mut amina, "a")
        } else {
            (&mut paul, "p")
        };
        ws.say(conversation, &format!("{who}-{i}"), &format!("message {i}"))
            .await;
    }
    // Events 1 (system) to 26.
    let range = |from: u64, to: u64| (from..=to).collect::<Vec<u64>>();
    let q = |fields: Value| {
        let mut query = fields;
        query["conversation"] = json!(conversation);
        query
    };

    let (page, more) = history(&mut amina, q(json!({"limit": 10}))).await;
    assert_eq!(
        (seqs(&page), more),
        (range(17, 26), true),
        "the newest page"
    );
    let (page, more) = history(&mut amina, q(json!({"before": 17, "limit": 10}))).await;
    assert_eq!((seqs(&page), more), (range(7, 16), true));
    let (page, more) = history(&mut amina, q(json!({"before": 7, "limit": 10}))).await;
    assert_eq!((seqs(&page), more), (range(1, 6), false), "the oldest page");
    let (page, more) = history(&mut amina, q(json!({"after": 0, "limit": 10}))).await;
    assert_eq!((seqs(&page), more), (range(1, 10), true));
    let (page, more) = history(&mut amina, q(json!({"after": 20, "limit": 10}))).await;
    assert_eq!((seqs(&page), more), (range(21, 26), false), "caught up");
    let (page, _) = history(&mut amina, q(json!({"after": 5, "before": 9}))).await;
    assert_eq!(seqs(&page), range(6, 8), "strictly between");
    assert_eq!(page[0]["body"], "message 4");
    assert_eq!(page[0]["type"], "message");

    // The limit is clamped to 1…history_page_max.
    let (page, more) = history(&mut amina, q(json!({"limit": 1000}))).await;
    assert_eq!((seqs(&page), more), (range(7, 26), true));
    let (page, _) = history(&mut amina, q(json!({"limit": 0}))).await;
    assert_eq!(seqs(&page), vec![26]);

    // Scrolling back page by page visits every event exactly once.
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let mut query = q(json!({"limit": 7}));
        if let Some(before) = before {
            query["before"] = json!(before);
        }
        let (page, more) = history(&mut paul, query).await;
        before = Some(page[0]["seq"].as_u64().unwrap());
        let mut page = seqs(&page);
        page.append(&mut all);
        all = page;
        if !more {
            break;
        }
    }
    assert_eq!(all, range(1, 26));

    // `after` ≥ `before` is refused.
    let refused = amina
        .request(json!({"type": "history", "conversation": conversation,
                        "after": 9, "before": 9}))
        .await;
    assert_error(&refused, "invalid_frame");

    // REST gives the same pages and the same refusals.
    let rest = &app.rest;
    let path = format!("/api/conversations/{conversation}/messages");
    let page = rest
        .get(
            &format!("{path}?before=17&limit=10"),
            Some(&pair.mentor.token),
        )
        .await
        .ok();
    assert_eq!(page["conversation"], conversation);
    assert_eq!(seqs(page["events"].as_array().unwrap()), range(7, 16));
    assert_eq!(page["has_more"], true);
    let refused = rest
        .get(
            &format!("{path}?after=9&before=3"),
            Some(&pair.mentor.token),
        )
        .await;
    assert_eq!((refused.status, refused.code()), (400, "invalid_frame"));
    let refused = rest
        .get(&format!("{path}?limit=many"), Some(&pair.mentor.token))
        .await;
    assert_eq!((refused.status, refused.code()), (400, "invalid_frame"));

    // Someone else's conversation and one that does not exist answer alike.
    let outsider = rest.login("Curious Clara", "mentee").await;
    let foreign = rest.get(&path, Some(&outsider.token)).await;
    let unknown = rest
        .get(
            "/api/conversations/c_aaaaaaaaaaaaaaaaaaaa/messages",
            Some(&outsider.token),
        )
        .await;
    assert_eq!((foreign.status, foreign.code()), (404, "not_found"));
    assert_eq!(foreign.body, unknown.body, "existence must not leak");
    let mut clara = WsClient::connect(&app.ws_url, &outsider.token).await;
    let foreign = clara
        .request(json!({"type": "history", "ref": "h", "conversation": conversation}))
        .await;
    let unknown = clara
        .request(json!({"type": "history", "ref": "h",
                        "conversation": "c_aaaaaaaaaaaaaaaaaaaa"}))
        .await;
    assert_error(&foreign, "not_found");
    assert_eq!(foreign["message"], unknown["message"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_threads_list_reply_counts_and_thread_history() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Ravi Menon", "Dr Sara Lind").await;
    let conversation = pair.conversation.as_str();
    let mut ravi = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut sara = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let reply = |id: &str, root: u64, body: &str| {
        json!({"type": "send", "conversation": conversation, "client_id": id,
               "body": body, "thread": root})
    };

    let logbook = ravi.say(conversation, "r-1", "About my logbook").await; // 2
    let exams = ravi.say(conversation, "r-2", "About exams").await; // 3
    let r1 = ack_seq(&sara.request(reply("s-1", logbook, "Send it over")).await); // 4
    let r2 = ack_seq(&ravi.request(reply("r-3", logbook, "Attached")).await); // 5
    let r3 = ack_seq(&sara.request(reply("s-2", logbook, "Looks good")).await); // 6
    let top = sara
        .say(conversation, "s-3", "Unrelated top-level note")
        .await; // 7
    let e1 = ack_seq(&sara.request(reply("s-4", exams, "Start in March")).await); // 8

    // Replies are timeline events that name their root.
    let event = super::message_event(&mut ravi, conversation, r1).await;
    assert_eq!(event["thread"], logbook);
    assert_eq!(event["body"], "Send it over");
    let event = super::message_event(&mut ravi, conversation, top).await;
    assert!(event.get("thread").is_none(), "{event}");

    // Most recently active first; counts exclude nothing yet.
    let threads = sara
        .request(json!({"type": "threads", "conversation": conversation}))
        .await;
    assert_eq!(threads["type"], "threads", "{threads}");
    assert_eq!(threads["conversation"], conversation);
    let listed: Vec<(Value, Value, Value)> = threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["root"].clone(),
                t["replies"].clone(),
                t["last_seq"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (json!(exams), json!(1), json!(e1)),
            (json!(logbook), json!(3), json!(r3)),
        ]
    );
    assert!(threads["threads"][0]["last_ts"].as_u64().is_some());

    // A deleted reply no longer counts.
    let deleted = sara
        .request(json!({"type": "delete", "conversation": conversation, "seq": r3}))
        .await;
    ack_seq(&deleted);
    let threads = app
        .rest
        .get(
            &format!("/api/conversations/{conversation}/threads"),
            Some(&pair.mentee.token),
        )
        .await
        .ok();
    let logbook_thread = threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["root"] == logbook)
        .expect("the logbook thread")
        .clone();
    assert_eq!(logbook_thread["replies"], 2, "{threads}");
    assert_eq!(logbook_thread["last_seq"], r2, "{threads}");

    // A thread's history: the root and its replies (the tombstone included) and the
    // edits/deletes of those; nothing of the main timeline or other threads.
    let (page, _) = history(
        &mut ravi,
        json!({"conversation": conversation, "thread": logbook}),
    )
    .await;
    let delete_seq = deleted["seq"].as_u64().unwrap();
    assert_eq!(seqs(&page), vec![logbook, r1, r2, r3, delete_seq]);
    assert_eq!(page[3]["deleted"], true);
    assert!(page[3].get("body").is_none());
    assert_eq!(
        (page[4]["type"].clone(), page[4]["target"].clone()),
        (json!("message_deleted"), json!(r3))
    );

    // Roots must be top-level messages of this conversation.
    for (id, root) in [("bad-1", r1), ("bad-2", 999), ("bad-3", 1)] {
        let refused = ravi.request(reply(id, root, "Into the void")).await;
        assert_error(&refused, "not_found");
        assert_eq!(refused["client_id"], id);
    }
    let (page, _) = history(
        &mut ravi,
        json!({"conversation": conversation, "after": e1}),
    )
    .await;
    assert_eq!(page.len(), 1, "only the delete event follows: {page:?}");
    assert_eq!(page[0]["type"], "message_deleted");
}
