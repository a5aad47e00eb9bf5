//! Authorization-code flows over real HTTP: both dialects, PKCE, codes, prompt handling, logout.

mod common;

use std::time::Duration;

use common::*;
use portico_dev_idp::{ANALYTICS_API, BILLING_API, CORE_API, DEMO_CLIENT_ID};
use portico_testkit::browser::{Browser, BrowserError, Navigation};
use serde_json::{json, Value};

#[tokio::test]
async fn discovery_describes_the_provider() {
    let idp = start(|_| {}).await;
    let d: Value = http()
        .get(
            idp.issuer()
                .join(".well-known/openid-configuration")
                .expect("url"),
        )
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let iss = idp.issuer().as_str();
    assert!(iss.starts_with("http://127.0.0.1:") && iss.ends_with('/'));
    assert_eq!(d["issuer"], json!(iss));
    assert_eq!(
        d["authorization_endpoint"],
        json!(format!("{iss}authorize"))
    );
    assert_eq!(d["token_endpoint"], json!(format!("{iss}oauth/token")));
    assert_eq!(d["jwks_uri"], json!(format!("{iss}.well-known/jwks.json")));
    assert_eq!(
        d["revocation_endpoint"],
        json!(format!("{iss}oauth/revoke"))
    );
    assert_eq!(
        d["end_session_endpoint"],
        json!(format!("{iss}oidc/logout"))
    );
    assert_eq!(d["userinfo_endpoint"], json!(format!("{iss}userinfo")));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(
        d["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(d["token_endpoint_auth_methods_supported"], json!(["none"]));
    assert!(scopes(&json!(d["scopes_supported"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ")))
    .contains(&"offline_access".to_owned()));
    let jwks: Value = http()
        .get(d["jwks_uri"].as_str().expect("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"][0]["kty"], json!("RSA"));
    assert_eq!(jwks["keys"][0]["kid"], json!(idp.admin().current_kid()));
    let c = idp.admin().counters();
    assert_eq!((c.discovery, c.jwks), (1, 1));
}

#[tokio::test]
async fn auth0_dialect_login_then_mrrt_audiences_and_scope_dropping() {
    let idp = start(|_| {}).await;
    let scope = "openid profile email offline_access read:invoices write:invoices";
    let p = pkce();
    let cb = callback(
        &idp,
        "bob",
        &p,
        &[("audience", BILLING_API), ("scope", scope)],
    )
    .await;
    // RFC 9207 iss and the untouched state come back with the code.
    assert_eq!(cb["state"], "st-123");
    assert_eq!(cb["iss"], idp.issuer().as_str());
    let (status, t) = exchange(&idp, &cb["code"], &p).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], json!("Bearer"));
    assert_eq!(t["expires_in"], json!(600));
    // Bob may only read invoices: write is dropped silently.
    assert_eq!(
        scopes(&t["scope"]),
        [
            "openid",
            "profile",
            "email",
            "offline_access",
            "read:invoices"
        ]
    );
    let at = claims(&t["access_token"]);
    assert_eq!(header(&t["access_token"])["alg"], json!("RS256"));
    assert_eq!(
        header(&t["access_token"])["kid"],
        json!(idp.admin().current_kid())
    );
    assert_eq!(at["aud"], json!(BILLING_API));
    assert_eq!(at["iss"], json!(idp.issuer().as_str()));
    assert_eq!(at["sub"], json!("auth0|bob"));
    assert_eq!(at["azp"], json!(DEMO_CLIENT_ID));
    assert_eq!(at["https://portico.dev/email"], json!("bob@portico.dev"));
    assert_eq!(at["https://portico.dev/roles"], json!(["viewer"]));
    assert_eq!(at["permissions"], json!(["read:invoices"]));
    assert!(at["exp"].as_u64().expect("exp") > at["iat"].as_u64().expect("iat"));
    let id = claims(&t["id_token"]);
    assert_eq!(id["aud"], json!(DEMO_CLIENT_ID));
    assert_eq!(id["azp"], json!(DEMO_CLIENT_ID));
    assert_eq!(id["nonce"], json!("nonce-abc"));
    assert_eq!(id["name"], json!("Bob Viewer"));
    assert_eq!(id["email"], json!("bob@portico.dev"));
    assert!(id["auth_time"].is_u64());
    let rt = t["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token");

    // MRRT: another audience in the policy gets its own token with that API's scopes.
    let (s, core) = refresh(&idp, rt, &[("audience", CORE_API)]).await;
    assert_eq!(s, 200, "{core}");
    assert_eq!(claims(&core["access_token"])["aud"], json!(CORE_API));
    assert!(scopes(&core["scope"]).contains(&"read:dashboard".to_owned()));
    assert!(!scopes(&core["scope"]).contains(&"read:invoices".to_owned()));
    let rt = core["refresh_token"].as_str().expect("rotated");

    // Requested scopes outside the user's permissions are dropped, not refused.
    let (s, an) = refresh(
        &idp,
        rt,
        &[
            ("audience", ANALYTICS_API),
            ("scope", "openid read:reports export:reports"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{an}");
    assert_eq!(scopes(&an["scope"]), ["openid", "read:reports"]);
    assert_eq!(
        claims(&an["access_token"])["permissions"],
        json!(["read:reports"])
    );
    let rt = an["refresh_token"].as_str().expect("rotated");

    // An audience outside the policy falls back to the login's audience, as Auth0 does.
    let (s, fb) = refresh(&idp, rt, &[("audience", "https://unknown.example/api")]).await;
    assert_eq!(s, 200, "{fb}");
    assert_eq!(claims(&fb["access_token"])["aud"], json!(BILLING_API));
    let rt = fb["refresh_token"].as_str().expect("rotated");

    // No audience: the login's audience.
    let (s, plain) = refresh(&idp, rt, &[]).await;
    assert_eq!(s, 200, "{plain}");
    assert_eq!(claims(&plain["access_token"])["aud"], json!(BILLING_API));
    assert_eq!(claims(&plain["id_token"])["sub"], json!("auth0|bob"));

    let c = idp.admin().counters();
    assert_eq!(c.token_authorization_code, 1);
    assert_eq!(c.token_refresh, 4);
    assert_eq!(c.refresh_by_audience[CORE_API], 1);
    assert_eq!(c.refresh_by_audience[ANALYTICS_API], 1);
    assert_eq!(c.refresh_by_audience[""], 1);
    assert_eq!(c.active_families, 1);
}

#[tokio::test]
async fn mrrt_policy_limits_scopes() {
    let idp = start(|c| {
        c.clients[0].mrrt = vec![portico_dev_idp::MrrtPolicy {
            audience: ANALYTICS_API.into(),
            scopes: vec!["read:reports".into()],
        }];
    })
    .await;
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
    let (s, an) = refresh(
        &idp,
        rt,
        &[
            ("audience", ANALYTICS_API),
            ("scope", "read:reports export:reports"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{an}");
    // Alice holds export:reports, but the client's policy does not allow it.
    assert_eq!(scopes(&an["scope"]), ["read:reports"]);
    let rt = an["refresh_token"].as_str().expect("rt");
    // Core is not in the policy any more: fallback to billing.
    let (s, core) = refresh(&idp, rt, &[("audience", CORE_API)]).await;
    assert_eq!(s, 200, "{core}");
    assert_eq!(claims(&core["access_token"])["aud"], json!(BILLING_API));
}

/// Signs in with `resources` granted at /authorize and returns the code and its verifier.
async fn code_for(
    idp: &portico_dev_idp::DevIdp,
    resources: &[&str],
    scope: &str,
) -> (String, Pkce) {
    let p = pkce();
    let mut extra: Vec<(&str, &str)> = resources.iter().map(|r| ("resource", *r)).collect();
    extra.push(("scope", scope));
    let cb = callback(idp, "alice", &p, &extra).await;
    (cb["code"].clone(), p)
}

/// The code exchange with these `resource` parameters.
async fn exchange_naming(
    idp: &portico_dev_idp::DevIdp,
    code: &str,
    p: &Pkce,
    resources: &[&str],
) -> (u16, serde_json::Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", DEMO_CLIENT_ID),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &p.verifier),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    token(idp, &form).await
}

fn assert_invalid_target(what: &str, (status, body): (u16, serde_json::Value)) {
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{what}: {body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: the reason is given: {body}"
    );
}

const TWO: [&str; 2] = [BILLING_API, CORE_API];
const SCOPE: &str = "openid offline_access read:invoices read:dashboard";

#[tokio::test]
async fn rfc8707_code_exchange_without_resource_while_several_granted_is_invalid_target() {
    let idp = start(|_| {}).await;
    let (code, p) = code_for(&idp, &TWO, SCOPE).await;
    assert_invalid_target(
        "no resource, two granted",
        exchange_naming(&idp, &code, &p, &[]).await,
    );
    assert_eq!(idp.admin().active_families(), 0, "no grant was started");
}

#[tokio::test]
async fn rfc8707_code_exchange_naming_two_resources_is_invalid_target() {
    let idp = start(|_| {}).await;
    let (code, p) = code_for(&idp, &TWO, SCOPE).await;
    assert_invalid_target("two named", exchange_naming(&idp, &code, &p, &TWO).await);
}

#[tokio::test]
async fn rfc8707_code_exchange_naming_an_ungranted_resource_is_invalid_target() {
    let idp = start(|_| {}).await;
    let (code, p) = code_for(&idp, &TWO, SCOPE).await;
    assert_invalid_target(
        "analytics was not granted",
        exchange_naming(&idp, &code, &p, &[ANALYTICS_API]).await,
    );
}

#[tokio::test]
async fn rfc8707_a_single_granted_resource_needs_no_naming() {
    let idp = start(|_| {}).await;
    let (code, p) = code_for(&idp, &[CORE_API], "openid read:dashboard").await;
    let (s, t) = exchange_naming(&idp, &code, &p, &[]).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(claims(&t["access_token"])["aud"], json!(CORE_API));
}

#[tokio::test]
async fn rfc8707_resources_bind_at_authorization() {
    let idp = start(|_| {}).await;
    let (code, p) = code_for(&idp, &TWO, SCOPE).await;
    // The code exchange names one of the granted resources; the token is for that one only.
    let (s, t) = exchange_naming(&idp, &code, &p, &[BILLING_API]).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(claims(&t["access_token"])["aud"], json!(BILLING_API));
    assert_eq!(
        scopes(&t["scope"]),
        ["openid", "offline_access", "read:invoices"]
    );
    let rt = t["refresh_token"].as_str().expect("rt");

    let (s, core) = refresh(&idp, rt, &[("resource", CORE_API)]).await;
    assert_eq!(s, 200, "{core}");
    assert_eq!(claims(&core["access_token"])["aud"], json!(CORE_API));
    assert_eq!(
        scopes(&core["scope"]),
        ["openid", "offline_access", "read:dashboard"]
    );
    let rt = core["refresh_token"].as_str().expect("rt");

    // Each of these is refused before anything rotates, so the same token keeps working.
    assert_invalid_target(
        "refresh naming no resource while two were granted",
        refresh(&idp, rt, &[]).await,
    );
    assert_invalid_target(
        "refresh naming two resources",
        refresh(
            &idp,
            rt,
            &[("resource", BILLING_API), ("resource", CORE_API)],
        )
        .await,
    );
    assert_invalid_target(
        "refresh naming a resource not granted at /authorize",
        refresh(&idp, rt, &[("resource", ANALYTICS_API)]).await,
    );
    assert_invalid_target(
        "refresh naming an unknown resource",
        refresh(&idp, rt, &[("resource", "https://nowhere.example/")]).await,
    );
    // Both dialects at once: invalid_request.
    let (s, e) = refresh(&idp, rt, &[("resource", CORE_API), ("audience", CORE_API)]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    // The same resource twice is one resource.
    let (s, b) = refresh(
        &idp,
        rt,
        &[("resource", BILLING_API), ("resource", BILLING_API)],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(&b["access_token"])["aud"], json!(BILLING_API));
    assert_eq!(idp.admin().counters().reuse_detections, 0);
}

#[tokio::test]
async fn rfc8707_narrowing_at_code_exchange_and_unknown_resource_at_authorize() {
    let idp = start(|_| {}).await;
    let p = pkce();
    let cb = callback(
        &idp,
        "alice",
        &p,
        &[
            ("resource", BILLING_API),
            ("resource", CORE_API),
            ("scope", "openid"),
        ],
    )
    .await;
    let (s, t) = token(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEMO_CLIENT_ID),
            ("code", &cb["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &p.verifier),
            ("resource", CORE_API),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(claims(&t["access_token"])["aud"], json!(CORE_API));
    assert!(
        t.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );

    let p = pkce();
    let loc = portico_testkit::browser::sign_in(
        &authorize_url(&idp, &p, &[("resource", "https://nowhere.example/api")]),
        "alice",
    )
    .await
    .expect("redirect");
    let q = query(&loc);
    assert_eq!(q["error"], "invalid_target");
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], idp.issuer().as_str());
}

#[tokio::test]
async fn no_audience_gives_a_userinfo_token() {
    let idp = start(|_| {}).await;
    let t = login(&idp, "alice", &[("scope", "openid profile email")]).await;
    let at = claims(&t["access_token"]);
    assert_eq!(at["aud"], json!(format!("{}userinfo", idp.issuer())));
    let resp = http()
        .get(idp.issuer().join("userinfo").expect("url"))
        .bearer_auth(t["access_token"].as_str().expect("at"))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(resp.status(), 200);
    let u: Value = resp.json().await.expect("json");
    assert_eq!(u["sub"], json!("auth0|alice"));
    assert_eq!(u["email"], json!("alice@portico.dev"));
    let bad = http()
        .get(idp.issuer().join("userinfo").expect("url"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("userinfo");
    assert_eq!(bad.status(), 401);
    let www = bad.headers()["www-authenticate"]
        .to_str()
        .expect("header")
        .to_owned();
    assert!(www.contains("invalid_token"), "{www}");
    assert_eq!(idp.admin().counters().userinfo, 2);
}

#[tokio::test]
async fn pkce_failure_and_code_rules() {
    let idp = start(|_| {}).await;
    // Wrong verifier.
    let p = pkce();
    let cb = callback(&idp, "alice", &p, &[]).await;
    let (s, e) = exchange(&idp, &cb["code"], &pkce()).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert!(e["error_description"]
        .as_str()
        .expect("desc")
        .contains("PKCE"));
    // The code was burned by that attempt.
    let (s, e) = exchange(&idp, &cb["code"], &p).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    // Wrong redirect_uri at the token endpoint.
    let p = pkce();
    let cb = callback(&idp, "alice", &p, &[]).await;
    let (s, e) = token(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEMO_CLIENT_ID),
            ("code", &cb["code"]),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", &p.verifier),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    // Missing verifier: invalid_request (and the code is not burned by a malformed request).
    let p = pkce();
    let cb = callback(&idp, "alice", &p, &[]).await;
    let (s, e) = token(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEMO_CLIENT_ID),
            ("code", &cb["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    let (s, _) = exchange(&idp, &cb["code"], &p).await;
    assert_eq!(s, 200);
    assert!(idp.admin().counters().token_errors >= 3);
}

#[tokio::test]
async fn code_replay_revokes_tokens_issued_from_it() {
    let idp = start(|_| {}).await;
    let p = pkce();
    let cb = callback(
        &idp,
        "alice",
        &p,
        &[
            ("scope", "openid offline_access"),
            ("audience", BILLING_API),
        ],
    )
    .await;
    let (s, t) = exchange(&idp, &cb["code"], &p).await;
    assert_eq!(s, 200);
    assert_eq!(idp.admin().active_families(), 1);
    let (s, e) = exchange(&idp, &cb["code"], &p).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert_eq!(idp.admin().active_families(), 0);
    let (s, e) = refresh(&idp, t["refresh_token"].as_str().expect("rt"), &[]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert_eq!(idp.admin().counters().families_revoked, 1);
}

#[tokio::test]
async fn code_expires_after_code_ttl() {
    let idp = start(|c| c.code_ttl = Duration::from_millis(300)).await;
    let p = pkce();
    let cb = callback(&idp, "alice", &p, &[]).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (s, e) = exchange(&idp, &cb["code"], &p).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert!(e["error_description"]
        .as_str()
        .expect("desc")
        .contains("expired"));
}

#[tokio::test]
async fn loopback_redirect_on_any_port() {
    let idp = start(|_| {}).await;
    let p = pkce();
    let mut u = url::Url::parse(&authorize_url(&idp, &p, &[])).expect("url");
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k, "http://127.0.0.1:53177/callback".into())
            } else {
                (k, v)
            }
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    let loc = portico_testkit::browser::sign_in(u.as_str(), "alice")
        .await
        .expect("redirect");
    assert!(
        loc.starts_with("http://127.0.0.1:53177/callback?code="),
        "{loc}"
    );
}

#[tokio::test]
async fn authorize_errors_page_or_redirect_as_rfc6749_says() {
    let idp = start(|_| {}).await;
    let p = pkce();
    let base = idp.issuer().join("authorize").expect("url");
    // Unknown client / unregistered redirect: an error page, never a redirect.
    for (client, redirect) in [
        ("nobody", REDIRECT),
        (DEMO_CLIENT_ID, "https://evil.example/callback"),
        (DEMO_CLIENT_ID, "http://127.0.0.1:5000/other"),
    ] {
        let mut u = base.clone();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", redirect)
            .append_pair("code_challenge", &p.challenge)
            .append_pair("code_challenge_method", "S256");
        let nav = Browser::new()
            .expect("browser")
            .open(u.as_str())
            .await
            .expect("nav");
        match nav {
            Navigation::Page { status, html } => {
                assert_eq!(status, 400);
                assert!(html.contains("data-error"), "{html}");
            }
            Navigation::Redirect(l) => panic!("redirected to {l}"),
        }
        let err = portico_testkit::browser::sign_in(u.as_str(), "alice").await;
        assert!(
            matches!(err, Err(BrowserError::ErrorPage { status: 400, .. })),
            "{err:?}"
        );
    }
    // Trusted redirect: errors go back to the client with state and iss.
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("audience", "https://nope.example/")], "access_denied"),
        (
            vec![("audience", BILLING_API), ("resource", BILLING_API)],
            "invalid_request",
        ),
        (vec![("prompt", "none")], "login_required"),
        (vec![("nonce", "second")], "invalid_request"),
    ];
    for (extra, expected) in cases {
        let mut u = url::Url::parse(&authorize_url(&idp, &p, &[])).expect("url");
        let mut pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        for (k, v) in &extra {
            if *k == "nonce" {
                pairs.push(((*k).into(), (*v).into()));
            } else {
                pairs.retain(|(pk, _)| pk != k || *k == "resource");
                pairs.push(((*k).into(), (*v).into()));
            }
        }
        u.query_pairs_mut().clear().extend_pairs(pairs);
        let nav = Browser::new()
            .expect("browser")
            .open(u.as_str())
            .await
            .expect("nav");
        let Navigation::Redirect(loc) = nav else {
            panic!("{extra:?}: expected a redirect, got {nav:?}")
        };
        let q = query(&loc);
        assert_eq!(q["error"], expected, "{extra:?}");
        assert_eq!(q["state"], "st-123");
        assert_eq!(q["iss"], idp.issuer().as_str());
        assert!(!q.contains_key("code"));
    }
    // Missing code_challenge.
    let mut u = url::Url::parse(&authorize_url(&idp, &p, &[])).expect("url");
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "code_challenge")
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    let nav = Browser::new()
        .expect("browser")
        .open(u.as_str())
        .await
        .expect("nav");
    let Navigation::Redirect(loc) = nav else {
        panic!("{nav:?}")
    };
    assert_eq!(query(&loc)["error"], "invalid_request");
}

#[tokio::test]
async fn sso_session_prompt_none_prompt_login_and_logout() {
    let idp = start(|_| {}).await;
    let b = Browser::new().expect("browser");
    let p = pkce();
    // No session yet: prompt=none says login_required.
    let loc = b
        .sign_in(&authorize_url(&idp, &p, &[("prompt", "none")]), "alice")
        .await
        .expect("nav");
    assert_eq!(query(&loc)["error"], "login_required");
    // Sign in once.
    let loc = b
        .sign_in(&authorize_url(&idp, &p, &[]), "alice")
        .await
        .expect("nav");
    assert!(query(&loc).contains_key("code"));
    // Now prompt=none and a plain request both complete silently via the SSO cookie.
    for extra in [
        vec![("prompt", "none"), ("scope", "openid")],
        vec![("scope", "openid")],
    ] {
        let nav = b.open(&authorize_url(&idp, &p, &extra)).await.expect("nav");
        let Navigation::Redirect(loc) = nav else {
            panic!("{nav:?}")
        };
        let q = query(&loc);
        assert!(q.contains_key("code"), "{q:?}");
        let (s, t) = exchange(&idp, &q["code"], &p).await;
        assert_eq!(s, 200);
        assert_eq!(claims(&t["id_token"])["sub"], json!("auth0|alice"));
    }
    // prompt=login shows the page again; sign in as bob this time.
    let nav = b
        .open(&authorize_url(&idp, &p, &[("prompt", "login")]))
        .await
        .expect("nav");
    assert!(
        matches!(nav, Navigation::Page { status: 200, .. }),
        "{nav:?}"
    );
    let loc = b
        .sign_in(
            &authorize_url(&idp, &p, &[("prompt", "login"), ("scope", "openid")]),
            "bob",
        )
        .await
        .expect("nav");
    let (_, t) = exchange(&idp, &query(&loc)["code"], &p).await;
    assert_eq!(claims(&t["id_token"])["sub"], json!("auth0|bob"));
    // max_age=0 on an older session counts as no session.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let nav = b
        .open(&authorize_url(
            &idp,
            &p,
            &[("prompt", "none"), ("max_age", "0")],
        ))
        .await
        .expect("nav");
    let Navigation::Redirect(loc) = nav else {
        panic!("{nav:?}")
    };
    assert_eq!(query(&loc)["error"], "login_required");

    // Auth0 logout with returnTo ends the session.
    let mut u = idp.issuer().join("v2/logout").expect("url");
    u.query_pairs_mut()
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("returnTo", "dev.portico.app:/signed-out");
    let nav = b.open(u.as_str()).await.expect("logout");
    assert_eq!(
        nav,
        Navigation::Redirect("dev.portico.app:/signed-out".into())
    );
    let loc = b
        .sign_in(&authorize_url(&idp, &p, &[("prompt", "none")]), "alice")
        .await
        .expect("nav");
    assert_eq!(query(&loc)["error"], "login_required");
    // A returnTo that is not allowed is refused.
    let mut u = idp.issuer().join("v2/logout").expect("url");
    u.query_pairs_mut()
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("returnTo", "https://evil.example/");
    assert!(matches!(
        b.open(u.as_str()).await.expect("nav"),
        Navigation::Page { status: 400, .. }
    ));
}

#[tokio::test]
async fn oidc_rp_initiated_logout() {
    let idp = start(|_| {}).await;
    let b = Browser::new().expect("browser");
    let p = pkce();
    let loc = b
        .sign_in(&authorize_url(&idp, &p, &[("scope", "openid")]), "alice")
        .await
        .expect("nav");
    let (_, t) = exchange(&idp, &query(&loc)["code"], &p).await;
    let mut u = idp.issuer().join("oidc/logout").expect("url");
    u.query_pairs_mut()
        .append_pair("id_token_hint", t["id_token"].as_str().expect("id"))
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:4567/bye")
        .append_pair("state", "xyz");
    let nav = b.open(u.as_str()).await.expect("logout");
    assert_eq!(
        nav,
        Navigation::Redirect("http://127.0.0.1:4567/bye?state=xyz".into())
    );
    let loc = b
        .sign_in(&authorize_url(&idp, &p, &[("prompt", "none")]), "alice")
        .await
        .expect("nav");
    assert_eq!(query(&loc)["error"], "login_required");
    // A forged hint is refused.
    let mut u = idp.issuer().join("oidc/logout").expect("url");
    u.query_pairs_mut()
        .append_pair("id_token_hint", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:4567/bye");
    assert!(matches!(
        b.open(u.as_str()).await.expect("nav"),
        Navigation::Page { status: 400, .. }
    ));
    // Without a redirect: a signed-out page.
    let u = idp.issuer().join("oidc/logout").expect("url");
    assert!(matches!(
        b.open(u.as_str()).await.expect("nav"),
        Navigation::Page { status: 200, .. }
    ));
    assert_eq!(idp.admin().counters().logout, 3);
}

#[tokio::test]
async fn cancel_and_unknown_user() {
    let idp = start(|_| {}).await;
    let p = pkce();
    let b = Browser::new().expect("browser");
    let loc = b
        .cancel(&authorize_url(&idp, &p, &[]))
        .await
        .expect("cancel");
    let q = query(&loc);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
    let err = b.sign_in(&authorize_url(&idp, &p, &[]), "mallory").await;
    assert!(matches!(err, Err(BrowserError::UnknownUser(_))), "{err:?}");
    // Posting an unknown user directly re-renders the page with an error, no redirect.
    let resp = http()
        .post(idp.issuer().join("u/login").expect("url"))
        .form(&[("tx", "bogus"), ("username", "alice")])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 400);
}

/// RFC 9126: the client pushes the authorization request; the browser carries only
/// `client_id` and the one-time `request_uri`.
#[tokio::test]
async fn pushed_authorization_request_signs_in_with_only_a_request_uri_in_the_browser() {
    let idp = start(|_| {}).await;
    let discovery: Value = http()
        .get(
            idp.issuer()
                .join(".well-known/openid-configuration")
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = discovery["pushed_authorization_request_endpoint"]
        .as_str()
        .expect("PAR advertised")
        .to_owned();
    let p = pkce();
    let full = url::Url::parse(&authorize_url(
        &idp,
        &p,
        &[
            ("scope", "openid offline_access read:dashboard"),
            ("audience", CORE_API),
        ],
    ))
    .unwrap();
    let pairs: Vec<(String, String)> = full.query_pairs().into_owned().collect();
    let push = |pairs: Vec<(String, String)>| {
        let endpoint = endpoint.clone();
        async move {
            let resp = http().post(&endpoint).form(&pairs).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, pushed) = push(pairs.clone()).await;
    assert_eq!(status, 201, "{pushed}");
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(pushed["expires_in"], 60);
    assert_eq!(idp.admin().counters().par, 1);

    let mut browser_url = idp.issuer().join("authorize").unwrap();
    browser_url
        .query_pairs_mut()
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("request_uri", &request_uri);
    let location = portico_testkit::browser::sign_in(browser_url.as_str(), "alice")
        .await
        .expect("sign in");
    let q = query(&location);
    assert_eq!(
        q["state"], "st-123",
        "the pushed request's state comes back"
    );
    let (s, t) = exchange(&idp, &q["code"], &p).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(claims(&t["access_token"])["aud"], json!(CORE_API));

    // One use only.
    let again = Browser::new()
        .unwrap()
        .open(browser_url.as_str())
        .await
        .unwrap();
    match again {
        Navigation::Page { status, html } => {
            assert_eq!(status, 400);
            assert!(html.contains("invalid_request_uri"), "{html}");
        }
        other => panic!("{other:?}"),
    }
    // Pushed by one client, not usable by another.
    let (_, pushed) = push(pairs.clone()).await;
    let mut other = idp.issuer().join("authorize").unwrap();
    other
        .query_pairs_mut()
        .append_pair("client_id", "someone-else")
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    match Browser::new().unwrap().open(other.as_str()).await.unwrap() {
        Navigation::Page { status, .. } => assert_eq!(status, 400),
        other => panic!("{other:?}"),
    }
    // A bad request is refused at the push, as JSON, not later in the browser.
    let bad: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k.clone(), "https://evil.example/cb".to_owned())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let (status, body) = push(bad).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let nested = [pairs.clone(), vec![("request_uri".into(), request_uri)]].concat();
    let (status, _) = push(nested).await;
    assert_eq!(status, 400, "a pushed request cannot point at another");
}
