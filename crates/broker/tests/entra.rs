//! The `entra` dialect (Microsoft Entra ID, identity platform v2) against the dev provider in
//! its Entra-like mode: resources named by scopes, one refresh token for every audience,
//! qualified scopes in answers, an API known to its tokens by its application id.

mod common;
use common::*;
use portico_broker::*;
use portico_dev_idp::{IdpConfig, ANALYTICS_API, BILLING_API, CORE_API, ENTRA_TENANT};
use std::sync::Arc;

/// Billing's application id: what its tokens carry as `aud`.
const BILLING_APP_ID: &str = "0b7a3c52-5d1e-4a57-9d0e-6f2c1e9b8a41";

fn entra_idp() -> IdpConfig {
    let mut idp = IdpConfig {
        entra: true,
        ..IdpConfig::portico_demo()
    };
    for api in &mut idp.apis {
        if api.identifier == BILLING_API {
            api.token_audience = Some(BILLING_APP_ID.to_owned());
        }
    }
    idp
}

async fn entra_env(accept_app_id: bool) -> Env {
    let e = env_with(
        entra_idp(),
        Dialect::Entra,
        options(),
        Arc::new(MemoryStore::new()),
    )
    .await;
    let mut builder = e.config.to_builder().par(Mode::Off);
    if accept_app_id {
        builder = builder.accepted_audiences(billing(), [BILLING_APP_ID.to_owned()]);
    }
    let mut e = e;
    e.config = builder.build().unwrap();
    e.broker = e.restart(options());
    e
}

#[tokio::test]
async fn one_sign_in_three_audiences_by_scope_and_logout() {
    let e = entra_env(true).await;
    let req = e.broker.begin_login(None).await.unwrap();
    let q: Vec<(String, String)> = req.authorize_url.query_pairs().into_owned().collect();
    let scope = &q.iter().find(|(k, _)| k == "scope").unwrap().1;
    assert!(
        scope
            .split(' ')
            .any(|s| s == format!("{CORE_API}/.default")),
        "the login audience by its .default scope: {scope}"
    );
    assert!(scope.split(' ').any(|s| s == "offline_access"));
    assert!(
        !scope.split(' ').any(|s| s == "read:dashboard"),
        "no bare API scope (Entra would read it as Microsoft Graph's): {scope}"
    );
    assert!(!q.iter().any(|(k, _)| k == "audience" || k == "resource"));
    let cb = portico_testkit::browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    e.broker.complete_login(&cb).await.unwrap();

    // The login token (core) came with the sign-in.
    let before = e.admin.counters().token_refresh;
    let core_token = e
        .broker
        .get_token(&core(), &ScopeSet::empty())
        .await
        .unwrap();
    assert_eq!(e.admin.counters().token_refresh, before);
    assert_eq!(
        claims(core_token.access_token.expose_secret())["tid"],
        ENTRA_TENANT
    );

    // Other audiences by the one refresh token, each named by scope; the qualified scopes of
    // the answer are read as the registry names them.
    let b = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_eq!(b.audience, BILLING_API);
    assert_eq!(b.scope, "read:invoices");
    assert_eq!(
        claims(b.access_token.expose_secret())["aud"],
        BILLING_APP_ID
    );
    let a = e
        .broker
        .get_token(&analytics(), &ScopeSet::empty())
        .await
        .unwrap();
    assert_eq!(claims(a.access_token.expose_secret())["aud"], ANALYTICS_API);
    assert_eq!(e.admin.counters().token_refresh, before + 2);

    let url = e.broker.logout().await.unwrap().expect("end-session URL");
    assert_eq!(url.path(), "/oidc/logout");
    assert_eq!(
        e.admin.active_families(),
        0,
        "the refresh token was revoked"
    );
}

#[tokio::test]
async fn a_token_under_another_name_is_refused_unless_that_name_is_accepted() {
    let e = entra_env(false).await;
    login(&e.broker, "alice").await;
    let refused = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), "audience_not_granted");
    assert!(refused.to_string().contains(BILLING_APP_ID), "{refused}");
}

/// `common`/`organizations`: discovery states Microsoft's template issuer
/// (`…/{tenantid}/v2.0`) and each ID token is checked against it with its own `tid`; one that
/// names another issuer than its `tid` says is refused.
#[tokio::test]
async fn a_tenant_independent_authority_checks_the_issuer_by_the_tokens_tenant() {
    for authority in ["common", "organizations"] {
        let idp = start_idp(entra_idp()).await;
        let config = provider(&idp, Dialect::Entra)
            .to_builder()
            .issuer(idp.entra_issuer(authority))
            .accepted_audiences(billing(), [BILLING_APP_ID.to_owned()])
            .build()
            .unwrap();
        let broker = Broker::new(
            config,
            options(),
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
        )
        .unwrap();
        let who = login(&broker, "alice").await;
        assert_eq!(who.subject, "auth0|alice", "{authority}");
        assert!(
            broker
                .get_token(&billing(), &ScopeSet::empty())
                .await
                .is_ok(),
            "{authority}"
        );
        // A token whose `iss` is not its tenant's issuer.
        idp.admin()
            .set_id_token_tamper(Some(portico_dev_idp::IdTokenTamper::WrongIss));
        let req = broker.begin_login(None).await.unwrap();
        let cb = portico_testkit::browser::sign_in(req.authorize_url.as_str(), "alice")
            .await
            .unwrap();
        let err = broker.complete_login(&cb).await.unwrap_err();
        assert_eq!(
            err,
            AuthError::IdTokenInvalid {
                reason: IdTokenDefect::IssuerMismatch
            },
            "{authority}"
        );
    }
}

#[tokio::test]
async fn consumers_is_a_tenant_and_needs_its_id() {
    let issuer = url::Url::parse("https://login.microsoftonline.com/consumers/v2.0").unwrap();
    let err = ProviderConfig::builder(issuer, "c")
        .dialect(Dialect::Entra)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), "config_invalid");
    assert!(err.to_string().contains("consumers tenant's id"), "{err}");
    let tenant = url::Url::parse(&format!(
        "https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"
    ))
    .unwrap();
    assert!(ProviderConfig::builder(tenant, "c")
        .dialect(Dialect::Entra)
        .build()
        .is_ok());
}

/// Client capabilities (`CP1`: this client answers claims challenges) go out as a claims request
/// with the sign-in and every token request, and come back as `xms_cc` in the access tokens; a
/// claims challenge from an API is merged into that request for the step-up.
#[tokio::test]
async fn client_capabilities_travel_as_a_claims_request_and_merge_with_a_challenge() {
    let mut e = entra_env(true).await;
    e.config = e
        .config
        .to_builder()
        .client_capabilities(["CP1".to_owned()])
        .build()
        .unwrap();
    e.broker = e.restart(options());
    let req = e.broker.begin_login(None).await.unwrap();
    let requested = req
        .authorize_url
        .query_pairs()
        .find(|(k, _)| k == "claims")
        .map(|(_, v)| v.into_owned())
        .expect("a claims request");
    let v: serde_json::Value = serde_json::from_str(&requested).unwrap();
    assert_eq!(
        v["access_token"]["xms_cc"]["values"],
        serde_json::json!(["CP1"])
    );
    let cb = portico_testkit::browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    e.broker.complete_login(&cb).await.unwrap();
    // A refreshed token for another audience says the capability too.
    let t = e
        .broker
        .get_token(&analytics(), &ScopeSet::empty())
        .await
        .unwrap();
    assert_eq!(
        claims(t.access_token.expose_secret())["xms_cc"],
        serde_json::json!(["CP1"])
    );

    // A claims challenge (base64, as Entra sends it) becomes a step-up whose claims request
    // carries both the challenge and the capability.
    let challenge = AuthRequirement::from_challenge(&[
        ("error".to_owned(), "insufficient_claims".to_owned()),
        (
            "claims".to_owned(),
            "eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19"
                .to_owned(),
        ),
    ])
    .expect("a claims challenge");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let s = seen.clone();
    let broker = e.broker.clone();
    e.broker
        .set_interaction(std::sync::Arc::new(move |p: StepUpPrompt| {
            *s.lock().unwrap() = Some(p.login.authorize_url.clone());
            broker.cancel_login();
        }));
    let request = TokenRequest::new(
        "billing",
        billing(),
        ScopeSet::empty(),
        ScopeCeiling::new(ScopeSet::empty(), ScopeSet::empty()),
    )
    .unwrap();
    let err = e
        .broker
        .token_meeting(&request, &challenge)
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::StepUpCancelled);
    let url = seen.lock().unwrap().clone().expect("the step-up's URL");
    let requested = url
        .query_pairs()
        .find(|(k, _)| k == "claims")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&requested).unwrap();
    assert_eq!(v["access_token"]["acrs"]["value"], "c1");
    assert_eq!(
        v["access_token"]["xms_cc"]["values"],
        serde_json::json!(["CP1"])
    );
}
