//! A real SMTP server per test: Python `aiosmtpd` (installed by `scripts/smtp-sink.sh`
//! into a virtualenv under `~/.cache/mentorhub`, on first use if need be) running
//! `tests/smtp/sink.py`, which writes every message it accepts to a directory with its
//! envelope, its raw text, its headers and its decoded text part.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The aiosmtpd version `scripts/smtp-sink.sh` installs.
const AIOSMTPD: &str = "aiosmtpd-1.4.6";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME");
    cache.join("mentorhub").join(AIOSMTPD).join("bin/python")
}

/// One message the server accepted.
#[derive(Clone, Debug, Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The user name it authenticated as, if the server required it.
    pub authenticated_as: Option<String>,
    /// The message as sent.
    pub data: String,
    /// Every header, unfolded and decoded.
    pub headers: Vec<(String, String)>,
    /// The text part, decoded.
    pub text: String,
}

impl Received {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Everything a reader or a scanner of this e-mail could see.
    pub fn everything(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        format!("{}\n{}\n{}", self.data, headers.join("\n"), self.text)
    }
}

pub struct SmtpSink {
    pub port: u16,
    dir: TempDir,
    _child: Child,
}

impl SmtpSink {
    /// A server that accepts every message.
    pub async fn start() -> SmtpSink {
        Self::spawn(&[], Duration::ZERO).await
    }

    /// A server that accepts messages only after `AUTH` as `user` with `password`.
    pub async fn start_with_login(user: &str, password: &str) -> SmtpSink {
        Self::spawn(&[user, password], Duration::ZERO).await
    }

    /// A server that answers each message only after `delay`, so that whoever sends
    /// waits that long.
    pub async fn start_slow(delay: Duration) -> SmtpSink {
        Self::spawn(&[], delay).await
    }

    async fn spawn(login: &[&str], delay: Duration) -> SmtpSink {
        if !python().exists() {
            let status = std::process::Command::new("bash")
                .arg(repository().join("scripts/smtp-sink.sh"))
                .status()
                .expect("run scripts/smtp-sink.sh");
            assert!(status.success(), "scripts/smtp-sink.sh failed");
        }
        let dir = tempfile::Builder::new()
            .prefix("mentorhub-smtp-")
            .tempdir()
            .expect("a temporary dir");
        let mut child = Command::new(python())
            .arg(repository().join("tests/smtp/sink.py"))
            .arg(dir.path())
            .args(login)
            .env("SINK_DELAY_SECS", delay.as_secs_f64().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP sink listens within 30 s")
            .expect("its stdout")
            .expect("a line");
        let port = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected line from the SMTP sink: {line}"));
        SmtpSink {
            port,
            dir,
            _child: child,
        }
    }

    /// `smtp://127.0.0.1:PORT`, for `smtp_url` (with `smtp_tls = none`).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("the sink's dir")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("a message file");
                serde_json::from_str(&text).expect("a message record")
            })
            .collect()
    }

    /// Messages to `address` accepted so far.
    pub fn received_by(&self, address: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == address))
            .collect()
    }
}
