//! `POST /oauth/par`: pushed authorization requests (RFC 9126). The client posts the whole
//! authorization request and gets a one-time `request_uri`; the browser then carries only
//! `client_id` and `request_uri`, so `state`, `nonce` and the PKCE challenge never appear on a
//! command line or in the browser's history.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{no_store, OAuthError};
use crate::params::{self, Params};
use crate::secret::random_token;
use crate::state::Shared;
use portico_types::sync::lock;

/// How long a pushed request may wait for its browser (RFC 9126 §2.2 suggests 5 to 600 s).
pub(crate) const REQUEST_URI_TTL: Duration = Duration::from_secs(60);
/// The URN prefix RFC 9126 §2.2 gives as an example; the rest is random.
const URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// A pushed request waiting for `/authorize`.
struct Pushed {
    client_id: String,
    raw: Vec<u8>,
    expires: Instant,
}

/// Pushed requests by `request_uri`; each is used once.
#[derive(Default)]
pub(crate) struct PushedRequests(HashMap<String, Pushed>);

impl PushedRequests {
    fn push(&mut self, client_id: &str, raw: Vec<u8>, now: Instant) -> String {
        self.0.retain(|_, p| now < p.expires);
        let uri = format!("{URN_PREFIX}{}", random_token());
        self.0.insert(
            uri.clone(),
            Pushed {
                client_id: client_id.to_owned(),
                raw,
                expires: now + REQUEST_URI_TTL,
            },
        );
        uri
    }

    /// The pushed request's parameters, once, if `request_uri` is live and was pushed by
    /// `client_id` (RFC 9126 §4).
    pub(crate) fn take(
        &mut self,
        request_uri: &str,
        client_id: &str,
        now: Instant,
    ) -> Option<Params> {
        let p = self.0.remove(request_uri)?;
        (now < p.expires && p.client_id == client_id).then(|| Params::parse(&p.raw))
    }
}

pub(crate) async fn par(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match push(&shared, &headers, &body) {
        Ok(uri) => {
            let mut resp = (
                StatusCode::CREATED,
                axum::Json(json!({
                    "request_uri": uri,
                    "expires_in": REQUEST_URI_TTL.as_secs(),
                })),
            )
                .into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => e.into_response(),
    }
}

fn push(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<String, OAuthError> {
    if !shared.config.pushed_authorization_requests {
        return Err(OAuthError::invalid_request(
            "pushed authorization requests are switched off",
        ));
    }
    let p = params::form(headers, body)?;
    // Checked in the form /authorize sees; stored as sent (it translates again when used).
    let p = if shared.config.entra {
        p.translate_entra(&shared.config.apis)
    } else {
        p
    };
    let client_id = p.required("client_id")?;
    let client = shared
        .config
        .client(client_id)
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    // RFC 9126 §2.1: a pushed request cannot itself point at another.
    if p.opt("request_uri")?.is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    let redirect_uri = p.required("redirect_uri")?;
    if !client.allows_redirect(redirect_uri) {
        return Err(OAuthError::invalid_request(
            "redirect_uri is not registered for this client",
        ));
    }
    // Checked now, as /authorize would: a bad request is refused here, not in the browser.
    let state = p.opt("state")?;
    crate::authorize::parse_request(shared, &p, client, redirect_uri, state).map_err(
        |(error, description)| OAuthError::new(StatusCode::BAD_REQUEST, error, description),
    )?;
    Ok(lock(&shared.pushed).push(client_id, body.to_vec(), Instant::now()))
}
