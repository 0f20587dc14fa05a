//! A Janus instance (Debian's `janus`) per test, configured from the repository's own
//! templates (`deploy/janus/`, rendered by `deploy/janus/render.sh`) on a free port,
//! so a test can kill or pause it without touching any other test.
//!
//! `scripts/ensure-services.sh` installs the package; a test that needs Janus and does
//! not find it fails, naming that script.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::eventually;

/// The Janus binary (Debian's package).
pub const JANUS_BIN: &str = "/usr/bin/janus";

pub struct JanusOptions {
    /// Mentorhub's TURN REST endpoint for Janus's own candidates, if any.
    pub turn_rest_api: Option<String>,
}

pub struct Janus {
    /// `ws://127.0.0.1:PORT`, what Mentorhub's `janus_urls` takes.
    pub url: String,
    /// The API secret (Mentorhub's `janus_secret`).
    pub secret: String,
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A port free now (for a Janus started later with [`Janus::start_on`]).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// A random secret of letters (no quoting issues in the config).
pub fn random_secret() -> String {
    (0..32)
        .map(|_| (b'a' + rand::rng().random_range(0..26)) as char)
        .collect()
}

impl Janus {
    /// Starts Janus with `secret`, waiting until its WebSocket API answers.
    pub async fn start(secret: &str, options: JanusOptions) -> Janus {
        assert!(
            Path::new(JANUS_BIN).exists(),
            "{JANUS_BIN} is missing: run scripts/ensure-services.sh (it installs Debian's janus)"
        );
        for _ in 0..5 {
            if let Some(janus) = Self::try_start(free_port(), secret, &options).await {
                return janus;
            }
        }
        panic!("Janus did not start (see the log above)");
    }

    /// Starts Janus on `port` (a server configured with its URL may already run).
    pub async fn start_on(port: u16, secret: &str, options: JanusOptions) -> Janus {
        assert!(
            Path::new(JANUS_BIN).exists(),
            "{JANUS_BIN} is missing: run scripts/ensure-services.sh (it installs Debian's janus)"
        );
        Self::try_start(port, secret, &options)
            .await
            .expect("Janus starts on the reserved port")
    }

    async fn try_start(port: u16, secret: &str, options: &JanusOptions) -> Option<Janus> {
        let dir = tempfile::Builder::new()
            .prefix("mentorhub-janus-")
            .tempdir()
            .expect("a temporary dir");
        let config = dir.path().join("config");
        let mut render = Command::new("sh");
        render
            .arg(repository().join("deploy/janus/render.sh"))
            .arg(&config)
            .env("JANUS_API_SECRET", secret)
            .env("JANUS_WS_PORT", port.to_string())
            .env("JANUS_WS_IP", "127.0.0.1");
        if let Some(turn) = &options.turn_rest_api {
            render.env("JANUS_TURN_REST_API", turn);
        }
        let rendered = render.status().await.expect("run render.sh");
        assert!(rendered.success(), "deploy/janus/render.sh failed");
        let log = dir.path().join("janus.log");
        let file = std::fs::File::create(&log).expect("a log file");
        let mut command = Command::new(JANUS_BIN);
        if let Ok(level) = std::env::var("JANUS_DEBUG_LEVEL") {
            // Debugging a test only (the log's tail is printed when it fails): levels above
            // 3 log SDP, addresses and the secret.
            command.arg("-d").arg(level);
        }
        let child = command
            .arg("-F")
            .arg(&config)
            .arg("-C")
            .arg(config.join("janus.jcfg"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("a log handle"))
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("start janus");
        let mut janus = Janus {
            url: format!("ws://127.0.0.1:{port}"),
            secret: secret.to_owned(),
            port,
            child: Some(child),
            dir,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            if janus.has_exited() {
                eprintln!("janus exited at start-up:\n{}", janus.log());
                return None; // the port was taken meanwhile: try another
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(janus);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("janus did not listen in time:\n{}", janus.log());
        None
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("janus.log")).unwrap_or_default()
    }

    /// SIGKILL: the instance dies mid-call.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// How many VideoRoom rooms the instance holds (over its own API, with the admin key).
    pub async fn rooms(&self) -> usize {
        let list = self
            .videoroom(json!({"request": "list", "admin_key": self.secret}))
            .await;
        list["list"].as_array().map_or(0, Vec::len)
    }

    /// Participants (publishers, active or not) of every room on the instance.
    pub async fn participants(&self) -> usize {
        let list = self
            .videoroom(json!({"request": "list", "admin_key": self.secret}))
            .await;
        list["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|room| room["num_participants"].as_u64())
            .sum::<u64>() as usize
    }

    /// One VideoRoom request on a short-lived session; the plugin's `data`.
    async fn videoroom(&self, body: Value) -> Value {
        let mut request = self.url.as_str().into_client_request().expect("a url");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-protocol"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connect to janus");
        let mut ask = async |message: Value| -> Value {
            ws.send(Message::text(message.to_string()))
                .await
                .expect("send");
            loop {
                let Some(Ok(Message::Text(text))) = ws.next().await else {
                    panic!("janus closed the connection");
                };
                let reply: Value = serde_json::from_str(text.as_str()).expect("json");
                if reply["janus"] != "ack" {
                    return reply;
                }
            }
        };
        let created =
            ask(json!({"janus": "create", "transaction": "c", "apisecret": self.secret})).await;
        let session = created["data"]["id"].clone();
        let attached = ask(
            json!({"janus": "attach", "transaction": "a", "apisecret": self.secret,
            "session_id": session, "plugin": "janus.plugin.videoroom"}),
        )
        .await;
        let handle = attached["data"]["id"].clone();
        let reply = ask(
            json!({"janus": "message", "transaction": "m", "apisecret": self.secret,
            "session_id": session, "handle_id": handle, "body": body}),
        )
        .await;
        let _ = ask(
            json!({"janus": "destroy", "transaction": "d", "apisecret": self.secret,
            "session_id": session}),
        )
        .await;
        reply["plugindata"]["data"].clone()
    }

    /// Waits until the instance holds `rooms` rooms.
    pub async fn wait_rooms(&self, rooms: usize) {
        let what = format!("{} to hold {rooms} rooms", self.url);
        eventually(Duration::from_secs(20), &what, || async {
            (self.rooms().await == rooms).then_some(())
        })
        .await;
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("---- janus {} log ----\n{}", self.url, tail.join("\n"));
        }
    }
}
