//! No answer depends on who a pseudonym is. Each test builds two worlds that differ
//! only in whether the target (a room member known as "Night Owl") is also the
//! adversary's mentee elsewhere, makes the same request in both, and asserts equal
//! answers and equal frames once fresh ids and timestamps are replaced by their order
//! of appearance.

use std::collections::HashMap;

use mentorhub_tests::rest::text;
use mentorhub_tests::{Person, Reply, TestApp, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{agree, answer, create_room, enter_room, invite_code, join_with_code, request, settle};

mod surface;
mod surface_table;

/// Replaces every id (`c_…`, `m_…`, `r_…`, …), account id and timestamp by a
/// placeholder numbered in order of first appearance, so two worlds' answers compare.
fn normalise(value: &Value, seen: &mut HashMap<String, usize>) -> Value {
    match value {
        Value::String(s) if looks_like_id(s) => {
            let next = seen.len();
            json!(format!("<id {}>", seen.entry(s.clone()).or_insert(next)))
        }
        Value::Number(n) if n.as_u64().is_some_and(|n| n > 1_000_000_000_000) => json!("<ts>"),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalise(v, seen)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalise(v, seen)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn looks_like_id(s: &str) -> bool {
    let prefixed = s.len() > 10
        && s.as_bytes().get(1) == Some(&b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    prefixed || s.starts_with("acct-") || s.starts_with("dev-")
}

/// A reply and the frames the adversary received because of it, normalised together.
fn observed(reply: &Reply, frames: &[Value]) -> Value {
    let mut seen = HashMap::new();
    json!({
        "status": reply.status,
        "body": normalise(&reply.body, &mut seen),
        "frames": frames.iter().map(|f| normalise(f, &mut seen)).collect::<Vec<_>>(),
    })
}

/// One world: mentor "Dr Bob" facilitates the room "Circle", where "Night Owl" is a
/// member; he also mentors "Rural Resident" 1:1. Linked: Rural Resident *is* Night
/// Owl. Unlinked: they are two different mentees.
struct World {
    app: TestApp,
    mentor: Person,
    night_owl: Person,
    other: Person,
    room: String,
    /// Night Owl's member id, as the mentor sees it in the room.
    owl_member: String,
    /// Whether Night Owl is the mentor's mentee "Rural Resident".
    linked: bool,
}

async fn world(linked: bool) -> World {
    let app = spawn_app().await;
    let rest = app.rest.clone();
    let mentor = rest.login("Dr Bob", "mentor").await;
    let night_owl = rest.login("Nora Student", "mentee").await;
    let other = rest.login("Olive Student", "mentee").await;
    let room = create_room(&rest, &mentor, json!({"title": "Circle"})).await;
    enter_room(&rest, &mentor, &room, &night_owl, Some("Night Owl")).await;
    enter_room(&rest, &mentor, &room, &other, Some("Lark")).await;
    let mentee = if linked { &night_owl } else { &other };
    let requested = request(
        &rest,
        mentee,
        json!({"mentor": mentor.account, "pseudonym": "Rural Resident"}),
    )
    .await
    .ok();
    answer(
        &rest,
        &mentor,
        &text(&requested["relationship"]["id"]),
        "accept",
        json!({}),
    )
    .await
    .ok();
    let view = super::summary(&rest, &mentor, &room).await;
    let owl_member = view["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["display_name"] == "Night Owl")
        .map(|m| text(&m["member"]))
        .expect("Night Owl in the room");
    World {
        app,
        mentor,
        night_owl,
        other,
        room,
        owl_member,
        linked,
    }
}

/// Runs `act` in both worlds with the adversary's socket open, and asserts that the
/// answer and every frame the adversary received are the same.
async fn same_in_both_worlds<F, Fut>(what: &str, act: F)
where
    F: Fn(World, WsClient, bool) -> Fut,
    Fut: std::future::Future<Output = (Value, TestApp)>,
{
    let mut results = Vec::new();
    for linked in [true, false] {
        let world = world(linked).await;
        let mut ws = WsClient::connect(&world.app.ws_url, &world.mentor.token).await;
        settle(&mut ws).await;
        let (seen, app) = act(world, ws, linked).await;
        results.push(seen);
        app.shutdown().await;
    }
    assert_eq!(
        results[0], results[1],
        "{what}: the answer depends on whether the target is the adversary's mentee"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_offer_to_a_room_member_who_is_already_a_mentee() {
    same_in_both_worlds("an offer by member id", |w, mut ws, _| async move {
        let reply = w
            .app
            .rest
            .post(
                "/api/relationships/offers",
                Some(&w.mentor.token),
                &json!({"conversation": w.room, "member": w.owl_member}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let frames = settle(&mut ws).await;
        (observed(&reply, &frames), w.app)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_offer_by_account_does_not_show_her_name() {
    same_in_both_worlds("an offer by account id", |w, mut ws, _| async move {
        let reply = w
            .app
            .rest
            .post(
                "/api/relationships/offers",
                Some(&w.mentor.token),
                &json!({"mentee": w.night_owl.account}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let shown = reply.body.to_string();
        for name in ["Nora Student", "Night Owl", "Rural Resident"] {
            assert!(
                !shown.contains(name),
                "the offer shows a name she uses: {name}"
            );
        }
        let frames = settle(&mut ws).await;
        (observed(&reply, &frames), w.app)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_invitation_by_account_of_a_pseudonymous_member() {
    // A second room where the target is (linked) or is not (unlinked) a member already,
    // under another name; then an invitation by her account, and one to an unknown
    // account, which must look exactly like a delivered one.
    same_in_both_worlds(
        "an invitation by account id",
        |w, mut ws, linked| async move {
            let rest = &w.app.rest;
            let second = create_room(rest, &w.mentor, json!({"title": "Second"})).await;
            let wren = if linked { &w.night_owl } else { &w.other };
            enter_room(rest, &w.mentor, &second, wren, Some("Wren")).await;
            settle(&mut ws).await;
            let path = format!("/api/rooms/{second}/invitations");
            let reply = rest
                .post(
                    &path,
                    Some(&w.mentor.token),
                    &json!({"account": w.night_owl.account}),
                )
                .await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            let unknown = rest
                .post(
                    &path,
                    Some(&w.mentor.token),
                    &json!({"account": "acct-nobody-at-all"}),
                )
                .await;
            assert_eq!(
                observed(&unknown, &[]),
                observed(&reply, &[]),
                "an unknown account answers like a real one"
            );
            let frames = settle(&mut ws).await;
            (observed(&reply, &frames), w.app)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_assignment_over_informal_mentoring() {
    same_in_both_worlds("a coordinator's assignment", |w, mut ws, _| async move {
        let rest = &w.app.rest;
        let coordinator = rest.login("Cora Ordinator", "coordinator").await;
        let reply = rest
            .post(
                "/api/relationships/assignments",
                Some(&coordinator.token),
                &json!({"mentee": w.night_owl.account, "mentors": [w.mentor.account]}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let frames = settle(&mut ws).await;
        // The mentor's pending view does not name her before she chooses a name.
        let shown = serde_json::to_string(&frames).unwrap();
        for name in ["Nora Student", "Night Owl", "Rural Resident"] {
            assert!(
                !shown.contains(name),
                "the mentor sees a name she uses: {name}"
            );
        }
        (observed(&reply, &frames), w.app)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_assigned_mentee_is_unnamed_until_she_accepts() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentor = rest.login("Dr Bob", "mentor").await;
    let mentee = rest.login("Nora Student", "mentee").await;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let assigned = rest
        .post(
            "/api/relationships/assignments",
            Some(&coordinator.token),
            &json!({"mentee": mentee.account, "mentors": [mentor.account]}),
        )
        .await
        .ok();
    let id = text(&assigned["relationship"]["id"]);
    let conversation = text(&assigned["relationship"]["conversation"]);
    // The coordinator paired them and knows who they are.
    assert!(assigned.to_string().contains("Nora Student"));
    let mentors_view = rest
        .get("/api/relationships", Some(&mentor.token))
        .await
        .ok();
    let pending_summary = super::summary(rest, &mentor, &conversation).await;
    for seen in [&mentors_view, &pending_summary] {
        assert!(
            !seen.to_string().contains("Nora Student"),
            "the mentor sees her name before she accepts: {seen}"
        );
        assert!(
            seen.to_string()
                .contains("A mentee assigned by your programme"),
            "{seen}"
        );
    }
    // His own acceptance does not name her either: she has not chosen yet.
    let his_answer = answer(rest, &mentor, &id, "accept", json!({})).await.ok();
    let after_his = super::summary(rest, &mentor, &conversation).await;
    for seen in [&his_answer, &after_his] {
        assert!(
            !seen.to_string().contains("Nora Student"),
            "the mentor sees her name before she accepts: {seen}"
        );
    }
    let accepted = answer(rest, &mentee, &id, "accept", json!({"pseudonym": "Wren"}))
        .await
        .ok();
    let names: Vec<&str> = accepted["relationship"]["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .filter_map(|p| p["display_name"].as_str())
        .collect();
    assert!(names.contains(&"Wren"), "{accepted}");
    // Without a pseudonym she appears under her own name once she accepts.
    let other = rest.login("Olive Student", "mentee").await;
    let second = rest
        .post(
            "/api/relationships/assignments",
            Some(&coordinator.token),
            &json!({"mentee": other.account, "mentors": [mentor.account]}),
        )
        .await
        .ok();
    let second_id = text(&second["relationship"]["id"]);
    let accepted = answer(rest, &other, &second_id, "accept", json!({}))
        .await
        .ok();
    assert!(accepted.to_string().contains("Olive Student"), "{accepted}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_hidden_history_answers_not_found_before_visible_from() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let host = rest.login("Dr Bob", "mentor").await;
    let early = rest.login("Early Member", "mentee").await;
    let late = rest.login("Late Member", "mentee").await;
    let room = create_room(rest, &host, json!({"title": "Circle"})).await;
    enter_room(rest, &host, &room, &early, None).await;
    let mut early_ws = WsClient::connect(&app.ws_url, &early.token).await;
    let before = early_ws.say(&room, "e-1", "said before").await;
    // Joined but not yet agreed: the summary does not say how much was said before.
    let code = invite_code(rest, &host, &room).await;
    let gated = join_with_code(rest, &late, &code, Some("Newcomer")).await;
    assert!(gated.get("visible_from").is_none(), "{gated}");
    assert_eq!(gated["last_seq"], 0, "{gated}");
    let listed = rest.get("/api/conversations", Some(&late.token)).await.ok();
    let listed_room = listed["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == room.as_str())
        .cloned()
        .unwrap();
    assert!(listed_room.get("visible_from").is_none(), "{listed_room}");
    assert_eq!(listed_room["last_seq"], 0, "{listed_room}");
    let gated_ws = WsClient::connect(&app.ws_url, &late.token).await;
    let welcomed = serde_json::to_string(&gated_ws.welcome).unwrap();
    assert!(!welcomed.contains("visible_from"), "{welcomed}");
    gated_ws.close().await;
    let full = agree(rest, &late, &room).await;
    assert!(full["visible_from"].as_u64().unwrap() > before, "{full}");
    let mut late_ws = WsClient::connect(&app.ws_url, &late.token).await;
    let reply_to = |root: u64, id: &str| json!({"type": "send", "conversation": room, "client_id": id, "body": "re", "thread": root});
    let to_hidden = late_ws.request(reply_to(before, "l-1")).await;
    let to_nothing = late_ws.request(reply_to(before + 1000, "l-2")).await;
    assert_eq!(to_hidden["type"], "error", "{to_hidden}");
    assert_eq!(
        (&to_hidden["code"], &to_hidden["message"]),
        (&to_nothing["code"], &to_nothing["message"]),
        "a hidden top-level message answers like a missing one"
    );
    assert_eq!(to_hidden["code"], "not_found");
    // Editing or deleting a hidden message answers like a seq that does not exist
    // (not "not your message", which would say a message is there).
    for frame in [
        json!({"type": "edit", "conversation": room, "seq": before, "body": "mine?"}),
        json!({"type": "delete", "conversation": room, "seq": before}),
    ] {
        let mut missing = frame.clone();
        missing["seq"] = json!(before + 1000);
        let hidden = late_ws.request(frame).await;
        let nothing = late_ws.request(missing).await;
        assert_eq!(hidden["code"], "not_found", "{hidden}");
        assert_eq!(
            (&hidden["code"], &hidden["message"]),
            (&nothing["code"], &nothing["message"]),
            "{hidden} / {nothing}"
        );
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_block_tells_nothing_to_either_side() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentor = rest.login("Dr Bob", "mentor").await;
    let mentee = rest.login("Nora Student", "mentee").await;
    let witness = rest.login("Walter Witness", "mentee").await;
    super::publish_profile(
        rest,
        &mentor,
        json!({"display_name": "Dr Bob", "specialty": "Surgery", "capacity": 3}),
    )
    .await;
    // A peer room without a facilitator: its host brought everyone in and left.
    let host = rest.login("Hana Host", "mentor").await;
    let room = create_room(rest, &host, json!({"title": "Circle", "kind": "peer"})).await;
    enter_room(rest, &host, &room, &mentor, None).await;
    enter_room(rest, &host, &room, &mentee, Some("Night Owl")).await;
    enter_room(rest, &host, &room, &witness, None).await;
    rest.post(
        &format!("/api/rooms/{room}/leave"),
        Some(&host.token),
        &json!({}),
    )
    .await
    .ok();
    let view = super::summary(rest, &mentor, &room).await;
    let owl = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["display_name"] == "Night Owl")
        .map(|m| text(&m["member"]))
        .unwrap();
    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;
    let mut witness_ws = WsClient::connect(&app.ws_url, &witness.token).await;
    let root = witness_ws.say(&room, "w-1", "a question").await;
    let directory_before = rest
        .get(
            &format!("/api/mentors/{}", mentor.account),
            Some(&mentee.token),
        )
        .await
        .ok();
    rest.post(
        "/api/blocks",
        Some(&mentor.token),
        &json!({"conversation": room, "member": owl}),
    )
    .await
    .ok();

    // The blocked mentee sees the directory as everyone does.
    let directory_after = rest
        .get(
            &format!("/api/mentors/{}", mentor.account),
            Some(&mentee.token),
        )
        .await
        .ok();
    assert_eq!(directory_before, directory_after);
    assert_eq!(directory_after["mentor"]["places_left"], 3);

    // Her request is answered as any other and waits, unseen by him.
    let mut mentor_ws = WsClient::connect(&app.ws_url, &mentor.token).await;
    settle(&mut mentor_ws).await;
    let asked = request(rest, &mentee, json!({"mentor": mentor.account})).await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    assert_eq!(asked.body["relationship"]["state"], "pending");
    let listed = rest
        .get("/api/relationships", Some(&mentor.token))
        .await
        .ok();
    assert_eq!(listed["relationships"], json!([]), "{listed}");
    let conversations = rest
        .get("/api/conversations", Some(&mentor.token))
        .await
        .ok();
    assert_eq!(
        conversations["conversations"].as_array().unwrap().len(),
        1,
        "only the room: {conversations}"
    );
    let about_relationships = |frames: Vec<Value>| -> Vec<Value> {
        frames
            .into_iter()
            .filter(|f| f["type"] != "presence")
            .collect()
    };
    let frames = about_relationships(settle(&mut mentor_ws).await);
    assert!(
        frames.is_empty(),
        "the blocker was told of the request: {frames:?}"
    );
    // She withdraws: still nothing reaches him.
    let id = text(&asked.body["relationship"]["id"]);
    answer(rest, &mentee, &id, "withdraw", json!({})).await.ok();
    let frames = about_relationships(settle(&mut mentor_ws).await);
    assert!(frames.is_empty(), "{frames:?}");

    // Her reply in a thread is not counted in his thread list.
    mentee_ws
        .request(
            json!({"type": "send", "conversation": room, "client_id": "n-1",
                        "body": "hidden reply", "thread": root}),
        )
        .await;
    let threads = |who: &Person| {
        let path = format!("/api/conversations/{room}/threads");
        let token = who.token.clone();
        async move { rest.get(&path, Some(&token)).await.ok() }
    };
    let his = threads(&mentor).await;
    let witnessed = threads(&witness).await;
    assert_eq!(witnessed["threads"][0]["replies"], 1, "{witnessed}");
    assert_eq!(his["threads"], json!([]), "{his}");
    app.shutdown().await;
}

/// The four ways to look like "Dr Bob Banda": a zero-width space, a Cyrillic "о", a
/// right-to-left override, a no-break space; and the answer each gets.
const LOOK_ALIKES: [(&str, u16, &str); 4] = [
    ("Dr Bob\u{200B} Banda", 400, "invalid_frame"),
    ("Dr B\u{043E}b Banda", 409, "name_taken"),
    ("Dr Bob \u{202E}adnaB", 400, "invalid_frame"),
    ("Dr Bob\u{00A0}Banda", 400, "invalid_frame"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_look_alike_names_are_refused_in_rooms_and_the_directory() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let bob = rest.login("Robert Banda", "mentor").await;
    let mimic = rest.login("Mallory Mimic", "mentor").await;
    let joiner = rest.login("Jo Joiner", "mentee").await;

    // In a room whose facilitator is "Dr Bob Banda".
    let room = create_room(
        rest,
        &bob,
        json!({"title": "Circle", "display_name": "Dr Bob Banda"}),
    )
    .await;
    let code = invite_code(rest, &bob, &room).await;
    for (name, status, code_expected) in LOOK_ALIKES {
        let refused = rest
            .post(
                "/api/rooms/join",
                Some(&joiner.token),
                &json!({"code": code, "pseudonym": name}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (status, code_expected),
            "joining as {name:?}: {:?}",
            refused.body
        );
    }
    // A refused name used nothing up: the same code still lets her in under her own.
    let joined = join_with_code(rest, &joiner, &code, Some("Wren")).await;
    assert_eq!(joined["id"], room.as_str(), "{joined}");

    // In the directory.
    let published = rest
        .put(
            "/api/me/mentor-profile",
            Some(&bob.token),
            &json!({"display_name": "Dr Bob Banda", "specialty": "Surgery"}),
        )
        .await;
    assert_eq!(published.status, 200, "{:?}", published.body);
    for (name, status, code_expected) in
        LOOK_ALIKES
            .iter()
            .copied()
            .chain([("DR BOB BANDA", 409, "name_taken")])
    {
        let refused = rest
            .put(
                "/api/me/mentor-profile",
                Some(&mimic.token),
                &json!({"display_name": name, "specialty": "Surgery"}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (status, code_expected),
            "publishing {name:?}: {:?}",
            refused.body
        );
    }
    let listed = rest.get("/api/mentors", Some(&joiner.token)).await.ok();
    assert_eq!(
        listed["mentors"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    // Bob can still change his own profile under his name.
    rest.put(
        "/api/me/mentor-profile",
        Some(&bob.token),
        &json!({"display_name": "Dr Bob Banda", "specialty": "Paediatric surgery"}),
    )
    .await
    .ok();
    app.shutdown().await;
}
