//! Step-up (issue 17): the Billing API wants a second factor for writes (RFC 9470). Billing's
//! page asks the shell for a token meeting `acr_values=mfa`, the chrome shows who asks for what,
//! the system browser does the second factor, and the API accepts the write. Cancelled from
//! the chrome, the page gets the typed `step_up_cancelled` and the session is untouched.

use portico_testkit::e2e::prelude::*;

/// The browser's part, done by the test: sign in (with the second factor when asked) and
/// return the callback the provider redirects to.
async fn finish_in_browser(authorize_url: &str) -> Result<String> {
    Ok(portico_testkit::browser::sign_in(authorize_url, "alice").await?)
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Scenario 13. Billing approves invoices: the API asks for `mfa`, the person confirms in the
/// browser, the write goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_steps_up_for_a_write_and_the_api_accepts_it() {
    Scenario::builder("step_up")
        .browser(BrowserMode::Hold)
        // The step-up's parameters are read from the browser's URL.
        .app_env("PORTICO_PAR", "off")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            let sign_in = s.authorize_url(1).await?;
            assert_eq!(param(&sign_in, "acr_values"), None);
            assert!(
                s.open_deep_link(&finish_in_browser(&sign_in).await?)
                    .await?
            );
            each_mfe_served_by_its_own_api(s, &app).await?;
            let rt_family_before = s.counters().active_families;

            app.select_tab("billing").await?;
            let billing = app.mfe("billing");
            billing.click("write").await?;
            billing.wait_for("step-up-waiting", wait::UI).await?;
            // The chrome says who asks for what, and offers to cancel.
            let banner = app
                .chrome()
                .wait_for_with("step-up-pending", &["data-mfe"], wait::UI)
                .await?;
            assert_eq!(banner.attr("data-mfe"), Some("billing"));
            assert!(
                banner.text.contains("Billing asks you to confirm it's you"),
                "{}",
                banner.text
            );
            assert!(banner.text.contains("mfa"), "{}", banner.text);

            let step_up = s.authorize_url(2).await?;
            assert_eq!(param(&step_up, "acr_values").as_deref(), Some("mfa"));
            assert_eq!(param(&step_up, "audience").as_deref(), Some(BILLING_API));
            assert!(
                s.open_deep_link(&finish_in_browser(&step_up).await?)
                    .await?
            );

            let result = billing
                .wait_for_with("write-result", &["data-status", "data-acr"], wait::UI)
                .await?;
            assert_eq!(result.attr("data-status"), Some("201"), "{}", result.text);
            assert_eq!(result.attr("data-acr"), Some("mfa"));
            app.chrome().wait_gone("step-up-pending", wait::UI).await?;
            let c = s.counters();
            assert_eq!(c.token_authorization_code, 2, "the sign-in and the step-up");
            assert_eq!(
                c.active_families, rt_family_before,
                "one refresh-token lineage"
            );
            assert_eq!(c.reuse_detections, 0);
            assert!(s.keyring_entry().await?.present);
            // Everyone else kept working, and the session is Alice's.
            let name = app.chrome().wait_for("account-name", wait::UI).await?;
            assert_eq!(name.text, "Alice Admin");
            Ok(())
        })
        .await;
}

/// Scenario 14. The person cancels the step-up in the chrome: Billing's call ends with
/// `step_up_cancelled`, and nothing else changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_cancelled_in_the_chrome_is_typed_and_changes_nothing() {
    Scenario::builder("step_up_cancel")
        .browser(BrowserMode::Hold)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            let sign_in = s.authorize_url(1).await?;
            assert!(
                s.open_deep_link(&finish_in_browser(&sign_in).await?)
                    .await?
            );
            each_mfe_served_by_its_own_api(s, &app).await?;
            let before = s.counters();

            app.select_tab("billing").await?;
            let billing = app.mfe("billing");
            billing.click("write").await?;
            app.chrome().wait_for("step-up-pending", wait::UI).await?;
            app.chrome().click("cancel-step-up").await?;
            let result = billing
                .wait_for_with("write-result", &["data-kind"], wait::UI)
                .await?;
            assert_eq!(result.attr("data-kind"), Some("step_up_cancelled"));
            app.chrome().wait_gone("step-up-pending", wait::UI).await?;
            assert_eq!(
                s.counters().token_authorization_code,
                before.token_authorization_code,
                "nothing was exchanged"
            );
            match billing.get_token(BILLING_API).await? {
                TokenAnswer::Granted { audience, .. } => assert_eq!(audience, BILLING_API),
                refused => panic!("billing lost its token: {refused:?}"),
            }
            Ok(())
        })
        .await;
}
