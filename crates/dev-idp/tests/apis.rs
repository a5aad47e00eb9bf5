//! Demo APIs validate bearer tokens; signing-key rotation keeps old tokens valid until retired.

mod common;

use std::time::Duration;

use common::*;
use portico_dev_idp::{DemoApis, DevIdp, IdpConfig, ANALYTICS_API, BILLING_API, CORE_API};
use serde_json::{json, Value};

async fn setup() -> (DevIdp, DemoApis) {
    let idp = start(|_| {}).await;
    let apis = DemoApis::start(idp.issuer(), &IdpConfig::portico_demo().apis)
        .await
        .expect("apis");
    (idp, apis)
}

async fn call(apis: &DemoApis, aud: &str, token: Option<&str>) -> (u16, String, Value) {
    let url = apis.url_for(aud).expect("api").join("data").expect("url");
    let mut req = http().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("api call");
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    (status, www, resp.json().await.unwrap_or(Value::Null))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

#[tokio::test]
async fn apis_accept_right_tokens_and_reject_wrong_ones() {
    let (idp, apis) = setup().await;
    assert_eq!(apis.all().len(), 3);
    let t = login(
        &idp,
        "alice",
        &[
            ("audience", BILLING_API),
            ("scope", "openid offline_access read:invoices"),
        ],
    )
    .await;
    let at = t["access_token"].as_str().expect("at");
    let (s, _, body) = call(&apis, BILLING_API, Some(at)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["api"], json!("Billing API"));
    assert_eq!(body["audience"], json!(BILLING_API));
    assert!(body["data"]["invoices"].is_array());
    assert_eq!(body["claims"]["sub"], json!("auth0|alice"));
    assert_eq!(
        body["claims"]["scope"],
        json!("openid offline_access read:invoices")
    );

    // Same token at another API: wrong audience.
    let (s, www, _) = call(&apis, CORE_API, Some(at)).await;
    assert_eq!(s, 401);
    assert!(
        www.contains("error=\"invalid_token\"") && www.contains("audience"),
        "{www}"
    );
    // MRRT token for core works at core.
    let (_, core) = refresh(
        &idp,
        t["refresh_token"].as_str().expect("rt"),
        &[("audience", CORE_API)],
    )
    .await;
    let (s, _, body) = call(&apis, CORE_API, core["access_token"].as_str()).await;
    assert_eq!(s, 200);
    assert!(body["data"]["dashboard"].is_object());

    // No token: realm only, no error code (RFC 6750 §3.1).
    let (s, www, _) = call(&apis, ANALYTICS_API, None).await;
    assert_eq!(s, 401);
    assert!(
        www.starts_with("Bearer realm=") && !www.contains("error="),
        "{www}"
    );

    let admin = idp.admin();
    let iss = idp.issuer().as_str();
    let good = |extra: Value| {
        let mut c = json!({"iss": iss, "sub": "auth0|alice", "aud": BILLING_API, "iat": now(), "exp": now() + 300});
        for (k, v) in extra.as_object().expect("obj") {
            c[k] = v.clone();
        }
        admin.sign_claims(&c).expect("sign")
    };
    assert_eq!(
        call(&apis, BILLING_API, Some(&good(json!({})))).await.0,
        200
    );
    let cases = [
        (good(json!({"iss": "https://evil.example/"})), "issuer"),
        (
            good(json!({"aud": "https://api.portico.dev/other"})),
            "audience",
        ),
        (
            good(json!({"exp": now() - 5, "iat": now() - 100})),
            "expired",
        ),
    ];
    for (tok, why) in cases {
        let (s, www, _) = call(&apis, BILLING_API, Some(&tok)).await;
        assert_eq!(s, 401, "{why}");
        assert!(www.contains(why), "{why}: {www}");
    }
    // Bad signature: flip a bit in the signature of a good token.
    let g = good(json!({}));
    let (head, sig) = g.rsplit_once('.').expect("jwt");
    let mut bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
        .expect("b64");
    bytes[10] ^= 0x80;
    let forged = format!(
        "{head}.{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    );
    let (s, www, _) = call(&apis, BILLING_API, Some(&forged)).await;
    assert_eq!(s, 401);
    assert!(www.contains("signature"), "{www}");
    // alg none.
    let b64 = |v: Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            v.to_string(),
        )
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"iss": iss, "sub": "x", "aud": BILLING_API, "exp": now() + 300}))
    );
    assert_eq!(call(&apis, BILLING_API, Some(&none)).await.0, 401);
    // A token from another issuer with its own keys.
    let other = start(|_| {}).await;
    let foreign = login(&other, "alice", &[("audience", BILLING_API)]).await;
    let (s, www, _) = call(&apis, BILLING_API, foreign["access_token"].as_str()).await;
    assert_eq!(s, 401);
    assert!(www.contains("unknown signing key"), "{www}");
    // Garbage.
    assert_eq!(call(&apis, BILLING_API, Some("garbage")).await.0, 401);
    apis.shutdown().await;
    idp.shutdown().await;
}

#[tokio::test]
async fn expired_access_token_from_the_token_endpoint() {
    let (idp, apis) = setup().await;
    idp.admin().set_access_token_ttl(Duration::ZERO);
    let t = login(&idp, "bob", &[("audience", BILLING_API)]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, www, _) = call(&apis, BILLING_API, t["access_token"].as_str()).await;
    assert_eq!(s, 401);
    assert!(www.contains("expired"), "{www}");
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let (_idp, apis) = setup().await;
    let url = apis
        .url_for(CORE_API)
        .expect("core")
        .join("data")
        .expect("url");
    let resp = http()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", "tauri://localhost")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("preflight");
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let allow = resp.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    assert!(allow.contains("Authorization"));
    assert!(apis.url_for("https://nope.example/").is_none());
}

#[tokio::test]
async fn key_rotation_keeps_old_kid_until_retired() {
    let (idp, apis) = setup().await;
    let admin = idp.admin();
    let old_kid = admin.current_kid();
    let old = login(&idp, "alice", &[("audience", BILLING_API)]).await;
    assert_eq!(
        call(&apis, BILLING_API, old["access_token"].as_str())
            .await
            .0,
        200
    );
    let jwks_fetches = admin.counters().jwks;

    let new_kid = admin.rotate_signing_key();
    assert_ne!(new_kid, old_kid);
    let jwks: Value = http()
        .get(idp.issuer().join(".well-known/jwks.json").expect("url"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, vec![old_kid.as_str(), new_kid.as_str()]);

    let new = login(
        &idp,
        "alice",
        &[("audience", BILLING_API), ("scope", "openid")],
    )
    .await;
    assert_eq!(header(&new["access_token"])["kid"], json!(new_kid));
    assert_eq!(header(&new["id_token"])["kid"], json!(new_kid));
    // The API refetches the JWKS for the unknown kid, and old tokens still validate.
    assert_eq!(
        call(&apis, BILLING_API, new["access_token"].as_str())
            .await
            .0,
        200
    );
    assert_eq!(
        call(&apis, BILLING_API, old["access_token"].as_str())
            .await
            .0,
        200
    );
    assert!(admin.counters().jwks > jwks_fetches);

    // Retire the old key and rotate once more: after the refetch, old tokens fail.
    admin.retire_old_keys();
    let newest = admin.rotate_signing_key();
    let t = login(&idp, "alice", &[("audience", BILLING_API)]).await;
    assert_eq!(header(&t["access_token"])["kid"], json!(newest));
    assert_eq!(
        call(&apis, BILLING_API, t["access_token"].as_str()).await.0,
        200
    );
    let (s, www, _) = call(&apis, BILLING_API, old["access_token"].as_str()).await;
    assert_eq!(s, 401);
    assert!(www.contains("unknown signing key"), "{www}");
    assert_eq!(
        call(&apis, BILLING_API, new["access_token"].as_str())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn bytes_answers_the_size_asked_for_and_only_with_a_token() {
    let (idp, apis) = setup().await;
    let t = login(
        &idp,
        "alice",
        &[("audience", BILLING_API), ("scope", "openid read:invoices")],
    )
    .await;
    let at = t["access_token"].as_str().expect("at");
    let base = apis.url_for(BILLING_API).expect("api");
    for n in [0usize, 1024, 100 * 1024] {
        let url = base.join(&format!("bytes?n={n}")).expect("url");
        let resp = http().get(url).bearer_auth(at).send().await.expect("call");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.expect("body").len(), n);
    }
    let url = base.join("bytes?n=99999999").expect("url");
    let resp = http().get(url).bearer_auth(at).send().await.expect("call");
    assert_eq!(resp.status(), 400, "over the limit");
    let url = base.join("bytes?n=10").expect("url");
    let resp = http().get(url).send().await.expect("call");
    assert_eq!(resp.status(), 401, "no token, no bytes");
}
