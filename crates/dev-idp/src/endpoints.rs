//! Discovery, JWKS, revocation (RFC 7009), logout (Auth0 `/v2/logout`, OIDC RP-initiated) and
//! userinfo.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};
use serde_json::{json, Value};
use url::Url;

use crate::error::{no_store, OAuthError};
use crate::html;
use crate::params::{self, Params};
use crate::sessions::{session_cookie, SESSION_COOKIE};
use crate::state::Shared;
use portico_types::sync::lock;

/// Discovery at the root: the provider's own issuer.
pub(crate) async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    discovery_doc(&shared, shared.issuer.as_str())
}

/// Entra mode: discovery under a tenant (`/{tenant}/v2.0/…`, the tenant's issuer) or a
/// tenant-independent authority (`/common/v2.0/…`, `/organizations/v2.0/…`: the issuer template
/// with `{tenantid}`, as Microsoft publishes it).
pub(crate) async fn tenant_discovery(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
) -> Response {
    if !shared.config.entra {
        return not_found().await;
    }
    match tenant.as_str() {
        t if t == crate::config::ENTRA_TENANT => discovery_doc(&shared, &shared.token_issuer()),
        "common" | "organizations" => {
            let template = format!("{}{{tenantid}}/v2.0", shared.issuer);
            discovery_doc(&shared, &template)
        }
        _ => not_found().await,
    }
}

fn discovery_doc(shared: &Shared, issuer: &str) -> Response {
    let mut scopes: Vec<String> = ["openid", "profile", "email", "offline_access"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for api in &shared.config.apis {
        for s in &api.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
    }
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": shared.url("authorize"),
        "token_endpoint": shared.url("oauth/token"),
        "jwks_uri": shared.url(".well-known/jwks.json"),
        "revocation_endpoint": shared.url("oauth/revoke"),
        "end_session_endpoint": shared.url("oidc/logout"),
        "userinfo_endpoint": shared.userinfo_url(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "code_challenge_methods_supported": ["S256"],
        // Entra sends no `iss` with its callbacks.
        "authorization_response_iss_parameter_supported": !shared.config.entra,
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "claims_supported": ["iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "acr", "nonce", "name", "email", "email_verified"],
        "acr_values_supported": [crate::grants::ACR_PASSWORD, crate::grants::ACR_MFA, crate::grants::ACR_MFA_PAPE],
        "claims_parameter_supported": true,
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "prompt_values_supported": ["none", "login"],
    });
    if shared.config.pushed_authorization_requests {
        doc["pushed_authorization_request_endpoint"] = json!(shared.url("oauth/par"));
    }
    if shared.config.dpop {
        // RFC 9449 §5.1: the proof algorithms the token endpoint accepts.
        doc["dpop_signing_alg_values_supported"] = json!([crate::dpop::ALG]);
    }
    axum::Json(doc).into_response()
}

pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.keys.jwks()).into_response()
}

pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "not_found", "error_description": "no such endpoint"})),
    )
        .into_response()
}

/// RFC 7009. Refresh tokens revoke their family; anything else (unknown tokens, access tokens,
/// which are stateless JWTs here) is answered 200 as the RFC asks.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        let p = params::form(&headers, &body)?;
        let client_id = p.required("client_id")?;
        if shared.config.client(client_id).is_none() {
            return Err(OAuthError::invalid_client("unknown client"));
        }
        let token = p.required("token")?;
        p.opt("token_type_hint")?;
        if lock(&shared.grants).revoke_token(token, client_id) {
            shared
                .counters
                .bump(crate::counters::Counter::FamiliesRevoked);
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
            no_store(&mut r);
            r
        }
        Err(e) => e.into_response(),
    }
}

/// Verify a token this provider signed (signature, `iss`, optionally `exp`).
fn verify_own(shared: &Shared, token: &str, check_exp: bool) -> Result<Value, String> {
    let header = decode_header(token).map_err(|_| "malformed token".to_owned())?;
    if header.alg != Algorithm::RS256 {
        return Err("token must be RS256".into());
    }
    let kid = header.kid.ok_or("token has no kid")?;
    let key = shared.keys.find(&kid).ok_or("unknown signing key")?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[shared.token_issuer()]);
    v.validate_aud = false;
    v.validate_exp = check_exp;
    v.leeway = 0;
    v.set_required_spec_claims(&["iss", "sub"]);
    decode::<Value>(token, &key.decoding, &v)
        .map(|d| d.claims)
        .map_err(|e| format!("invalid token: {e}"))
}

fn clear_session(shared: &Shared, headers: &HeaderMap, resp: &mut Response) {
    if let Some(id) = session_cookie(headers) {
        lock(&shared.sessions).end(&id);
    }
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&expired) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
}

fn found(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => html::error(StatusCode::BAD_REQUEST, "invalid_request", "bad return URL"),
    }
}

/// Auth0 `/v2/logout?client_id=..&returnTo=..`: end the SSO session.
pub(crate) async fn logout_auth0(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = Params::parse(query.unwrap_or_default().as_bytes());
    let bad = |d: &str| html::error(StatusCode::BAD_REQUEST, "invalid_request", d);
    let (client_id, return_to) = match (p.one("client_id"), p.one("returnTo")) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(d), _) | (_, Err(d)) => return bad(&d),
    };
    let mut resp = match return_to {
        None => html::signed_out(),
        Some(target) => {
            let Some(client) = client_id.and_then(|c| shared.config.client(c)) else {
                return bad("returnTo needs a known client_id");
            };
            if !client.allows_logout_target(target) {
                return bad("returnTo is not an allowed logout URL for this client");
            }
            found(target)
        }
    };
    clear_session(&shared, &headers, &mut resp);
    resp
}

/// OIDC RP-initiated logout: `id_token_hint`, `post_logout_redirect_uri`, `state`, `client_id`.
pub(crate) async fn logout_oidc(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = Params::parse(query.unwrap_or_default().as_bytes());
    let bad = |d: &str| html::error(StatusCode::BAD_REQUEST, "invalid_request", d);
    let get = |n: &str| p.one(n);
    let (hint, target, state, client_param) = match (
        get("id_token_hint"),
        get("post_logout_redirect_uri"),
        get("state"),
        get("client_id"),
    ) {
        (Ok(h), Ok(t), Ok(s), Ok(c)) => (h, t, s, c),
        _ => return bad("a parameter was given more than once"),
    };
    let mut hinted_client: Option<String> = None;
    if let Some(h) = hint {
        // Expired hints are fine (OIDC RP-Initiated Logout §2); forged ones are not.
        match verify_own(&shared, h, false) {
            Ok(claims) => hinted_client = claims["aud"].as_str().map(str::to_owned),
            Err(d) => return bad(&format!("id_token_hint rejected: {d}")),
        }
    }
    let client_id = match (hinted_client.as_deref(), client_param) {
        (Some(a), Some(b)) if a != b => return bad("client_id does not match id_token_hint"),
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    let mut resp = match target {
        None => html::signed_out(),
        Some(t) => {
            let Some(client) = client_id.as_deref().and_then(|c| shared.config.client(c)) else {
                return bad("post_logout_redirect_uri needs id_token_hint or client_id");
            };
            if !client.allows_logout_target(t) {
                return bad("post_logout_redirect_uri is not allowed for this client");
            }
            let Ok(mut url) = Url::parse(t) else {
                return bad("post_logout_redirect_uri is not a URL");
            };
            if let Some(s) = state {
                url.query_pairs_mut().append_pair("state", s);
            }
            found(url.as_str())
        }
    };
    clear_session(&shared, &headers, &mut resp);
    resp
}

fn bearer_error(error: Option<&str>, description: &str) -> Response {
    let challenge = match error {
        Some(e) => format!(
            "Bearer realm=\"userinfo\", error=\"{e}\", error_description=\"{}\"",
            description.replace(['"', '\\'], "'")
        ),
        None => "Bearer realm=\"userinfo\"".to_owned(),
    };
    let mut resp = StatusCode::UNAUTHORIZED.into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// OIDC userinfo: a valid access token of ours that carries `openid`.
pub(crate) async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    else {
        return bearer_error(None, "");
    };
    let claims = match verify_own(&shared, token.trim(), true) {
        Ok(c) => c,
        Err(d) => return bearer_error(Some("invalid_token"), &d),
    };
    let has_openid = claims["scope"]
        .as_str()
        .is_some_and(|s| s.split_whitespace().any(|x| x == "openid"));
    if !has_openid {
        return bearer_error(Some("insufficient_scope"), "token lacks the openid scope");
    }
    let Some(user) = claims["sub"]
        .as_str()
        .and_then(|s| shared.config.user_by_sub(s))
    else {
        return bearer_error(Some("invalid_token"), "unknown subject");
    };
    axum::Json(json!({
        "sub": user.sub,
        "name": user.name,
        "email": user.email,
        "email_verified": true,
    }))
    .into_response()
}
