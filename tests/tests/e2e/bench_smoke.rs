//! A few seconds of `loadgen` (tests/bench/README.md) against a `mentorhub` process, as
//! `tests/bench/compare.sh` runs it: tokens minted with the node's HS256 secret, rooms set
//! up through the REST API, then traffic. The generator checks that every message
//! reached every member of its group exactly once, in order, and that every send was
//! acked (after commit); its exit status is 0 only then.

use std::process::Stdio;
use std::time::Duration;

use mentorhub_tests::process::{ProcessOptions, spawn_process_with};
use serde_json::Value;

/// Runs the built `loadgen` with `args` against `secret`'s server; its JSON lines.
async fn loadgen(secret: &str, args: &[String]) -> Vec<Value> {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .env("MENTORHUB_JWT_HS256_SECRET", secret)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("loadgen finishes within a minute")
        .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "loadgen {args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn assert_lossless(line: &Value) {
    assert_eq!(line["exactlyOnce"]["exactlyOnce"], true, "{line}");
    assert_eq!(line["deliveryRatio"], 1.0, "{line}");
    assert!(line["delivered"].as_u64().unwrap_or(0) > 0, "{line}");
    assert_eq!(line["drain"]["complete"], true, "{line}");
}

/// `loadgen MODE --urls URL` + `spec` + a short window.
fn args(mode: &str, url: &str, spec: &str) -> Vec<String> {
    let window = "--warmup 0.5 --duration 2 --drain 10 --hard-limit 50";
    [mode, "--urls", url]
        .into_iter()
        .chain(spec.split_whitespace())
        .chain(window.split_whitespace())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_smoke_rooms_and_pairs_lose_nothing() {
    let server = spawn_process_with(ProcessOptions::default()).await;
    let url = server.base_url.as_str();
    let secret = server.options.secret.as_str();

    // Group rooms (creator, invite codes, agreement), every member sending.
    let rooms = args("rooms", url, "--rooms 3 --clients 12 --rate 4");
    let lines = loadgen(secret, &rooms).await;
    assert_eq!(lines.len(), 1);
    assert_lossless(&lines[0]);
    assert_eq!(lines[0]["config"]["groups"], 3);

    // Mentoring pairs (request → accept), both sides sending. (Not the closed loop:
    // unthrottled sends would meet the default per-connection rate limit.)
    let pairs = args("pairs", url, "--pairs 4 --rate 5");
    let lines = loadgen(secret, &pairs).await;
    assert_lossless(&lines[0]);
    assert_eq!(lines[0]["config"]["groupSizeMax"], 2);
}
