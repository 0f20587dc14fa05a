//! The served web client's hardening headers, and DNS rebinding.

use mentorhub_tests::{WsClient, spawn_app_with};

use super::{get, raw_request};

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_the_web_client_is_served_with_hardening_headers() {
    let app = spawn_app_with(|_| {}).await;
    let host = app.addr.to_string();
    let (status, head) = raw_request(app.addr, &get("/", &host, "")).await;
    assert_eq!(status, 200, "{head}");
    let csp = header(&head, "content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
    let permissions = header(&head, "permissions-policy").expect("a permissions policy");
    assert!(permissions.contains("camera=(self)") && permissions.contains("microphone=(self)"));
    assert_eq!(
        header(&head, "cross-origin-opener-policy"),
        Some("same-origin")
    );
    assert_eq!(
        header(&head, "strict-transport-security"),
        None,
        "not behind TLS"
    );

    let app = spawn_app_with(|c| c.http.behind_tls = true).await;
    let (_, head) = raw_request(app.addr, &get("/", &app.addr.to_string(), "")).await;
    assert_eq!(
        header(&head, "strict-transport-security"),
        Some("max-age=31536000")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_dns_rebinding_is_refused_by_host_and_origin() {
    let app = spawn_app_with(|_| {}).await;
    let port = app.addr.port();
    // The attacker's name, re-pointed at 127.0.0.1: same-origin to the browser.
    let evil = format!("evil.example:{port}");
    for path in ["/", "/api/info", "/ws"] {
        let (status, _) = raw_request(app.addr, &get(path, &evil, "")).await;
        assert_eq!(status, 403, "{path} for Host {evil}");
    }
    let (status, _) = raw_request(
        app.addr,
        &get("/api/info", &format!("localhost:{port}"), ""),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = raw_request(app.addr, &get("/healthz", &evil, "")).await;
    assert_eq!(status, 403, "nothing is answered for a foreign name");
    // Origin equal to a spoofed Host is no proof of same origin either.
    let origin = format!("http://{evil}");
    let upgrade = format!(
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: {origin}\r\n"
    );
    let (status, _) = raw_request(app.addr, &get("/ws", &evil, &upgrade)).await;
    assert_eq!(status, 403);
    assert!(
        WsClient::open_with_origin(&app.ws_url, &format!("http://127.0.0.1:{port}"))
            .await
            .is_ok(),
        "the server's own origin still works"
    );
}
