//! Minting access and ID tokens (RS256 JWTs), scope arithmetic, and ID-token tampering.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};

use crate::config::{ApiConfig, DemoUser, CLAIM_NAMESPACE, ENTRA_TENANT};
use crate::error::OAuthError;
use crate::faults::IdTokenTamper;
use crate::grants::Authorization;
use crate::keys::KeyStore;
use crate::params::Params;
use crate::secret::random_token;
use crate::state::Shared;
use portico_types::Secret;

/// Scopes that are about the user, not about an API.
pub(crate) const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn split_scope(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// Scopes a token gets: requested OIDC scopes that were allowed, plus requested API scopes that
/// one of `apis` defines, the user holds (RBAC), and `api_limit` (a policy or the original grant)
/// permits. Everything else is dropped silently, as Auth0 does.
pub(crate) fn grant_scopes(
    requested: &[String],
    oidc_allowed: &[String],
    apis: &[&ApiConfig],
    user: &DemoUser,
    api_limit: Option<&[String]>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in requested {
        let ok = if OIDC_SCOPES.contains(&s.as_str()) {
            oidc_allowed.contains(s)
        } else {
            api_limit.is_none_or(|l| l.contains(s))
                && apis.iter().any(|api| {
                    api.scopes.contains(s)
                        && user
                            .permissions
                            .get(&api.identifier)
                            .is_some_and(|p| p.contains(s))
                })
        };
        if ok && !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

fn sign_err(e: jsonwebtoken::errors::Error) -> OAuthError {
    tracing::error!(error = %e, "signing failed");
    OAuthError::server_error(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "token signing failed",
    )
}

/// How and when the person signed in, and what the client declared it can do.
pub(crate) struct SignInFacts<'a> {
    pub auth_time: u64,
    pub acr: &'a str,
    /// Client capabilities from the token request's claims request (`access_token.xms_cc`).
    pub xms_cc: Vec<String>,
}

impl<'a> SignInFacts<'a> {
    /// A grant's sign-in, and the capabilities the token request's `claims` declares.
    pub(crate) fn of(authz: &'a Authorization, p: &Params) -> Self {
        SignInFacts {
            auth_time: authz.auth_time,
            acr: authz.acr.as_str(),
            xms_cc: xms_cc(p.one("claims").ok().flatten()),
        }
    }
}

/// The client capabilities a claims request declares (`{"access_token":{"xms_cc":{"values":
/// [...]}}}`), if it is one.
fn xms_cc(claims: Option<&str>) -> Vec<String> {
    claims
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|v| v["access_token"]["xms_cc"]["values"].as_array().cloned())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// An access token for `audiences` (none: the userinfo endpoint, as Auth0 does), bound to the
/// DPoP key with thumbprint `jkt` if given.
pub(crate) fn access_token(
    shared: &Shared,
    user: &DemoUser,
    client_id: &str,
    audiences: &[String],
    scopes: &[String],
    jkt: Option<&str>,
    authn: &SignInFacts<'_>,
) -> Result<(Secret, u64), OAuthError> {
    let now = now_secs();
    let ttl = shared.access_token_ttl_for(audiences).as_secs();
    let wrong = shared.wrong_audience();
    // An API may be known to its tokens by another name (Entra: its application id).
    let named: Vec<String> = audiences
        .iter()
        .map(|a| {
            shared
                .config
                .api(a)
                .and_then(|api| api.token_audience.clone())
                .unwrap_or_else(|| a.clone())
        })
        .collect();
    let aud = match named.as_slice() {
        _ if wrong.is_some() => json!(wrong),
        [] => json!(shared.userinfo_url()),
        [one] => json!(one),
        many => json!(many),
    };
    let mut permissions: Vec<&String> = Vec::new();
    for a in audiences {
        for p in user.permissions.get(a).into_iter().flatten() {
            if !permissions.contains(&p) {
                permissions.push(p);
            }
        }
    }
    let mut claims = json!({
        "iss": shared.token_issuer(),
        "sub": user.sub,
        "aud": aud,
        "iat": now,
        "exp": now + ttl,
        "scope": scopes.join(" "),
        "azp": client_id,
        "jti": random_token(),
        format!("{CLAIM_NAMESPACE}email"): user.email,
        format!("{CLAIM_NAMESPACE}roles"): user.roles,
        "permissions": permissions,
        // RFC 9470 §3: how and when the person authenticated, for the API's step-up decision.
        "auth_time": authn.auth_time,
        "acr": authn.acr,
    });
    if shared.config.entra && !authn.xms_cc.is_empty() {
        // Entra echoes the client capabilities it was told about (`xms_cc`), which tells a
        // CAE-enabled API that this client handles claims challenges.
        claims["xms_cc"] = json!(authn.xms_cc);
    }
    if shared.config.entra {
        claims["tid"] = json!(ENTRA_TENANT);
    }
    if let Some(jkt) = jkt {
        // RFC 9449 §6.1: the confirmation claim a resource server compares the proof's key with.
        claims["cnf"] = json!({ "jkt": jkt });
    }
    let key = shared.keys.current();
    // RFC 9068 media type, so an access token cannot pass as an ID token.
    let jwt = key
        .sign(Some(&key.kid), "at+jwt", &claims)
        .map_err(sign_err)?;
    Ok((Secret::new(jwt), ttl))
}

/// An ID token, corrupted as the current tamper switch says.
pub(crate) fn id_token(
    shared: &Shared,
    user: &DemoUser,
    client_id: &str,
    nonce: Option<&str>,
    auth_time: u64,
    acr: &str,
) -> Result<Secret, OAuthError> {
    let now = now_secs();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(shared.token_issuer()));
    claims.insert("sub".into(), json!(user.sub));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("azp".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert(
        "exp".into(),
        json!(now + shared.config.id_token_ttl.as_secs()),
    );
    claims.insert("auth_time".into(), json!(auth_time));
    claims.insert("acr".into(), json!(acr));
    if shared.config.entra {
        // What a client of a tenant-independent authority checks `iss` with.
        claims.insert("tid".into(), json!(ENTRA_TENANT));
    }
    claims.insert("name".into(), json!(user.name));
    claims.insert("email".into(), json!(user.email));
    claims.insert("email_verified".into(), json!(true));
    if let Some(n) = nonce {
        claims.insert("nonce".into(), json!(n));
    }
    let tamper = shared.tamper();
    let jwt = sign_tampered(&shared.keys, claims, tamper)?;
    Ok(Secret::new(jwt))
}

/// Sign `claims` with the current key, applying `tamper` first.
pub(crate) fn sign_tampered(
    keys: &KeyStore,
    mut claims: Map<String, Value>,
    tamper: Option<IdTokenTamper>,
) -> Result<String, OAuthError> {
    let key = keys.current();
    let now = now_secs();
    let mut kid = Some(key.kid.clone());
    match tamper {
        None
        | Some(IdTokenTamper::BadSignature)
        | Some(IdTokenTamper::AlgNone)
        | Some(IdTokenTamper::OtherKey)
        | Some(IdTokenTamper::Hs256WithPublicKey) => {}
        Some(IdTokenTamper::WrongIss) => {
            claims.insert("iss".into(), json!("https://evil.example/"));
        }
        Some(IdTokenTamper::WrongAud) => {
            claims.insert("aud".into(), json!("some-other-client"));
        }
        Some(IdTokenTamper::MissingSub) => {
            claims.remove("sub");
        }
        Some(IdTokenTamper::MissingIat) => {
            claims.remove("iat");
        }
        Some(IdTokenTamper::Expired) => {
            claims.insert("iat".into(), json!(now.saturating_sub(1200)));
            claims.insert("exp".into(), json!(now.saturating_sub(600)));
        }
        Some(IdTokenTamper::NonceMismatch) => {
            claims.insert("nonce".into(), json!(random_token()));
        }
        Some(IdTokenTamper::UnknownKid) => kid = Some(format!("unknown-{}", random_token())),
        Some(IdTokenTamper::NoKid) => kid = None,
    }
    let claims = Value::Object(claims);
    match tamper {
        Some(IdTokenTamper::AlgNone) => {
            let header = json!({ "alg": "none", "typ": "JWT", "kid": kid });
            Ok(format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            ))
        }
        Some(IdTokenTamper::OtherKey) => {
            let other = keys.foreign().map_err(|e| {
                tracing::error!(error = %e, "foreign key generation failed");
                OAuthError::server_error(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "key generation failed",
                )
            })?;
            other.sign(kid.as_deref(), "JWT", &claims).map_err(sign_err)
        }
        Some(IdTokenTamper::Hs256WithPublicKey) => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid;
            let secret = EncodingKey::from_secret(key.public_pem.as_bytes());
            jsonwebtoken::encode(&header, &claims, &secret).map_err(sign_err)
        }
        Some(IdTokenTamper::BadSignature) => {
            let jwt = key.sign(kid.as_deref(), "JWT", &claims).map_err(sign_err)?;
            Ok(flip_signature_bit(&jwt))
        }
        _ => key.sign(kid.as_deref(), "JWT", &claims).map_err(sign_err),
    }
}

/// Flip one bit in the middle of the signature, keeping the token well-formed.
fn flip_signature_bit(jwt: &str) -> String {
    let Some((head, sig)) = jwt.rsplit_once('.') else {
        return jwt.to_owned();
    };
    let Ok(mut bytes) = URL_SAFE_NO_PAD.decode(sig) else {
        return jwt.to_owned();
    };
    let mid = bytes.len() / 2;
    if let Some(b) = bytes.get_mut(mid) {
        *b ^= 0x01;
    }
    format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{IdpConfig, BILLING_API, CORE_API};
    use crate::keys::SigningKey;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn scopes_respect_api_rbac_and_limit() {
        let cfg = IdpConfig::portico_demo();
        let billing = cfg.api(BILLING_API).expect("api");
        let core = cfg.api(CORE_API).expect("api");
        let alice = cfg.user_by_name("alice").expect("alice");
        let bob = cfg.user_by_name("bob").expect("bob");
        let req = s(&[
            "openid",
            "email",
            "read:invoices",
            "write:invoices",
            "read:dashboard",
            "bogus",
        ]);
        let allowed = s(&["openid"]);
        assert_eq!(
            grant_scopes(&req, &allowed, &[billing], alice, None),
            s(&["openid", "read:invoices", "write:invoices"])
        );
        assert_eq!(
            grant_scopes(&req, &allowed, &[billing], bob, None),
            s(&["openid", "read:invoices"])
        );
        assert_eq!(
            grant_scopes(
                &req,
                &allowed,
                &[billing, core],
                alice,
                Some(&s(&["write:invoices", "read:dashboard"]))
            ),
            s(&["openid", "write:invoices", "read:dashboard"])
        );
        assert_eq!(
            grant_scopes(&req, &[], &[], alice, None),
            Vec::<String>::new()
        );
        assert_eq!(split_scope(" a  b a "), s(&["a", "b"]));
    }

    fn validate(jwt: &str, keys: &KeyStore) -> Result<Value, jsonwebtoken::errors::Error> {
        let header = decode_header(jwt)?;
        let key = keys.current();
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&["client"]);
        v.set_issuer(&["https://issuer.test/"]);
        v.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        if header.kid.as_deref() != Some(key.kid.as_str()) {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
        }
        let claims = decode::<Value>(jwt, &key.decoding, &v)?.claims;
        // jsonwebtoken cannot require `iat`; an OIDC client must check it itself.
        if claims.get("iat").is_none() {
            return Err(jsonwebtoken::errors::ErrorKind::MissingRequiredClaim("iat".into()).into());
        }
        Ok(claims)
    }

    fn base_claims() -> Map<String, Value> {
        let now = now_secs();
        let v = json!({"iss": "https://issuer.test/", "sub": "auth0|alice", "aud": "client",
            "iat": now, "exp": now + 600, "nonce": "n-1"});
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn payload(jwt: &str) -> Value {
        let part = jwt.split('.').nth(1).expect("payload");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
    }

    fn header(jwt: &str) -> Value {
        let part = jwt.split('.').next().expect("header");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
    }

    #[test]
    fn every_tamper_produces_its_defect_and_untampered_validates() {
        let keys = KeyStore::new(SigningKey::generate().expect("key"));
        let good = sign_tampered(&keys, base_claims(), None).expect("sign");
        assert_eq!(
            validate(&good, &keys).expect("valid")["nonce"],
            json!("n-1")
        );
        let kid = keys.current().kid.clone();
        for t in IdTokenTamper::ALL {
            let jwt = sign_tampered(&keys, base_claims(), Some(t)).expect("sign");
            assert!(
                validate(&jwt, &keys).is_err() || t == IdTokenTamper::NonceMismatch,
                "{t:?} validated"
            );
            let (h, p) = (header(&jwt), payload(&jwt));
            match t {
                IdTokenTamper::BadSignature => {
                    assert_eq!(h["kid"], json!(kid));
                    assert_eq!(p["sub"], json!("auth0|alice"));
                }
                IdTokenTamper::AlgNone => {
                    assert_eq!(h["alg"], json!("none"));
                    assert!(jwt.ends_with('.'));
                }
                IdTokenTamper::WrongIss => assert_eq!(p["iss"], json!("https://evil.example/")),
                IdTokenTamper::WrongAud => assert_eq!(p["aud"], json!("some-other-client")),
                IdTokenTamper::MissingSub => assert!(p.get("sub").is_none()),
                IdTokenTamper::MissingIat => assert!(p.get("iat").is_none()),
                IdTokenTamper::Expired => {
                    assert!(p["exp"].as_u64().expect("exp") < now_secs())
                }
                IdTokenTamper::NonceMismatch => {
                    // Signature fine; only the nonce is wrong.
                    let claims = validate(&jwt, &keys).expect("signature ok");
                    assert_ne!(claims["nonce"], json!("n-1"));
                }
                IdTokenTamper::UnknownKid => {
                    assert!(keys.find(h["kid"].as_str().expect("kid")).is_none())
                }
                IdTokenTamper::OtherKey => {
                    assert_eq!(h["kid"], json!(kid));
                    assert_eq!(h["alg"], json!("RS256"));
                }
                IdTokenTamper::Hs256WithPublicKey => {
                    assert_eq!(h["alg"], json!("HS256"));
                    // It really is an HMAC under the public PEM: a naive verifier accepts it.
                    let naive = DecodingKey::from_secret(keys.current().public_pem.as_bytes());
                    let mut v = Validation::new(Algorithm::HS256);
                    v.validate_aud = false;
                    assert!(decode::<Value>(&jwt, &naive, &v).is_ok());
                }
                IdTokenTamper::NoKid => {
                    assert!(h.get("kid").is_none());
                    let mut v = Validation::new(Algorithm::RS256);
                    v.validate_aud = false;
                    assert!(decode::<Value>(&jwt, &keys.current().decoding, &v).is_ok());
                }
            }
        }
    }
}
