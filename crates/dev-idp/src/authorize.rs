//! `GET /authorize` and the sign-in form `POST /u/login`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::config::ClientConfig;
use crate::grants::{acr_for, wants_second_factor, AuthRequest, Authorization, ACR_PASSWORD};
use crate::html;
use crate::params::{self, Params};
use crate::sessions::{session_cookie, Session, SESSION_COOKIE};
use crate::state::Shared;
use crate::tokens::{now_secs, split_scope};
use portico_types::sync::lock;

/// The one-time code of the development provider's second factor. Shown on the page itself:
/// this provider proves the flow (`acr_values`, `acr`, `auth_time`), not a second device.
pub const DEV_ONE_TIME_CODE: &str = "246810";

/// Where errors and codes go once client and redirect URI are trusted.
struct Reply<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    /// RFC 9207 `iss`, when this provider sends it.
    iss: Option<&'a str>,
}

impl Reply<'_> {
    fn send(&self, pairs: &[(&str, &str)]) -> Response {
        let Ok(mut url) = Url::parse(self.redirect_uri) else {
            return html::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri is not a URL",
            );
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            if let Some(s) = self.state {
                q.append_pair("state", s);
            }
            // RFC 9207: tell the client who answered (mix-up defence).
            if let Some(iss) = self.iss {
                q.append_pair("iss", iss);
            }
        }
        let mut resp = StatusCode::FOUND.into_response();
        if let Ok(v) = HeaderValue::from_str(url.as_str()) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }

    fn error(&self, error: &str, description: &str) -> Response {
        self.send(&[("error", error), ("error_description", description)])
    }
}

/// PKCE S256 challenges are base64url SHA-256 digests: exactly 43 unpadded characters.
fn valid_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Prompt {
    Default,
    None,
    Login,
}

/// Everything after client and redirect URI: errors here go back to the client (or, for a
/// pushed request, to its `POST /oauth/par`).
pub(crate) fn parse_request(
    shared: &Shared,
    p: &Params,
    client: &ClientConfig,
    redirect_uri: &str,
    state: Option<&str>,
) -> Result<(AuthRequest, Prompt, Option<u64>), (&'static str, String)> {
    let inv = |d: String| ("invalid_request", d);
    match p.one("response_type").map_err(inv)? {
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type {other} is not supported; use code"),
            ))
        }
        None => return Err(inv("missing response_type".into())),
    }
    for name in [
        "scope",
        "nonce",
        "audience",
        "prompt",
        "max_age",
        "acr_values",
        "claims",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
    ] {
        p.one(name).map_err(inv)?;
    }
    if let Some(mode) = p.one("response_mode").map_err(inv)? {
        if mode != "query" {
            return Err(inv(format!("response_mode {mode} is not supported")));
        }
    }
    let challenge = p
        .one("code_challenge")
        .map_err(inv)?
        .ok_or_else(|| inv("code_challenge required (PKCE)".into()))?;
    if p.one("code_challenge_method").map_err(inv)? != Some("S256") {
        return Err(inv("code_challenge_method must be S256".into()));
    }
    if !valid_s256_challenge(challenge) {
        return Err(inv("code_challenge is not a base64url SHA-256 value".into()));
    }
    let audience = p.one("audience").map_err(inv)?;
    let resources = p.all("resource");
    if audience.is_some() && !resources.is_empty() {
        return Err(inv("use either audience or resource, not both".into()));
    }
    if let Some(a) = audience {
        if shared.config.api(a).is_none() {
            // What Auth0 answers for an unknown API.
            return Err(("access_denied", format!("Service not found: {a}")));
        }
    }
    for r in &resources {
        let absolute = Url::parse(r).is_ok_and(|u| u.fragment().is_none());
        if !absolute || shared.config.api(r).is_none() {
            return Err(("invalid_target", format!("unknown resource {r}")));
        }
    }
    let prompt = match p.one("prompt").map_err(inv)? {
        None => Prompt::Default,
        Some(v) => {
            let values: Vec<&str> = v.split_whitespace().collect();
            if values.contains(&"none") && values.len() > 1 {
                return Err(inv("prompt=none cannot be combined".into()));
            }
            if values.contains(&"none") {
                Prompt::None
            } else if values.contains(&"login") {
                Prompt::Login
            } else {
                Prompt::Default
            }
        }
    };
    let max_age = match p.one("max_age").map_err(inv)? {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| inv("max_age must be a number of seconds".into()))?,
        ),
    };
    let mut dedup_resources: Vec<String> = Vec::new();
    for r in resources {
        if !dedup_resources.iter().any(|x| x == r) {
            dedup_resources.push(r.to_owned());
        }
    }
    let req = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        nonce: p.one("nonce").map_err(inv)?.map(str::to_owned),
        scopes: split_scope(p.one("scope").map_err(inv)?.unwrap_or("")),
        audience: audience.map(str::to_owned),
        resources: dedup_resources,
        acr_values: p
            .one("acr_values")
            .map_err(inv)?
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        code_challenge: challenge.to_owned(),
    };
    Ok((req, prompt, max_age))
}

/// Issue a code for a signed-in user and send it to the client.
fn complete(shared: &Shared, req: AuthRequest, session: &Session) -> Response {
    let iss = shared.callback_iss();
    let authz = Authorization {
        request: req.clone(),
        sub: session.sub.clone(),
        auth_time: session.auth_time,
        acr: session.acr.clone(),
    };
    let code = lock(&shared.grants).issue_code(authz, shared.config.code_ttl, Instant::now());
    Reply {
        redirect_uri: &req.redirect_uri,
        state: req.state.as_deref(),
        iss: iss.as_deref(),
    }
    .send(&[("code", code.expose_secret())])
}

pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = Params::parse(query.unwrap_or_default().as_bytes());
    let bad = |d: &str| html::error(StatusCode::BAD_REQUEST, "invalid_request", d);
    // A pushed request (RFC 9126 §4): the browser brings client_id and request_uri only; the
    // request itself is the one the client pushed, used once.
    let p = match query.one("request_uri") {
        Err(d) => return bad(&d),
        Ok(None) => query,
        Ok(Some(uri)) => {
            let Ok(Some(client_id)) = query.one("client_id") else {
                return bad("missing client_id");
            };
            match lock(&shared.pushed).take(uri, client_id, Instant::now()) {
                Some(pushed) => pushed,
                None => {
                    return html::error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_uri",
                        "request_uri unknown, used or expired, or pushed by another client",
                    )
                }
            }
        }
    };
    let p = if shared.config.entra {
        p.translate_entra(&shared.config.apis)
    } else {
        p
    };
    // Until client and redirect URI are verified, errors are shown here, never redirected.
    let client = match p.one("client_id") {
        Err(d) => return bad(&d),
        Ok(None) => return bad("missing client_id"),
        Ok(Some(id)) => match shared.config.client(id) {
            Some(c) => c,
            None => {
                return html::error(
                    StatusCode::BAD_REQUEST,
                    "invalid_client",
                    "unknown client_id",
                )
            }
        },
    };
    let redirect_uri = match p.one("redirect_uri") {
        Err(d) => return bad(&d),
        Ok(None) => return bad("missing redirect_uri"),
        Ok(Some(r)) if !client.allows_redirect(r) => {
            return bad("redirect_uri is not registered for this client")
        }
        Ok(Some(r)) => r,
    };
    let iss = shared.callback_iss();
    let (state, state_err) = match p.one("state") {
        Ok(s) => (s, None),
        Err(d) => (None, Some(d)),
    };
    let reply = Reply {
        redirect_uri,
        state,
        iss: iss.as_deref(),
    };
    if let Some(d) = state_err {
        return reply.error("invalid_request", &d);
    }
    let (req, prompt, max_age) = match parse_request(&shared, &p, client, redirect_uri, state) {
        Ok(v) => v,
        Err((e, d)) => return reply.error(e, &d),
    };
    let now = now_secs();
    let session = session_cookie(&headers)
        .and_then(|id| lock(&shared.sessions).get(&id))
        .filter(|s| max_age.is_none_or(|m| now.saturating_sub(s.auth_time) <= m))
        // A session without the second factor does not meet `acr_values=mfa`: sign in again.
        .filter(|s| !wants_second_factor(&req.acr_values) || s.acr != ACR_PASSWORD)
        .filter(|s| shared.config.user_by_sub(&s.sub).is_some());
    match (prompt, session) {
        (Prompt::None, None) => reply.error("login_required", "no active session"),
        (Prompt::None | Prompt::Default, Some(s)) => complete(&shared, req, &s),
        (Prompt::Login | Prompt::Default, _) => {
            let tx = lock(&shared.sessions).begin(req.clone(), Instant::now());
            html::sign_in(&shared.config, &req, &tx, None)
        }
    }
}

pub(crate) async fn login(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match params::form(&headers, &body) {
        Ok(p) => p,
        Err(e) => return html::error(StatusCode::BAD_REQUEST, e.error, &e.description),
    };
    let expired = || {
        html::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "sign-in request unknown or expired; start again from the application",
        )
    };
    let Ok(Some(tx)) = p.one("tx") else {
        return expired();
    };
    let now = Instant::now();
    let iss = shared.callback_iss();
    if p.one("action") == Ok(Some("cancel")) {
        let Some(req) = lock(&shared.sessions).finish(tx, now) else {
            return expired();
        };
        return Reply {
            redirect_uri: &req.redirect_uri,
            state: req.state.as_deref(),
            iss: iss.as_deref(),
        }
        .error("access_denied", "the user cancelled the sign-in");
    }
    let user = match p.one("username") {
        Ok(Some(name)) => shared.config.user_by_name(name),
        _ => None,
    };
    let Some(user) = user else {
        let pending = lock(&shared.sessions).peek(tx, now);
        return match pending {
            Some(req) => html::sign_in(
                &shared.config,
                &req,
                tx,
                Some("Unknown user, pick one of the accounts below."),
            ),
            None => expired(),
        };
    };
    // `acr_values=mfa`: the account picker is the first factor; the one-time code the second.
    let pending = lock(&shared.sessions).peek(tx, now);
    let Some(pending) = pending else {
        return expired();
    };
    let second_factor = wants_second_factor(&pending.acr_values);
    if second_factor {
        match p.one("otp") {
            Ok(Some(code)) if code == DEV_ONE_TIME_CODE => {}
            Ok(Some(_)) => {
                return html::second_factor(tx, &user.username, Some("That code is not right."))
            }
            _ => return html::second_factor(tx, &user.username, None),
        }
    }
    let Some(req) = lock(&shared.sessions).finish(tx, now) else {
        return expired();
    };
    let session = Session {
        sub: user.sub.clone(),
        auth_time: now_secs(),
        acr: acr_for(&req.acr_values, second_factor),
    };
    let sid = lock(&shared.sessions).create(session.clone());
    let mut resp = complete(&shared, req, &session);
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax",
        sid.expose_secret()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_challenge_shape() {
        assert!(valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!valid_s256_challenge("short"));
        assert!(!valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }
}
