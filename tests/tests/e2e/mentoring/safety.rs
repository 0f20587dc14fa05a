//! Blocks (silent, on the membership where made, not while a facilitator is present;
//! new contact silenced) and reports to safeguarding (who sees a copy; the reported member never learns who reported; one
//! report per person and message; the reporter sees it handled).

use mentorhub_tests::rest::text;
use mentorhub_tests::{Person, Reply, Rest, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{answer, assert_absent, bodies, create_room, enter_room, request, settle};

/// An active triad (the mentee asked both mentors, both accepted); its conversation.
async fn triad(rest: &Rest, mentee: &Person, first: &Person, second: &Person) -> String {
    let created = request(
        rest,
        mentee,
        json!({"mentors": [first.account, second.account]}),
    )
    .await
    .ok();
    let id = text(&created["relationship"]["id"]);
    for mentor in [first, second] {
        answer(rest, mentor, &id, "accept", json!({})).await.ok();
    }
    text(&created["relationship"]["conversation"])
}

/// The member entry of the party with `role` in a relationship conversation summary.
fn member_with_name(summary: &Value, name: &str) -> String {
    let entry = summary["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["display_name"] == name)
        .unwrap_or_else(|| panic!("no member named {name}"));
    text(&entry["member"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_block_is_silent_and_holds_outside_facilitated_rooms() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let pushy = rest.login("Pushy Mentor", "mentor").await;
    let kind = rest.login("Kind Mentor", "mentor").await;

    // A triad, so the kind mentor witnesses what the blocked mentor sends.
    let conversation = triad(rest, &mentee, &pushy, &kind).await;
    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;
    let mut pushy_ws = WsClient::connect_recording(&app.ws_url, &pushy.token).await;
    let mut kind_ws = WsClient::connect(&app.ws_url, &kind.token).await;
    let summary = mentee_ws.welcome.as_ref().unwrap()["conversations"][0].clone();
    let pushy_member = member_with_name(&summary, "Pushy Mentor");
    // What came before the block (presence as the others connected) is not the question.
    settle(&mut mentee_ws).await;

    let blocked = rest
        .post(
            "/api/blocks",
            Some(&mentee.token),
            &json!({"conversation": conversation, "member": pushy_member}),
        )
        .await;
    assert_eq!(blocked.status, 201, "{:?}", blocked.body);
    assert_eq!(blocked.body["block"]["display_name"], "Pushy Mentor");
    let listed = rest.get("/api/blocks", Some(&mentee.token)).await.ok();
    assert_eq!(
        listed["blocks"][0]["member"],
        pushy_member.as_str(),
        "{listed}"
    );

    // The blocked mentor posts and types as usual and is acknowledged…
    let seq = pushy_ws.say(&conversation, "p-1", "first-words").await;
    pushy_ws
        .send(&json!({"type": "typing", "conversation": conversation, "active": true}))
        .await;
    pushy_ws
        .request(json!({"type": "presence", "status": "away"}))
        .await;
    // …the other mentor gets all three…
    kind_ws
        .next_matching("the message", |f| f["type"] == "message" && f["seq"] == seq)
        .await;
    kind_ws
        .next_matching("the typing", |f| {
            f["type"] == "typing" && f["member"] == pushy_member.as_str()
        })
        .await;
    kind_ws
        .next_matching("the presence", |f| {
            f["type"] == "presence" && f["member"] == pushy_member.as_str() && f["status"] == "away"
        })
        .await;
    // …the mentee neither, live or in history.
    let kind_seq = kind_ws.say(&conversation, "k-1", "kind-words").await;
    mentee_ws
        .next_matching("the kind mentor's message", |f| {
            f["type"] == "message" && f["seq"] == kind_seq
        })
        .await;
    let frames = settle(&mut mentee_ws).await;
    let from_blocked = frames.iter().filter(|f| {
        [
            "message",
            "message_edited",
            "message_deleted",
            "typing",
            "receipt",
            "presence",
        ]
        .contains(&f["type"].as_str().unwrap_or(""))
            && (f["member"] == pushy_member.as_str() || f["sender"] == pushy_member.as_str())
    });
    assert_eq!(
        from_blocked.count(),
        0,
        "the blocker received something from the blocked member"
    );
    assert_eq!(bodies(rest, &mentee, &conversation).await, ["kind-words"]);
    // Nor does the blocker's view of the conversation show whether they are online.
    let view = super::summary(rest, &mentee, &conversation).await;
    let listed = view["members"].as_array().expect("members");
    let pushy_entry = listed.iter().find(|m| m["member"] == pushy_member.as_str());
    assert!(
        pushy_entry.is_some_and(|m| m.get("presence").is_none_or(Value::is_null)),
        "the blocker sees the blocked member's presence: {view}"
    );
    let kind_entry = listed.iter().find(|m| m["display_name"] == "Kind Mentor");
    assert_eq!(
        kind_entry.expect("kind mentor")["presence"],
        "online",
        "{view}"
    );
    // The blocked mentor is never told.
    settle(&mut pushy_ws).await;
    assert_absent(pushy_ws.transcript(), &["block"], "the blocked mentor");
    let theirs = rest.get("/api/blocks", Some(&pushy.token)).await.ok();
    assert_eq!(theirs["blocks"], json!([]));
    // Their offers to the blocker are answered as any offer, and never reach her.
    let offer = rest
        .post(
            "/api/relationships/offers",
            Some(&pushy.token),
            &json!({"conversation": conversation, "member": summary["me"]}),
        )
        .await;
    assert_eq!(offer.status, 201, "{:?}", offer.body);
    let hers = rest
        .get("/api/relationships", Some(&mentee.token))
        .await
        .ok();
    assert_eq!(
        hers["relationships"].as_array().map(Vec::len),
        Some(1),
        "only the triad: {hers}"
    );

    // Unblocking restores delivery.
    let unblocked = rest
        .delete(
            &format!("/api/blocks/{conversation}/{pushy_member}"),
            Some(&mentee.token),
        )
        .await;
    assert_eq!(unblocked.status, 204);
    let seq = pushy_ws.say(&conversation, "p-2", "heard again").await;
    mentee_ws
        .next_matching("the unblocked message", |f| {
            f["type"] == "message" && f["seq"] == seq
        })
        .await;

    // A mentor who blocks a mentee (through a room they share) never sees her requests;
    // she sees an ordinary pending request.
    let host = rest.login("Room Host", "mentor").await;
    let room = create_room(rest, &host, json!({"title": "Circle"})).await;
    enter_room(rest, &host, &room, &mentee, Some("Night Owl")).await;
    let host_view = super::summary(rest, &host, &room).await;
    let mentee_member = member_with_name(&host_view, "Night Owl");
    rest.post(
        "/api/blocks",
        Some(&host.token),
        &json!({"conversation": room, "member": mentee_member}),
    )
    .await
    .ok();
    let silenced = request(rest, &mentee, json!({"mentor": host.account})).await;
    assert_eq!(silenced.status, 201, "{:?}", silenced.body);
    let hosts = rest.get("/api/relationships", Some(&host.token)).await.ok();
    assert_eq!(hosts["relationships"], json!([]));
    // In a room with a facilitator the room stays whole: the block does not cut it.
    let mut host_ws = WsClient::connect(&app.ws_url, &host.token).await;
    let seq = mentee_ws.say(&room, "n-1", "still heard in the room").await;
    host_ws
        .next_matching("the room message", |f| {
            f["type"] == "message" && f["seq"] == seq
        })
        .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_report_reaches_safeguarding_and_hides_the_reporter() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let facilitator = rest.login("Amara Diallo", "mentor").await;
    let reporter = rest.login("Rita Reporter", "mentee").await;
    let reported = rest.login("Harry Harasser", "mentee").await;
    let guardian = rest.login("Sam Safeguard", "safeguarding").await;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let room = create_room(
        rest,
        &facilitator,
        json!({"title": "Circle", "kind": "peer"}),
    )
    .await;
    let reporter_view = enter_room(rest, &facilitator, &room, &reporter, Some("Brave One")).await;
    let reported_view = enter_room(rest, &facilitator, &room, &reported, None).await;
    let mut guardian_ws = WsClient::connect(&app.ws_url, &guardian.token).await;
    let mut reported_ws = WsClient::connect_recording(&app.ws_url, &reported.token).await;
    let mut reporter_ws = WsClient::connect(&app.ws_url, &reporter.token).await;

    let mut target = 0;
    for i in 0..14 {
        let (ws, who) = if i % 2 == 0 {
            (&mut reporter_ws, "r")
        } else {
            (&mut reported_ws, "h")
        };
        let seq = ws
            .say(&room, &format!("{who}{i}"), &format!("line {i}"))
            .await;
        if i == 7 {
            target = seq;
        }
    }
    let own = rest
        .post(
            "/api/reports",
            Some(&reporter.token),
            &json!({"conversation": room, "seq": target - 1}),
        )
        .await;
    assert!(own.status >= 400, "reporting one's own message");
    let filed = rest
        .post(
            "/api/reports",
            Some(&reporter.token),
            &json!({"conversation": room, "seq": target, "reason": "threatening"}),
        )
        .await;
    assert_eq!(filed.status, 201, "{:?}", filed.body);
    let report = text(&filed.body["report"]["id"]);

    // Safeguarding is told, without content.
    let told = guardian_ws.next_of_type("report_filed").await;
    assert_eq!(told["report"]["id"], report.as_str());
    assert!(told["report"].get("messages").is_none() && told["report"].get("reason").is_none());
    let listed = rest.get("/api/reports", Some(&guardian.token)).await.ok();
    assert_eq!(listed["reports"][0]["id"], report.as_str(), "{listed}");
    assert_absent(
        std::slice::from_ref(&listed),
        &["line 7", "threatening"],
        "the report list",
    );

    // The copy: the message and up to 10 around it, reporter and reported named.
    let read = rest
        .get(&format!("/api/reports/{report}"), Some(&guardian.token))
        .await
        .ok();
    let copy = &read["report"];
    assert_eq!(copy["reason"], "threatening");
    assert_eq!(copy["reporter"]["account"], reporter.account.as_str());
    assert_eq!(copy["reporter"]["member"], reporter_view["me"]);
    assert_eq!(copy["reported"]["account"], reported.account.as_str());
    assert_eq!(copy["reported"]["member"], reported_view["me"]);
    let messages = copy["messages"].as_array().expect("messages");
    assert!(
        messages.len() <= 11 && messages.len() >= 6,
        "{} messages",
        messages.len()
    );
    let flagged: Vec<&Value> = messages.iter().filter(|m| m["reported"] == true).collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["body"], "line 7");
    assert_eq!(flagged[0]["seq"], target);

    // Nobody else reads reports.
    for person in [&coordinator, &facilitator, &reporter, &reported] {
        for path in ["/api/reports".to_owned(), format!("/api/reports/{report}")] {
            let refused = rest.get(&path, Some(&person.token)).await;
            assert_eq!(refused.status, 403, "{path}");
        }
    }

    // Every access is recorded; closing too.
    rest.post(
        &format!("/api/reports/{report}/close"),
        Some(&guardian.token),
        &json!({}),
    )
    .await
    .ok();
    let again = rest
        .get(&format!("/api/reports/{report}"), Some(&guardian.token))
        .await
        .ok();
    let actions: Vec<&str> = again["report"]["accesses"]
        .as_array()
        .expect("accesses")
        .iter()
        .map(|a| a["action"].as_str().unwrap_or(""))
        .collect();
    for action in ["listed", "viewed", "closed"] {
        assert!(
            actions.contains(&action),
            "{action} not recorded: {actions:?}"
        );
    }
    assert_eq!(again["report"]["state"], "closed");

    // The reported member heard nothing of it, least of all who reported.
    settle(&mut reported_ws).await;
    let mut seen: Vec<Value> = reported_ws.transcript().to_vec();
    seen.push(
        rest.get("/api/conversations", Some(&reported.token))
            .await
            .body,
    );
    seen.push(
        rest.get(&format!("/api/reports/{report}"), Some(&reported.token))
            .await
            .body,
    );
    assert!(
        seen.iter().all(|f| f["type"] != "report_filed"),
        "the reported member was told of the report"
    );
    assert_absent(
        &seen,
        &[&report, "threatening", &reporter.account, "Rita Reporter"],
        "the reported member",
    );
    app.shutdown().await;
}

/// Reports `seq` in `conversation` as `person`.
async fn file_report(rest: &Rest, person: &Person, conversation: &str, seq: u64) -> Reply {
    rest.post(
        "/api/reports",
        Some(&person.token),
        &json!({"conversation": conversation, "seq": seq}),
    )
    .await
}

/// `(conversation, seq, state)` of each report `person` filed, oldest first.
async fn my_reports(rest: &Rest, person: &Person) -> Vec<(String, u64, String)> {
    let listed = rest.get("/api/me/reports", Some(&person.token)).await.ok();
    let mut mine: Vec<(String, u64, String)> = listed["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .map(|r| {
            (
                text(&r["conversation"]),
                r["seq"].as_u64().expect("seq"),
                text(&r["state"]),
            )
        })
        .collect();
    mine.sort_by_key(|r| r.1);
    mine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_report_once_per_person_and_the_reporter_sees_it_handled() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let pushy = rest.login("Pushy Mentor", "mentor").await;
    let kind = rest.login("Kind Mentor", "mentor").await;
    let guardian = rest.login("Sam Safeguard", "safeguarding").await;
    let second_guardian = rest.login("Tess Safeguard", "safeguarding").await;
    let conversation = triad(rest, &mentee, &pushy, &kind).await;
    let mut pushy_ws = WsClient::connect(&app.ws_url, &pushy.token).await;
    let mut guardian_ws = WsClient::connect(&app.ws_url, &guardian.token).await;
    let mut second_ws = WsClient::connect(&app.ws_url, &second_guardian.token).await;
    let first = pushy_ws.say(&conversation, "p-1", "first").await;
    let second = pushy_ws.say(&conversation, "p-2", "second").await;
    let third = pushy_ws.say(&conversation, "p-3", "third").await;

    // Whether someone else already reported a message changes nothing for the next
    // reporter: the kind mentor's answers are alike for a message the mentee reported
    // and for one nobody did.
    let by_mentee = file_report(rest, &mentee, &conversation, first).await;
    assert_eq!(by_mentee.status, 201, "{:?}", by_mentee.body);
    let after_other = file_report(rest, &kind, &conversation, first).await;
    let untouched = file_report(rest, &kind, &conversation, second).await;
    for reply in [&after_other, &untouched] {
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let mut keys: Vec<&String> = reply.body["report"]
            .as_object()
            .expect("report")
            .keys()
            .collect();
        keys.sort();
        assert_eq!(keys, ["created_at", "id", "state"]);
        assert_eq!(reply.body["report"]["state"], "open");
    }

    // The same person twice: refused with a stable code, nothing filed, nobody told.
    let again = file_report(rest, &mentee, &conversation, first).await;
    assert_eq!((again.status, again.code()), (409, "already_reported"));
    // Twice at once: the database lets exactly one through.
    let (one, other) = tokio::join!(
        file_report(rest, &mentee, &conversation, third),
        file_report(rest, &mentee, &conversation, third),
    );
    let mut statuses = [one.status, other.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{:?} / {:?}", one.body, other.body);
    let listed = rest.get("/api/reports", Some(&guardian.token)).await.ok();
    assert_eq!(
        listed["reports"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );
    let mut told = 0;
    while guardian_ws
        .next_matching_within(super::QUIET, "report_filed", |f| {
            f["type"] == "report_filed"
        })
        .await
        .is_some()
    {
        told += 1;
    }
    assert_eq!(told, 4, "one report_filed per report filed");

    // Each reporter lists their own reports, never anyone else's.
    assert_eq!(
        my_reports(rest, &mentee).await,
        [
            (conversation.clone(), first, "open".to_owned()),
            (conversation.clone(), third, "open".to_owned()),
        ]
    );
    assert_eq!(my_reports(rest, &pushy).await, []);

    // Safeguarding marks one handled: the other holder's inbox follows live, and the
    // reporter sees it handled.
    let report = text(&by_mentee.body["report"]["id"]);
    let closed = rest
        .post(
            &format!("/api/reports/{report}/close"),
            Some(&guardian.token),
            &json!({}),
        )
        .await
        .ok();
    assert_eq!(closed["report"]["state"], "closed");
    let live = second_ws.next_of_type("report_closed").await;
    assert_eq!(live["report"]["id"], report.as_str());
    assert_eq!(live["report"]["state"], "closed");
    assert!(live["report"].get("messages").is_none() && live["report"].get("reason").is_none());
    assert_eq!(
        my_reports(rest, &mentee).await[0],
        (conversation.clone(), first, "closed".to_owned())
    );
    let twice = rest
        .post(
            &format!("/api/reports/{report}/close"),
            Some(&second_guardian.token),
            &json!({}),
        )
        .await;
    assert_eq!((twice.status, twice.code()), (409, "conflict"));
    // Reporting again after it was handled is still the same report.
    let after_close = file_report(rest, &mentee, &conversation, first).await;
    assert_eq!(after_close.code(), "already_reported");
    app.shutdown().await;
}
