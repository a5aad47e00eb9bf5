//! A single-page application (`portico-spa`) on a loopback page, as a browser SDK such as
//! auth0-spa-js meets the provider: its page as the redirect URI, token requests from JavaScript
//! (CORS, preflight with Auth0's telemetry header), and per-API access-token lifetimes.

mod common;

use std::time::Duration;

use common::*;
use portico_dev_idp::{
    DevIdp, ANALYTICS_API, BILLING_API, CORE_API, DEMO_CLIENT_ID, SPA_CLIENT_ID,
};
use portico_testkit::browser;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ORIGIN, VARY,
};
use serde_json::{json, Value};

const PAGE: &str = "http://127.0.0.1:45123";

/// POST a form to the token endpoint as a page of `origin` would: returns status, the
/// `Access-Control-Allow-Origin` it got, and the JSON.
async fn token_from(
    idp: &DevIdp,
    origin: &str,
    form: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let resp = http()
        .post(idp.issuer().join("oauth/token").expect("url"))
        .header(ORIGIN, origin)
        .header("Auth0-Client", "eyJuYW1lIjoiYXV0aDAtc3BhLWpzIn0=")
        .form(form)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let acao = resp
        .headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().expect("ascii").to_owned());
    if acao.is_some() {
        assert_eq!(
            resp.headers().get(VARY).map(|v| v.to_str().expect("ascii")),
            Some("Origin")
        );
    }
    (status, acao, resp.json().await.unwrap_or(Value::Null))
}

/// The SPA signs in with its page as redirect URI; returns the code and the PKCE pair.
async fn spa_code(idp: &DevIdp, audience: &str) -> (String, Pkce) {
    let p = pkce();
    let mut u = idp.issuer().join("authorize").expect("url");
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", SPA_CLIENT_ID)
        .append_pair("redirect_uri", &format!("{PAGE}/"))
        .append_pair("scope", "openid profile email offline_access read:invoices")
        .append_pair("audience", audience)
        .append_pair("code_challenge", &p.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("response_mode", "query")
        .append_pair("state", "st")
        .append_pair("nonce", "n-1")
        // What auth0-spa-js adds to every authorization URL: ignored, as Auth0 ignores it.
        .append_pair("auth0Client", "eyJuYW1lIjoiYXV0aDAtc3BhLWpzIn0=");
    let loc = browser::sign_in(u.as_str(), "alice")
        .await
        .expect("sign in");
    assert!(loc.starts_with(&format!("{PAGE}/?")), "{loc}");
    let code = query(&loc).remove("code").expect("code");
    (code, p)
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_reads_its_token_answers_and_no_other_does() {
    let idp = start(|_| {}).await;
    let (code, p) = spa_code(&idp, BILLING_API).await;
    let redirect = format!("{PAGE}/");
    let (status, acao, body) = token_from(
        &idp,
        PAGE,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA_CLIENT_ID),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(acao.as_deref(), Some(PAGE));
    assert_eq!(claims(&body["id_token"])["aud"], SPA_CLIENT_ID);
    assert_eq!(claims(&body["id_token"])["nonce"], "n-1");
    assert_eq!(claims(&body["access_token"])["aud"], BILLING_API);
    let rt = body["refresh_token"].as_str().expect("refresh token");

    // A refresh as auth0-spa-js sends it (redirect_uri included, no audience): allowed too, on
    // any loopback port, with an ID token to check.
    let other_port = "http://127.0.0.1:51000";
    let (status, acao, body) = token_from(
        &idp,
        other_port,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SPA_CLIENT_ID),
            ("refresh_token", rt),
            ("redirect_uri", &redirect),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(acao.as_deref(), Some(other_port));
    assert!(body["id_token"].is_string(), "{body}");
    let rt = body["refresh_token"].as_str().expect("rotated");

    // An error answer is readable too (the SDK reports it), for the allowed origin.
    let (status, acao, body) = token_from(
        &idp,
        PAGE,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SPA_CLIENT_ID),
            ("refresh_token", "not-a-token"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(acao.as_deref(), Some(PAGE));

    // Other origins, and the native client's requests, get no CORS headers.
    for origin in [
        "https://evil.example",
        "http://localhost:45123",
        "https://127.0.0.1:45123",
    ] {
        let (_, acao, _) = token_from(
            &idp,
            origin,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", SPA_CLIENT_ID),
                ("refresh_token", rt),
            ],
        )
        .await;
        assert_eq!(acao, None, "{origin}");
    }
    let (_, acao, _) = token_from(
        &idp,
        PAGE,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(acao, None, "the desktop client allows no page");
}

#[tokio::test]
async fn the_preflight_admits_registered_origins_with_the_sdks_headers() {
    let idp = start(|_| {}).await;
    let preflight = |origin: &'static str| {
        http()
            .request(
                reqwest::Method::OPTIONS,
                idp.issuer().join("oauth/token").expect("url"),
            )
            .header(ORIGIN, origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "auth0-client")
            .send()
    };
    let r = preflight(PAGE).await.expect("preflight");
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], PAGE);
    assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "POST");
    let allowed = h[ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(allowed.contains("auth0-client"), "{allowed}");
    assert!(h.contains_key("access-control-max-age"));

    let r = preflight("https://evil.example").await.expect("preflight");
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
}

/// A refresh for `audience` (MRRT) with `rt`, which it replaces with the rotated one.
async fn refresh_for(idp: &DevIdp, rt: &mut String, audience: &str) -> Value {
    let (status, b) = refresh(idp, rt, &[("audience", audience)]).await;
    assert_eq!(status, 200, "{b}");
    *rt = b["refresh_token"].as_str().expect("rotated").to_owned();
    b
}

#[tokio::test]
async fn an_api_can_have_its_own_access_token_lifetime() {
    let idp = start(|c| c.admin_endpoint = true).await;
    let body = login(
        &idp,
        "alice",
        &[
            ("audience", BILLING_API),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    let mut rt = body["refresh_token"].as_str().expect("rt").to_owned();
    let life = |b: &Value| {
        let c = claims(&b["access_token"]);
        (
            b["expires_in"].as_u64().expect("expires_in"),
            c["exp"].as_u64().expect("exp") - c["iat"].as_u64().expect("iat"),
        )
    };
    assert_eq!(life(&body), (600, 600));

    // Over the admin API, as the benchmark sets it.
    let r = http()
        .put(
            idp.issuer()
                .join("__admin/api-access-token-ttl")
                .expect("url"),
        )
        .json(&json!({ "audience": ANALYTICS_API, "secs": 30 }))
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status(), 204);
    let b = refresh_for(&idp, &mut rt, ANALYTICS_API).await;
    assert_eq!(life(&b), (30, 30), "analytics has its own lifetime");
    let b = refresh_for(&idp, &mut rt, CORE_API).await;
    assert_eq!(life(&b), (600, 600), "core keeps the provider's");

    // In process; `None` gives the API the provider's lifetime again; unknown APIs are refused.
    let admin = idp.admin();
    assert!(admin.set_api_access_token_ttl(ANALYTICS_API, None));
    assert!(
        !admin.set_api_access_token_ttl("https://unknown.example/", Some(Duration::from_secs(5)))
    );
    let b = refresh_for(&idp, &mut rt, ANALYTICS_API).await;
    assert_eq!(life(&b), (600, 600));
    let r = http()
        .put(
            idp.issuer()
                .join("__admin/api-access-token-ttl")
                .expect("url"),
        )
        .json(&json!({ "audience": "https://unknown.example/", "secs": null }))
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status(), 404);
}
