//! The `mentorhub` binary as a child process: what a deployment runs, so tests can
//! SIGKILL it, SIGTERM it, restart it on the same data dir and read its logs.
//!
//! Processes are configured only through `MENTORHUB_*` variables. They are not in dev
//! mode: each [`ProcessOptions`] carries an HS256 secret, and its [`Rest`] mints tokens
//! with it, as an institution's identity provider would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rand::Rng;
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::rest::Rest;
use crate::{WAIT, eventually};

/// Settings for a server process (`set("rate_burst", "5")` → `MENTORHUB_RATE_BURST=5`).
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    pub env: BTreeMap<String, String>,
    /// The HS256 secret every process started with these options trusts.
    pub secret: String,
    /// Soft and hard open-file limit of the process (set with util-linux `prlimit`).
    pub open_file_limit: Option<u64>,
    /// Runs the process in this network namespace (`ip netns exec`), reached at the
    /// given address instead of the one it reports listening on (see [`crate::netns`]).
    pub namespace: Option<(String, std::net::IpAddr)>,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        let secret: String = (0..48)
            .map(|_| (b'a' + rand::rng().random_range(0..26)) as char)
            .collect();
        ProcessOptions {
            env: BTreeMap::new(),
            secret,
            open_file_limit: None,
            namespace: None,
        }
        .set("listen", "127.0.0.1:0")
        .with_secret()
        // Several servers on one host: each embedded TURN server on its own port.
        .set("turn_listen", "127.0.0.1:0")
        .set("log", "debug")
    }
}

impl ProcessOptions {
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        let name = format!("MENTORHUB_{}", key.to_uppercase());
        self.env.insert(name, value.into());
        self
    }

    fn with_secret(self) -> Self {
        let secret = self.secret.clone();
        self.set("jwt_hs256_secret", secret)
    }
}

/// The `mentorhub` binary next to the test executable (`target/debug/mentorhub`), or
/// `MENTORHUB_BIN`.
pub fn server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MENTORHUB_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/debug/deps/e2e-… → target/debug/mentorhub
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a target directory");
    let binary = dir.join("mentorhub");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build --workspace --bins`",
        binary.display()
    );
    // Note: `cargo nextest run` builds test targets, not this binary; scripts/test.sh
    // builds it first, by hand run `cargo build --workspace --bins`.
    binary
}

pub struct ServerProcess {
    pub rest: Rest,
    pub base_url: String,
    pub ws_url: String,
    pub data_dir: PathBuf,
    pub options: ProcessOptions,
    child: Option<Child>,
    starts: usize,
    dir: TempDir,
}

/// Starts a server with default options.
pub async fn spawn_process() -> ServerProcess {
    spawn_process_with(ProcessOptions::default()).await
}

/// Starts a server and waits until it listens.
pub async fn spawn_process_with(options: ProcessOptions) -> ServerProcess {
    let dir = tempfile::Builder::new()
        .prefix("mentorhub-proc-")
        .tempdir()
        .expect("a temporary dir");
    let data_dir = dir.path().join("data");
    let mut process = ServerProcess {
        rest: Rest::minting("http://127.0.0.1:1", options.secret.as_bytes()),
        base_url: String::new(),
        ws_url: String::new(),
        data_dir,
        options,
        child: None,
        starts: 0,
        dir,
    };
    process.start().await;
    process
}

impl ServerProcess {
    async fn start(&mut self) {
        self.starts += 1;
        let log = self.log_path(self.starts);
        let file = std::fs::File::create(&log).expect("a log file");
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if let Some((namespace, _)) = &self.options.namespace {
            argv.extend(["ip", "netns", "exec", namespace].map(Into::into));
        }
        if let Some(limit) = self.options.open_file_limit {
            argv.extend(["prlimit".into(), format!("--nofile={limit}:{limit}").into()]);
            argv.push("--".into());
        }
        argv.push(server_binary().into());
        // `ip netns exec` and `prlimit` exec the server: the child's pid is the server's.
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .envs(&self.options.env)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("a log handle"))
            .stderr(file)
            .kill_on_drop(true);
        self.child = Some(command.spawn().expect("start the mentorhub binary"));
        let addr = eventually(Duration::from_secs(30), "the server to listen", || {
            let log = log.clone();
            let exited = self.has_exited();
            async move {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(!exited, "the server exited at start-up:\n{text}");
                text.lines()
                    .find_map(|l| l.strip_prefix("mentorhub listening on http://"))
                    .map(|a| a.trim().to_owned())
            }
        })
        .await;
        let addr = match &self.options.namespace {
            None => addr,
            Some((_, host)) => {
                let port = addr.rsplit_once(':').map_or("", |(_, port)| port);
                format!("{host}:{port}")
            }
        };
        self.base_url = format!("http://{addr}");
        self.ws_url = format!("ws://{addr}/ws");
        self.rest = Rest::minting(&self.base_url, self.options.secret.as_bytes());
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    fn log_path(&self, start: usize) -> PathBuf {
        self.dir.path().join(format!("server-{start}.log"))
    }

    /// Everything the process wrote to stdout and stderr, over all its starts.
    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|i| std::fs::read_to_string(self.log_path(i)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGKILL, and wait until the process is gone.
    pub async fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// SIGTERM (graceful drain); see [`wait_exit`](Self::wait_exit).
    pub fn sigterm(&self) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            // SAFETY: kill(2) with a pid we own; no memory is involved.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
    }

    /// Waits for the process to exit; `None` if it is still running after `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = tokio::time::timeout(within, child.wait()).await.ok()?.ok();
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// Starts the process again on the same data dir (a new port).
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            self.sigterm();
            let _ = self.wait_exit(WAIT).await;
            self.sigkill().await;
        }
        self.start().await;
    }
}

impl Drop for ServerProcess {
    /// A failing test shows the end of each server's log (the temp dir goes with it).
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.logs();
            let lines: Vec<&str> = logs.lines().collect();
            let tail = &lines[lines.len().saturating_sub(80)..];
            eprintln!(
                "---- {} log (last {} lines) ----\n{}",
                self.base_url,
                tail.len(),
                tail.join("\n")
            );
        }
    }
}
