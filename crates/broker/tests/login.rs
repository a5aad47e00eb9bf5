//! Login transaction, callback validation and code exchange against the real dev-idp.

mod adversarial;
mod common;
use common::*;
use portico_broker::*;
use portico_dev_idp::{DemoApis, IdpConfig, BILLING_API};
use portico_testkit::browser;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

#[tokio::test]
async fn auth0_login_establishes_session_and_serves_the_login_token() {
    let e = env(Dialect::Auth0).await.without_par();
    let req = e.broker.begin_login(None).await.unwrap();
    let q: Vec<(String, String)> = req.authorize_url.query_pairs().into_owned().collect();
    assert!(
        q.contains(&("audience".into(), CORE_API_STR.into())),
        "{q:?}"
    );
    assert!(!q.iter().any(|(k, _)| k == "resource"));
    assert!(e.broker.pending_login());
    let cb = browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    let info = e.broker.complete_login(&cb).await.unwrap();
    assert_eq!(info.subject, "auth0|alice");
    assert_eq!(info.name.as_deref(), Some("Alice Admin"));
    assert_eq!(info.email.as_deref(), Some("alice@portico.dev"));
    assert_eq!(info.issuer, e.idp.issuer().as_str());
    assert_eq!(e.broker.session(), Some(info));
    assert!(!e.broker.pending_login(), "transaction is single-use");
    assert!(e.stored_rt().is_some(), "refresh token persisted");

    // The login token was for `core`: served without a refresh, and the real API accepts it.
    let before = e.admin.counters().token_refresh;
    let g = e
        .broker
        .get_token(&core(), &scopes("read:dashboard"))
        .await
        .unwrap();
    assert_eq!(e.admin.counters().token_refresh, before);
    assert_eq!(g.audience, CORE_API_STR);
    let apis = DemoApis::start(e.idp.issuer(), &IdpConfig::portico_demo().apis)
        .await
        .unwrap();
    let status = reqwest::Client::new()
        .get(apis.url_for(CORE_API_STR).unwrap().join("data").unwrap())
        .bearer_auth(g.access_token.expose_secret())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

const CORE_API_STR: &str = portico_dev_idp::CORE_API;

#[tokio::test]
async fn rfc8707_login_sends_every_resource_and_tokens_are_per_audience() {
    let e = env(Dialect::Rfc8707).await.without_par();
    let req = e.broker.begin_login(None).await.unwrap();
    let resources: Vec<String> = req
        .authorize_url
        .query_pairs()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(resources.len(), 3);
    assert!(!req
        .authorize_url
        .query_pairs()
        .any(|(k, _)| k == "audience"));
    let cb = browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    e.broker.complete_login(&cb).await.unwrap();

    let apis = DemoApis::start(e.idp.issuer(), &IdpConfig::portico_demo().apis)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for (a, sc, other) in [
        (billing(), "read:invoices", core()),
        (core(), "read:dashboard", analytics()),
        (analytics(), "read:reports", billing()),
    ] {
        let g = e.broker.get_token(&a, &scopes(sc)).await.unwrap();
        let c = claims(g.access_token.expose_secret());
        assert_eq!(
            c["aud"],
            serde_json::json!(a.as_str()),
            "exactly one audience: {c}"
        );
        let get = |api: &Audience| {
            http.get(apis.url_for(api.as_str()).unwrap().join("data").unwrap())
                .bearer_auth(g.access_token.expose_secret())
                .send()
        };
        assert_eq!(get(&a).await.unwrap().status(), 200);
        assert_eq!(
            get(&other).await.unwrap().status(),
            401,
            "token must not open another API"
        );
    }
    // Billing's token came with the sign-in: the code exchange named it (RFC 8707 §2.2).
    let by_aud = e.admin.counters().refresh_by_audience;
    assert_eq!(by_aud.get(billing().as_str()), None, "{by_aud:?}");
    for a in [core(), analytics()] {
        assert_eq!(by_aud.get(a.as_str()), Some(&1), "{by_aud:?}");
    }
}

#[tokio::test]
async fn forged_and_malformed_callbacks_are_rejected_and_the_login_survives() {
    let e = env(Dialect::Auth0).await;
    let good = callback_for(&e.broker, "alice").await;
    let url = Url::parse(&good).unwrap();
    let state: String = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let code: String = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let iss = e.idp.issuer().to_string();
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

    let cases: Vec<(String, AuthError)> = vec![
        (
            "garbage".into(),
            AuthError::InvalidCallback {
                reason: CallbackDefect::Malformed,
            },
        ),
        (
            format!(
                "evil.app:/callback?code={code}&state={state}&iss={}",
                enc(&iss)
            ),
            AuthError::InvalidCallback {
                reason: CallbackDefect::RedirectMismatch,
            },
        ),
        (
            format!(
                "dev.portico.app:/elsewhere?code={code}&state={state}&iss={}",
                enc(&iss)
            ),
            AuthError::InvalidCallback {
                reason: CallbackDefect::RedirectMismatch,
            },
        ),
        (
            format!("{CALLBACK}?code={code}&state=forged&iss={}", enc(&iss)),
            AuthError::StateMismatch,
        ),
        (
            format!("{CALLBACK}?code={code}&iss={}", enc(&iss)),
            AuthError::InvalidCallback {
                reason: CallbackDefect::MissingState,
            },
        ),
        (
            format!(
                "{CALLBACK}?code={code}&state={state}&iss={}",
                enc("http://127.0.0.1:1/")
            ),
            AuthError::IssuerMismatch,
        ),
        (
            // The provider advertises RFC 9207, so a missing iss is refused (mix-up defence).
            format!("{CALLBACK}?code={code}&state={state}"),
            AuthError::InvalidCallback {
                reason: CallbackDefect::MissingIssuer,
            },
        ),
        (
            format!("{good}&code=injected"),
            AuthError::InvalidCallback {
                reason: CallbackDefect::DuplicateParameter,
            },
        ),
        (
            format!("{CALLBACK}?state={state}&iss={}", enc(&iss)),
            AuthError::InvalidCallback {
                reason: CallbackDefect::MissingCode,
            },
        ),
        (
            format!(
                "{CALLBACK}?error=access_denied&state=forged&iss={}",
                enc(&iss)
            ),
            AuthError::StateMismatch,
        ),
    ];
    for (cb, expected) in cases {
        assert_eq!(
            e.broker.complete_login(&cb).await.unwrap_err(),
            expected,
            "{cb}"
        );
        assert!(e.broker.pending_login(), "pending login survives {cb}");
        assert!(e.broker.session().is_none());
    }
    let before = e.admin.counters().token_authorization_code;
    assert_eq!(before, 0, "nothing forged reached the token endpoint");

    e.broker.complete_login(&good).await.unwrap();
    // Replay of the used callback.
    assert_eq!(
        e.broker.complete_login(&good).await.unwrap_err(),
        AuthError::NoPendingLogin
    );
    assert_eq!(e.admin.counters().token_authorization_code, 1);
}

#[tokio::test]
async fn user_cancel_on_the_sign_in_page_is_access_denied() {
    let e = env(Dialect::Auth0).await;
    let req = e.broker.begin_login(None).await.unwrap();
    let cb = browser::Browser::new()
        .unwrap()
        .cancel(req.authorize_url.as_str())
        .await
        .unwrap();
    match e.broker.complete_login(&cb).await.unwrap_err() {
        AuthError::AccessDenied { error, .. } => assert_eq!(error, "access_denied"),
        other => panic!("{other:?}"),
    }
    assert!(!e.broker.pending_login(), "the provider ended this attempt");
    assert!(e.broker.session().is_none());
}

#[tokio::test]
async fn expired_cancelled_and_superseded_logins() {
    let e = env(Dialect::Auth0).await;
    // Expired.
    let cb = callback_for(&e.broker, "alice").await;
    e.clock.advance(Duration::from_secs(601));
    assert!(!e.broker.pending_login());
    assert_eq!(
        e.broker.complete_login(&cb).await.unwrap_err(),
        AuthError::LoginExpired
    );
    assert_eq!(
        e.broker.complete_login(&cb).await.unwrap_err(),
        AuthError::NoPendingLogin
    );

    // Cancelled.
    let cb = callback_for(&e.broker, "alice").await;
    e.broker.cancel_login();
    assert_eq!(
        e.broker.complete_login(&cb).await.unwrap_err(),
        AuthError::LoginCancelled
    );

    // Superseded: the older tab's callback is refused, the newer login stays pending and completes.
    let old = callback_for(&e.broker, "alice").await;
    let new = callback_for(&e.broker, "bob").await;
    assert_eq!(
        e.broker.complete_login(&old).await.unwrap_err(),
        AuthError::LoginCancelled
    );
    assert!(e.broker.pending_login());
    assert_eq!(
        e.broker.complete_login(&new).await.unwrap().subject,
        "auth0|bob"
    );
}

#[tokio::test]
async fn loopback_redirect_with_port_chosen_at_login() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let config = provider(&idp, Dialect::Rfc8707)
        .to_builder()
        .redirect(RedirectUri::Loopback {
            path: "/callback".into(),
            port: None,
        })
        .build()
        .unwrap();
    let broker = Broker::new(
        config,
        options(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    assert_eq!(
        broker.begin_login(None).await.unwrap_err().kind(),
        "config_invalid"
    );
    for bad in [
        "http://localhost:5555/callback",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:5555/other",
        "https://127.0.0.1:5555/callback",
    ] {
        assert_eq!(
            broker
                .begin_login(Some(Url::parse(bad).unwrap()))
                .await
                .unwrap_err()
                .kind(),
            "config_invalid",
            "{bad}"
        );
    }
    let req = broker
        .begin_login(Some(Url::parse("http://127.0.0.1:54321/callback").unwrap()))
        .await
        .unwrap();
    let cb = browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    assert!(cb.starts_with("http://127.0.0.1:54321/callback?"), "{cb}");
    let wrong_port = cb.replace(":54321", ":54322");
    assert_eq!(
        broker.complete_login(&wrong_port).await.unwrap_err(),
        AuthError::InvalidCallback {
            reason: CallbackDefect::RedirectMismatch
        }
    );
    assert_eq!(
        broker.complete_login(&cb).await.unwrap().subject,
        "auth0|alice"
    );
}

#[tokio::test]
async fn discovery_issuer_must_equal_the_configured_issuer() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    // Same server, different spelling: the provider says 127.0.0.1, we were told localhost.
    let port = idp.issuer().port().unwrap();
    let config = provider(&idp, Dialect::Auth0)
        .to_builder()
        .issuer(Url::parse(&format!("http://localhost:{port}/")).unwrap())
        .build()
        .unwrap();
    let broker = Broker::new(
        config,
        options(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    let r = broker.begin_login(None).await;
    adversarial::record(
        "id_tokens",
        "discovery issuer differs from the configured issuer",
        "issuer_mismatch",
        &adversarial::kind_of(&r),
        serde_json::json!({}),
    );
    assert_eq!(r.unwrap_err(), AuthError::IssuerMismatch);
}

#[tokio::test]
async fn a_callback_is_bound_to_the_broker_that_started_the_login() {
    // A stolen callback is useless elsewhere: another broker instance has no transaction for it.
    let e = env(Dialect::Auth0).await;
    let cb = callback_for(&e.broker, "alice").await;
    e.broker.complete_login(&cb).await.unwrap();
    let other = e.restart(options());
    // A second broker has no pending login for this state.
    assert_eq!(
        other.complete_login(&cb).await.unwrap_err(),
        AuthError::NoPendingLogin
    );
}

#[tokio::test]
async fn a_cancelled_sign_in_is_not_completed_by_a_later_process() {
    let e = env(Dialect::Auth0).await;
    let req = e.broker.begin_login(None).await.unwrap();
    let callback = browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    e.broker.cancel_login();
    // The persisted copy is removed off-thread; wait for it (bounded).
    let mut gone = false;
    for _ in 0..100 {
        if e.store.load_pending().unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "cancel forgets the persisted sign-in");
    let restarted = e.restart(options());
    assert!(matches!(
        restarted.complete_login(&callback).await,
        Err(AuthError::NoPendingLogin)
    ));
    assert_eq!(e.admin.counters().token_authorization_code, 0);
}

/// RFC 9126: when the provider offers pushed authorization requests, the browser's URL carries
/// only `client_id` and a one-time `request_uri`; state, nonce, PKCE challenge and resources go
/// to the provider over the back channel.
#[tokio::test]
async fn a_pushed_authorization_request_keeps_the_request_off_the_browser_url() {
    let e = env(Dialect::Rfc8707).await;
    let req = e.broker.begin_login(None).await.unwrap();
    let mut keys: Vec<String> = req
        .authorize_url
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    keys.sort();
    assert_eq!(keys, ["client_id", "request_uri"]);
    assert_eq!(e.admin.counters().par, 1);
    let cb = browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    e.broker.complete_login(&cb).await.unwrap();
    // The pushed request named every resource: the provider grants one that was not the login
    // audience (it refuses resources not granted at /authorize, RFC 8707 §2.2).
    let g = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_eq!(claims(g.access_token.expose_secret())["aud"], BILLING_API);
    // The request_uri was for one use: the same browser URL does not start a second sign-in.
    assert!(browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .is_err());
}

#[tokio::test]
async fn pushed_requests_follow_the_mode_and_what_the_provider_offers() {
    let idp = start_idp(IdpConfig {
        pushed_authorization_requests: false,
        ..IdpConfig::portico_demo()
    })
    .await;
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::starting_now());
    let base = provider(&idp, Dialect::Auth0);
    // auto: not offered, so the classic front-channel request.
    let auto = Broker::new(base.clone(), options(), store.clone(), clock.clone()).unwrap();
    let req = auto.begin_login(None).await.unwrap();
    assert!(req.authorize_url.query_pairs().any(|(k, _)| k == "state"));
    // on: the operator asked for it and the provider does not offer it — a clear refusal.
    let on = base.to_builder().par(Mode::On).build().unwrap();
    let broker = Broker::new(on, options(), store, clock).unwrap();
    let err = broker.begin_login(None).await.unwrap_err();
    assert_eq!(err.kind(), "config_invalid");
    assert!(err.to_string().contains("pushed authorization"), "{err}");
    assert_eq!(idp.admin().counters().par, 0);
}
