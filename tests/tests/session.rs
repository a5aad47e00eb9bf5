//! The session after sign-in: restarts, proactive refresh, sign-out, and a provider outage.

use portico_testkit::e2e::prelude::*;

/// Expiry settings shared by the refresh scenarios: tokens live `ttl`, the shell refreshes them
/// `skew` before expiry (but not before half their life) and checks every second.
fn short_lived_tokens(
    name: &str,
    ttl: u64,
    skew: u64,
) -> portico_testkit::e2e::scenario::ScenarioBuilder {
    Scenario::builder(name)
        .access_token_ttl(Duration::from_secs(ttl))
        .app_env("PORTICO_REFRESH_SKEW_SECS", skew)
        .app_env("PORTICO_REFRESH_CHECK_SECS", 1)
        .app_env("PORTICO_MIN_TTL_SECS", 2)
}

/// Scenario 3. Quit and start again: the MFEs get tokens from the refresh token in the keyring,
/// with no new sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_restores_the_session_from_the_keyring_without_signing_in() {
    Scenario::builder("restart")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            each_mfe_served_by_its_own_api(s, &app).await?;
            let stored = s.keyring_entry().await?;
            assert!(stored.present, "session stored: {stored:?}");
            assert_eq!(stored.subject.as_deref(), Some("auth0|alice"));
            assert!(stored.has_refresh_token);
            s.quit(&app).await?;

            let before = s.counters();
            let app = s.launch().await?;
            // No click: the session comes back on its own.
            each_mfe_served_by_its_own_api(s, &app).await?;
            let name = app.chrome().wait_for("account-name", wait::UI).await?;
            assert_eq!(name.text, "Alice Admin");
            assert!(!app.chrome().exists("login-pending").await?);

            let c = s.counters();
            assert_eq!(c.authorize, 1, "/authorize count stays at one");
            assert_eq!(c.login, 1);
            assert_eq!(c.token_authorization_code, 1, "no new code exchange");
            assert!(
                c.token_refresh > before.token_refresh,
                "tokens came from the stored refresh token"
            );
            for api in [BILLING_API, CORE_API, ANALYTICS_API] {
                let n = |c: &portico_dev_idp::Counters| {
                    c.refresh_by_audience.get(api).copied().unwrap_or(0)
                };
                assert!(n(&c) > n(&before), "{api} refreshed after the restart");
            }
            assert_eq!(c.reuse_detections, 0);
            let authorizations = s
                .browser_events()
                .iter()
                .filter(|e| e["event"] == "authorize")
                .count();
            assert_eq!(authorizations, 1, "the browser was opened once");
            Ok(())
        })
        .await;
}

/// Scenario 4. Short-lived tokens: the shell refreshes them before they expire and pushes the
/// new ones to the MFEs (a new expiry on screen), with exactly one token request per audience
/// per refresh cycle, and rotation never trips reuse detection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_proactive_refresh_pushes_new_tokens_one_request_per_audience() {
    // Tokens live 30 s and are refreshed at half-life: one cycle per 15 s per audience, which
    // leaves room on both sides of the measured cycle even on a loaded 2-core machine.
    short_lived_tokens("expiry_refresh", 30, 25)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            let first = each_mfe_served_by_its_own_api(s, &app).await?;
            let before = s.counters();

            let mut second = Vec::new();
            for (id, old_exp) in &first {
                let shown = app
                    .mfe(id)
                    .wait_attr("token-exp", "data-exp", Duration::from_secs(30), |v| {
                        v.and_then(|v| v.parse::<i64>().ok())
                            .is_some_and(|exp| exp > *old_exp)
                    })
                    .await?;
                let exp: i64 = shown
                    .attr("data-exp")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                second.push((id.clone(), exp));
            }
            // A fetch-only MFE shows no expiry; its token, held by the shell alone, is
            // refreshed in the same cycle.
            let after = wait::until("every audience's first refresh", wait::UI, async || {
                let c = s.counters();
                Ok(if c.token_refresh - before.token_refresh >= 3 {
                    Check::Ready(c)
                } else {
                    Check::NotYet(format!("{c:?}"))
                })
            })
            .await?;

            for ((id, exp), (_, old_exp)) in second.iter().zip(&first) {
                assert!(exp > &now_ms(), "{id}: the pushed token is fresh");
                assert!(
                    exp - old_exp < 30_000,
                    "{id}: the first refresh cycle was measured, not a later one"
                );
                let aud = s.audience_of(id);
                let n = |c: &portico_dev_idp::Counters| {
                    c.refresh_by_audience.get(aud).copied().unwrap_or(0)
                };
                assert_eq!(
                    n(&after) - n(&before),
                    1,
                    "{aud}: one token request in one refresh cycle"
                );
                // The MFE kept its data: a push replaces the token, not the page.
                assert!(app.mfe(id).exists("api-data").await?);
                assert!(!app.mfe(id).exists("refresh-error").await?);
            }
            assert_eq!(
                after.token_refresh - before.token_refresh,
                3,
                "three audiences, three refreshes"
            );
            assert_eq!(after.reuse_detections, 0, "rotation without reuse");
            assert_eq!(after.families_revoked, 0);
            assert_eq!(after.token_errors, 0);
            assert_eq!(after.authorize, 1);
            Ok(())
        })
        .await;
}

/// Scenario 5. Sign-out: the refresh token is revoked at the provider, the keyring entry is
/// gone, and every MFE shows signed-out and gets `login_required`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_at_the_provider_clears_the_keyring_and_signs_out_every_mfe() {
    Scenario::builder("logout")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            each_mfe_served_by_its_own_api(s, &app).await?;
            assert!(s.keyring_entry().await?.present);
            let before = s.counters();
            assert_eq!(before.active_families, 1);

            sign_out_from_the_chrome(&app).await?;
            let revoked = wait::until("the provider to see the revocation", wait::UI, async || {
                let c = s.counters();
                Ok(if c.revoke >= 1 {
                    Check::Ready(c)
                } else {
                    Check::NotYet(format!("{c:?}"))
                })
            })
            .await?;
            assert_eq!(revoked.revoke, 1, "one revocation request");
            assert_eq!(
                revoked.active_families, 0,
                "the refresh token's family is dead"
            );
            assert_eq!(revoked.families_revoked, before.families_revoked + 1);
            // The provider's own session ends too (Auth0 /v2/logout in the browser).
            s.wait_browser_event("the provider's logout page", |e| {
                e["event"] == "opened" && e["path"] == "/v2/logout"
            })
            .await?;

            let stored = s.keyring_entry().await?;
            assert!(!stored.present, "keyring entry gone: {stored:?}");
            assert_eq!(stored.error, None);

            for mfe in app.mfes() {
                assert!(
                    !mfe.exists("api-data").await?,
                    "{} still shows data",
                    mfe.name()
                );
                assert!(
                    !mfe.exists("token-exp").await?,
                    "{} still shows a token",
                    mfe.name()
                );
            }
            each_mfe_refused_login_required(s, &app).await?;
            let after = s.counters();
            assert_eq!(
                after.token_refresh, revoked.token_refresh,
                "no refresh after sign-out"
            );
            Ok(())
        })
        .await;
}

/// Scenario 7. The provider goes down while a refresh is due: the MFE shows a typed `network`
/// error; when the provider is back it recovers without a new sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_down_during_refresh_shows_network_error_and_recovers_without_sign_in() {
    // Tokens live 16 s; the proactive refresh is due at half-life, 8 s after issue.
    short_lived_tokens("provider_down", 16, 12)
        .app_env("PORTICO_HTTP_TIMEOUT_SECS", 3)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            let first = each_mfe_served_by_its_own_api(s, &app).await?;
            let old_exp = first
                .iter()
                .find(|(id, _)| id == "billing")
                .map(|(_, e)| *e)
                .unwrap_or_default();
            app.select_tab("billing").await?;
            let billing = app.mfe("billing");

            // Every connection to the provider is dropped from now on.
            s.admin().set_faults(vec![Fault::always(
                Endpoint::Any,
                FaultKind::DropConnection,
            )]);
            let failed = billing
                .wait_for("refresh-error", Duration::from_secs(30))
                .await?;
            assert!(
                failed.text.starts_with("network"),
                "typed network error in the background refresh: {:?}",
                failed.text
            );

            // Once the newest token it holds has expired, the MFE cannot load without the provider.
            let held = billing
                .wait_for_with("token-exp", &["data-exp"], wait::UI)
                .await?;
            let held_exp: i64 = held
                .attr("data-exp")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            assert!(held_exp >= old_exp);
            wait::until_true(
                "billing's token to expire",
                Duration::from_secs(30),
                async || Ok(now_ms() > held_exp),
            )
            .await?;
            billing.click("reload").await?;
            let error = billing
                .wait_for_with("error", &["data-kind"], wait::UI)
                .await?;
            assert_eq!(error.attr("data-kind"), Some("network"));
            assert_eq!(
                billing.wait_for("error-kind", wait::UI).await?.text,
                "network"
            );
            assert!(s.counters().faults_injected > 0);
            assert!(
                !billing.exists("signed-out").await?,
                "an outage is not a sign-out"
            );

            // The provider is back: the next try works with the same session.
            s.admin().clear_faults();
            billing.click("reload").await?;
            billing.wait_for("api-data", wait::UI).await?;
            let renewed = billing
                .wait_for_with("token-exp", &["data-exp"], wait::UI)
                .await?;
            let new_exp: i64 = renewed
                .attr("data-exp")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            assert!(new_exp > held_exp, "a new token after the outage");
            assert!(!billing.exists("refresh-error").await?);
            assert!(!billing.exists("error").await?);
            let name = app.chrome().wait_for("account-name", wait::UI).await?;
            assert_eq!(name.text, "Alice Admin");
            let c = s.counters();
            assert_eq!(c.authorize, 1, "no new sign-in");
            assert_eq!(c.token_authorization_code, 1);
            assert_eq!(c.reuse_detections, 0, "no refresh token was replayed");
            assert!(
                s.keyring_entry().await?.present,
                "the session survived the outage"
            );
            Ok(())
        })
        .await;
}
