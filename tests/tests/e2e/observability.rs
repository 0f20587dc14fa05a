//! What operators scrape: every series is there on a fresh node before any traffic,
//! the latency histograms fill when people talk, and no label ever carries an id
//! that could identify a person or a conversation. Two `mentorhub` processes on one
//! PostgreSQL and one Redis, so the bus and the shared store pool are the real ones.
//!
//! Every test name contains `metrics` (`-E 'test(/metrics/)'`).

use std::collections::{BTreeMap, BTreeSet};

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::process::ServerProcess;
use mentorhub_tests::rest::text;
use mentorhub_tests::{Pair, Person, WAIT, WsClient, eventually};
use serde_json::{Value, json};

mod exposition;

use exposition::{Sample, parse_exposition, value_of};

/// Series a fresh node exports before anyone connected (names as scraped: a
/// histogram by its `_bucket` series).
const FROM_START: &[&str] = &[
    // Latency histograms.
    "mentorhub_store_commit_seconds_bucket",
    "mentorhub_commit_to_fanout_seconds_bucket",
    "mentorhub_send_to_ack_seconds_bucket",
    "mentorhub_hello_to_welcome_seconds_bucket",
    "mentorhub_bus_publish_lag_seconds_bucket",
    "mentorhub_bus_receive_lag_seconds_bucket",
    // Store pool saturation.
    "mentorhub_store_pool_in_use",
    "mentorhub_store_pool_size",
    "mentorhub_store_writes_waiting",
    // Readiness and the build.
    "mentorhub_ready",
    "mentorhub_store_up",
    "mentorhub_bus_up",
    "mentorhub_draining",
    "mentorhub_build_info",
    // Process.
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_cpu_seconds_total",
    // Counters and gauges at 0.
    "mentorhub_connections",
    "mentorhub_connections_total",
    "mentorhub_slow_consumer_closes_total",
    "mentorhub_bus_silence_detected_total",
    "mentorhub_bus_reconnects_total",
    "mentorhub_bus_published_total",
    "mentorhub_bus_received_total",
    "mentorhub_bus_publish_dropped_total",
    "mentorhub_messages_total",
    "mentorhub_acks_total",
    "mentorhub_errors_total",
    "mentorhub_runtime_tasks",
];

async fn scrape(node: &ServerProcess) -> Vec<Sample> {
    let (status, body) = node.rest.get_text("/metrics").await;
    assert_eq!(status, 200, "{body}");
    parse_exposition(&body)
}

fn assert_from_start(node: &str, samples: &[Sample]) {
    let names: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    let missing: Vec<&&str> = FROM_START.iter().filter(|n| !names.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "{node} lacks {missing:?} before any traffic"
    );
    // Histograms, not summaries: buckets in seconds up to +Inf, empty so far.
    for histogram in FROM_START.iter().filter(|n| n.ends_with("_seconds_bucket")) {
        let buckets: Vec<&Sample> = samples.iter().filter(|s| s.name == *histogram).collect();
        assert!(buckets.len() >= 10, "{node}: {histogram} has few buckets");
        assert!(
            buckets
                .iter()
                .any(|s| s.labels.get("le").map(String::as_str) == Some("+Inf")),
            "{node}: {histogram} has no +Inf bucket"
        );
    }
    let info = samples
        .iter()
        .find(|s| s.name == "mentorhub_build_info")
        .expect("build info");
    assert_eq!(info.value, 1.0);
    assert!(info.labels.contains_key("version"), "{info:?}");
    assert_eq!(
        value_of(samples, "mentorhub_ready", &[]),
        Some(1.0),
        "{node}"
    );
    // PostgreSQL: one pool for reads and writes, with its configured size.
    assert!(
        value_of(samples, "mentorhub_store_pool_size", &[("pool", "shared")]) > Some(0.0),
        "{node}: no shared pool size"
    );
    assert!(
        value_of(samples, "process_resident_memory_bytes", &[]) > Some(1e6),
        "{node}: RSS not read"
    );
    assert!(
        value_of(samples, "process_open_fds", &[]) > Some(3.0),
        "{node}: open files not read"
    );
}

/// Every string in `value` under a key that names an id (`id`, `*_id`, `conversation`,
/// `member`, …), and every string that looks like one of the server's ids.
fn collect_ids(value: &Value, ids: &mut BTreeSet<String>) {
    const ID_KEYS: &[&str] = &[
        "id",
        "conversation",
        "member",
        "members",
        "account",
        "relationship",
        "call",
        "from",
        "to",
        "by",
        "session",
        "client_id",
        "ringing",
        "participants",
    ];
    const ID_PREFIXES: &[&str] = &["c_", "m_", "r_", "k_", "p_", "dev:"];
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if ID_KEYS.contains(&key.as_str()) || key.ends_with("_id") || key.ends_with("_ids")
                {
                    strings_in(field, ids);
                }
                collect_ids(field, ids);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_ids(item, ids)),
        Value::String(s) if ID_PREFIXES.iter().any(|p| s.starts_with(p)) && s.len() > 4 => {
            ids.insert(s.clone());
        }
        _ => {}
    }
}

fn strings_in(value: &Value, ids: &mut BTreeSet<String>) {
    match value {
        Value::String(s) if !s.is_empty() => {
            ids.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| strings_in(item, ids)),
        Value::Object(fields) => fields.values().for_each(|field| strings_in(field, ids)),
        _ => {}
    }
}

/// A room on `node` that `members` joined with invite codes and agreed to.
async fn room(node: &ServerProcess, facilitator: &Person, members: &[&Person]) -> Vec<Value> {
    let rest = &node.rest;
    let mut replies = Vec::new();
    let created = rest
        .post(
            "/api/rooms",
            Some(&facilitator.token),
            &json!({"title": "Night shift", "kind": "peer"}),
        )
        .await
        .ok();
    let room = text(&created["conversation"]["id"]);
    replies.push(created);
    // The creator accepts too, if the room asks it to (`conflict` if not).
    let _ = rest
        .post(
            &format!("/api/rooms/{room}/agreement"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await;
    for member in members {
        let code = rest
            .post(
                &format!("/api/rooms/{room}/invite-codes"),
                Some(&facilitator.token),
                &json!({}),
            )
            .await
            .ok();
        let code_text = text(&code["invite_code"]["code"]);
        replies.push(code);
        let body = json!({"code": code_text, "pseudonym": format!("Owl {}", member.name)});
        replies.push(
            rest.post("/api/rooms/join", Some(&member.token), &body)
                .await
                .ok(),
        );
        replies.push(
            rest.post(
                &format!("/api/rooms/{room}/agreement"),
                Some(&member.token),
                &json!({}),
            )
            .await
            .ok(),
        );
    }
    replies
}

/// Sends a call action and returns the reply carrying its `ref`.
async fn call(ws: &mut WsClient, action: &str, fields: Value) -> Value {
    let mut frame = fields;
    frame["type"] = json!("call");
    frame["action"] = json!(action);
    ws.request(frame).await
}

async fn call_event(ws: &mut WsClient, event: &str) -> Value {
    ws.next_matching(&format!("call event `{event}`"), |f| {
        f["type"] == "call" && f["event"] == event
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observability_metrics_present_from_start_histograms_fill_and_no_id_is_a_label() {
    let redis = RedisServer::start().await;
    let cluster = Cluster::start(2, RedisLink::Single(redis.url())).await;
    cluster.wait_ready().await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    assert_from_start("node-a", &scrape(a).await);
    assert_from_start("node-b", &scrape(b).await);

    // A short session: chat across nodes (one retried client id), a room, a call rung,
    // answered and hung up.
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let pair = Pair::create(&a.rest, "Nadia Mentee", "Dr Bello Mentor").await;
    let conversation = pair.conversation.as_str();
    for id in [&pair.conversation, &pair.relationship] {
        ids.insert(id.clone());
    }
    for person in [&pair.mentee, &pair.mentor] {
        ids.insert(person.account.clone());
    }
    let mut mentee = WsClient::connect_recording(&a.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect_recording(&b.ws_url, &pair.mentor.token).await;
    let mut client_ids = Vec::new();
    for n in 0..5 {
        let client_id = format!("obs-{n}-{}", rand::random::<u32>());
        let seq = mentee
            .say(conversation, &client_id, "a private question")
            .await;
        mentor.wait_for_seq(conversation, seq).await;
        client_ids.push(client_id);
    }
    // The same client id again: acknowledged once more, not stored twice.
    mentee
        .say(conversation, &client_ids[0], "a private question")
        .await;
    let reply_id = format!("obs-reply-{}", rand::random::<u32>());
    let seq = mentor.say(conversation, &reply_id, "an answer").await;
    mentee.wait_for_seq(conversation, seq).await;
    client_ids.push(reply_id);

    let facilitator = a.rest.login("Fay Facilitator", "mentor").await;
    let ada = b.rest.login("Ada Student", "mentee").await;
    ids.extend([facilitator.account.clone(), ada.account.clone()]);
    let replies = room(a, &facilitator, &[&pair.mentee, &ada]).await;
    let room_id = text(&replies[0]["conversation"]["id"]);
    let mut ada_ws = WsClient::connect_recording(&b.ws_url, &ada.token).await;
    let mut host = WsClient::connect_recording(&a.ws_url, &facilitator.token).await;
    let room_say = format!("obs-room-{}", rand::random::<u32>());
    let seq = ada_ws.say(&room_id, &room_say, "hello room").await;
    host.wait_for_seq(&room_id, seq).await;
    client_ids.push(room_say);

    let started = call(
        &mut mentee,
        "start",
        json!({"conversation": conversation, "media": "audio"}),
    )
    .await;
    assert_eq!(started["event"], "started", "{started}");
    let call_id = text(&started["call"]);
    call_event(&mut mentor, "ringing").await;
    let joined = call(&mut mentor, "accept", json!({"call": call_id})).await;
    assert_eq!(joined["event"], "joined", "{joined}");
    call_event(&mut mentee, "participant_joined").await;
    // An answered call goes on until its last participant leaves.
    let left = call(&mut mentee, "leave", json!({"call": call_id})).await;
    assert_eq!(left["type"], "ok", "{left}");
    call_event(&mut mentor, "participant_left").await;
    let left = call(&mut mentor, "leave", json!({"call": call_id})).await;
    assert_eq!(left["type"], "ok", "{left}");

    for ws in [&mentee, &mentor, &ada_ws, &host] {
        for frame in ws.transcript() {
            collect_ids(frame, &mut ids);
        }
    }
    for reply in &replies {
        collect_ids(reply, &mut ids);
    }
    ids.extend(client_ids);
    for must in [conversation, room_id.as_str(), call_id.as_str()] {
        assert!(ids.contains(must), "{must} was not collected");
    }
    assert!(
        ids.iter().any(|id| id.starts_with("m_")),
        "no member id collected"
    );

    // The histograms saw this session: commits, fan-out, acks and handshakes on the
    // mentee's node; the bus both ways between the nodes.
    let after_a = eventually(WAIT, "node A's histograms", || async {
        let samples = scrape(a).await;
        let seen = |name: &str| value_of(&samples, name, &[]).unwrap_or(0.0) > 0.0;
        [
            "mentorhub_store_commit_seconds_count",
            "mentorhub_commit_to_fanout_seconds_count",
            "mentorhub_send_to_ack_seconds_count",
            "mentorhub_hello_to_welcome_seconds_count",
            "mentorhub_bus_publish_lag_seconds_count",
            "mentorhub_bus_receive_lag_seconds_count",
        ]
        .iter()
        .all(|name| seen(name))
        .then_some(samples)
    })
    .await;
    let after_b = scrape(b).await;
    assert!(
        value_of(&after_b, "mentorhub_bus_receive_lag_seconds_count", &[]) > Some(0.0),
        "node B received nothing over the bus"
    );
    assert!(
        value_of(&after_a, "mentorhub_send_to_ack_seconds_count", &[]) >= Some(6.0),
        "every send (the retry included) is timed"
    );

    for (node, samples) in [("node-a", &after_a), ("node-b", &after_b)] {
        for sample in samples.iter() {
            for (key, value) in &sample.labels {
                let leaked = ids
                    .iter()
                    .find(|id| value == *id || (id.len() >= 8 && value.contains(id.as_str())));
                assert!(
                    leaked.is_none(),
                    "{node}: {}{{{key}=\"{value}\"}} carries the id {leaked:?}",
                    sample.name
                );
            }
        }
    }
}

/// Series names and the label keys each carries, as a fresh in-process node exports
/// them, plus the series Prometheus adds itself.
async fn exported_series() -> BTreeMap<String, BTreeSet<String>> {
    let app = mentorhub_tests::spawn_app().await;
    let (status, body) = app.rest.get_text("/metrics").await;
    assert_eq!(status, 200);
    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sample in parse_exposition(&body) {
        series
            .entry(sample.name)
            .or_default()
            .extend(sample.labels.into_keys());
    }
    series.insert("up".into(), BTreeSet::new());
    series
}

/// Every (series, label keys matched) a PromQL expression selects.
fn selected(expr: &str) -> Vec<(String, Vec<String>)> {
    use promql_parser::parser::Expr;
    use promql_parser::util::{ExprVisitor, walk_expr};
    struct Selectors(Vec<(String, Vec<String>)>);
    impl ExprVisitor for Selectors {
        type Error = String;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
            let vs = match expr {
                Expr::VectorSelector(vs) => vs,
                Expr::MatrixSelector(ms) => &ms.vs,
                _ => return Ok(true),
            };
            let name = vs.name.clone().ok_or("a selector without a metric name")?;
            let keys = vs
                .matchers
                .matchers
                .iter()
                .map(|m| m.name.clone())
                .filter(|k| k != "__name__")
                .collect();
            self.0.push((name, keys));
            Ok(true)
        }
    }
    let parsed = promql_parser::parser::parse(expr)
        .unwrap_or_else(|error| panic!("PromQL does not parse: {error}\n{expr}"));
    let mut found = Selectors(Vec::new());
    walk_expr(&mut found, &parsed).unwrap_or_else(|error| panic!("{error} in {expr}"));
    found.0
}

/// Asserts that `expr` parses and selects only exported series by their own labels
/// (or the target labels Prometheus adds).
fn assert_selects_exported(whose: &str, expr: &str, exported: &BTreeMap<String, BTreeSet<String>>) {
    let selectors = selected(expr);
    assert!(!selectors.is_empty(), "{whose}: selects nothing: {expr}");
    for (name, keys) in selectors {
        let labels = exported
            .get(&name)
            .unwrap_or_else(|| panic!("{whose}: `{name}` is not exported: {expr}"));
        for key in keys {
            assert!(
                key == "job" || key == "instance" || labels.contains(&key),
                "{whose}: `{name}` has no label `{key}`: {expr}"
            );
        }
    }
}

fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observability_metrics_alert_rules_parse_and_name_exported_series() {
    let exported = exported_series().await;
    let rules: Value = serde_norway::from_str(&repo_file("deploy/prometheus/alerts.yml"))
        .expect("alerts.yml is YAML");
    let mut names = BTreeSet::new();
    for group in rules["groups"].as_array().expect("groups") {
        let group_name = group["name"].as_str().expect("a group name");
        for rule in group["rules"].as_array().expect("rules") {
            let alert = rule["alert"].as_str().expect("an alert name");
            assert!(names.insert(alert.to_owned()), "{alert} twice");
            let whose = format!("{group_name}/{alert}");
            assert_selects_exported(&whose, rule["expr"].as_str().expect("expr"), &exported);
            if let Some(wait) = rule.get("for") {
                let wait = wait.as_str().expect("`for` is a duration");
                promql_parser::util::parse_duration(wait)
                    .unwrap_or_else(|e| panic!("{whose}: for {wait}: {e}"));
            }
            assert!(
                ["page", "ticket"].contains(&rule["labels"]["severity"].as_str().unwrap_or("")),
                "{whose}: severity"
            );
            assert!(
                rule["annotations"]["summary"].is_string(),
                "{whose}: summary"
            );
            let keys: BTreeSet<&str> = rule
                .as_object()
                .expect("a rule is a mapping")
                .keys()
                .map(String::as_str)
                .collect();
            let allowed = BTreeSet::from(["alert", "expr", "for", "labels", "annotations"]);
            assert!(keys.is_subset(&allowed), "{whose}: unknown keys {keys:?}");
        }
    }
    for needed in [
        "MentorhubNotReady",
        "MentorhubBusSilent",
        "MentorhubSlowConsumerCloses",
        "MentorhubCommitLatencyHigh",
    ] {
        assert!(names.contains(needed), "no {needed} rule");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observability_metrics_dashboard_queries_name_exported_series() {
    let exported = exported_series().await;
    let dashboard: Value =
        serde_json::from_str(&repo_file("deploy/grafana/mentorhub.json")).expect("JSON");
    assert_eq!(dashboard["uid"], "mentorhub");
    let variables: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(variables.contains("datasource") && variables.contains("instance"));
    // Grafana's variables, as Prometheus would receive them.
    let expand = |expr: &str| {
        expr.replace("$__rate_interval", "5m")
            .replace("$instance", ".*")
    };
    let mut ids = BTreeSet::new();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("an id")),
            "{title}: id twice"
        );
        for key in ["h", "w", "x", "y"] {
            assert!(panel["gridPos"][key].is_u64(), "{title}: gridPos.{key}");
        }
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            assert_selects_exported(title, &expand(expr), &exported);
            queries += 1;
        }
    }
    assert!(queries >= 20, "only {queries} queries");
    let instances = dashboard["templating"]["list"][1]["definition"]
        .as_str()
        .expect("the node variable's query");
    let inner = instances
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(", instance)"))
        .expect("label_values(selector, instance)");
    assert_selects_exported("the node variable", inner, &exported);
    // Every latency histogram the server exports is on the dashboard.
    let text = dashboard.to_string();
    for histogram in exported
        .keys()
        .filter_map(|name| name.strip_suffix("_seconds_bucket"))
    {
        assert!(text.contains(histogram), "{histogram} is on no panel");
    }
}
