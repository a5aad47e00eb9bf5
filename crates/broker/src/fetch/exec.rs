//! A native fetch, executed: under one of the caller's APIs, with that API's token attached by the
//! shell, one forced refresh and one retry when the API says the token is no good, redirects only
//! within the API, bodies bounded both ways, a timeout, and the page's abort.

use super::challenge::{self, ApiChallenge};
use super::rules::{self, ApiBase, FetchRefusal};
use crate::broker::Broker;
use crate::config::{Audience, ScopeSet};
use crate::error::{AuthError, FetchDefect};
use crate::ipc::TokenGrant;
use crate::request::{ScopeCeiling, TokenRequest};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, LOCATION};
use reqwest::{Method, StatusCode};
use std::future::Future;
use std::time::Duration;
use url::Url;

/// One API of a caller: where it lives, the audience its tokens are for, and the most the
/// caller may hold there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoute {
    pub base: ApiBase,
    pub audience: Audience,
    pub ceiling: ScopeCeiling,
}

/// Who fetches (as the host judged it from the webview) and through which APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCaller {
    pub id: String,
    pub routes: Vec<ApiRoute>,
}

/// What the page asked for, in the Fetch API's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchInput {
    /// Absolute (the client resolves a relative URL against its page first).
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// What the API answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutput {
    pub status: u16,
    pub status_text: String,
    /// Lower-case names; `Set-Cookie` never reaches the page.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The URL the answer came from (after redirects).
    pub url: String,
    pub redirected: bool,
}

/// Bounds of a native fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    pub max_request_body: usize,
    pub max_response_body: usize,
    /// For the whole exchange, redirects and the retry included.
    pub timeout: Duration,
    pub max_redirects: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            max_request_body: 10 * 1024 * 1024,
            max_response_body: 10 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            max_redirects: 5,
        }
    }
}

fn refused(r: FetchRefusal) -> AuthError {
    AuthError::FetchRefused {
        reason: FetchDefect::from(&r),
        detail: r.to_string(),
    }
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// An answer on its way: status, headers, where it came from, the response to read.
struct Answer {
    response: reqwest::Response,
    url: Url,
    redirected: bool,
}

impl Broker {
    /// Performs `input` for `caller`: see the module documentation. Aborted (typed
    /// `fetch_aborted`) when `abort` completes first.
    pub async fn fetch(
        &self,
        caller: &FetchCaller,
        input: FetchInput,
        abort: impl Future<Output = ()>,
    ) -> Result<FetchOutput, AuthError> {
        let limits = self.fetch_limits();
        tokio::select! {
            biased;
            () = abort => Err(AuthError::FetchAborted),
            outcome = tokio::time::timeout(limits.timeout, self.fetch_inner(caller, input, limits)) => {
                outcome.unwrap_or_else(|_| Err(AuthError::ApiUnreachable {
                    origin: String::new(),
                    detail: format!("no answer within {} seconds", limits.timeout.as_secs()),
                }))
            }
        }
    }

    async fn fetch_inner(
        &self,
        caller: &FetchCaller,
        input: FetchInput,
        limits: FetchLimits,
    ) -> Result<FetchOutput, AuthError> {
        let bases: Vec<ApiBase> = caller.routes.iter().map(|r| r.base.clone()).collect();
        let (url, base) = rules::resolve(&input.url, &bases).map_err(refused)?;
        let route = caller
            .routes
            .iter()
            .find(|r| &r.base == base)
            .ok_or_else(|| AuthError::Internal {
                reason: "a resolved API has no route".into(),
            })?;
        let method = rules::check_method(if input.method.is_empty() {
            "GET"
        } else {
            &input.method
        })
        .map_err(refused)?;
        let mut headers = Vec::with_capacity(input.headers.len());
        for (name, value) in &input.headers {
            rules::check_header(name, value).map_err(refused)?;
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                refused(FetchRefusal::InvalidHeader {
                    name: name.chars().take(64).collect(),
                })
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                refused(FetchRefusal::InvalidHeader {
                    name: name.to_string(),
                })
            })?;
            headers.push((name, value));
        }
        if input
            .body
            .as_ref()
            .is_some_and(|b| b.len() > limits.max_request_body)
        {
            return Err(refused(FetchRefusal::RequestTooLarge {
                limit: limits.max_request_body,
            }));
        }
        let request = TokenRequest::new(
            caller.id.clone(),
            route.audience.clone(),
            ScopeSet::empty(),
            route.ceiling.clone(),
        )?;
        let mut token = self.token_for_use(&request).await?;
        let mut retried = false;
        let mut retried_for_nonce = false;
        let mut stepped_up = false;
        loop {
            let answer = self
                .send_following(
                    &method,
                    &url,
                    route,
                    &headers,
                    input.body.as_deref(),
                    &token,
                    limits,
                )
                .await?;
            if answer.response.status() == StatusCode::UNAUTHORIZED
                || answer.response.status() == StatusCode::FORBIDDEN
            {
                match challenge::classify(answer.response.headers()) {
                    // One forced refresh and one retry; never a loop.
                    Some(ApiChallenge::InvalidToken) if !retried => {
                        retried = true;
                        tracing::info!(audience = %route.audience, "the API refused the token; refreshing it once");
                        self.forget_token(&route.audience, &token);
                        token = self.token_for_use(&request).await?;
                        continue;
                    }
                    // The API wants its nonce in the proof (RFC 9449 §9); the answer brought
                    // it and it is remembered: one retry.
                    Some(ApiChallenge::UseDpopNonce)
                        if !retried_for_nonce && token.is_sender_constrained() =>
                    {
                        retried_for_nonce = true;
                        continue;
                    }
                    // A stronger or more recent sign-in (RFC 9470): one step-up, one retry.
                    Some(
                        c @ (ApiChallenge::InsufficientUserAuthentication { .. }
                        | ApiChallenge::InsufficientClaims { .. }),
                    ) if !stepped_up => {
                        if let Some(requirement) = c.step_up() {
                            stepped_up = true;
                            tracing::info!(audience = %route.audience, "the API asks for a step-up");
                            token = self.token_meeting_for_use(&request, &requirement).await?;
                            continue;
                        }
                    }
                    Some(ApiChallenge::InsufficientScope { scope }) => {
                        return Err(AuthError::InsufficientScope {
                            audience: route.audience.to_string(),
                            scope,
                        });
                    }
                    _ => {}
                }
            }
            return read(answer, limits.max_response_body).await;
        }
    }

    /// Sends once, following redirects within the API (RFC 9110 §15.4: 301/302/303 become a GET
    /// without body, 307/308 keep method and body).
    #[allow(clippy::too_many_arguments)]
    async fn send_following(
        &self,
        method: &Method,
        url: &Url,
        route: &ApiRoute,
        headers: &[(HeaderName, HeaderValue)],
        body: Option<&[u8]>,
        token: &TokenGrant,
        limits: FetchLimits,
    ) -> Result<Answer, AuthError> {
        let mut method = method.clone();
        let mut url = url.clone();
        let mut body = body.map(<[u8]>::to_vec);
        let mut redirected = false;
        for hop in 0..=limits.max_redirects {
            let mut rb = self.api_http().request(method.clone(), url.clone());
            for (k, v) in headers {
                rb = rb.header(k, v);
            }
            rb = rb.header(AUTHORIZATION, authorization(token)?);
            if token.is_sender_constrained() {
                // A fresh proof per request and per hop: it names the method and URL it is for.
                if let Some(proof) =
                    self.api_dpop_proof(method.as_str(), &url, token.access_token.expose_secret())
                {
                    let mut v = HeaderValue::from_str(&proof).map_err(|_| AuthError::Internal {
                        reason: "a DPoP proof is not a valid header value".into(),
                    })?;
                    v.set_sensitive(true);
                    rb = rb.header("dpop", v);
                }
            }
            if let Some(b) = &body {
                rb = rb.body(b.clone());
            }
            let response = rb.send().await.map_err(|e| AuthError::ApiUnreachable {
                origin: origin_of(&url),
                detail: if e.is_timeout() {
                    "it did not answer in time".into()
                } else if e.is_connect() {
                    "could not connect".into()
                } else {
                    "the request failed".into()
                },
            })?;
            let status = response.status();
            if let Some(nonce) = crate::http::dpop_nonce(response.headers()) {
                self.remember_api_dpop_nonce(&url, nonce);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            match (status.is_redirection(), location) {
                (true, Some(location)) => {
                    if hop == limits.max_redirects {
                        return Err(refused(FetchRefusal::TooManyRedirects {
                            limit: limits.max_redirects,
                        }));
                    }
                    url = rules::follow(&url, &location, &route.base).map_err(refused)?;
                    redirected = true;
                    if matches!(status.as_u16(), 301..=303) && method != Method::HEAD {
                        method = Method::GET;
                        body = None;
                    }
                }
                _ => {
                    return Ok(Answer {
                        response,
                        url,
                        redirected,
                    })
                }
            }
        }
        Err(refused(FetchRefusal::TooManyRedirects {
            limit: limits.max_redirects,
        }))
    }
}

/// `Authorization: <token_type> <token>`.
fn authorization(token: &TokenGrant) -> Result<HeaderValue, AuthError> {
    let scheme = if token.is_sender_constrained() {
        "DPoP"
    } else {
        "Bearer"
    };
    let mut v = HeaderValue::from_str(&format!("{scheme} {}", token.access_token.expose_secret()))
        .map_err(|_| AuthError::Internal {
            reason: "the access token is not a valid header value".into(),
        })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Reads the answer, at most `limit` bytes of body.
async fn read(answer: Answer, limit: usize) -> Result<FetchOutput, AuthError> {
    let Answer {
        mut response,
        url,
        redirected,
    } = answer;
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .filter(|(k, _)| !k.as_str().starts_with("set-cookie"))
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => {
                return Err(AuthError::ApiUnreachable {
                    origin: origin_of(&url),
                    detail: "the answer was cut off".into(),
                })
            }
        }
    }
    Ok(FetchOutput {
        status: status.as_u16(),
        status_text: status.canonical_reason().unwrap_or("").to_owned(),
        headers,
        body,
        url: url.to_string(),
        redirected,
    })
}

fn too_large(limit: usize) -> AuthError {
    AuthError::FetchRefused {
        reason: FetchDefect::ResponseTooLarge,
        detail: format!("the answer is larger than {limit} bytes"),
    }
}
