//! `/readyz` of a node watched through a partition: sampled every 250 ms, so a test can
//! say what the node reported while a link was cut and after it healed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mentorhub_tests::eventually;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// When each `/readyz` probe returned, and its body (`None`: no answer within 3 s).
type Samples = Arc<Mutex<Vec<(Instant, Option<Value>)>>>;

/// `/readyz` of one node, sampled every 250 ms until dropped.
pub(super) struct Readiness {
    samples: Samples,
    task: JoinHandle<()>,
}

impl Readiness {
    pub(super) fn watch(base_url: &str) -> Readiness {
        let url = format!("{base_url}/readyz");
        let samples: Samples = Arc::default();
        let out = samples.clone();
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .expect("an HTTP client");
            loop {
                let body = match http.get(&url).send().await {
                    Ok(response) => response.json::<Value>().await.ok(),
                    Err(_) => None,
                };
                out.lock().unwrap().push((Instant::now(), body));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Readiness { samples, task }
    }

    /// Samples taken between `from` and `to`.
    pub(super) fn between(&self, from: Instant, to: Instant) -> Vec<Option<Value>> {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Waits until a sample satisfies `test`; returns it.
    pub(super) async fn until(
        &self,
        within: Duration,
        what: &str,
        test: impl Fn(&Value) -> bool,
    ) -> Value {
        let since = Instant::now();
        eventually(within, what, || {
            let found = self
                .samples
                .lock()
                .unwrap()
                .iter()
                .filter(|(at, _)| *at >= since)
                .find_map(|(_, body)| body.clone().filter(|b| test(b)));
            async move { found }
        })
        .await
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(super) fn ready(body: &Value) -> bool {
    body["ready"] == true
}

pub(super) fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name].as_str().unwrap_or("")
}

/// Every sample of a healthy node: answered, ready.
pub(super) fn assert_all_ready(samples: &[Option<Value>], who: &str) {
    assert!(!samples.is_empty(), "{who}: no /readyz samples");
    for sample in samples {
        let body = sample
            .as_ref()
            .unwrap_or_else(|| panic!("{who}: /readyz did not answer"));
        assert!(ready(body), "{who} is healthy but /readyz said {body}");
    }
}
