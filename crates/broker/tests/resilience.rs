//! Transient failures: bounded timeouts, retries with backoff for network errors and 5xx,
//! Retry-After on 429, OAuth errors never retried; messages are ours.

mod common;
use common::*;
use portico_broker::*;
use portico_dev_idp::{Endpoint, Fault, FaultKind, IdpConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn signed_in() -> Env {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    e.admin.reset_counters();
    e
}

async fn billing_token(e: &Env) -> Result<TokenGrant, AuthError> {
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let e = signed_in().await;
    e.admin.set_faults(vec![Fault::times(
        Endpoint::Token,
        FaultKind::Status(503),
        2,
    )]);
    billing_token(&e).await.unwrap();
    let c = e.admin.counters();
    assert_eq!((c.token_refresh, c.faults_injected), (3, 2));
    assert!(e.broker.session().is_some());
}

#[tokio::test]
async fn retries_are_bounded_and_the_error_is_retryable() {
    let e = signed_in().await;
    e.admin
        .set_faults(vec![Fault::always(Endpoint::Token, FaultKind::HtmlError)]);
    let err = billing_token(&e).await.unwrap_err();
    assert_eq!(
        err,
        AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(502),
            error: None,
            description: None,
        }
    );
    assert!(err.retryable());
    assert_eq!(e.admin.counters().token_refresh, 3, "1 try + max_retries 2");
    let json = serde_json::to_string(&err).unwrap();
    assert!(
        !json.contains("<html") && !json.contains("injected"),
        "never a raw server body: {json}"
    );
    assert!(
        e.broker.session().is_some(),
        "a flaky provider does not end the session"
    );
    e.admin.clear_faults();
    billing_token(&e).await.unwrap();
}

#[tokio::test]
async fn dropped_connections_and_truncated_bodies_are_retried() {
    let e = signed_in().await;
    e.admin.set_faults(vec![
        Fault::times(Endpoint::Token, FaultKind::DropConnection, 1),
        Fault::times(Endpoint::Token, FaultKind::TruncatedBody, 1),
    ]);
    billing_token(&e).await.unwrap();
    assert_eq!(e.admin.counters().faults_injected, 2);

    e.admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::DropConnection,
    )]);
    let err = billing_token_fresh(&e).await.unwrap_err();
    assert_eq!(err.kind(), "network", "{err:?}");
    assert!(err.retryable());
}

async fn billing_token_fresh(e: &Env) -> Result<TokenGrant, AuthError> {
    e.broker
        .get_token(&billing(), &scopes("read:invoices write:invoices"))
        .await
}

#[tokio::test]
async fn retry_after_is_honoured_on_429() {
    let e = signed_in().await;
    e.admin.set_faults(vec![Fault::times(
        Endpoint::Token,
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
        1,
    )]);
    let started = Instant::now();
    billing_token(&e).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(e.admin.counters().token_refresh, 2);
}

#[tokio::test]
async fn a_long_retry_after_is_reported_not_waited_for() {
    let e = signed_in().await;
    e.admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::TooManyRequests {
            retry_after_secs: 120,
        },
    )]);
    let started = Instant::now();
    let err = billing_token(&e).await.unwrap_err();
    // The provider's limit (no caller), with when to try again.
    assert!(
        matches!(
            err,
            AuthError::RateLimited {
                retry_after_secs: Some(120),
                caller: None,
                until: Some(_),
            }
        ),
        "{err:?}"
    );
    assert!(err.retryable());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.admin.counters().token_refresh, 1);
}

#[tokio::test]
async fn oauth_errors_are_not_retried() {
    let e = signed_in().await;
    e.admin.set_faults(vec![Fault::times(
        Endpoint::Token,
        FaultKind::InvalidGrant,
        1,
    )]);
    assert_eq!(
        billing_token(&e).await.unwrap_err().kind(),
        "login_required"
    );
    assert_eq!(
        e.admin.counters().token_refresh,
        1,
        "invalid_grant is final"
    );
    assert!(e.store.load().unwrap().is_none(), "session cleared");
}

#[tokio::test]
async fn malformed_success_bodies_are_provider_errors_without_retry() {
    let e = signed_in().await;
    e.admin
        .set_faults(vec![Fault::always(Endpoint::Token, FaultKind::GarbageJson)]);
    let err = billing_token(&e).await.unwrap_err();
    assert_eq!(
        err,
        AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(200),
            error: None,
            description: None,
        }
    );
    assert_eq!(e.admin.counters().token_refresh, 1);
    assert!(e.broker.session().is_some());
}

#[tokio::test]
async fn slow_provider_times_out_within_bounds() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let opts = BrokerOptions {
        http_timeout: Duration::from_millis(300),
        max_retries: 1,
        ..options()
    };
    let broker = Broker::new(
        provider(&idp, Dialect::Auth0),
        opts,
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    login(&broker, "alice").await;
    idp.admin().set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::Latency(Duration::from_secs(3)),
    )]);
    let started = Instant::now();
    let err = broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::Timeout {
            endpoint: "token".into()
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn discovery_and_jwks_failures_are_retried() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let admin = idp.admin();
    admin.set_faults(vec![
        Fault::times(Endpoint::Discovery, FaultKind::Status(500), 1),
        Fault::times(Endpoint::Jwks, FaultKind::DropConnection, 1),
    ]);
    let broker = Broker::new(
        provider(&idp, Dialect::Rfc8707),
        options(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    login(&broker, "alice").await;
    let c = admin.counters();
    assert_eq!((c.discovery, c.jwks, c.faults_injected), (2, 2, 2));
}

#[tokio::test]
async fn revocation_failure_does_not_block_local_logout() {
    let e = signed_in().await;
    e.admin.set_faults(vec![Fault::always(
        Endpoint::Revoke,
        FaultKind::Status(500),
    )]);
    assert!(e.broker.logout().await.unwrap().is_some());
    assert!(e.broker.session().is_none());
    assert!(e.store.load().unwrap().is_none());
    assert_eq!(e.admin.counters().revoke, 3, "tried with retries");
}
