//! Connection exhaustion before anyone is authenticated: idle and slowloris sockets,
//! caps, oversized headers, clients behind a trusted proxy.

use std::time::{Duration, Instant};

use mentorhub_tests::spawn_app_with;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{get, raw_request, read_head};

/// Whether the server closed `tcp` (EOF or reset, after any response) within `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let eof = async {
        let mut chunk = [0u8; 1024];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, eof).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_idle_and_slowloris_sockets_are_closed_by_the_header_timeout() {
    let app = spawn_app_with(|c| c.http.header_timeout = Duration::from_secs(2)).await;
    let started = Instant::now();
    let mut idle = Vec::new();
    let mut slow = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    // Trickle one header line per slowloris socket every half second: it must not
    // extend the deadline, and /healthz must answer meanwhile.
    for round in 0..3 {
        for s in &mut slow {
            let _ = s
                .write_all(format!("X-Pad-{round}: a\r\n").as_bytes())
                .await;
        }
        let asked = Instant::now();
        let (status, _) = raw_request(app.addr, &get("/healthz", "127.0.0.1", "")).await;
        assert_eq!(status, 200, "/healthz answers while 100 sockets hang");
        assert!(asked.elapsed() < Duration::from_secs(1), "and promptly");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for s in idle.iter_mut().chain(slow.iter_mut()) {
        assert!(
            closed_within(s, Duration::from_secs(4)).await,
            "a socket outlived the header timeout"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "all closed within the timeout (2 s) plus slack: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_connection_cap_answers_503_and_healthz_keeps_answering() {
    let app = spawn_app_with(|c| {
        c.http.max_connections = Some(40);
        c.http.header_timeout = Duration::from_secs(30);
    })
    .await;
    // Fill the cap with idle sockets (what an attacker with few resources can do).
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, head) = raw_request(app.addr, &get("/api/info", "127.0.0.1", "")).await;
    assert_eq!(status, 503, "over the cap: {head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 5"),
        "{head}"
    );
    let (status, _) = raw_request(app.addr, &get("/healthz", "127.0.0.1", "")).await;
    assert_eq!(status, 200, "/healthz answers even over the cap");
    // Releasing some lets ordinary requests in again.
    held.truncate(30);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = raw_request(app.addr, &get("/api/info", "127.0.0.1", "")).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_one_address_cannot_take_the_whole_cap() {
    let app = spawn_app_with(|c| {
        c.http.max_connections_per_address = 20;
        c.http.header_timeout = Duration::from_secs(30);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = raw_request(app.addr, &get("/api/info", "127.0.0.1", "")).await;
    assert_eq!(status, 503, "the 21st connection from 127.0.0.1 is refused");
    // Another loopback source address is another client.
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut tcp = other.connect(app.addr).await.unwrap();
    tcp.write_all(get("/api/info", "127.0.0.1", "").as_bytes())
        .await
        .unwrap();
    let (status, _) = read_head(&mut tcp, Duration::from_secs(5)).await;
    assert_eq!(status, 200, "127.0.0.2 has its own allowance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_clients_behind_a_trusted_proxy_are_counted_by_forwarded_address() {
    let app = spawn_app_with(|c| {
        c.http.max_connections_per_address = 2;
        c.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let person = app.rest.login("Proxied Person", "mentee").await;
    // Two WebSockets of one forwarded client hold its allowance; a third is refused,
    // while another client through the same proxy is not.
    let upgrade = |client: &str| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             X-Forwarded-For: {client}\r\n\r\n"
        )
    };
    let mut sockets = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        tcp.write_all(upgrade("198.51.100.7").as_bytes())
            .await
            .unwrap();
        let (status, _) = read_head(&mut tcp, Duration::from_secs(5)).await;
        assert_eq!(status, 101);
        sockets.push(tcp);
    }
    let (status, _) = raw_request(app.addr, &upgrade("198.51.100.7")).await;
    assert_eq!(status, 503, "a third socket of the same forwarded client");
    let (status, _) = raw_request(app.addr, &upgrade("198.51.100.8")).await;
    assert_eq!(status, 101, "another client behind the same proxy");
    // A header the client wrote itself (left of the proxy's entry) changes nothing.
    let (status, _) = raw_request(app.addr, &upgrade("203.0.113.1, 198.51.100.7")).await;
    assert_eq!(status, 503);
    drop(person);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_oversized_headers_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    let huge = format!("X-Big: {}\r\n", "a".repeat(200 * 1024));
    let (status, _) = raw_request(app.addr, &get("/api/info", "127.0.0.1", &huge)).await;
    assert_eq!(status, 431, "200 KB of headers");
    let (status, _) = raw_request(app.addr, &get("/api/info", "127.0.0.1", "X-Small: a\r\n")).await;
    assert_eq!(status, 200);
}
