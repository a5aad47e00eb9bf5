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

            let authorize_url = s.authorize_url(1).await?;
            let redirect = redirect_of(&authorize_url);
            let authorize = url::Url::parse(&authorize_url).expect("authorize URL");
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

/// Whether anything accepts connections on the port of `redirect`.
fn listening(redirect: &str) -> bool {
    let port = url::Url::parse(redirect).ok().and_then(|u| u.port());
    port.is_some_and(|p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok())
}

/// The `redirect_uri` an authorize URL names.
fn redirect_of(authorize: &str) -> String {
    url::Url::parse(authorize)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default()
}

async fn get(http: &reqwest::Client, url: &str) -> Result<u16> {
    let answer = http.get(url).send().await.map_err(|e| E2eError::Page {
        what: format!("GET {}", url.split('?').next().unwrap_or(url)),
        detail: e.to_string(),
    })?;
    Ok(answer.status().as_u16())
}

/// Wait until nothing listens on `redirect`'s port any more.
async fn closed(redirect: &str, what: &str) -> Result<()> {
    wait::until(
        format!("{what}: its listener closed"),
        wait::UI,
        async || {
            Ok(if listening(redirect) {
                Check::NotYet(format!("{redirect} still accepts connections"))
            } else {
                Check::Ready(())
            })
        },
    )
    .await
}

/// Scenario 8b (issue 15.5). Another local program floods the loopback listener with forged
/// callbacks: after a short burst they are answered 429 without reaching the broker, and the
/// chrome shows one warning with a count. The listener lives exactly as long as its sign-in: a
/// cancel closes its port, and so does the completed sign-in that follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_listener_lives_as_long_as_its_sign_in_and_throttles_forgeries() {
    Scenario::builder("loopback_lifetime")
        .loopback_redirect()
        .app_env("PORTICO_PAR", "off")
        .browser(BrowserMode::Hold)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            app.chrome().wait_for("login-pending", wait::UI).await?;
            let first = redirect_of(&s.authorize_url(1).await?);
            assert!(listening(&first), "listening on {first}");

            let http = reqwest::Client::new();
            let started = std::time::Instant::now();
            let mut statuses = Vec::new();
            for i in 0..40 {
                let forged = format!("{first}?code=forged&state=forged-state-{i:02}");
                statuses.push(get(&http, &forged).await?);
            }
            // Five at once, then one every two seconds (shell-core `Limits::default`).
            let allowed = 5 + started.elapsed().as_secs() as usize / 2 + 1;
            let handed_on = statuses.iter().filter(|&&c| c == 200).count();
            let refused = statuses.iter().filter(|&&c| c == 429).count();
            assert!(
                (5..=allowed).contains(&handed_on) && handed_on + refused == 40,
                "{statuses:?}"
            );
            // Each forgery that got through is one warning, merged into one notice.
            let warning = app
                .chrome()
                .wait_attr("warning", "data-repeats", wait::UI, |r| {
                    r == Some(handed_on.to_string().as_str())
                })
                .await?;
            assert_eq!(
                warning.attr("data-repeats"),
                Some(handed_on.to_string().as_str())
            );
            let shown = app
                .chrome()
                .wait_for_with("warning", &["data-distinct"], wait::UI)
                .await?;
            assert_eq!(shown.attr("data-distinct"), Some("1"), "{shown:?}");
            assert!(app.chrome().exists("login-pending").await?);
            assert_eq!(s.counters().token_authorization_code, 0);

            app.chrome().click("cancel-login").await?;
            closed(&first, "the cancelled sign-in").await?;

            app.chrome().click("sign-in").await?;
            let authorize = s.authorize_url(2).await?;
            let second = redirect_of(&authorize);
            assert!(listening(&second), "listening on {second}");
            let callback = portico_testkit::browser::sign_in(&authorize, "alice").await?;
            assert_eq!(get(&http, &callback).await?, 200);
            each_mfe_served_by_its_own_api(s, &app).await?;
            closed(&second, "the completed sign-in").await?;
            assert_eq!(s.counters().token_authorization_code, 1);
            Ok(())
        })
        .await;
}

/// Scenario 10. A fixed loopback port (`http://127.0.0.1:<port>/callback`, what a provider that
/// compares the port too, like Auth0, is configured with): the sign-in comes back on that port;
/// after a sign-out, a second sign-in binds the same port again (the first sign-in's listener
/// closed when it completed).
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
