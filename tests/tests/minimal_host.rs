//! A second host proves the plugin: `examples/minimal-host` (a bar of its own and one MFE, its
//! own configuration and capability) signs in, hands its MFE a token for its own audience and
//! refuses any other, without asking the provider.

use portico_testkit::e2e::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minimal_host_signs_in_and_keeps_its_mfe_to_its_own_audience() {
    Scenario::builder("minimal_host")
        .host(Host::Minimal)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            assert_eq!(
                app.mfe_ids(),
                ["billing"],
                "one MFE, from its own configuration"
            );
            each_mfe_signed_out(&app).await?;
            // The host's own bar signs in (its capability grants portico:host-ui).
            app.chrome().click("sign-in").await?;
            each_mfe_served_by_its_own_api(s, &app).await?;
            let name = app.chrome().wait_for("account-name", wait::UI).await?;
            assert_eq!(name.text, "Alice Admin");

            let billing = app.mfe("billing");
            match billing.get_token(BILLING_API).await? {
                TokenAnswer::Granted { audience, .. } => assert_eq!(audience, BILLING_API),
                refused => panic!("billing lost its own audience: {refused:?}"),
            }
            let before = s.counters();
            for foreign in [CORE_API, ANALYTICS_API] {
                match billing.get_token(foreign).await? {
                    TokenAnswer::Refused { kind, .. } => {
                        assert_eq!(kind, "forbidden_audience", "{foreign}")
                    }
                    granted => panic!("billing got a token for {foreign}: {granted:?}"),
                }
            }
            assert_eq!(s.counters(), before, "a refusal never reaches the provider");
            Ok(())
        })
        .await;
}
