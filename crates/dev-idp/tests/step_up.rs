//! Step-up at the provider and its APIs: `acr_values=mfa` adds a second factor to the sign-in
//! and `acr` to the tokens (refreshed ones too); an SSO session without it, or older than
//! `max_age`, signs in again; the Billing API answers a write without it with the RFC 9470
//! challenge and accepts it afterwards.

mod common;

use common::*;
use portico_dev_idp::{DemoApis, IdpConfig, ACR_MFA, ACR_PASSWORD, BILLING_API};
use portico_testkit::browser::{Browser, Navigation};
use serde_json::json;

async fn write(apis: &DemoApis, token: &str) -> (u16, String, serde_json::Value) {
    let url = apis
        .url_for(BILLING_API)
        .expect("api")
        .join("data")
        .expect("url");
    let resp = http()
        .post(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("call");
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, www, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_second_factor_raises_acr_and_the_api_takes_writes_only_then() {
    let idp = start(|_| {}).await;
    let apis = DemoApis::start(idp.issuer(), &IdpConfig::portico_demo().apis)
        .await
        .expect("apis");
    let browser = Browser::new().expect("browser");
    let scope = [
        ("audience", BILLING_API),
        (
            "scope",
            "openid offline_access read:invoices write:invoices",
        ),
    ];

    // A plain sign-in: acr pwd everywhere, and the write is refused with the challenge.
    let p = pkce();
    let loc = browser
        .sign_in(&authorize_url(&idp, &p, &scope), "alice")
        .await
        .expect("sign in");
    let (_, plain) = exchange(&idp, &query(&loc)["code"], &p).await;
    assert_eq!(claims(&plain["id_token"])["acr"], ACR_PASSWORD);
    let at = plain["access_token"].as_str().expect("at");
    let (status, www, body) = write(&apis, at).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        www.contains("error=\"insufficient_user_authentication\""),
        "{www}"
    );
    assert!(www.contains("acr_values=\"mfa\""), "{www}");

    // The SSO session does not meet acr_values=mfa: the page asks for the second factor.
    let p = pkce();
    let mut step_up = scope.to_vec();
    step_up.push(("acr_values", ACR_MFA));
    let url = authorize_url(&idp, &p, &step_up);
    match browser.open(&url).await.expect("open") {
        Navigation::Page { html, .. } => assert!(html.contains("id=\"sign-in\""), "{html}"),
        other => panic!("an SSO session without mfa was reused: {other:?}"),
    }
    let loc = browser.sign_in(&url, "alice").await.expect("step-up");
    let (_, stepped) = exchange(&idp, &query(&loc)["code"], &p).await;
    let id = claims(&stepped["id_token"]);
    assert_eq!(id["acr"], ACR_MFA);
    assert!(id["auth_time"].as_u64().is_some());
    let at = stepped["access_token"].as_str().expect("at");
    assert_eq!(claims(&json!(at))["acr"], ACR_MFA);
    let (status, _, body) = write(&apis, at).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["acr"], ACR_MFA);

    // A refresh keeps the grant's acr.
    let (status, refreshed) = refresh(
        &idp,
        stepped["refresh_token"].as_str().expect("rt"),
        &[("audience", BILLING_API)],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(claims(&refreshed["access_token"])["acr"], ACR_MFA);

    // Now the SSO session has mfa: the same request completes without a page...
    let p = pkce();
    match browser
        .open(&authorize_url(&idp, &p, &step_up))
        .await
        .expect("open")
    {
        Navigation::Redirect(loc) => assert!(query(&loc).contains_key("code"), "{loc}"),
        other => panic!("expected SSO: {other:?}"),
    }
    // ...unless max_age says the sign-in is too old.
    let p = pkce();
    let mut fresh = step_up.clone();
    fresh.push(("max_age", "0"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    match browser
        .open(&authorize_url(&idp, &p, &fresh))
        .await
        .expect("open")
    {
        Navigation::Page { html, .. } => assert!(html.contains("id=\"sign-in\""), "{html}"),
        other => panic!("max_age=0 reused the session: {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_one_time_code_is_asked_again() {
    let idp = start(|_| {}).await;
    let p = pkce();
    let url = authorize_url(&idp, &p, &[("acr_values", ACR_MFA), ("scope", "openid")]);
    let http = http();
    let page = http
        .get(&url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let tx = page
        .split("name=\"tx\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("tx")
        .to_owned();
    let login = idp.issuer().join("u/login").expect("url");
    let resp = http
        .post(login.clone())
        .form(&[("tx", tx.as_str()), ("username", "alice")])
        .send()
        .await
        .expect("first factor");
    assert_eq!(resp.status(), 200);
    assert!(resp
        .text()
        .await
        .expect("html")
        .contains("id=\"second-factor\""));
    let resp = http
        .post(login)
        .form(&[
            ("tx", tx.as_str()),
            ("username", "alice"),
            ("otp", "000000"),
        ])
        .send()
        .await
        .expect("wrong code");
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.expect("html").contains("not right"));
}
