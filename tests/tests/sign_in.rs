//! Signing in: the first run, least privilege between MFEs, and the loopback redirect.

use portico_testkit::e2e::prelude::*;
use serde_json::Value;

/// Scenario 1. A first run: one sign-in in the system browser, and every MFE shows data from
/// its own API with a token whose `aud` is that API. The provider saw one `/authorize` and one
/// code exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_one_sign_in_gives_each_mfe_a_token_for_its_own_api() {
    Scenario::builder("first_run")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            // At start only the shown MFE has a webview (issue 18.3); the others are made as
            // their tabs are first shown, which looking at them does here.
            assert_eq!(
                app.webview_count().await?,
                2,
                "the chrome and the first MFE"
            );
            // Nobody is signed in yet, and every MFE says so.
            each_mfe_signed_out(&app).await?;
            assert_eq!(app.webview_count().await?, 1 + s.mfe_ids().len());
            app.chrome().click("sign-in").await?;

            // Pushed authorization request (RFC 9126): what the browser's command line
            // carries is the client and a one-time reference, not state, nonce or challenge.
            let authorize = url::Url::parse(&s.authorize_url(1).await?).expect("authorize URL");
            let mut keys: Vec<String> = authorize
                .query_pairs()
                .map(|(k, _)| k.into_owned())
                .collect();
            keys.sort();
            assert_eq!(keys, ["client_id", "request_uri"], "{authorize}");
            each_mfe_served_by_its_own_api(s, &app).await?;
            let name = app.chrome().wait_for("account-name", wait::UI).await?;
            assert_eq!(name.text, "Alice Admin");

            let c = s.counters();
            assert_eq!(c.par, 1, "the request was pushed");
            assert_eq!(c.authorize, 1, "one trip to /authorize");
            assert_eq!(c.login, 1, "one sign-in form submitted");
            assert_eq!(c.token_authorization_code, 1, "one code exchange");
            assert_eq!(c.token_errors, 0, "no token request failed");
            let delivered = s
                .wait_browser_event("the callback delivered", |e| e["event"] == "delivered")
                .await?;
            assert_eq!(delivered["via"], "deep_link");
            assert_eq!(
                delivered["status"], 0,
                "the forwarding instance exits cleanly"
            );
            // Content security policy (issue 15.8): a script injected into the chrome or into a
            // bundled MFE does not run.
            for view in std::iter::once(app.chrome()).chain(app.mfes()) {
                let verdict = view.inline_script_verdict().await?;
                assert!(
                    verdict.starts_with("script-src"),
                    "{}: an injected inline script was not refused ({verdict})",
                    view.name()
                );
            }
            Ok(())
        })
        .await;
}

/// Scenario 2. An MFE asking for another team's audience gets the typed `forbidden_audience`,
/// and the shell refuses it without asking the provider anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_foreign_audience_is_refused_without_asking_the_provider() {
    Scenario::builder("least_privilege")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            each_mfe_served_by_its_own_api(s, &app).await?;

            // Billing's page asks the shell for the Analytics API, as its "try" button does.
            app.select_tab("billing").await?;
            let billing = app.mfe("billing");
            let before = s.counters();
            billing.click("try-foreign").await?;
            let result = billing
                .wait_for_with("foreign-result", &["data-kind"], wait::UI)
                .await?;
            assert_eq!(result.attr("data-kind"), Some("forbidden_audience"));
            let kind = billing.wait_for("foreign-kind", wait::UI).await?;
            assert_eq!(kind.text, "forbidden_audience");

            // The same from every MFE for every audience that is not its own, straight through
            // the client module.
            for mfe in app.mfes() {
                for other in s.mfe_ids() {
                    if other == mfe.name() {
                        continue;
                    }
                    let foreign = s.audience_of(other);
                    match mfe.get_token(foreign).await? {
                        TokenAnswer::Refused { kind, .. } => assert_eq!(
                            kind,
                            "forbidden_audience",
                            "{} asking for {foreign}",
                            mfe.name()
                        ),
                        granted => panic!("{} got a token for {foreign}: {granted:?}", mfe.name()),
                    }
                }
            }
            assert_eq!(
                s.counters(),
                before,
                "a refused request must not reach the provider"
            );
            // The refusal leaves the MFE's own access intact.
            assert!(billing.exists("api-data").await?);
            match billing.get_token(BILLING_API).await? {
                TokenAnswer::Granted { audience, .. } => assert_eq!(audience, BILLING_API),
                refused => panic!("billing lost its own audience: {refused:?}"),
            }
            Ok(())
        })
        .await;
}

/// Scenario 8. With a loopback redirect (RFC 8252 §7.3) the browser brings the code back to
/// `http://127.0.0.1:{port}/callback` and the sign-in completes; here with RFC 8707 resource
/// indicators instead of the Auth0 dialect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_redirect_completes_a_sign_in() {
    Scenario::builder("loopback_redirect")
        .loopback_redirect()
        // Front-channel parameters are what this scenario reads from the browser's URL.
        .app_env("PORTICO_PAR", "off")
        .dialect(Dialect::Rfc8707)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            each_mfe_signed_out(&app).await?;
            app.chrome().click("sign-in").await?;

            let authorize = url::Url::parse(&s.authorize_url(1).await?).expect("authorize URL");
            let redirect = authorize
                .query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            assert!(
                redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"),
                "loopback redirect URI, got {redirect}"
            );
            let resources: Vec<String> = authorize
                .query_pairs()
                .filter(|(k, _)| k == "resource")
                .map(|(_, v)| v.into_owned())
                .collect();
            for api in [BILLING_API, CORE_API, ANALYTICS_API] {
                assert!(
                    resources.iter().any(|r| r == api),
                    "{api} asked for at /authorize"
                );
            }

            each_mfe_served_by_its_own_api(s, &app).await?;
            let delivered = s
                .wait_browser_event("the callback delivered", |e| e["event"] == "delivered")
                .await?;
            assert_eq!(delivered["via"], "loopback");
            assert_eq!(delivered["status"], 200);
            let c = s.counters();
            assert_eq!(c.authorize, 1);
            assert_eq!(c.token_authorization_code, 1);
            Ok(())
        })
        .await;
}

/// Scenario 10. A fixed loopback port (`http://127.0.0.1:<port>/callback`, what a provider that
/// compares the port too, like Auth0, is configured with): the sign-in comes back on that port;
/// after a sign-out, a second sign-in uses the same port again (the listener is kept, not
/// re-bound onto a port it still holds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_loopback_port_serves_a_second_sign_in_after_sign_out() {
    let port = portico_testkit::process::free_ports(1).expect("a free port")[0];
    let configured = format!("http://127.0.0.1:{port}/callback");
    Scenario::builder("fixed_loopback_port")
        .app_env("PORTICO_REDIRECT", &configured)
        .app_env("PORTICO_PAR", "off")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            let redirect_of = |url: &str| {
                url::Url::parse(url)
                    .ok()
                    .and_then(|u| {
                        u.query_pairs()
                            .find(|(k, _)| k == "redirect_uri")
                            .map(|(_, v)| v.into_owned())
                    })
                    .unwrap_or_default()
            };
            for round in 1..=2 {
                app.chrome().click("sign-in").await?;
                let authorize = s.authorize_url(round).await?;
                assert_eq!(redirect_of(&authorize), configured, "round {round}");
                each_mfe_served_by_its_own_api(s, &app).await?;
                let deliveries = wait::until(
                    format!("callback {round} delivered on the loopback port"),
                    wait::UI,
                    async || {
                        let ok: Vec<Value> = s
                            .browser_events()
                            .into_iter()
                            .filter(|e| e["event"] == "delivered" && e["via"] == "loopback")
                            .collect();
                        Ok(if ok.len() >= round {
                            Check::Ready(ok)
                        } else {
                            Check::NotYet(format!("{ok:?}"))
                        })
                    },
                )
                .await?;
                assert_eq!(deliveries[round - 1]["status"], 200, "round {round}");
                assert_eq!(s.counters().token_authorization_code, round as u64);
                if round == 1 {
                    sign_out_from_the_chrome(&app).await?;
                }
            }
            assert!(
                !app.chrome().exists("warning").await?,
                "no sign-in error or ignored callback"
            );
            Ok(())
        })
        .await;
}

/// Scenario 11. The `entra` dialect against the dev provider's Entra-like mode: one sign-in
/// naming the login API by `<api>/.default`, each MFE's token by its own scope-named refresh,
/// then sign-out ends it for every MFE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_dialect_signs_in_serves_three_audiences_and_signs_out() {
    Scenario::builder("entra_dialect")
        .dialect(Dialect::Entra)
        // The browser URL is read to check the scope-named request.
        .app_env("PORTICO_PAR", "off")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            each_mfe_signed_out(&app).await?;
            app.chrome().click("sign-in").await?;
            let authorize = url::Url::parse(&s.authorize_url(1).await?).expect("authorize URL");
            let scope = authorize
                .query_pairs()
                .find(|(k, _)| k == "scope")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            assert!(
                scope.split(' ').any(|x| x.ends_with("/.default")),
                "the login API by scope: {scope}"
            );
            assert!(!authorize
                .query_pairs()
                .any(|(k, _)| k == "audience" || k == "resource"));
            each_mfe_served_by_its_own_api(s, &app).await?;
            let c = s.counters();
            assert_eq!(c.token_authorization_code, 1);
            assert!(c.token_refresh >= 2, "the other APIs by refresh: {c:?}");
            sign_out_from_the_chrome(&app).await?;
            Ok(())
        })
        .await;
}
