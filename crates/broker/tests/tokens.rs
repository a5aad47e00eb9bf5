//! Multi-audience tokens: single-flight, rotation-safe serialization, persistence order,
//! MRRT fallback detection, scope reuse, proactive refresh, silent login, logout, lost sessions.

mod common;
use common::*;
use portico_broker::*;
use portico_dev_idp::{
    ClientConfig, Endpoint, Fault, FaultKind, IdpConfig, MrrtPolicy, RefreshRotation,
};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_callers_cost_one_token_request() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    e.admin.reset_counters();
    // Widen the race window: the request takes 200 ms.
    e.admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::Latency(Duration::from_millis(200)),
    )]);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let b = e.broker.clone();
        tasks.push(tokio::spawn(async move {
            b.get_token(&billing(), &scopes("read:invoices")).await
        }));
    }
    let mut tokens = HashSet::new();
    for t in tasks {
        tokens.insert(
            t.await
                .unwrap()
                .unwrap()
                .access_token
                .expose_secret()
                .to_owned(),
        );
    }
    assert_eq!(tokens.len(), 1, "everyone got the same token");
    let c = e.admin.counters();
    assert_eq!(c.token_refresh, 1, "{c:?}");
    assert_eq!(
        c.refresh_by_audience.get(portico_dev_idp::BILLING_API),
        Some(&1)
    );
}

async fn three_audiences_with_rotation(dialect: Dialect) {
    let e = env(dialect).await;
    login(&e.broker, "alice").await;
    e.admin.reset_counters();
    let rt_before = e.stored_rt().unwrap();
    e.admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::Latency(Duration::from_millis(50)),
    )]);
    let mut tasks = Vec::new();
    for i in 0..300 {
        let b = e.broker.clone();
        let (a, s) = match i % 3 {
            0 => (billing(), "read:invoices"),
            1 => (core(), "read:dashboard"),
            _ => (analytics(), "read:reports"),
        };
        tasks.push(tokio::spawn(async move {
            (a.clone(), b.get_token(&a, &scopes(s)).await)
        }));
    }
    for t in tasks {
        let (a, r) = t.await.unwrap();
        let g = r.unwrap_or_else(|err| panic!("{a}: {err:?}"));
        assert_eq!(g.audience, a.as_str());
    }
    let c = e.admin.counters();
    // The sign-in's token is for one audience and served from the cache (Auth0: the login
    // audience `core`; RFC 8707: the resource the code exchange named, `billing`).
    assert_eq!(c.token_refresh, 2, "{c:?}");
    assert_eq!(
        c.reuse_detections, 0,
        "no refresh token was presented twice"
    );
    assert_eq!(c.families_revoked, 0);
    assert_eq!(c.token_errors, 0);
    let rt_after = e.stored_rt().unwrap();
    assert_ne!(rt_before, rt_after, "rotated token persisted");
    // The persisted token is the live one: the provider accepts it.
    let (status, body) = e.raw_refresh(&rt_after).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_audiences_times_hundred_callers_with_rotation_auth0() {
    three_audiences_with_rotation(Dialect::Auth0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_audiences_times_hundred_callers_with_rotation_rfc8707() {
    three_audiences_with_rotation(Dialect::Rfc8707).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_audiences_with_cold_cache_make_three_serialized_requests() {
    // Auth0 without a login audience: every audience needs its own refresh.
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let config = provider(&idp, Dialect::Auth0)
        .to_builder()
        .default_audience(None)
        .build()
        .unwrap();
    let broker = Broker::new(
        config,
        options(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    login(&broker, "alice").await;
    let admin = idp.admin();
    admin.reset_counters();
    admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::Latency(Duration::from_millis(100)),
    )]);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let b = broker.clone();
        let a = [billing(), core(), analytics()][i % 3].clone();
        tasks.push(tokio::spawn(async move {
            b.get_token(&a, &ScopeSet::empty()).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let c = admin.counters();
    assert_eq!(c.token_refresh, 3, "{c:?}");
    assert_eq!(c.reuse_detections, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "serialized: 3 × 100 ms, took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn non_rotating_provider_refreshes_audiences_in_parallel_and_keeps_the_token() {
    let mut idp_config = IdpConfig::portico_demo();
    idp_config.rotation = RefreshRotation::NonRotating;
    let store = Arc::new(ObservedStore::default());
    let e = env_with(idp_config, Dialect::Auth0, options(), store.clone()).await;
    login(&e.broker, "alice").await;
    let rt = e.stored_rt().unwrap();
    // First refresh teaches the broker that this lineage does not rotate.
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let saves = store.saves.lock().unwrap().len();
    e.admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::Latency(Duration::from_millis(400)),
    )]);
    let started = Instant::now();
    let (an, bi, rr, wi) = (
        analytics(),
        billing(),
        scopes("read:reports"),
        scopes("write:invoices"),
    );
    let (a, b) = tokio::join!(e.broker.get_token(&an, &rr), e.broker.get_token(&bi, &wi));
    a.unwrap();
    b.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(790),
        "parallel, took {:?}",
        started.elapsed()
    );
    assert_eq!(
        e.stored_rt().unwrap(),
        rt,
        "no new refresh token: the old one is kept"
    );
    assert_eq!(
        store.saves.lock().unwrap().len(),
        saves,
        "nothing to persist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_refresh_token_is_persisted_before_the_token_is_returned() {
    let store = Arc::new(ObservedStore::default());
    let e = env_with(
        IdpConfig::portico_demo(),
        Dialect::Auth0,
        options(),
        store.clone(),
    )
    .await;
    login(&e.broker, "alice").await;
    let rt0 = e.stored_rt().unwrap();
    assert_eq!(*store.saves.lock().unwrap(), vec![rt0.clone()]);

    // A slow keyring: if the broker saved in the background, get_token would return first.
    *store.save_delay.lock().unwrap() = Duration::from_millis(300);
    let started = Instant::now();
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let saves = store.saves.lock().unwrap().clone();
    assert_eq!(saves.len(), 2, "exactly one save for one rotation");
    assert_ne!(saves[1], rt0);
    assert_eq!(e.stored_rt().unwrap(), saves[1]);
    *store.save_delay.lock().unwrap() = Duration::ZERO;

    // When persisting fails the caller hears about it (the rotation happened at the provider).
    store.fail_saves.store(true, Ordering::SeqCst);
    let err = e
        .broker
        .get_token(&analytics(), &scopes("read:reports"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "storage_unavailable");
    assert!(err.retryable());
    store.fail_saves.store(false, Ordering::SeqCst);
    // The session goes on in memory with the rotated token; the next rotation is persisted again.
    e.broker
        .get_token(&analytics(), &scopes("read:reports"))
        .await
        .unwrap();
    e.broker
        .get_token(&billing(), &scopes("write:invoices"))
        .await
        .unwrap();
    let (status, body) = e.raw_refresh(&e.stored_rt().unwrap()).await;
    assert_eq!(status, 200, "the stored token is the live one: {body}");
    assert_eq!(e.admin.counters().reuse_detections, 0);
}

#[tokio::test]
async fn mrrt_default_audience_fallback_is_detected_not_handed_out() {
    // The application's refresh-token policy covers billing and core, not analytics.
    let mut idp_config = IdpConfig::portico_demo();
    idp_config.clients = vec![ClientConfig {
        mrrt: idp_config.clients[0]
            .mrrt
            .iter()
            .filter(|p| p.audience != portico_dev_idp::ANALYTICS_API)
            .cloned()
            .collect::<Vec<MrrtPolicy>>(),
        ..idp_config.clients[0].clone()
    }];
    let e = env_with(
        idp_config,
        Dialect::Auth0,
        options(),
        Arc::new(MemoryStore::new()),
    )
    .await;
    login(&e.broker, "alice").await;
    let mut events = e.broker.subscribe();
    match e
        .broker
        .get_token(&analytics(), &scopes("read:reports"))
        .await
        .unwrap_err()
    {
        AuthError::AudienceNotGranted {
            audience, granted, ..
        } => {
            assert_eq!(audience, portico_dev_idp::ANALYTICS_API);
            assert!(
                granted.iter().any(|g| g == portico_dev_idp::CORE_API),
                "fell back to the login audience: {granted:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        wait_event(&mut events, 1, |ev| matches!(ev, BrokerEvent::TokenRefreshed { audience, .. } if *audience == analytics()))
            .await
            .is_none(),
        "the wrong token was not announced"
    );
    let st = e.broker.status();
    let a = st
        .iter()
        .find(|s| s.audience == portico_dev_idp::ANALYTICS_API)
        .unwrap();
    assert!(a.expires_at.is_none(), "nothing cached for analytics");
    assert_eq!(
        a.last_error.as_ref().map(|e| e.kind()),
        Some("audience_not_granted")
    );
    // The session itself is fine.
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
}

#[tokio::test]
async fn audience_outside_the_configuration_is_forbidden() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    let err = e
        .broker
        .get_token(
            &aud("https://api.portico.dev/unregistered"),
            &ScopeSet::empty(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "forbidden_audience");
}

#[tokio::test]
async fn rfc8707_resource_not_granted_at_authorize_is_audience_not_granted() {
    // Signed in while only billing + core were registered; analytics was added to the configuration
    // later (a new MFE). The refresh token is bound to the resources of the sign-in (RFC 8707 §2).
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let wide = provider(&idp, Dialect::Rfc8707);
    let narrow = wide
        .to_builder()
        .audiences(
            wide.audiences()
                .iter()
                .filter(|a| **a != analytics())
                .cloned(),
        )
        .build()
        .unwrap();
    let first = Broker::new(narrow, options(), store.clone(), Arc::new(SystemClock)).unwrap();
    login(&first, "alice").await;
    drop(first);
    let broker = Broker::new(wide, options(), store, Arc::new(SystemClock)).unwrap();
    broker.silent_login().await.unwrap();
    let err = broker
        .get_token(&analytics(), &scopes("read:reports"))
        .await
        .unwrap_err();
    // The provider's own reason reaches the person, in a sentence.
    assert_eq!(
        err,
        AuthError::AudienceNotGranted {
            audience: portico_dev_idp::ANALYTICS_API.into(),
            granted: vec![],
            description: Some(format!(
                "resource {} was not granted at authorization",
                portico_dev_idp::ANALYTICS_API
            )),
        }
    );
    assert_eq!(
        err.to_string(),
        "The provider did not grant a token for the audience https://api.portico.dev/analytics \
         (resource https://api.portico.dev/analytics was not granted at authorization)."
    );
    broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
}

#[tokio::test]
async fn scope_superset_reuse_and_unknown_scope_refusal() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    e.admin.reset_counters();
    let big = e
        .broker
        .get_token(&billing(), &scopes("read:invoices write:invoices"))
        .await
        .unwrap();
    assert_eq!(big.scope, "read:invoices write:invoices");
    let small = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_eq!(
        small.access_token, big.access_token,
        "the bigger token serves the smaller request"
    );
    assert_eq!(e.admin.counters().token_refresh, 1);

    // A scope the API does not have is silently dropped by the provider: we say so.
    match e
        .broker
        .get_token(&billing(), &scopes("read:invoices delete:invoices"))
        .await
        .unwrap_err()
    {
        AuthError::ScopeNotGranted { missing, .. } => {
            assert_eq!(missing, vec!["delete:invoices".to_string()])
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn min_ttl_triggers_a_refresh_and_a_fresh_token_is_not_refetched() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    e.admin.reset_counters();
    let g1 = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    e.clock.advance(Duration::from_secs(539));
    assert_eq!(
        e.broker
            .get_token(&billing(), &scopes("read:invoices"))
            .await
            .unwrap(),
        g1
    );
    e.clock.advance(Duration::from_secs(2)); // now 59 s left: below min_ttl
    let g2 = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_ne!(g2.access_token, g1.access_token);
    assert_eq!(e.admin.counters().token_refresh, 2);
}

/// The next refreshed billing token the broker announces (within 5 s).
async fn next_billing_refresh(
    events: &mut tokio::sync::broadcast::Receiver<BrokerEvent>,
    what: &str,
) -> TokenGrant {
    let refreshed = wait_event(
        events,
        5,
        |ev| matches!(ev, BrokerEvent::TokenRefreshed { audience, .. } if *audience == billing()),
    )
    .await;
    match refreshed {
        Some(BrokerEvent::TokenRefreshed { grant, .. }) => grant,
        other => panic!("{what}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_in_use_are_refreshed_proactively_and_announced() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    let g1 = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let mut events = e.broker.subscribe();
    let task = e.broker.start_proactive_refresh();
    e.admin.reset_counters();
    // Not yet due (more than refresh_skew left): nothing happens.
    e.clock.advance(Duration::from_secs(400));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.admin.counters().token_refresh, 0);
    // 120 s before expiry: refreshed without anyone asking.
    e.clock.advance(Duration::from_secs(81));
    let grant = next_billing_refresh(&mut events, "refresh announced").await;
    assert_ne!(grant.access_token, g1.access_token);
    assert_eq!(grant.scope, "read:invoices");
    // The caller now gets the new token from the cache.
    let before = e.admin.counters().token_refresh;
    assert_eq!(
        e.broker
            .get_token(&billing(), &scopes("read:invoices"))
            .await
            .unwrap(),
        grant
    );
    assert_eq!(e.admin.counters().token_refresh, before);
    task.abort();
}

#[tokio::test]
async fn proactive_refresh_failure_is_announced() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let mut events = e.broker.subscribe();
    let task = e.broker.start_proactive_refresh();
    e.admin
        .set_faults(vec![Fault::always(Endpoint::Token, FaultKind::Status(503))]);
    e.clock.advance(Duration::from_secs(500));
    let ev = wait_event(&mut events, 5, |ev| {
        matches!(ev, BrokerEvent::RefreshFailed { .. })
    })
    .await;
    match ev {
        Some(BrokerEvent::RefreshFailed { error, .. }) => assert!(error.retryable(), "{error:?}"),
        other => panic!("{other:?}"),
    }
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_proactive_refresh_is_retried_with_back_off_until_the_provider_is_back() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    let g1 = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let mut events = e.broker.subscribe();
    e.admin
        .set_faults(vec![Fault::always(Endpoint::Token, FaultKind::Status(503))]);
    e.admin.reset_counters();
    let task = e.broker.start_proactive_refresh();
    // Due (120 s before expiry): the first attempt fails, with the broker's own retries. The
    // sign-in's token for the default audience (core) is in use too and fails after billing's.
    e.clock.advance(Duration::from_secs(481));
    let failed = wait_event(
        &mut events,
        5,
        |ev| matches!(ev, BrokerEvent::RefreshFailed { audience, .. } if *audience == core()),
    )
    .await;
    assert!(failed.is_some(), "failure announced");
    let after_first = e.admin.counters().token_refresh;
    assert!(after_first >= 1);
    // Many checks (every 50 ms real time) inside the 5 s back-off: no new request.
    tokio::time::sleep(Duration::from_millis(400)).await;
    e.clock.advance(Duration::from_secs(4));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        e.admin.counters().token_refresh,
        after_first,
        "no retry storm while backing off"
    );
    // The provider comes back; past the back-off the token is refreshed without anyone asking.
    e.admin.clear_faults();
    e.clock.advance(Duration::from_secs(2));
    let grant = next_billing_refresh(&mut events, "refreshed once the provider is back").await;
    assert_ne!(grant.access_token, g1.access_token);
    task.abort();
}

#[tokio::test]
async fn cached_token_answers_only_what_get_token_would_answer_at_once() {
    let e = env(Dialect::Auth0).await;
    let read = scopes("read:invoices");
    assert!(
        e.broker.cached_token(&billing(), &read).is_none(),
        "signed out"
    );
    login(&e.broker, "alice").await;
    assert!(
        e.broker.cached_token(&billing(), &read).is_none(),
        "nothing cached for billing yet: a miss is get_token's"
    );
    let grant = e.broker.get_token(&billing(), &read).await.unwrap();
    let before = e.admin.counters();
    assert_eq!(e.broker.cached_token(&billing(), &read), Some(grant));
    assert!(e
        .broker
        .cached_token(&billing(), &scopes("read:invoices admin"))
        .is_none());
    assert!(e
        .broker
        .cached_token(&aud("https://api.example.com/unknown"), &read)
        .is_none());
    // Within min_ttl of expiry the cache does not serve it: get_token would refresh.
    e.clock.advance(Duration::from_secs(545));
    assert!(e.broker.cached_token(&billing(), &read).is_none());
    assert_eq!(e.admin.counters(), before, "no request to the provider");
}

#[tokio::test]
async fn silent_login_after_a_restart_needs_no_browser() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let authorize_before = e.admin.counters().authorize;
    drop(e.broker.clone());

    let restarted = e.restart(options());
    assert!(restarted.session().is_none());
    assert_eq!(
        restarted
            .get_token(&billing(), &scopes("read:invoices"))
            .await
            .unwrap_err()
            .kind(),
        "login_required"
    );
    let mut events = restarted.subscribe();
    let info = restarted.silent_login().await.unwrap();
    assert_eq!(info.subject, "auth0|alice");
    assert_eq!(info.name.as_deref(), Some("Alice Admin"));
    assert!(wait_event(&mut events, 1, |ev| matches!(
        ev,
        BrokerEvent::SessionChanged(Some(_))
    ))
    .await
    .is_some());
    restarted
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_eq!(
        e.admin.counters().authorize,
        authorize_before,
        "no browser involved"
    );
    assert_eq!(e.admin.counters().reuse_detections, 0);
}

#[tokio::test]
async fn silent_login_without_a_stored_session_is_login_required() {
    let e = env(Dialect::Rfc8707).await;
    assert_eq!(
        e.broker.silent_login().await.unwrap_err().kind(),
        "login_required"
    );
}

#[tokio::test]
async fn silent_login_with_a_revoked_grant_clears_the_store() {
    let e = env(Dialect::Rfc8707).await;
    login(&e.broker, "alice").await;
    e.admin.revoke_grants_for("auth0|alice");
    let restarted = e.restart(options());
    assert_eq!(
        restarted.silent_login().await.unwrap_err().kind(),
        "login_required"
    );
    assert!(
        e.store.load().unwrap().is_none(),
        "dead session removed from the store"
    );
    assert!(restarted.session().is_none());
}

async fn logout_revokes(dialect: Dialect) {
    let e = env(dialect).await;
    login(&e.broker, "alice").await;
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let rt = e.stored_rt().unwrap();
    let mut events = e.broker.subscribe();
    let url = e.broker.logout().await.unwrap().expect("end-session URL");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match dialect {
        Dialect::Auth0 => {
            assert_eq!(url.path(), "/v2/logout");
            assert!(q.contains(&("client_id".into(), "portico-desktop".into())));
            assert!(q.contains(&("returnTo".into(), "http://127.0.0.1:1/signed-out".into())));
        }
        Dialect::Rfc8707 | Dialect::Entra => {
            assert_eq!(url.path(), "/oidc/logout");
            assert!(q
                .iter()
                .any(|(k, v)| k == "id_token_hint" && v.split('.').count() == 3));
            assert!(q.contains(&(
                "post_logout_redirect_uri".into(),
                "http://127.0.0.1:1/signed-out".into()
            )));
        }
    }
    assert_eq!(e.admin.counters().revoke, 1);
    assert!(e.store.load().unwrap().is_none());
    assert!(e.broker.session().is_none());
    assert!(
        e.broker.status().iter().all(|s| s.expires_at.is_none()),
        "cache cleared"
    );
    assert!(wait_event(&mut events, 1, |ev| matches!(
        ev,
        BrokerEvent::SessionChanged(None)
    ))
    .await
    .is_some());
    assert_eq!(
        e.broker
            .get_token(&billing(), &scopes("read:invoices"))
            .await
            .unwrap_err()
            .kind(),
        "login_required"
    );
    let (status, body) = e.raw_refresh(&rt).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "revoked at the provider"
    );
}

#[tokio::test]
async fn logout_revokes_at_the_provider_auth0() {
    logout_revokes(Dialect::Auth0).await;
}

#[tokio::test]
async fn logout_revokes_at_the_provider_rfc8707() {
    logout_revokes(Dialect::Rfc8707).await;
}

#[tokio::test]
async fn logout_after_restart_revokes_the_stored_token() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    let rt = e.stored_rt().unwrap();
    let restarted = e.restart(options());
    restarted.logout().await.unwrap();
    let (status, _) = e.raw_refresh(&rt).await;
    assert_eq!(status, 400);
    assert!(e.store.load().unwrap().is_none());
}

#[tokio::test]
async fn invalid_grant_ends_the_session_with_login_required() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    let mut events = e.broker.subscribe();
    e.admin.revoke_grants_for("auth0|alice");
    let err = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "login_required");
    assert!(!err.retryable());
    assert!(e.store.load().unwrap().is_none(), "store cleared");
    assert!(e.broker.session().is_none());
    assert!(wait_event(&mut events, 1, |ev| matches!(
        ev,
        BrokerEvent::SessionChanged(None)
    ))
    .await
    .is_some());
    // Even the cached login token is gone.
    assert_eq!(
        e.broker
            .get_token(&core(), &ScopeSet::empty())
            .await
            .unwrap_err()
            .kind(),
        "login_required"
    );
}

#[tokio::test]
async fn token_grant_json_is_what_the_mfe_receives() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    let g = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let v = serde_json::to_value(&g).unwrap();
    assert_eq!(v["accessToken"], g.access_token.expose_secret());
    assert_eq!(v["tokenType"], "Bearer");
    assert_eq!(v["audience"], portico_dev_idp::BILLING_API);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let exp = v["expiresAt"].as_u64().unwrap();
    assert!(
        exp > now_ms + 500_000 && exp < now_ms + 700_000,
        "~600 s from now"
    );
    // Status never includes a token.
    let st = serde_json::to_string(&e.broker.status()).unwrap();
    assert!(!st.contains(g.access_token.expose_secret()));
}
