//! Provider faults (issue 6) with the two properties `resilience.rs` does not measure: every
//! still-valid access token keeps being served while the provider misbehaves, and a crowd of
//! callers costs a bounded number of requests (no retry storm) — read from the dev-idp counters.

mod adversarial;
mod common;
use adversarial::{kind_of, record};
use common::*;
use portico_broker::*;
use portico_dev_idp::{Endpoint, Fault, FaultKind, IdpConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SUITE: &str = "provider_faults";
const CALLERS: usize = 25;

fn opts() -> BrokerOptions {
    BrokerOptions {
        http_timeout: Duration::from_millis(800),
        ..options()
    }
}

/// Signed in (Auth0: `core` from the login), `billing` refreshed and cached.
async fn warm() -> (Env, TokenGrant, TokenGrant) {
    let e = env_with(
        IdpConfig::portico_demo(),
        Dialect::Auth0,
        opts(),
        Arc::new(MemoryStore::new()),
    )
    .await;
    login(&e.broker, "alice").await;
    let core_t = e
        .broker
        .get_token(&core(), &scopes("read:dashboard"))
        .await
        .unwrap();
    let billing_t = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    e.admin.reset_counters();
    (e, core_t, billing_t)
}

/// `CALLERS` concurrent requests for the one audience that needs a refresh.
async fn crowd(e: &Env) -> Vec<Result<TokenGrant, AuthError>> {
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let b = e.broker.clone();
            tokio::spawn(async move { b.get_token(&analytics(), &scopes("read:reports")).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("no panic"));
    }
    out
}

/// Cached tokens are served unchanged, without a request, while the fault is armed.
async fn still_served(e: &Env, core_t: &TokenGrant, billing_t: &TokenGrant) -> bool {
    let before = e.admin.counters().token_refresh;
    let started = Instant::now();
    let c = e.broker.get_token(&core(), &scopes("read:dashboard")).await;
    let b = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await;
    let fast = started.elapsed() < Duration::from_millis(100);
    let same = c.as_ref().ok() == Some(core_t) && b.as_ref().ok() == Some(billing_t);
    same && fast && e.admin.counters().token_refresh == before
}

struct Case {
    name: &'static str,
    fault: FaultKind,
    expected: &'static str,
    /// Token requests the whole crowd may cost: one call's attempts (1 + retries, or 1).
    requests: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_every_fault_cached_tokens_are_served_and_requests_stay_bounded() {
    let cases = [
        Case {
            name: "HTTP 500",
            fault: FaultKind::Status(500),
            expected: "provider_error",
            requests: 3,
        },
        Case {
            name: "HTTP 503",
            fault: FaultKind::Status(503),
            expected: "provider_error",
            requests: 3,
        },
        Case {
            name: "HTML error page (502)",
            fault: FaultKind::HtmlError,
            expected: "provider_error",
            requests: 3,
        },
        Case {
            name: "garbage JSON (200)",
            fault: FaultKind::GarbageJson,
            expected: "provider_error",
            requests: 1,
        },
        Case {
            name: "truncated body",
            fault: FaultKind::TruncatedBody,
            expected: "network",
            requests: 3,
        },
        Case {
            name: "dropped connection",
            fault: FaultKind::DropConnection,
            expected: "network",
            requests: 3,
        },
        Case {
            name: "timeout (3 s latency, 0.8 s limit)",
            fault: FaultKind::Latency(Duration::from_secs(3)),
            expected: "timeout",
            requests: 3,
        },
        Case {
            name: "429 Retry-After 1 s (waited)",
            fault: FaultKind::TooManyRequests {
                retry_after_secs: 1,
            },
            expected: "rate_limited",
            requests: 3,
        },
        Case {
            name: "429 Retry-After 120 s (reported)",
            fault: FaultKind::TooManyRequests {
                retry_after_secs: 120,
            },
            expected: "rate_limited",
            requests: 1,
        },
    ];
    for case in cases {
        let (e, core_t, billing_t) = warm().await;
        let mut faults = vec![Fault::always(Endpoint::Token, case.fault.clone())];
        if !matches!(case.fault, FaultKind::Latency(_)) {
            // Slow every answer a little so the whole crowd is queued behind the first call.
            faults.insert(
                0,
                Fault::always(
                    Endpoint::Token,
                    FaultKind::Latency(Duration::from_millis(150)),
                ),
            );
        }
        e.admin.set_faults(faults);
        let started = Instant::now();
        let results = crowd(&e).await;
        let elapsed = started.elapsed();
        let kinds: std::collections::BTreeSet<String> = results.iter().map(kind_of).collect();
        let requests = e.admin.counters().token_refresh;
        let served = still_served(&e, &core_t, &billing_t).await;
        let alive = e.broker.session().is_some();
        // A second wave while still faulty: a 120 s Retry-After keeps us away entirely.
        let second = if case.name.contains("120") {
            let r = crowd(&e).await;
            assert!(r.iter().all(|r| kind_of(r) == "rate_limited"));
            Some(e.admin.counters().token_refresh - requests)
        } else {
            None
        };
        e.admin.clear_faults();
        // Past any Retry-After the provider asked for (by the broker's clock).
        e.clock.advance(Duration::from_secs(121));
        let recovered = e
            .broker
            .get_token(&analytics(), &scopes("read:reports"))
            .await;
        let outcome = kinds.iter().cloned().collect::<Vec<_>>().join(",");
        record(
            SUITE,
            case.name,
            case.expected,
            &outcome,
            json!({
                "callers": CALLERS, "token_requests": requests, "request_bound": case.requests,
                "second_wave_requests": second, "cached_tokens_served": served,
                "session_alive": alive, "recovered": recovered.is_ok(),
                "elapsed_ms": elapsed.as_millis() as u64,
            }),
        );
        assert_eq!(outcome, case.expected, "{}: {results:?}", case.name);
        assert!(results.iter().all(|r| r
            .as_ref()
            .is_err_and(|e| e.retryable() || e.kind() == "provider_error")));
        assert!(
            requests <= case.requests,
            "{}: {requests} requests for {CALLERS} callers",
            case.name
        );
        assert!(served, "{}: cached tokens still served", case.name);
        assert!(
            alive,
            "{}: the session survives a faulty provider",
            case.name
        );
        if let Some(n) = second {
            assert_eq!(n, 0, "Retry-After honoured across calls");
        }
        assert!(
            elapsed < Duration::from_secs(8),
            "{}: bounded time {elapsed:?}",
            case.name
        );
        recovered.unwrap_or_else(|err| panic!("{}: recovery {err:?}", case.name));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_grant_ends_the_session_once_for_the_whole_crowd() {
    let (e, _, _) = warm().await;
    e.admin.set_faults(vec![
        Fault::always(
            Endpoint::Token,
            FaultKind::Latency(Duration::from_millis(150)),
        ),
        Fault::always(Endpoint::Token, FaultKind::InvalidGrant),
    ]);
    let results = crowd(&e).await;
    let requests = e.admin.counters().token_refresh;
    let kinds: std::collections::BTreeSet<String> = results.iter().map(kind_of).collect();
    // The session is gone by design: a refused grant may be a revoked or stolen lineage,
    // so its access tokens are dropped with it.
    let core_after = e.broker.get_token(&core(), &scopes("read:dashboard")).await;
    record(
        SUITE,
        "invalid_grant",
        "login_required",
        &kinds.iter().cloned().collect::<Vec<_>>().join(","),
        json!({"callers": CALLERS, "token_requests": requests, "request_bound": 1,
               "cached_tokens_served": false, "session_alive": e.broker.session().is_some(),
               "store_cleared": e.store.load().unwrap().is_none()}),
    );
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec!["login_required"]
    );
    assert_eq!(requests, 1, "one refused grant, not one per caller");
    assert_eq!(kind_of(&core_after), "login_required");
    assert!(e.broker.session().is_none());
    assert!(e.store.load().unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reuse_detection_revokes_the_lineage_and_the_broker_stops_cleanly() {
    let (e, _, _) = warm().await;
    // Someone else (a stolen copy) uses the stored refresh token first: the provider rotates,
    // and the broker's next presentation of the old token is reuse.
    let stolen = e.stored_rt().unwrap();
    let (status, _) = e.raw_refresh(&stolen).await;
    assert_eq!(status, 200);
    let results = crowd(&e).await;
    let c = e.admin.counters();
    let kinds: std::collections::BTreeSet<String> = results.iter().map(kind_of).collect();
    record(
        SUITE,
        "reuse detection",
        "login_required",
        &kinds.iter().cloned().collect::<Vec<_>>().join(","),
        json!({"callers": CALLERS, "token_requests": c.token_refresh - 1, "request_bound": 1,
               "reuse_detections": c.reuse_detections, "families_revoked": c.families_revoked,
               "store_cleared": e.store.load().unwrap().is_none()}),
    );
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec!["login_required"]
    );
    assert_eq!(c.reuse_detections, 1);
    assert_eq!(c.families_revoked, 1);
    assert_eq!(
        c.token_refresh, 2,
        "the thief's refresh and ours; nobody retried"
    );
    assert!(
        e.store.load().unwrap().is_none(),
        "no dead refresh token kept"
    );
    // The thief's successor died with the family.
    let (status, body) = e.raw_refresh(&stolen).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_refused_is_bounded_and_cached_tokens_are_served() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let broker = Broker::new(
        provider(&idp, Dialect::Auth0),
        opts(),
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::starting_now()),
    )
    .unwrap();
    login(&broker, "alice").await;
    let core_t = broker
        .get_token(&core(), &scopes("read:dashboard"))
        .await
        .unwrap();
    idp.shutdown().await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let b = broker.clone();
            tokio::spawn(async move { b.get_token(&billing(), &scopes("read:invoices")).await })
        })
        .collect();
    let mut kinds = std::collections::BTreeSet::new();
    for t in tasks {
        kinds.insert(kind_of(&t.await.unwrap()));
    }
    let elapsed = started.elapsed();
    let served = broker
        .get_token(&core(), &scopes("read:dashboard"))
        .await
        .ok()
        == Some(core_t);
    record(
        SUITE,
        "connection refused",
        "network",
        &kinds.iter().cloned().collect::<Vec<_>>().join(","),
        json!({"callers": CALLERS, "cached_tokens_served": served, "session_alive": broker.session().is_some(),
               "elapsed_ms": elapsed.as_millis() as u64}),
    );
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), vec!["network"]);
    assert!(served);
    assert!(broker.session().is_some());
    // One call's retries (20 + 40 ms backoff), shared by everyone: far below 25 × that.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_provider_does_not_hold_up_cached_tokens() {
    let (e, core_t, billing_t) = warm().await;
    e.admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::Latency(Duration::from_millis(600)),
    )]);
    let slow = {
        let b = e.broker.clone();
        tokio::spawn(async move { b.get_token(&analytics(), &scopes("read:reports")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let served = still_served(&e, &core_t, &billing_t).await;
    let r = slow.await.unwrap();
    record(
        SUITE,
        "slow responses (600 ms, within the limit)",
        "ok",
        &kind_of(&r),
        json!({"cached_tokens_served": served, "token_requests": e.admin.counters().token_refresh}),
    );
    assert!(
        served,
        "cached tokens answered while a slow refresh is in flight"
    );
    r.unwrap();
}

#[tokio::test]
async fn jwks_unavailable_fails_the_sign_in_typed_and_bounded() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let admin = idp.admin();
    let broker = Broker::new(
        provider(&idp, Dialect::Rfc8707),
        opts(),
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::starting_now()),
    )
    .unwrap();
    admin.set_faults(vec![Fault::always(Endpoint::Jwks, FaultKind::Status(503))]);
    let cb = callback_for(&broker, "alice").await;
    let r = broker.complete_login(&cb).await;
    let jwks = admin.counters().jwks;
    record(
        SUITE,
        "JWKS unavailable at sign-in",
        "provider_error",
        &kind_of(&r),
        json!({"jwks_requests": jwks, "request_bound": 3, "session_alive": broker.session().is_some()}),
    );
    let err = r.unwrap_err();
    assert_eq!(
        err,
        AuthError::ProviderError {
            endpoint: "jwks".into(),
            status: Some(503),
            error: Some("server_error".into()),
            description: Some("injected fault".into()),
        }
    );
    assert!(err.retryable());
    assert_eq!(jwks, 3);
    assert!(
        broker.session().is_none(),
        "an unverifiable ID token never makes a session"
    );

    // Once the keys are cached, the JWKS being down does not matter for refreshes.
    admin.clear_faults();
    login(&broker, "alice").await;
    admin.set_faults(vec![Fault::always(Endpoint::Jwks, FaultKind::Status(503))]);
    admin.reset_counters();
    let r = broker.get_token(&billing(), &scopes("read:invoices")).await;
    record(
        SUITE,
        "JWKS unavailable after sign-in",
        "ok",
        &kind_of(&r),
        json!({"jwks_requests": admin.counters().jwks}),
    );
    r.unwrap();
    assert_eq!(admin.counters().jwks, 0);
}

#[tokio::test]
async fn discovery_unavailable_is_typed_and_bounded() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let admin = idp.admin();
    admin.set_faults(vec![Fault::always(
        Endpoint::Discovery,
        FaultKind::GarbageJson,
    )]);
    let broker = Broker::new(
        provider(&idp, Dialect::Auth0),
        opts(),
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::starting_now()),
    )
    .unwrap();
    let r = broker.begin_login(None).await;
    let n = admin.counters().discovery;
    record(
        SUITE,
        "discovery document garbage",
        "discovery_invalid",
        &kind_of(&r),
        json!({"discovery_requests": n, "request_bound": 1}),
    );
    assert_eq!(kind_of(&r), "discovery_invalid");
    assert_eq!(n, 1);
    admin.clear_faults();
    broker.begin_login(None).await.unwrap();
}
