//! The key set (JWKS) of one URL for JWT sign-in (docs/auth.md): fetched on first use and
//! kept for [`TTL`], fetched again sooner (at most every [`REFETCH`]) when a token names a
//! key it lacks. One fetch at a time, under one deadline for the whole exchange (connect,
//! TLS, headers and body) and a bound on the body; callers that come while it runs wait for
//! it, and it runs to its end even if the caller that started it goes away. A failed fetch
//! keeps the keys already known; while none was ever fetched, callers get
//! [`JwksError::Unavailable`] (503), never "no such key".

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;

use crate::metrics::METRICS;
use crate::outbound::Outbound;

/// Fetched keys are used this long before they are fetched again.
const TTL: Duration = Duration::from_secs(600);
/// A fetch is started at most this often, whatever callers ask.
const REFETCH: Duration = Duration::from_secs(30);
/// Largest JWKS document read.
const MAX_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// No key set was ever fetched: the server cannot check any token (503).
    #[error("cannot fetch the JWKS from {url}: {reason}")]
    Unavailable { url: String, reason: String },
}

pub struct JwksSource {
    url: String,
    /// One deadline for a whole fetch.
    deadline: Duration,
    outbound: Outbound,
    ttl: Duration,
    refetch: Duration,
    state: Arc<Mutex<State>>,
    /// Held by the fetch in flight for its whole length; callers queue on it.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct State {
    keys: Option<Arc<JwkSet>>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
    /// Why the last fetch failed, while it is the last one.
    failure: Option<String>,
}

impl JwksSource {
    pub fn new(url: String, deadline: Duration, outbound: Outbound) -> JwksSource {
        JwksSource {
            url,
            deadline,
            outbound,
            ttl: TTL,
            refetch: REFETCH,
            state: Arc::default(),
            fetching: Arc::default(),
        }
    }

    /// The keys fetched within [`TTL`]; with `stale_ok`, the last keys ever fetched.
    pub fn keys(&self, stale_ok: bool) -> Option<Arc<JwkSet>> {
        let state = lock(&self.state);
        let fresh = state.fetched.is_some_and(|at| at.elapsed() < self.ttl);
        state.keys.clone().filter(|_| fresh || stale_ok)
    }

    /// Brings the keys up to date for a caller that lacks a key: waits for the fetch in
    /// flight, or, unless `satisfied()` says the keys at hand now do, starts one (at most
    /// every [`REFETCH`]) and waits for its end. `Err` while no key set was ever fetched.
    pub async fn refresh(&self, satisfied: impl Fn() -> bool) -> Result<(), JwksError> {
        let turn = self.fetching.clone().lock_owned().await;
        if !satisfied() {
            let may_fetch = {
                let mut state = lock(&self.state);
                let may = state
                    .attempted
                    .is_none_or(|at| at.elapsed() >= self.refetch);
                if may {
                    state.attempted = Some(Instant::now());
                }
                may
            };
            if may_fetch {
                let fetch = self.fetch_to_end(turn);
                // A spawned task: the fetch ends (and frees the turn) even if this caller is
                // dropped; a panic in it is a failed fetch like any other.
                if let Err(err) = actix_rt::spawn(fetch).await {
                    lock(&self.state).failure = Some(format!("the fetch failed: {err}"));
                }
            }
        }
        let state = lock(&self.state);
        match &state.keys {
            Some(_) => Ok(()),
            None => Err(JwksError::Unavailable {
                url: self.url.clone(),
                reason: state
                    .failure
                    .clone()
                    .unwrap_or_else(|| "no fetch has ended yet".into()),
            }),
        }
    }

    /// One fetch, holding `turn` until it has stored its outcome.
    fn fetch_to_end(
        &self,
        turn: tokio::sync::OwnedMutexGuard<()>,
    ) -> impl std::future::Future<Output = ()> + 'static {
        let (url, deadline, outbound, state) = (
            self.url.clone(),
            self.deadline,
            self.outbound.clone(),
            self.state.clone(),
        );
        async move {
            let exchange = actix_rt::time::timeout(deadline, fetch(&outbound, &url, deadline));
            let outcome = match exchange.await {
                Ok(Err(FetchError::Late)) | Err(_) => {
                    Err(format!("no complete answer within {deadline:?}"))
                }
                Ok(Err(FetchError::Failed(reason))) => Err(reason),
                Ok(Ok(keys)) => Ok(keys),
            };
            let mut state = lock(&state);
            match outcome {
                Ok(keys) => {
                    METRICS.jwks_fetches.with_label_values(&["ok"]).inc();
                    state.keys = Some(Arc::new(keys));
                    state.fetched = Some(Instant::now());
                    state.failure = None;
                }
                Err(reason) => {
                    METRICS.jwks_fetches.with_label_values(&["failed"]).inc();
                    let kept = if state.keys.is_some() {
                        "; the keys fetched before are kept"
                    } else {
                        "; JWT sign-in answers 503 until a fetch succeeds"
                    };
                    log::warn!("JWKS {url}: {reason}{kept}");
                    state.failure = Some(reason);
                }
            }
            drop(turn);
        }
    }
}

enum FetchError {
    /// awc's own time-out (to the headers) passed.
    Late,
    Failed(String),
}

/// GET the document and read it whole; the caller bounds the time.
async fn fetch(outbound: &Outbound, url: &str, deadline: Duration) -> Result<JwkSet, FetchError> {
    let mut response =
        outbound
            .client(deadline)
            .get(url)
            .send()
            .await
            .map_err(|err| match err {
                awc::error::SendRequestError::Timeout => FetchError::Late,
                other => FetchError::Failed(other.to_string()),
            })?;
    if !response.status().is_success() {
        return Err(FetchError::Failed(format!("HTTP {}", response.status())));
    }
    let body = response
        .body()
        .limit(MAX_BYTES)
        .await
        .map_err(|err| match err {
            awc::error::PayloadError::Overflow => {
                FetchError::Failed(format!("the document is larger than {MAX_BYTES} bytes"))
            }
            other => FetchError::Failed(other.to_string()),
        })?;
    serde_json::from_slice(&body).map_err(|err| FetchError::Failed(format!("not a JWKS: {err}")))
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding this lock cannot leave the plain fields half-written.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
