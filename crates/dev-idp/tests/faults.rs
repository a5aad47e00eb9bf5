//! Every fault switch, seen from a real HTTP client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use portico_dev_idp::{Endpoint, Fault, FaultKind, IdTokenTamper, BILLING_API, DEMO_CLIENT_ID};
use serde_json::{json, Value};

async fn get(
    idp: &portico_dev_idp::DevIdp,
    path: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    http()
        .get(idp.issuer().join(path).expect("url"))
        .send()
        .await
}

#[tokio::test]
async fn latency_delays_then_answers() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![Fault::times(
        Endpoint::Discovery,
        FaultKind::Latency(Duration::from_millis(400)),
        1,
    )]);
    let t0 = Instant::now();
    let r = get(&idp, ".well-known/openid-configuration")
        .await
        .expect("ok");
    assert_eq!(r.status(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(400));
    let t1 = Instant::now();
    get(&idp, ".well-known/openid-configuration")
        .await
        .expect("ok");
    assert!(
        t1.elapsed() < Duration::from_millis(300),
        "fault was one-shot"
    );
}

#[tokio::test]
async fn status_and_429_with_retry_after() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![
        Fault::times(Endpoint::Jwks, FaultKind::Status(503), 2),
        Fault::times(
            Endpoint::Discovery,
            FaultKind::TooManyRequests {
                retry_after_secs: 7,
            },
            1,
        ),
    ]);
    for _ in 0..2 {
        let r = get(&idp, ".well-known/jwks.json").await.expect("resp");
        assert_eq!(r.status(), 503);
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["error"], json!("server_error"));
    }
    assert_eq!(
        get(&idp, ".well-known/jwks.json")
            .await
            .expect("resp")
            .status(),
        200
    );
    let r = get(&idp, ".well-known/openid-configuration")
        .await
        .expect("resp");
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"], json!("too_many_requests"));
    let c = idp.admin().counters();
    assert_eq!((c.jwks, c.discovery, c.faults_injected), (3, 1, 3));
}

#[tokio::test]
async fn garbage_json_and_html_bodies() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![
        Fault::times(Endpoint::Token, FaultKind::GarbageJson, 1),
        Fault::times(Endpoint::Token, FaultKind::HtmlError, 1),
    ]);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", DEMO_CLIENT_ID),
        ("refresh_token", "x"),
    ];
    let r = http()
        .post(idp.issuer().join("oauth/token").expect("url"))
        .form(&form)
        .send()
        .await
        .expect("resp");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.json::<Value>().await.is_err(), "body must not parse");
    let r = http()
        .post(idp.issuer().join("oauth/token").expect("url"))
        .form(&form)
        .send()
        .await
        .expect("resp");
    assert_eq!(r.status(), 502);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/html"));
    assert!(r.text().await.expect("text").contains("<html>"));
    // Faults used up: the real endpoint answers again.
    let (s, e) = token(&idp, &form).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(idp.admin().counters().token_refresh, 3);
}

#[tokio::test]
async fn truncated_body_is_a_body_error() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![Fault::times(
        Endpoint::Jwks,
        FaultKind::TruncatedBody,
        1,
    )]);
    let r = get(&idp, ".well-known/jwks.json")
        .await
        .expect("headers arrive");
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), Some(512));
    let body = r.bytes().await;
    assert!(body.is_err(), "body must be cut short: {body:?}");
    assert_eq!(
        get(&idp, ".well-known/jwks.json")
            .await
            .expect("ok")
            .status(),
        200
    );
}

#[tokio::test]
async fn dropped_connection_gives_no_response_at_all() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![Fault::times(
        Endpoint::Token,
        FaultKind::DropConnection,
        1,
    )]);
    let err = http()
        .post(idp.issuer().join("oauth/token").expect("url"))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .expect_err("connection must drop");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("error sending request"),
        "{err:?}"
    );
    // The server is still fine afterwards.
    let (s, e) = token(&idp, &[("grant_type", "refresh_token")]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn dropped_connection_on_any_endpoint_until_cleared() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![Fault::always(
        Endpoint::Any,
        FaultKind::DropConnection,
    )]);
    for path in [
        ".well-known/openid-configuration",
        ".well-known/jwks.json",
        "userinfo",
    ] {
        assert!(get(&idp, path).await.is_err(), "{path}");
    }
    idp.admin().clear_faults();
    assert_eq!(
        get(&idp, ".well-known/jwks.json")
            .await
            .expect("ok")
            .status(),
        200
    );
}

#[tokio::test]
async fn injected_invalid_grant_then_normal_refresh() {
    let idp = start(|_| {}).await;
    let t = login(
        &idp,
        "alice",
        &[
            ("audience", BILLING_API),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    let rt = t["refresh_token"].as_str().expect("rt");
    // InvalidGrant on Any only touches the token endpoint.
    idp.admin().set_faults(vec![Fault::times(
        Endpoint::Any,
        FaultKind::InvalidGrant,
        1,
    )]);
    assert_eq!(
        get(&idp, ".well-known/jwks.json")
            .await
            .expect("ok")
            .status(),
        200
    );
    let (s, e) = refresh(&idp, rt, &[]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    // The fault did not consume the token: it still works.
    let (s, _) = refresh(&idp, rt, &[]).await;
    assert_eq!(s, 200);
    let c = idp.admin().counters();
    assert_eq!((c.token_errors, c.reuse_detections), (1, 0));
}

#[tokio::test]
async fn revoke_endpoint_faults() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![Fault::times(
        Endpoint::Revoke,
        FaultKind::Status(500),
        1,
    )]);
    let (s, _) = post_form(
        &idp,
        "oauth/revoke",
        &[("client_id", DEMO_CLIENT_ID), ("token", "x")],
    )
    .await;
    assert_eq!(s, 500);
    let (s, _) = post_form(
        &idp,
        "oauth/revoke",
        &[("client_id", DEMO_CLIENT_ID), ("token", "x")],
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn authorize_fault_hits_the_browser() {
    let idp = start(|_| {}).await;
    idp.admin().set_faults(vec![Fault::times(
        Endpoint::Authorize,
        FaultKind::Status(503),
        1,
    )]);
    let p = pkce();
    let err = portico_testkit::browser::sign_in(&authorize_url(&idp, &p, &[]), "alice").await;
    assert!(err.is_err());
    let loc = portico_testkit::browser::sign_in(&authorize_url(&idp, &p, &[]), "alice")
        .await
        .expect("ok");
    assert!(query(&loc).contains_key("code"));
}

/// Decode and check an ID token the way a careful client would; returns what it found wrong.
fn id_token_defects(
    idp: &portico_dev_idp::DevIdp,
    jwks: &Value,
    jwt: &str,
    nonce: &str,
) -> Vec<&'static str> {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let mut defects = Vec::new();
    let raw_header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').next().expect("h"),
        )
        .expect("b64"),
    )
    .expect("json");
    if raw_header["alg"] != json!("RS256") {
        defects.push("alg");
        return defects;
    }
    let Ok(header) = decode_header(jwt) else {
        defects.push("header");
        return defects;
    };
    let Some(kid) = header.kid else {
        defects.push("no kid");
        return defects;
    };
    let Some(jwk) = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == json!(kid))
    else {
        defects.push("unknown kid");
        return defects;
    };
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("n"),
        jwk["e"].as_str().expect("e"),
    )
    .expect("key");
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_aud = false;
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let claims = match decode::<Value>(jwt, &key, &v) {
        Ok(d) => d.claims,
        Err(_) => {
            defects.push("signature");
            return defects;
        }
    };
    if claims["iss"] != json!(idp.issuer().as_str()) {
        defects.push("iss");
    }
    if claims["aud"] != json!(DEMO_CLIENT_ID) {
        defects.push("aud");
    }
    if claims.get("sub").is_none() {
        defects.push("sub");
    }
    if claims.get("iat").is_none() {
        defects.push("iat");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    if claims["exp"].as_u64().is_none_or(|e| e <= now) {
        defects.push("exp");
    }
    if claims["nonce"] != json!(nonce) {
        defects.push("nonce");
    }
    defects
}

#[tokio::test]
async fn each_id_token_tamper_produces_its_defect() {
    let idp = start(|_| {}).await;
    let jwks: Value = get(&idp, ".well-known/jwks.json")
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let expected: [(IdTokenTamper, &str); 12] = [
        (IdTokenTamper::BadSignature, "signature"),
        (IdTokenTamper::AlgNone, "alg"),
        (IdTokenTamper::WrongIss, "iss"),
        (IdTokenTamper::WrongAud, "aud"),
        (IdTokenTamper::MissingSub, "sub"),
        (IdTokenTamper::MissingIat, "iat"),
        (IdTokenTamper::Expired, "exp"),
        (IdTokenTamper::NonceMismatch, "nonce"),
        (IdTokenTamper::UnknownKid, "unknown kid"),
        (IdTokenTamper::OtherKey, "signature"),
        (IdTokenTamper::Hs256WithPublicKey, "alg"),
        (IdTokenTamper::NoKid, "no kid"),
    ];
    assert_eq!(expected.len(), IdTokenTamper::ALL.len());
    let clean = login(&idp, "alice", &[("scope", "openid")]).await;
    assert!(id_token_defects(
        &idp,
        &jwks,
        clean["id_token"].as_str().expect("id"),
        "nonce-abc"
    )
    .is_empty());
    for (tamper, defect) in expected {
        idp.admin().set_id_token_tamper(Some(tamper));
        let t = login(&idp, "alice", &[("scope", "openid")]).await;
        let found = id_token_defects(
            &idp,
            &jwks,
            t["id_token"].as_str().expect("id"),
            "nonce-abc",
        );
        assert_eq!(found, vec![defect], "{tamper:?}");
        // Access tokens are never tampered with.
        assert_eq!(
            header(&t["access_token"])["kid"],
            json!(idp.admin().current_kid())
        );
    }
    idp.admin().set_id_token_tamper(None);
    let t = login(&idp, "alice", &[("scope", "openid")]).await;
    assert!(id_token_defects(
        &idp,
        &jwks,
        t["id_token"].as_str().expect("id"),
        "nonce-abc"
    )
    .is_empty());
}
