//! Bad input gets RFC 6749 §5.2 errors (JSON, 400/401), never a panic or a dead server.

mod common;

use common::*;
use portico_dev_idp::DEMO_CLIENT_ID;
use serde_json::Value;

async fn raw(
    idp: &portico_dev_idp::DevIdp,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value, String) {
    let mut req = http()
        .post(idp.issuer().join(path).expect("url"))
        .body(body);
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("response");
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (status, resp.json().await.unwrap_or(Value::Null), cache)
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn token_endpoint_answers_every_bad_request_with_an_oauth_error() {
    let idp = start(|_| {}).await;
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (None, b"grant_type=refresh_token".to_vec(), 400, "invalid_request"),
        (Some("application/json"), br#"{"grant_type":"refresh_token"}"#.to_vec(), 400, "invalid_request"),
        (Some(FORM), b"".to_vec(), 400, "invalid_request"),
        (Some(FORM), b"%%%&&&===\xff\xfe".to_vec(), 400, "invalid_request"),
        (Some(FORM), b"grant_type=password&username=a&password=b".to_vec(), 400, "unsupported_grant_type"),
        (Some(FORM), b"grant_type=client_credentials".to_vec(), 400, "unsupported_grant_type"),
        (Some(FORM), b"grant_type=refresh_token&grant_type=authorization_code".to_vec(), 400, "invalid_request"),
        (Some(FORM), b"grant_type=refresh_token&client_id=portico-desktop".to_vec(), 400, "invalid_request"),
        (Some(FORM), b"grant_type=refresh_token&client_id=nobody&refresh_token=x".to_vec(), 401, "invalid_client"),
        (Some(FORM), b"grant_type=refresh_token&refresh_token=x".to_vec(), 400, "invalid_request"),
        (Some(FORM), b"grant_type=refresh_token&client_id=portico-desktop&refresh_token=x".to_vec(), 400, "invalid_grant"),
        (Some(FORM), b"grant_type=authorization_code&client_id=portico-desktop".to_vec(), 400, "invalid_request"),
        (
            Some(FORM),
            format!(
                "grant_type=authorization_code&client_id={DEMO_CLIENT_ID}&code=nope&redirect_uri=x&code_verifier={}",
                "a".repeat(43)
            )
            .into_bytes(),
            400,
            "invalid_grant",
        ),
        (
            Some(FORM),
            b"grant_type=authorization_code&client_id=portico-desktop&code=nope&redirect_uri=x&code_verifier=short".to_vec(),
            400,
            "invalid_request",
        ),
        (Some(FORM), vec![b'a'; 100 * 1024], 400, "invalid_request"),
    ];
    let n = cases.len() as u64;
    for (ct, body, status, error) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let (s, json, cache) = raw(&idp, "oauth/token", ct, body).await;
        assert_eq!(s, status, "{shown}: {json}");
        assert_eq!(json["error"].as_str(), Some(error), "{shown}: {json}");
        assert!(json["error_description"].is_string(), "{shown}");
        assert_eq!(cache, "no-store", "{shown}");
    }
    assert_eq!(idp.admin().counters().token_errors, n);
    // Still alive and well.
    let t = login(&idp, "alice", &[("scope", "openid")]).await;
    assert!(t["id_token"].is_string());
}

#[tokio::test]
async fn other_endpoints_survive_garbage() {
    let idp = start(|_| {}).await;
    let (s, json, _) = raw(
        &idp,
        "oauth/revoke",
        Some("text/plain"),
        b"token=x".to_vec(),
    )
    .await;
    assert_eq!((s, json["error"].as_str()), (400, Some("invalid_request")));
    let (s, _, _) = raw(&idp, "u/login", Some(FORM), b"\xff\xfe=\x00".to_vec()).await;
    assert_eq!(s, 400);
    let (s, _, _) = raw(&idp, "u/login", None, b"".to_vec()).await;
    assert_eq!(s, 400);
    for path in [
        "authorize",
        "authorize?%ff%fe=%00",
        "authorize?client_id=portico-desktop&client_id=x",
        "authorize?client_id=portico-desktop&redirect_uri=dev.portico.app:/callback&state=a&state=b",
        "v2/logout?returnTo=https://evil.example/",
        "oidc/logout?id_token_hint=garbage",
        "oidc/logout?post_logout_redirect_uri=http://127.0.0.1/x",
        "no/such/path",
    ] {
        let resp = http().get(idp.issuer().join(path).expect("url")).send().await.expect("resp");
        let s = resp.status().as_u16();
        assert!((300..500).contains(&s), "{path}: {s}");
    }
    let resp = http()
        .get(idp.issuer().join("no/such/path").expect("url"))
        .send()
        .await
        .expect("resp");
    assert_eq!(resp.status(), 404);
    let (s, _) = token(&idp, &[("grant_type", "refresh_token")]).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn start_rejects_inconsistent_config_and_busy_ports() {
    let mut cfg = portico_dev_idp::IdpConfig::portico_demo();
    cfg.apis.push(cfg.apis[0].clone());
    assert!(matches!(
        portico_dev_idp::DevIdp::start(cfg).await,
        Err(portico_dev_idp::IdpError::Config(_))
    ));
    let mut cfg = portico_dev_idp::IdpConfig::portico_demo();
    cfg.clients[0].mrrt[0].audience = "https://unknown.example/".into();
    assert!(portico_dev_idp::DevIdp::start(cfg).await.is_err());
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut cfg = portico_dev_idp::IdpConfig::portico_demo();
    cfg.bind = busy.local_addr().expect("addr");
    assert!(matches!(
        portico_dev_idp::DevIdp::start(cfg).await,
        Err(portico_dev_idp::IdpError::Bind { .. })
    ));
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let idp = start(|_| {}).await;
    let url = idp.issuer().join(".well-known/jwks.json").expect("url");
    assert!(http().get(url.clone()).send().await.is_ok());
    idp.shutdown().await;
    assert!(http().get(url).send().await.is_err());
}
