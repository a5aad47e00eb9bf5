//! MFE webviews on demand (issue 18.3): made when their tab is first shown, and freed once
//! hidden longer than their `unloadAfterSecs`.

use portico_testkit::e2e::prelude::*;

/// Dashboard is registered with `unloadAfterSecs: 2`. After every MFE was shown once, the
/// hidden Dashboard's webview is freed while Billing's (no `unloadAfterSecs`) stays; showing
/// Dashboard's tab again makes a new webview whose page gets its token from the shell's cache,
/// without asking the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webview_hidden_longer_than_unload_after_is_freed_and_made_again_when_shown() {
    Scenario::builder("unload_after")
        .mfe_field("dashboard", "unloadAfterSecs", 2)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            // Looks at each MFE in turn (showing its tab): Analytics is shown last, so Dashboard
            // has been hidden since then.
            each_mfe_served_by_its_own_api(s, &app).await?;
            assert_eq!(s.mfe_ids(), ["billing", "dashboard", "analytics"]);
            wait::until(
                "the hidden Dashboard webview to be freed",
                wait::UI,
                async || {
                    let n = app.webview_count().await?;
                    Ok(if n == 3 {
                        Check::Ready(())
                    } else {
                        Check::NotYet(format!("{n} webviews"))
                    })
                },
            )
            .await?;
            // Billing's webview, hidden as long, is still there (its handle still answers).
            let billing = app.mfe("billing").wait_for("token-aud", wait::UI).await?;
            assert_eq!(billing.text, BILLING_API);

            let before = s.counters();
            app.forget("dashboard").await;
            let token_aud = app.mfe("dashboard").wait_for("token-aud", wait::UI).await?;
            assert_eq!(token_aud.text, CORE_API);
            assert_eq!(
                app.webview_count().await?,
                4,
                "Dashboard's webview made again"
            );
            let after = s.counters();
            assert_eq!(
                (after.token_refresh, after.token_authorization_code),
                (before.token_refresh, before.token_authorization_code),
                "the new page's token came from the shell's cache"
            );
            Ok(())
        })
        .await;
}
