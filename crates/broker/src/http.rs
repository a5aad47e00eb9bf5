//! HTTP with bounded timeouts, retries with backoff and jitter, `Retry-After`, and error classification.
//!
//! Network errors, timeouts and 5xx are retried; 429 waits for `Retry-After` (if acceptable) and retries;
//! OAuth errors (4xx) are final. Server bodies never become error messages: only an OAuth error code does.

use crate::clock::Clock;
use crate::dpop::DpopKey;
use crate::error::{text, AuthError};
use portico_types::sync::lock;
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Mutex;
use std::time::Duration;
use url::Url;

/// The response header that carries a server's DPoP nonce (RFC 9449 §8.1).
const DPOP_NONCE: &str = "dpop-nonce";

/// A server's DPoP nonce from its answer (token endpoint or API), if it sent a usable one.
pub(crate) fn dpop_nonce(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(DPOP_NONCE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 1024)
}
/// Largest response body we read.
const MAX_BODY: usize = 1024 * 1024;

/// Retry and timeout policy.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_retry_after: Duration,
}

/// A response that was not retried away.
pub(crate) struct Response {
    pub status: StatusCode,
    pub body: Vec<u8>,
    /// The server's `DPoP-Nonce` (RFC 9449 §8), if it sent one.
    pub dpop_nonce: Option<String>,
}

/// Makes the `DPoP` header of each attempt of a token request: a fresh proof (its own `jti`,
/// `iat` now) carrying the server's latest nonce, which it also keeps (RFC 9449 §8).
pub(crate) struct DpopSigner<'a> {
    pub key: &'a DpopKey,
    pub clock: &'a dyn Clock,
    pub nonce: &'a Mutex<Option<String>>,
}

impl DpopSigner<'_> {
    fn proof(&self, method: &str, url: &Url) -> Option<String> {
        let nonce = lock(self.nonce).clone();
        match self
            .key
            .proof(method, url, self.clock.now(), nonce.as_deref(), None)
        {
            Ok(p) => Some(p),
            // Sent without a proof, the request is refused by the server and that refusal is
            // reported; a signing failure has no other cause to tell.
            Err(e) => {
                tracing::warn!(error = %e, "could not sign a DPoP proof");
                None
            }
        }
    }

    fn remember(&self, nonce: Option<&String>) {
        if let Some(n) = nonce {
            *lock(self.nonce) = Some(n.clone());
        }
    }
}

enum Attempt {
    Done(Response),
    Transient(AuthError),
    RateLimited(Option<u64>),
}

#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    policy: RetryPolicy,
}

impl Http {
    pub(crate) fn new(timeout: Duration, policy: RetryPolicy) -> Result<Self, AuthError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // Token and metadata endpoints must answer directly; a redirect could downgrade to http.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portico-broker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| AuthError::Internal {
                reason: "cannot build the HTTP client".into(),
            })?;
        Ok(Self { client, policy })
    }

    /// GET a JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        endpoint: &str,
    ) -> Result<T, AuthError> {
        let resp = self
            .send(endpoint, || {
                self.client
                    .get(url.clone())
                    .header("accept", "application/json")
            })
            .await?;
        parse_json(endpoint, resp)
    }

    /// POST a form, expecting JSON back.
    pub(crate) async fn post_form_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        endpoint: &str,
    ) -> Result<T, AuthError> {
        let resp = self
            .send(endpoint, || {
                self.client
                    .post(url.clone())
                    .header("accept", "application/json")
                    .form(form)
            })
            .await?;
        parse_json(endpoint, resp)
    }

    /// POST a form, expecting JSON back, with a DPoP proof on every attempt when `dpop` is given.
    /// A `use_dpop_nonce` refusal that brings a nonce is retried once with it (RFC 9449 §8).
    pub(crate) async fn post_form_json_dpop<T: DeserializeOwned>(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        endpoint: &str,
        dpop: Option<&DpopSigner<'_>>,
    ) -> Result<T, AuthError> {
        let Some(signer) = dpop else {
            return self.post_form_json(url, form, endpoint).await;
        };
        let mut retried_for_nonce = false;
        loop {
            let resp = self
                .send(endpoint, || {
                    let rb = self
                        .client
                        .post(url.clone())
                        .header("accept", "application/json")
                        .form(form);
                    match signer.proof("POST", url) {
                        Some(p) => rb.header("DPoP", p),
                        None => rb,
                    }
                })
                .await?;
            signer.remember(resp.dpop_nonce.as_ref());
            let wants_nonce = matches!(resp.status.as_u16(), 400 | 401)
                && oauth_error(&resp.body).0.as_deref() == Some("use_dpop_nonce")
                && resp.dpop_nonce.is_some();
            if wants_nonce && !retried_for_nonce {
                retried_for_nonce = true;
                tracing::debug!(endpoint, "the server asked for a DPoP nonce; retrying once");
                continue;
            }
            return parse_json(endpoint, resp);
        }
    }

    /// POST a form where only the status matters (RFC 7009 revocation).
    pub(crate) async fn post_form_status(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        endpoint: &str,
    ) -> Result<(), AuthError> {
        let resp = self
            .send(endpoint, || self.client.post(url.clone()).form(form))
            .await?;
        if resp.status.is_success() {
            Ok(())
        } else {
            Err(provider_error(endpoint, resp.status, &resp.body))
        }
    }

    async fn send(
        &self,
        endpoint: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, AuthError> {
        let mut attempt: u32 = 0;
        loop {
            let outcome = self.attempt(endpoint, build()).await;
            let retry_in = match outcome {
                Attempt::Done(r) => return Ok(r),
                Attempt::Transient(err) => {
                    if attempt >= self.policy.max_retries {
                        return Err(err);
                    }
                    tracing::debug!(
                        endpoint,
                        attempt,
                        kind = err.kind(),
                        "transient failure, retrying"
                    );
                    self.backoff(attempt)
                }
                Attempt::RateLimited(after) => {
                    let wait = after.map(Duration::from_secs);
                    let acceptable = wait.is_none_or(|w| w <= self.policy.max_retry_after);
                    if attempt >= self.policy.max_retries || !acceptable {
                        return Err(AuthError::provider_rate_limited(after));
                    }
                    tracing::debug!(
                        endpoint,
                        attempt,
                        retry_after_secs = after.unwrap_or(0),
                        "rate limited, waiting"
                    );
                    wait.unwrap_or_else(|| self.backoff(attempt))
                }
            };
            tokio::time::sleep(retry_in).await;
            attempt += 1;
        }
    }

    /// Exponential backoff with jitter: half fixed, half random, so retries spread but never collapse to 0.
    fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .policy
            .base_delay
            .saturating_mul(1u32 << attempt.min(10));
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::thread_rng().gen_range(0..=jitter_ms))
    }

    async fn attempt(&self, endpoint: &str, req: RequestBuilder) -> Attempt {
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Transient(classify(endpoint, &e)),
        };
        let status = resp.status();
        let retry_after = retry_after_secs(resp.headers());
        let dpop_nonce = dpop_nonce(resp.headers()).map(str::to_owned);
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > MAX_BODY {
                        return Attempt::Done(Response {
                            status: StatusCode::PAYLOAD_TOO_LARGE,
                            body: Vec::new(),
                            dpop_nonce: None,
                        });
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => return Attempt::Transient(classify(endpoint, &e)),
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Attempt::RateLimited(retry_after);
        }
        if status.is_server_error() {
            return Attempt::Transient(provider_error(endpoint, status, &body));
        }
        Attempt::Done(Response {
            status,
            body,
            dpop_nonce,
        })
    }
}

fn classify(endpoint: &str, e: &reqwest::Error) -> AuthError {
    if e.is_timeout() {
        return AuthError::Timeout {
            endpoint: endpoint.to_owned(),
        };
    }
    let detail = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response was cut off"
    } else {
        "the request failed"
    };
    AuthError::Network {
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}

/// `Retry-After` as delta-seconds (the form providers use for 429).
fn retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: Option<String>,
}

/// An RFC 6749 §5.2 error body: the code if it is well-formed, and the provider's description
/// made safe to show (see [`text::sanitize_description`]) when there is a code.
pub(crate) fn oauth_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(e) = serde_json::from_slice::<OAuthErrorBody>(body) else {
        return (None, None);
    };
    let ok = !e.error.is_empty()
        && e.error.len() <= 64
        && e.error
            .chars()
            .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'));
    if !ok {
        return (None, None);
    }
    let description = e
        .error_description
        .as_deref()
        .and_then(text::sanitize_description);
    (Some(e.error), description)
}

/// The OAuth error code alone (see [`oauth_error`]).
#[cfg(test)]
fn oauth_error_code(body: &[u8]) -> Option<String> {
    oauth_error(body).0
}

fn provider_error(endpoint: &str, status: StatusCode, body: &[u8]) -> AuthError {
    let (error, description) = oauth_error(body);
    AuthError::ProviderError {
        endpoint: endpoint.to_owned(),
        status: Some(status.as_u16()),
        error,
        description,
    }
}

fn parse_json<T: DeserializeOwned>(endpoint: &str, resp: Response) -> Result<T, AuthError> {
    if !resp.status.is_success() {
        return Err(provider_error(endpoint, resp.status, &resp.body));
    }
    serde_json::from_slice(&resp.body).map_err(|_| {
        tracing::warn!(
            endpoint,
            status = resp.status.as_u16(),
            "malformed JSON response"
        );
        AuthError::ProviderError {
            endpoint: endpoint.to_owned(),
            status: Some(resp.status.as_u16()),
            error: None,
            description: None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_error_codes_only_when_well_formed() {
        assert_eq!(
            oauth_error_code(br#"{"error":"invalid_grant","error_description":"x"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(oauth_error_code(b"<html>oops</html>"), None);
        assert_eq!(oauth_error_code(br#"{"error":"bad\"quote"}"#), None);
        assert_eq!(
            oauth_error_code(format!(r#"{{"error":"{}"}}"#, "a".repeat(100)).as_bytes()),
            None
        );
    }

    #[test]
    fn backoff_grows_and_jitters_within_bounds() {
        let http = Http::new(
            Duration::from_secs(1),
            RetryPolicy {
                max_retries: 3,
                base_delay: Duration::from_millis(100),
                max_retry_after: Duration::from_secs(5),
            },
        )
        .unwrap();
        for attempt in 0..4u32 {
            let full = Duration::from_millis(100 * (1 << attempt));
            for _ in 0..50 {
                let d = http.backoff(attempt);
                assert!(d >= full / 2 && d <= full, "{d:?} for attempt {attempt}");
            }
        }
        let samples: std::collections::HashSet<_> = (0..50).map(|_| http.backoff(3)).collect();
        assert!(samples.len() > 1, "jitter varies the delay");
    }

    #[test]
    fn retry_after_parsing() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after_secs(&h), Some(7));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after_secs(&h), None);
    }
}
