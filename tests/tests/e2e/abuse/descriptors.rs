//! The process's own descriptors: a server with a 1,024 open-file limit flooded with
//! 1,100 idle connections keeps answering `/healthz`, refuses what it cannot hold with
//! `503`, and closes the idle sockets after the header timeout.

use std::time::{Duration, Instant};

use mentorhub_tests::process::{ProcessOptions, spawn_process_with};
use tokio::net::TcpStream;

use super::{get, raw_request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_idle_connections_beyond_the_open_file_limit_leave_healthz_answering() {
    let mut options = ProcessOptions::default()
        .set("http_header_timeout_secs", "3")
        // One address may take all: this test is about the process's descriptors.
        .set("max_connections_per_address", "100000");
    options.open_file_limit = Some(1024);
    let server = spawn_process_with(options).await;
    let addr: std::net::SocketAddr = server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let started = Instant::now();
    let mut idle = Vec::new();
    for i in 0..1_100 {
        match TcpStream::connect(addr).await {
            Ok(tcp) => idle.push(tcp),
            Err(error) => panic!("connection {i} failed: {error}"),
        }
        if i % 100 == 99 {
            let asked = Instant::now();
            let (status, _) = raw_request(addr, &get("/healthz", "127.0.0.1", "")).await;
            assert_eq!(status, 200, "/healthz after {} idle connections", i + 1);
            assert!(asked.elapsed() < Duration::from_secs(2), "and promptly");
        }
    }
    // Over the cap (the limit less its reserve), requests are refused, not left hanging.
    let asked = Instant::now();
    let (status, head) = raw_request(addr, &get("/api/info", "127.0.0.1", "")).await;
    assert_eq!(status, 503, "{head}");
    assert!(asked.elapsed() < Duration::from_secs(2));
    // After the header timeout every idle socket is gone and the server is itself again.
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(started.elapsed())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = raw_request(addr, &get("/api/info", "127.0.0.1", "")).await;
    assert_eq!(status, 200, "the idle sockets were closed and released");
    let logs = server.logs();
    assert!(
        !logs.contains("out of file descriptors"),
        "the caps kept the process clear of its limit:\n{logs}"
    );
    drop(idle);
}
