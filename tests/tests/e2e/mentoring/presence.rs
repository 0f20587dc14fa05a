//! Presence does not link pseudonyms. An observer shares two rooms with one
//! pseudonymous account ("Wren" in one, "Lark" in the other) and with two unrelated
//! pseudonymous accounts ("Finch", "Heron"); all three come and go at the same moments.
//! With the default settings the observer sees no presence of any pseudonym; where they
//! turned presence on, each change arrives after an independent random delay, so the
//! two pseudonyms of one person change no closer together than two strangers do.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mentorhub_tests::rest::text;
use mentorhub_tests::{Person, Rest, WsClient, spawn_app_with};
use serde_json::{Value, json};

use super::{create_room, enter_room, settle, summary};

/// The longest delay in this test (the default is a minute).
const DELAY: Duration = Duration::from_millis(400);
/// Gaps this small are what an observer correlating two memberships looks for.
const TOGETHER: Duration = Duration::from_millis(5);

/// Opens a connection for each person at the same moment.
async fn connect_all(ws_url: &str, people: &[&Person]) -> Vec<WsClient> {
    let connects = people
        .iter()
        .map(|person| WsClient::connect(ws_url, &person.token));
    futures_util::future::join_all(connects).await
}

async fn close_all(sockets: Vec<WsClient>) {
    futures_util::future::join_all(sockets.into_iter().map(WsClient::close)).await;
}

/// Waits for one `presence` frame with `status` for each of `members`; when each
/// arrived.
async fn arrivals(
    observer: &mut WsClient,
    members: &[String],
    status: &str,
) -> HashMap<String, Instant> {
    let mut seen = HashMap::new();
    while seen.len() < members.len() {
        let frame = observer
            .next_matching_within(DELAY * 10, "presence", |f| {
                f["type"] == "presence" && f["status"] == status
            })
            .await
            .unwrap_or_else(|| panic!("no `{status}` for every pseudonym: {seen:?}"));
        let member = text(&frame["member"]);
        if members.contains(&member) {
            seen.entry(member).or_insert_with(Instant::now);
        }
    }
    seen
}

fn gap(at: &HashMap<String, Instant>, a: &str, b: &str) -> Duration {
    let (a, b) = (at[a], at[b]);
    if a > b { a - b } else { b - a }
}

fn presence_frames_of<'a>(frames: &'a [Value], members: &[String]) -> Vec<&'a Value> {
    frames
        .iter()
        .filter(|f| f["type"] == "presence" && members.contains(&text(&f["member"])))
        .collect()
}

async fn show_presence(rest: &Rest, person: &Person, conversation: &str) {
    let chosen = rest
        .put(
            &format!("/api/conversations/{conversation}/presence"),
            Some(&person.token),
            &json!({"shown": true}),
        )
        .await
        .ok();
    assert_eq!(chosen["conversation"]["presence_shown"], true, "{chosen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_presence_of_pseudonyms_is_unlinkable() {
    let app = spawn_app_with(|c| c.mentoring.pseudonymous_presence_delay = DELAY).await;
    let rest = &app.rest;
    let observer = rest.login("Olga Observer", "mentor").await;
    let nora = rest.login("Nora Student", "mentee").await;
    let pia = rest.login("Pia Student", "mentee").await;
    let quinn = rest.login("Quinn Student", "mentee").await;
    let first = create_room(rest, &observer, json!({"title": "First circle"})).await;
    let second = create_room(rest, &observer, json!({"title": "Second circle"})).await;
    let wren = text(&enter_room(rest, &observer, &first, &nora, Some("Wren")).await["me"]);
    let lark = text(&enter_room(rest, &observer, &second, &nora, Some("Lark")).await["me"]);
    let finch = text(&enter_room(rest, &observer, &first, &pia, Some("Finch")).await["me"]);
    let heron = text(&enter_room(rest, &observer, &second, &quinn, Some("Heron")).await["me"]);
    let pseudonyms = [wren.clone(), lark.clone(), finch.clone(), heron.clone()];
    let mut observer_ws = WsClient::connect_recording(&app.ws_url, &observer.token).await;
    settle(&mut observer_ws).await;
    let people = [&nora, &pia, &quinn];

    // Default settings: nothing to correlate, however often they come and go.
    let mark = observer_ws.transcript().len();
    for _ in 0..3 {
        let sockets = connect_all(&app.ws_url, &people).await;
        tokio::time::sleep(DELAY * 2).await;
        close_all(sockets).await;
        tokio::time::sleep(DELAY * 2).await;
    }
    let sockets = connect_all(&app.ws_url, &people).await;
    tokio::time::sleep(DELAY * 2).await;
    settle(&mut observer_ws).await;
    let seen = presence_frames_of(&observer_ws.transcript()[mark..], &pseudonyms);
    assert!(
        seen.is_empty(),
        "pseudonyms' presence shown by default: {seen:?}"
    );
    for (room, members) in [(&first, [&wren, &finch]), (&second, [&lark, &heron])] {
        let view = summary(rest, &observer, room).await;
        for member in members {
            let entry = super::member_entry(&view, member);
            assert!(
                entry.get("presence").is_none_or(Value::is_null),
                "a pseudonym's presence in the member list: {entry}"
            );
        }
        let own = summary(rest, &nora, room).await;
        assert_eq!(own["presence_shown"], false, "{own}");
    }
    close_all(sockets).await;
    tokio::time::sleep(DELAY * 2).await;

    // Each turns presence on: changes are shown, online or offline only, each after a
    // delay of its own.
    show_presence(rest, &nora, &first).await;
    show_presence(rest, &nora, &second).await;
    show_presence(rest, &pia, &first).await;
    show_presence(rest, &quinn, &second).await;
    settle(&mut observer_ws).await;
    let mut linked = Vec::new();
    let mut unrelated = Vec::new();
    for _ in 0..6 {
        let mut sockets = connect_all(&app.ws_url, &people).await;
        let online = arrivals(&mut observer_ws, &pseudonyms, "online").await;
        // `away` is not a change a pseudonym shows.
        sockets[0]
            .request(json!({"type": "presence", "status": "away"}))
            .await;
        close_all(sockets).await;
        let offline = arrivals(&mut observer_ws, &pseudonyms, "offline").await;
        for at in [&online, &offline] {
            linked.push(gap(at, &wren, &lark));
            unrelated.push(gap(at, &finch, &heron));
        }
    }
    settle(&mut observer_ws).await;
    let away = observer_ws
        .transcript()
        .iter()
        .filter(|f| f["type"] == "presence" && f["status"] == "away")
        .filter(|f| pseudonyms.contains(&text(&f["member"])))
        .count();
    assert_eq!(away, 0, "a pseudonym was shown away");

    // An observer who calls two memberships one person when they change together is
    // right no more often for Wren and Lark than for two strangers, and rarely at all.
    let together = |gaps: &[Duration]| gaps.iter().filter(|g| **g <= TOGETHER).count();
    assert!(
        together(&linked) < 3,
        "Wren and Lark changed together {} times of {}: {linked:?}",
        together(&linked),
        linked.len()
    );
    assert!(
        together(&unrelated) < 3,
        "the strangers changed together: {unrelated:?}"
    );
    let median = |gaps: &mut Vec<Duration>| {
        gaps.sort();
        gaps[gaps.len() / 2]
    };
    assert!(
        median(&mut linked) > DELAY / 20,
        "Wren's and Lark's changes stay close: {linked:?}"
    );
    app.shutdown().await;
}
