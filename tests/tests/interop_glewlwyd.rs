//! Interop end to end (issue 12): the real app signs in against Glewlwyd 2.7, an OpenID Provider
//! we did not write, in RFC 8707 mode. The demo APIs trust Glewlwyd's JWKS, so "each MFE shows
//! data from its own API" means Glewlwyd issued each MFE a token whose `aud` is that API.

use portico_testkit::e2e::prelude::*;
use portico_testkit::glewlwyd::{Glewlwyd, RefreshTokenInfo};

fn op(s: &Scenario) -> &Glewlwyd {
    s.glewlwyd().expect("a Glewlwyd scenario")
}

/// Alice's refresh tokens for Portico's client, as Glewlwyd lists them.
async fn refresh_tokens(s: &Scenario) -> Result<Vec<RefreshTokenInfo>> {
    op(s)
        .refresh_tokens("alice")
        .await
        .map_err(|e| E2eError::Setup(format!("Glewlwyd's refresh-token list: {e}")))
}

/// First sign-in by deep link: each MFE gets a token for its own API; then a restart restores
/// the session from the keyring with no browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glewlwyd_first_sign_in_by_deep_link_then_restart_from_the_keyring() {
    Scenario::builder("glewlwyd_sign_in_restart")
        .provider(Provider::Glewlwyd)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            each_mfe_signed_out(&app).await?;
            app.chrome().click("sign-in").await?;
            each_mfe_served_by_its_own_api(s, &app).await?;
            let name = app.chrome().wait_for("account-name", wait::UI).await?;
            assert_eq!(name.text, "Alice Admin");
            let delivered = s
                .wait_browser_event("the callback delivered", |e| e["event"] == "delivered")
                .await?;
            assert_eq!(delivered["via"], "deep_link");
            let stored = s.keyring_entry().await?;
            assert!(stored.present && stored.has_refresh_token, "{stored:?}");
            assert_eq!(stored.issuer.as_deref(), Some(op(s).issuer().as_str()));
            assert!(
                refresh_tokens(s).await?.iter().any(|t| t.enabled),
                "Glewlwyd holds the live grant"
            );
            s.quit(&app).await?;

            let app = s.launch().await?;
            // No click: the session comes back from the keyring.
            each_mfe_served_by_its_own_api(s, &app).await?;
            assert!(!app.chrome().exists("login-pending").await?);
            let authorizations = s
                .browser_events()
                .iter()
                .filter(|e| e["event"] == "authorize")
                .count();
            assert_eq!(authorizations, 1, "the browser was opened once");
            assert!(
                !app.chrome().exists("warning").await?,
                "no warning on the way"
            );
            Ok(())
        })
        .await;
}

/// Short-lived tokens are refreshed before they expire and pushed to the MFEs; sign-out then
/// revokes the refresh token at Glewlwyd, clears the keyring and signs every MFE out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glewlwyd_proactive_refresh_then_sign_out_revokes_the_grant() {
    Scenario::builder("glewlwyd_refresh_sign_out")
        .provider(Provider::Glewlwyd)
        .access_token_ttl(Duration::from_secs(30))
        .app_env("PORTICO_REFRESH_SKEW_SECS", 25)
        .app_env("PORTICO_REFRESH_CHECK_SECS", 1)
        .app_env("PORTICO_MIN_TTL_SECS", 2)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            let first = each_mfe_served_by_its_own_api(s, &app).await?;
            // Refreshed at half-life (15 s): each MFE is pushed a token with a later expiry.
            for (id, old_exp) in &first {
                app.mfe(id)
                    .wait_attr("token-exp", "data-exp", Duration::from_secs(40), |v| {
                        v.and_then(|v| v.parse::<i64>().ok())
                            .is_some_and(|exp| exp > *old_exp)
                    })
                    .await?;
                assert!(app.mfe(id).exists("api-data").await?);
                assert!(!app.mfe(id).exists("refresh-error").await?, "{id}");
            }
            each_mfe_served_by_its_own_api(s, &app).await?;
            let live: Vec<RefreshTokenInfo> = refresh_tokens(s)
                .await?
                .into_iter()
                .filter(|t| t.enabled)
                .collect();
            assert_eq!(live.len(), 1, "one grant: {live:?}");

            sign_out_from_the_chrome(&app).await?;
            wait::until("Glewlwyd to see the revocation", wait::UI, async || {
                let tokens = refresh_tokens(s).await?;
                Ok(if tokens.iter().all(|t| !t.enabled) {
                    Check::Ready(())
                } else {
                    Check::NotYet(format!("{tokens:?}"))
                })
            })
            .await?;
            let end_session = op(s).end_session_endpoint();
            s.wait_browser_event("Glewlwyd's end-session page", |e| {
                e["event"] == "opened" && e["path"] == end_session.path()
            })
            .await?;
            let stored = s.keyring_entry().await?;
            assert!(!stored.present, "keyring entry gone: {stored:?}");
            each_mfe_refused_login_required(s, &app).await?;
            Ok(())
        })
        .await;
}

/// The loopback redirect (RFC 8252 §7.3) on the port Glewlwyd has registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glewlwyd_loopback_redirect_completes_a_sign_in() {
    Scenario::builder("glewlwyd_loopback")
        .provider(Provider::Glewlwyd)
        .loopback_redirect()
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            let authorize = url::Url::parse(&s.authorize_url(1).await?).expect("authorize URL");
            let redirect = authorize
                .query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            assert_eq!(redirect, op(s).loopback_redirect_uri().as_str());
            each_mfe_served_by_its_own_api(s, &app).await?;
            let delivered = s
                .wait_browser_event("the callback delivered", |e| e["event"] == "delivered")
                .await?;
            assert_eq!(delivered["via"], "loopback");
            assert_eq!(delivered["status"], 200);
            Ok(())
        })
        .await;
}
