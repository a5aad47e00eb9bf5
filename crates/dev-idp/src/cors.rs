//! CORS at the token endpoint for single-page applications, as Auth0 answers a page on one of
//! a client's "Allowed Origins (CORS)": the preflight for any registered origin, the answer
//! itself only when the origin is allowed for the `client_id` the request names. A request from
//! a native app carries no `Origin` and gets no CORS headers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::Shared;

/// What a browser SDK sends beyond a plain form POST: Auth0's telemetry header, and a proof.
const ALLOW_HEADERS: &str = "Content-Type, Auth0-Client, DPoP";
/// Long enough that a page's token requests are not each preceded by a preflight.
const MAX_AGE_SECS: &str = "86400";

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Lets a page of `origin` read the answer (`Access-Control-Allow-Origin`, `Vary: Origin`).
fn allow_origin(resp: &mut Response, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// `OPTIONS /oauth/token`: a preflight from an origin some client allows is answered with what
/// a token request may carry; any other is refused (403, no CORS headers).
pub(crate) async fn token_preflight(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    let allowed =
        origin(&headers).filter(|o| shared.config.clients.iter().any(|c| c.allows_origin(o)));
    let Some(origin) = allowed else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let mut resp = StatusCode::NO_CONTENT.into_response();
    allow_origin(&mut resp, origin);
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECS),
    );
    resp
}

/// On a token endpoint answer (success or error): let the page read it when its origin is
/// allowed for the client the request named.
pub(crate) fn token_answer(shared: &Shared, headers: &HeaderMap, body: &[u8], resp: &mut Response) {
    let Some(origin) = origin(headers) else {
        return;
    };
    let client_id = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned());
    let allowed = client_id
        .and_then(|id| shared.config.client(&id).map(|c| c.allows_origin(origin)))
        .unwrap_or(false);
    if allowed {
        allow_origin(resp, origin);
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("DPoP-Nonce"),
        );
    }
}
