//! The identity provider's keys, fetched and kept: OpenID Connect discovery (or a JWKS URL)
//! over HTTPS, cached within the provider's `Cache-Control: max-age` (bounded by
//! [`KeySetTiming`]), refetched at most once per `refetch` interval for a token naming an
//! unknown `kid`, and kept while the provider is unreachable.
//!
//! Fetches are single-flight: however many tokens arrive with an unknown `kid` (a forger
//! making them up, or a real rotation seen by every device at once), one request goes out
//! and the others wait for its result. The last good set keeps serving when a fetch fails,
//! so an IdP outage stops no session that a known key signed.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

use super::AuthError;
use super::key_set::{KeySet, SetKey};
use crate::config::{KeySetSource, KeySetTiming};

/// Largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// A fetch (connect, headers and body) that takes longer has failed.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

type HttpsClient = crate::outbound::HttpsClient<Empty<Bytes>>;

/// The keys of one identity provider; shared by every verifier clone.
pub struct ProviderKeys {
    source: Source,
    timing: KeySetTiming,
    /// The last good set and until when it is fresh; read on every token.
    current: RwLock<Option<Cached>>,
    /// Held while fetching: the single flight.
    fetch: Mutex<FetchState>,
}

// One per process: the size of the fixed variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Source {
    Fixed,
    Remote {
        client: HttpsClient,
        discovery: Option<String>,
        /// Learnt from discovery, or configured.
        jwks_uri: RwLock<Option<String>>,
    },
}

#[derive(Clone)]
struct Cached {
    keys: Arc<KeySet>,
    fresh_until: Instant,
}

#[derive(Default)]
struct FetchState {
    /// When the last fetch (successful or not) started.
    last_attempt: Option<Instant>,
}

impl ProviderKeys {
    pub fn new(source: &KeySetSource, timing: KeySetTiming) -> Result<ProviderKeys, String> {
        let far_future = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        let (source, current) = match source {
            KeySetSource::File { json, .. } => {
                let keys = KeySet::parse(json)?;
                (
                    Source::Fixed,
                    Some(Cached {
                        keys: Arc::new(keys),
                        fresh_until: far_future,
                    }),
                )
            }
            KeySetSource::Url(url) => (remote(None, Some(url.clone()))?, None),
            KeySetSource::Discovery { issuer } => (remote(Some(issuer.clone()), None)?, None),
        };
        Ok(ProviderKeys {
            source,
            timing,
            current: RwLock::new(current),
            fetch: Mutex::new(FetchState::default()),
        })
    }

    /// Fetches the set now unless one is at hand, so the first sign-in does not wait
    /// and a misconfigured provider shows in the log at start-up.
    pub async fn prefetch(&self) {
        if matches!(self.source, Source::Fixed) || self.cached().is_some() {
            return;
        }
        let state = self.fetch.lock().await;
        self.refresh(state, None).await;
    }

    fn cached(&self) -> Option<Cached> {
        self.current.read().ok().and_then(|current| current.clone())
    }

    /// The key for a token's `kid`, fetching when the set is stale or lacks it (within
    /// the refetch budget).
    pub async fn key(&self, kid: Option<&str>) -> Result<SetKey, AuthError> {
        let cached = self.cached();
        let known = cached.as_ref().and_then(|c| c.keys.get(kid).cloned());
        if let (Some(cached), Some(key)) = (&cached, &known)
            && cached.fresh_until > Instant::now()
        {
            return Ok(key.clone());
        }
        if matches!(self.source, Source::Fixed) {
            return known.ok_or(AuthError::UnknownKey);
        }
        // A stale set that knows the key: one caller refreshes it, the others go on with
        // the stale key rather than wait for the provider.
        let state = match known {
            Some(key) => match self.fetch.try_lock() {
                Ok(state) => state,
                Err(_) => return Ok(key),
            },
            None => self.fetch.lock().await,
        };
        self.refresh(state, cached.map(|c| c.keys)).await;
        // The new set decides (a key rotated out is refused); after a failed fetch, the last
        // good one.
        match self.cached() {
            Some(cached) => cached.keys.get(kid).cloned().ok_or(AuthError::UnknownKey),
            None => Err(AuthError::KeysUnavailable),
        }
    }

    /// Fetches once for everyone waiting on the lock. `seen` is the set the caller looked
    /// in: if another task replaced it meanwhile, that fetch is the answer. Whatever the
    /// reason (unknown `kid`, stale set, provider down), at most one fetch goes out per
    /// refetch interval.
    async fn refresh(&self, mut state: MutexGuard<'_, FetchState>, seen: Option<Arc<KeySet>>) {
        let now = Instant::now();
        let replaced = match (&seen, self.cached()) {
            (Some(seen), Some(now_cached)) => !Arc::ptr_eq(seen, &now_cached.keys),
            (None, Some(_)) => true,
            _ => false,
        };
        if replaced {
            return;
        }
        let recently = state
            .last_attempt
            .is_some_and(|at| now.duration_since(at) < self.timing.refetch);
        if recently {
            return;
        }
        state.last_attempt = Some(now);
        match self.fetch_set().await {
            Ok((keys, max_age)) => {
                let lifetime = max_age
                    .unwrap_or(self.timing.cache_min)
                    .clamp(self.timing.cache_min, self.timing.cache_max);
                tracing::info!(
                    keys = keys.len(),
                    fresh_secs = lifetime.as_secs(),
                    "identity provider keys fetched"
                );
                if let Ok(mut current) = self.current.write() {
                    *current = Some(Cached {
                        keys: Arc::new(keys),
                        fresh_until: Instant::now() + lifetime,
                    });
                }
            }
            Err(reason) => {
                tracing::warn!(
                    %reason,
                    keeping_last_good_set = seen.is_some(),
                    "identity provider keys could not be fetched"
                );
            }
        }
    }

    async fn fetch_set(&self) -> Result<(KeySet, Option<Duration>), String> {
        let Source::Remote {
            client,
            discovery,
            jwks_uri,
        } = &self.source
        else {
            return Err("a fixed key set is never fetched".into());
        };
        let known = jwks_uri.read().ok().and_then(|uri| uri.clone());
        let uri = match (known, discovery) {
            (Some(uri), _) => uri,
            (None, Some(issuer)) => {
                let uri = discover(client, issuer).await?;
                if let Ok(mut slot) = jwks_uri.write() {
                    *slot = Some(uri.clone());
                }
                uri
            }
            (None, None) => return Err("no key set URL".into()),
        };
        let fetched = get(client, &uri).await;
        if fetched.is_err()
            && discovery.is_some()
            && let Ok(mut slot) = jwks_uri.write()
        {
            // The provider may have moved its keys: discover again next time.
            *slot = None;
        }
        let (body, max_age) = fetched?;
        let keys = KeySet::parse(&body).map_err(|reason| format!("the key set {reason}"))?;
        if keys.is_empty() {
            return Err("the key set holds no usable signing key".into());
        }
        Ok((keys, max_age))
    }
}

fn remote(discovery: Option<String>, jwks_uri: Option<String>) -> Result<Source, String> {
    let client = crate::outbound::https_client()?;
    Ok(Source::Remote {
        client,
        discovery,
        jwks_uri: RwLock::new(jwks_uri),
    })
}

/// OpenID Connect Discovery 1.0 §4: the document must name the issuer exactly as
/// configured, and its `jwks_uri`.
async fn discover(client: &HttpsClient, issuer: &str) -> Result<String, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let (body, _) = get(client, &url).await?;
    let document: Value =
        serde_json::from_slice(&body).map_err(|_| "the discovery document is not JSON")?;
    if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err("the discovery document names another issuer".into());
    }
    let uri = document
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("the discovery document has no jwks_uri")?;
    let secure = uri.starts_with("https://") || !issuer.starts_with("https://");
    if !secure {
        return Err("the discovery document names a jwks_uri that is not https".into());
    }
    Ok(uri.to_owned())
}

async fn get(client: &HttpsClient, url: &str) -> Result<(Bytes, Option<Duration>), String> {
    let request = hyper::Request::get(url)
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|_| format!("{url} is not a usable URL"))?;
    let fetch = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url}: HTTP {status}"));
        }
        let max_age = response
            .headers()
            .get(hyper::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age);
        let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        Ok((body, max_age))
    };
    tokio::time::timeout(FETCH_TIMEOUT, fetch)
        .await
        .map_err(|_| format!("{url}: no answer within {}s", FETCH_TIMEOUT.as_secs()))?
}

/// `max-age` from a Cache-Control header; `no-store` / `no-cache` count as zero (the
/// configured minimum then applies).
fn max_age(header: &str) -> Option<Duration> {
    let mut age = None;
    for directive in header.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests;
