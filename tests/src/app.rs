//! An in-process server: `App::build` on 127.0.0.1:0 in dev mode, on a temporary data
//! dir, served on the test's runtime. Cheap enough to start one per test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use mentorhub::app::App;
use mentorhub::config::Config;
use mentorhub::signalling::Signalling;
use mentorhub::store::Store;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::rest::Rest;

pub struct TestApp {
    pub addr: SocketAddr,
    pub base_url: String,
    pub ws_url: String,
    pub rest: Rest,
    pub data_dir: PathBuf,
    pub store: Arc<dyn Store>,
    pub signalling: Arc<Signalling>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
}

/// A server with the test defaults ([`Config::for_tests`]).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose configuration `adjust` may change first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::Builder::new()
        .prefix("mentorhub-test-")
        .tempdir()
        .expect("a temporary data dir");
    let data_dir = dir.path().join("data");
    let mut config = Config::for_tests(data_dir.clone());
    adjust(&mut config);
    let app = App::build(config).await.expect("the server starts");
    let addr = app.local_addr();
    let store = app.store().clone();
    let signalling = app.signalling().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let base_url = format!("http://{addr}");
    TestApp {
        addr,
        rest: Rest::dev(&base_url),
        ws_url: format!("ws://{addr}/ws"),
        base_url,
        data_dir,
        store,
        signalling,
        stop: Some(stop),
        served: Some(served),
        _dir: dir,
    }
}

impl TestApp {
    /// Graceful shutdown (drain, close the store); returns when the server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served
                .await
                .expect("the server task")
                .expect("a clean shutdown");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(served) = self.served.take() {
            served.abort();
        }
    }
}
