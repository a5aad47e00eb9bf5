//! `POST /oauth/token`: `authorization_code` and `refresh_token` grants, Auth0 `audience=` (with
//! the Multi-Resource Refresh Token policy) and RFC 8707 `resource=`; DPoP proofs (RFC 9449)
//! bind the tokens issued to the proof's key.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{ApiConfig, ClientConfig, DemoUser};
use crate::counters::Counter;
use crate::dpop::{self, Proof, ProofError, Target};
use crate::error::{no_store, OAuthError};
use crate::grants::{AuthRequest, CodeError, RefreshError};
use crate::params::{self, Params};
use crate::state::Shared;
use crate::tokens::{self, grant_scopes, split_scope};
use portico_types::sync::lock;

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut resp = match handle(&shared, &headers, &body) {
        Ok(json) => {
            let mut resp = axum::Json(json).into_response();
            no_store(&mut resp);
            resp
        }
        Err(e) => {
            shared.counters.bump(Counter::TokenErrors);
            tracing::info!(error = e.error, description = %e.description, "token request refused");
            e.into_response()
        }
    };
    // RFC 9449 §8: the current nonce goes out with every answer (a use_dpop_nonce challenge needs
    // it; on others it spares the client a round trip when the nonce has changed).
    if shared.config.dpop {
        if let Some(nonce) = shared.dpop.required_nonce() {
            if let Ok(v) = HeaderValue::from_str(&nonce) {
                resp.headers_mut().insert(dpop::DPOP_NONCE, v);
            }
        }
    }
    crate::cors::token_answer(&shared, &headers, &body, &mut resp);
    resp
}

fn handle(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let p = params::form(headers, body)?;
    let p = if shared.config.entra {
        p.translate_entra(&shared.config.apis)
    } else {
        p
    };
    // The proof is checked before the grant: a refused proof (or a nonce challenge, which the
    // client answers by retrying) must not burn the code or rotate the refresh token.
    let proof = dpop_proof(shared, headers)?;
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    match p.required("grant_type")? {
        "authorization_code" => code_grant(shared, &p, jkt),
        "refresh_token" => refresh_grant(shared, &p, jkt),
        other => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {other} is not supported"
        ))),
    }
}

/// The request's DPoP proof, checked (RFC 9449 §4.3, §5); `None` without a `DPoP` header or
/// with DPoP switched off (then the header is ignored, as by a provider that knows no DPoP).
fn dpop_proof(shared: &Shared, headers: &HeaderMap) -> Result<Option<Proof>, OAuthError> {
    if !shared.config.dpop {
        return Ok(None);
    }
    let refuse = |e: ProofError| match e {
        ProofError::Invalid(d) => {
            shared.counters.bump(Counter::DpopRefusals);
            OAuthError::invalid_dpop_proof(d)
        }
        ProofError::UseNonce => {
            shared.counters.bump(Counter::DpopNonceChallenges);
            OAuthError::use_dpop_nonce()
        }
    };
    let Some(text) = dpop::single_header(headers).map_err(refuse)? else {
        return Ok(None);
    };
    // htu is the token endpoint as discovery names it (RFC 9449 §4.3 check 9).
    let url = shared.issuer.join("oauth/token").map_err(|_| {
        OAuthError::server_error(StatusCode::INTERNAL_SERVER_ERROR, "no token endpoint URL")
    })?;
    let target = Target {
        method: "POST",
        url: &url,
        access_token: None,
    };
    let proof = shared
        .dpop
        .check(text, &target, tokens::now_secs())
        .map_err(refuse)?;
    shared.counters.bump(Counter::DpopProofs);
    Ok(Some(proof))
}

fn client<'a>(shared: &'a Shared, p: &Params) -> Result<&'a ClientConfig, OAuthError> {
    let id = p.required("client_id")?;
    shared
        .config
        .client(id)
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))
}

/// RFC 7636 §4.1: 43..128 unreserved characters.
fn verifier_well_formed(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6, S256. Compared without early exit.
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.len() == challenge.len()
        && computed
            .bytes()
            .zip(challenge.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The audiences of a token, RFC 8707 §2.2 applied the way certified servers apply it: every
/// token request resolves to exactly one resource. A named resource must have been granted at
/// `/authorize` and be the only one named; naming none is fine only when one was granted. Without
/// resource indicators the token is for the login's `audience` (Auth0), else for userinfo only.
fn token_audiences(named: &[&str], req: &AuthRequest) -> Result<Vec<String>, OAuthError> {
    let mut distinct: Vec<&str> = Vec::new();
    for r in named {
        if !distinct.contains(r) {
            distinct.push(r);
        }
    }
    match distinct.as_slice() {
        [] => match (req.resources.as_slice(), &req.audience) {
            ([], Some(a)) => Ok(vec![a.clone()]),
            ([], None) => Ok(vec![]),
            ([only], _) => Ok(vec![only.clone()]),
            (_, _) => Err(OAuthError::invalid_target(
                "several resources were granted; a token request must name one of them (RFC 8707 §2.2)",
            )),
        },
        [one] => {
            check_resources(&[one], &req.resources)?;
            Ok(vec![(*one).to_owned()])
        }
        _ => Err(OAuthError::invalid_target(
            "only a single resource indicator may be requested in a token request (RFC 8707 §2.2)",
        )),
    }
}

fn apis_for<'a>(shared: &'a Shared, audiences: &[String]) -> Vec<&'a ApiConfig> {
    audiences
        .iter()
        .filter_map(|a| shared.config.api(a))
        .collect()
}

fn check_resources(resources: &[&str], granted: &[String]) -> Result<(), OAuthError> {
    match resources.iter().find(|r| !granted.iter().any(|g| g == **r)) {
        Some(r) => Err(OAuthError::invalid_target(format!(
            "resource {r} was not granted at authorization"
        ))),
        None => Ok(()),
    }
}

fn user<'a>(shared: &'a Shared, sub: &str) -> Result<&'a DemoUser, OAuthError> {
    shared
        .config
        .user_by_sub(sub)
        .ok_or_else(|| OAuthError::invalid_grant("user no longer exists"))
}

#[allow(clippy::too_many_arguments)]
fn respond(
    shared: &Shared,
    user: &DemoUser,
    client_id: &str,
    audiences: &[String],
    scopes: &[String],
    nonce: Option<&str>,
    authn: tokens::SignInFacts<'_>,
    refresh_token: Option<&str>,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    // Only APIs that ask for sender-constrained tokens get bound ones; others get a Bearer token
    // even with a proof (RFC 9449 §5: token_type says which).
    let jkt = jkt.filter(|_| {
        apis_for(shared, audiences)
            .iter()
            .any(|a| a.sender_constrained)
    });
    let (at, ttl) = tokens::access_token(shared, user, client_id, audiences, scopes, jkt, &authn)?;
    // RFC 9449 §5: a DPoP-bound access token is announced as token_type DPoP.
    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    // Entra names an API's scopes by the API (`api://billing/read`) in its answer.
    let scope = if shared.config.entra {
        let apis = apis_for(shared, audiences);
        scopes
            .iter()
            .map(|s| match apis.iter().find(|a| a.scopes.contains(s)) {
                Some(a) => format!("{}/{s}", a.identifier),
                None => s.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        scopes.join(" ")
    };
    let mut out = json!({
        "access_token": at.expose_secret(),
        "token_type": token_type,
        "expires_in": ttl,
        "scope": scope,
    });
    if scopes.iter().any(|s| s == "openid") {
        let idt = tokens::id_token(shared, user, client_id, nonce, authn.auth_time, authn.acr)?;
        out["id_token"] = json!(idt.expose_secret());
    }
    if let Some(rt) = refresh_token {
        out["refresh_token"] = json!(rt);
    }
    Ok(out)
}

fn code_grant(shared: &Shared, p: &Params, jkt: Option<&str>) -> Result<Value, OAuthError> {
    let client = client(shared, p)?;
    let code = p.required("code")?;
    let redirect_uri = p.required("redirect_uri")?;
    let verifier = p.required("code_verifier")?;
    if !verifier_well_formed(verifier) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 unreserved characters",
        ));
    }
    let resources = p.all("resource");
    let redeemed = lock(&shared.grants).redeem_code(code, Instant::now());
    let authz = redeemed.map_err(|e| match e {
        CodeError::Unknown => OAuthError::invalid_grant("unknown authorization code"),
        CodeError::Expired => OAuthError::invalid_grant("authorization code expired"),
        CodeError::Replayed { family_revoked } => {
            if family_revoked {
                shared.counters.bump(Counter::FamiliesRevoked);
            }
            OAuthError::invalid_grant(
                "authorization code already used; tokens issued from it are revoked",
            )
        }
    })?;
    let req = &authz.request;
    if req.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "code was issued to another client",
        ));
    }
    if req.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    if !pkce_matches(verifier, &req.code_challenge) {
        return Err(OAuthError::invalid_grant("PKCE verification failed"));
    }
    let user = user(shared, &authz.sub)?;
    let audiences = token_audiences(&resources, req)?;
    let scopes = grant_scopes(
        &req.scopes,
        &req.scopes,
        &apis_for(shared, &audiences),
        user,
        None,
    );
    let rt = scopes
        .iter()
        .any(|s| s == "offline_access")
        // RFC 9449 §5: a refresh token issued to a public client with a proof is bound to the
        // proof's key, for the whole family.
        .then(|| lock(&shared.grants).start_family(code, authz.clone(), jkt.map(str::to_owned)));
    respond(
        shared,
        user,
        &client.client_id,
        &audiences,
        &scopes,
        req.nonce.as_deref(),
        tokens::SignInFacts::of(&authz, p),
        rt.as_ref().map(|s| s.expose_secret()),
        jkt,
    )
}

fn refresh_grant(shared: &Shared, p: &Params, jkt: Option<&str>) -> Result<Value, OAuthError> {
    let client = client(shared, p)?;
    let token = p.required("refresh_token")?;
    let audience = p.opt("audience")?;
    let resources = p.all("resource");
    if audience.is_some() && !resources.is_empty() {
        return Err(OAuthError::invalid_request(
            "use either audience or resource, not both",
        ));
    }
    let requested: Option<Vec<String>> = p.opt("scope")?.map(split_scope);
    let label = audience.map_or_else(|| resources.join(" "), str::to_owned);
    shared.counters.refresh_for(&label);

    let outcome = lock(&shared.grants).refresh(
        token,
        &client.client_id,
        jkt,
        shared.rotation(),
        Instant::now(),
        // Checked before anything rotates: a refused request leaves the token family as it was.
        |family| {
            if audience.is_some() && family.authz.request.audience.is_some() {
                return Ok(());
            }
            token_audiences(&resources, &family.authz.request).map(|_| ())
        },
    );
    let refreshed = outcome.map_err(|e| match e {
        RefreshError::Unknown => OAuthError::invalid_grant("unknown refresh token"),
        RefreshError::Revoked => OAuthError::invalid_grant("refresh token revoked"),
        RefreshError::WrongClient => {
            OAuthError::invalid_grant("refresh token was issued to another client")
        }
        RefreshError::DpopProofMissing => {
            shared.counters.bump(Counter::DpopRefusals);
            OAuthError::invalid_dpop_proof(
                "the refresh token is bound to a DPoP key; a DPoP proof is required",
            )
        }
        RefreshError::DpopKeyMismatch => {
            shared.counters.bump(Counter::DpopRefusals);
            OAuthError::invalid_grant("the refresh token is bound to another DPoP key")
        }
        RefreshError::Reuse => {
            shared.counters.bump(Counter::ReuseDetections);
            shared.counters.bump(Counter::FamiliesRevoked);
            tracing::warn!(client = %client.client_id, "refresh token reuse detected, family revoked");
            OAuthError::invalid_grant("refresh token reuse detected; the token family is revoked")
        }
        RefreshError::Rejected(e) => e,
    })?;
    let authz = &refreshed.family.authz;
    let req = &authz.request;
    let user = user(shared, &authz.sub)?;

    // Auth0 MRRT: another audience in the client's policy gets its own token; anything else
    // falls back to the login's audience.
    let mrrt = audience
        .filter(|a| req.audience.as_deref() != Some(*a))
        .and_then(|a| Some((client.mrrt_policy(a)?, shared.config.api(a)?)));
    let (audiences, scopes) = match mrrt {
        Some((policy, api)) => {
            let asked = requested.unwrap_or_else(|| {
                let mut all = req.scopes.clone();
                all.extend(policy.scopes.iter().cloned());
                all
            });
            let scopes = grant_scopes(&asked, &req.scopes, &[api], user, Some(&policy.scopes));
            (vec![api.identifier.clone()], scopes)
        }
        None => {
            let audiences = match audience {
                // Auth0 style: `audience=` for the login's own audience (or an unknown one,
                // which falls back to it like Auth0's MRRT does).
                Some(_) => match &req.audience {
                    Some(a) => vec![a.clone()],
                    None => token_audiences(&resources, req)?,
                },
                None => token_audiences(&resources, req)?,
            };
            let asked = requested.unwrap_or_else(|| req.scopes.clone());
            let apis = apis_for(shared, &audiences);
            let scopes = grant_scopes(&asked, &req.scopes, &apis, user, Some(&req.scopes));
            (audiences, scopes)
        }
    };
    respond(
        shared,
        user,
        &client.client_id,
        &audiences,
        &scopes,
        req.nonce.as_deref(),
        tokens::SignInFacts::of(authz, p),
        refreshed.new_token.as_ref().map(|s| s.expose_secret()),
        // A refresh with a proof gets a bound access token whether or not the family is bound
        // (RFC 9449 §5); an unbound family stays unbound.
        jkt,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_well_formed(verifier));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_matches(verifier, "short"));
        assert!(!verifier_well_formed("too-short"));
        assert!(!verifier_well_formed(&"a".repeat(129)));
        assert!(!verifier_well_formed(&format!("{}{}", "a".repeat(43), "/")));
    }

    #[test]
    fn resources_must_be_granted() {
        let granted = vec!["https://a".to_owned(), "https://b".to_owned()];
        assert!(check_resources(&["https://a"], &granted).is_ok());
        assert!(check_resources(&[], &granted).is_ok());
        let e = check_resources(&["https://a", "https://c"], &granted).expect_err("c");
        assert_eq!(e.error, "invalid_target");
    }
}
