//! Deep links, delivered the way Linux does: a second app process with the URL as its argument,
//! forwarded over D-Bus to the running app, or the process the link starts.

use portico_testkit::e2e::prelude::*;

/// Sign in on the provider's page like a person (in this process, not the app's browser) and
/// return where the provider sends the browser back to. The URL carries the code: it stays in
/// memory and is never logged.
async fn finish_in_browser(authorize_url: &str) -> Result<String> {
    Ok(portico_testkit::browser::sign_in(authorize_url, "alice").await?)
}

/// Scenario 6. While a sign-in is pending, a deep link with the wrong `state` arrives: the app
/// ignores it with a visible warning, stays pending, and the real callback still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_deep_link_is_ignored_with_a_warning_and_the_real_one_completes() {
    Scenario::builder("forged_deep_link")
        .browser(BrowserMode::Hold)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            app.chrome().wait_for("login-pending", wait::UI).await?;
            let authorize_url = s.authorize_url(1).await?;

            // Someone else's link: right scheme, path and issuer, a state the app never issued.
            let mut forged = url::Url::parse("dev.portico.app:/callback").expect("scheme URL");
            forged
                .query_pairs_mut()
                .append_pair("code", "forged-code")
                .append_pair("state", "forged-state-0123456789")
                .append_pair("iss", s.issuer().as_str());
            assert!(
                s.open_deep_link(forged.as_str()).await?,
                "the deep-link instance forwards the URL and exits cleanly"
            );
            let warning = app.chrome().wait_for("warning", wait::UI).await?;
            // A sentence that says why, not a kind name.
            assert_eq!(
                warning.text,
                "Ignored a sign-in response. The sign-in response does not belong to the \
                 sign-in in progress (its state differs)."
            );
            // Still waiting for the real callback; nothing was exchanged.
            assert!(app.chrome().exists("login-pending").await?);
            assert!(!app.chrome().exists("account-name").await?);
            each_mfe_signed_out(&app).await?;
            assert_eq!(
                s.counters().token_authorization_code,
                0,
                "a forged code is never exchanged"
            );

            let callback = finish_in_browser(&authorize_url).await?;
            assert!(s.open_deep_link(&callback).await?);
            each_mfe_served_by_its_own_api(s, &app).await?;
            app.chrome().wait_gone("login-pending", wait::UI).await?;
            let c = s.counters();
            assert_eq!(c.authorize, 1);
            assert_eq!(c.token_authorization_code, 1);
            assert_eq!(c.token_errors, 0);
            Ok(())
        })
        .await;
}

/// Issue 15.7. The browser is started on a one-use loopback URL, never on the authorization
/// request itself (every scenario checks that no browser's command line carried its secrets).
/// Here another program reads that URL and fetches it after the browser did: it gets nothing
/// (410), the sign-in is stopped with a warning that says why, and a callback completed with
/// what the program could have read is refused — nothing is exchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_fetch_of_the_browser_handoff_stops_the_sign_in() {
    Scenario::builder("handoff_taken_twice")
        .browser(BrowserMode::Hold)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            app.chrome().wait_for("login-pending", wait::UI).await?;
            let authorize_url = s.authorize_url(1).await?;
            let handoff = s
                .wait_browser_event("the handoff", |e| e["event"] == "handoff")
                .await?;
            assert_eq!(handoff["status"], 303);
            let handoff_url = handoff["url"].as_str().unwrap_or_default().to_owned();
            assert!(
                !handoff_url.contains("state=") && !handoff_url.contains("request_uri"),
                "{handoff_url}"
            );

            let page = |e: reqwest::Error| E2eError::Page {
                what: "fetching the handoff URL again".into(),
                detail: e.to_string(),
            };
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(page)?;
            let again = http.get(&handoff_url).send().await.map_err(page)?;
            let status = again.status().as_u16();
            portico_testkit::figures::record(
                "isolation_webviews",
                "another program fetches the browser handoff URL after the browser",
                "410, no Location",
                &format!(
                    "{status}{}",
                    if again.headers().contains_key("location") {
                        ", a Location"
                    } else {
                        ", no Location"
                    }
                ),
                serde_json::json!({}),
            );
            assert_eq!(status, 410);
            assert!(again.headers().get("location").is_none());
            let warning = app.chrome().wait_for("warning", wait::UI).await?;
            assert_eq!(
                warning.text,
                "The sign-in page was opened twice, perhaps by another program on this computer, \
                 so Portico stopped this sign-in to keep it safe. Sign in again."
            );
            app.chrome().wait_gone("login-pending", wait::UI).await?;

            // What the other program could do with what it read: finish the sign-in itself.
            let callback = finish_in_browser(&authorize_url).await?;
            assert!(s.open_deep_link(&callback).await?);
            app.chrome()
                .wait_attr("warning", "data-distinct", wait::UI, |d| d == Some("2"))
                .await?;
            each_mfe_signed_out(&app).await?;
            let exchanged = s.counters().token_authorization_code;
            portico_testkit::figures::record(
                "isolation_webviews",
                "then completes the sign-in with the request it read",
                "code never exchanged",
                if exchanged == 0 {
                    "code never exchanged"
                } else {
                    "code exchanged"
                },
                serde_json::json!({ "code exchanges": exchanged }),
            );
            assert_eq!(exchanged, 0, "the code is never exchanged");
            Ok(())
        })
        .await;
}

/// Scenario 9. The sign-in begins in one app process, the app is closed, the person finishes
/// in the browser, and the deep link starts the app: the new process completes the sign-in
/// begun by the earlier one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_link_that_starts_the_app_completes_a_sign_in_begun_earlier() {
    Scenario::builder("cold_start_deep_link")
        .browser(BrowserMode::Hold)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            app.chrome().wait_for("login-pending", wait::UI).await?;
            let authorize_url = s.authorize_url(1).await?;
            s.quit(&app).await?;

            let callback = finish_in_browser(&authorize_url).await?;
            // The OS starts the app with the link as its argument.
            let app = s.launch_with_args(vec![callback]).await?;
            each_mfe_served_by_its_own_api(s, &app).await?;
            let name = app.chrome().wait_for("account-name", wait::UI).await?;
            assert_eq!(name.text, "Alice Admin");
            let c = s.counters();
            assert_eq!(c.authorize, 1, "no second trip to /authorize");
            assert_eq!(c.token_authorization_code, 1);
            assert!(s.keyring_entry().await?.present);
            Ok(())
        })
        .await;
}
