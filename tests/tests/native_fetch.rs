//! Tokens that never enter the page (issue 16): the sample Analytics MFE is fetch-only, and with
//! DPoP on its tokens are bound to the app's key. It shows its data while nothing shaped like a
//! JWT exists anywhere in its page; Billing, next to it, still holds its own Bearer token.

use portico_testkit::e2e::prelude::*;

/// Scenario 12. Analytics fetch-only with DPoP against the dev provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_only_mfe_shows_its_data_with_no_token_anywhere_in_its_page() {
    Scenario::builder("fetch_only_dpop")
        .dpop_bound(&[ANALYTICS_API])
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            assert!(s.is_fetch_only("analytics"), "the sample registry");
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            each_mfe_served_by_its_own_api(s, &app).await?;
            assert!(
                s.counters().dpop_proofs >= 1,
                "token requests carried proofs"
            );

            app.select_tab("analytics").await?;
            let analytics = app.mfe("analytics");
            // The API saw a token bound to the key (`cnf.jkt`), which the page shows.
            let binding = analytics
                .wait_for_with("token-binding", &["data-binding"], wait::UI)
                .await?;
            assert_eq!(binding.attr("data-binding"), Some("dpop"));

            // A request as the page makes it: the data, and no token in what it sees.
            let data = format!(
                "{}data",
                s.api_url(ANALYTICS_API).expect("the Analytics demo API")
            );
            match analytics.fetch(&data).await? {
                FetchAnswer::Answered { status, body } => {
                    assert_eq!(status, 200, "{body}");
                    assert!(body.contains(ANALYTICS_API), "{body}");
                    assert!(body.contains("\"jkt\""), "a bound token: {body}");
                    assert!(
                        !portico_types::secret::contains_jwt(&body),
                        "the answer carries no token: {body}"
                    );
                }
                refused => panic!("analytics could not fetch: {refused:?}"),
            }
            // Asked outright, the shell refuses; another team's API is out of reach.
            match analytics.get_token(ANALYTICS_API).await? {
                TokenAnswer::Refused { kind, .. } => assert_eq!(kind, "token_not_exposed"),
                granted => panic!("a fetch-only page got a token: {granted:?}"),
            }
            let billing_data = format!("{}data", s.api_url(BILLING_API).expect("billing API"));
            match analytics.fetch(&billing_data).await? {
                FetchAnswer::Refused { kind, .. } => assert_eq!(kind, "fetch_refused"),
                answered => panic!("analytics reached the Billing API: {answered:?}"),
            }

            // Nowhere in the page: globals, storage, cookies, the document, loaded URLs.
            let found = analytics.jwt_sightings().await?;
            assert!(found.is_empty(), "JWTs in the fetch-only page: {found:?}");

            // The same search finds the token a page MFE holds once it keeps one in a global,
            // so an empty result above means something.
            let billing = app.mfe("billing");
            billing
                .eval_async(
                    r#"const done = arguments[arguments.length - 1];
                       import("/_portico/client.js")
                         .then((m) => m.getToken(arguments[0]))
                         .then((g) => { window.__heldByPage = { grant: g }; done(true); },
                               (e) => done(String(e && e.kind)));"#,
                    vec![serde_json::json!(BILLING_API)],
                )
                .await?;
            let found = billing.jwt_sightings().await?;
            assert!(
                found.iter().any(|f| f.starts_with("window.__heldByPage")),
                "the search sees a page's own token: {found:?}"
            );
            Ok(())
        })
        .await;
}
