//! Least privilege between callers (issue 15, points 1 and 2), at the broker, against the dev
//! provider over real HTTP: a caller registered for fewer scopes never receives a wider token;
//! one caller's refused or excessive requests cost the provider almost nothing and hold back
//! no other caller; a 429 for one audience holds back that audience only.

mod adversarial;
mod common;
use adversarial::{kind_of, record};
use common::*;
use portico_broker::*;
use portico_dev_idp::{Endpoint, Fault, FaultKind, IdpConfig, BILLING_API};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const SUITE: &str = "isolation";

/// Billing's two registrations sharing one audience: a reader and a writer.
fn reader() -> ScopeCeiling {
    ScopeCeiling::new(
        scopes("read:invoices"),
        scopes("read:invoices write:invoices"),
    )
}
fn writer() -> ScopeCeiling {
    ScopeCeiling::new(
        scopes("read:invoices write:invoices"),
        scopes("read:invoices write:invoices"),
    )
}

fn request(caller: &str, ceiling: ScopeCeiling, wanted: &str) -> TokenRequest {
    TokenRequest::new(caller, billing(), scopes(wanted), ceiling).expect("within registration")
}

fn granted(g: &TokenGrant) -> ScopeSet {
    ScopeSet::parse(&g.scope).unwrap()
}

#[tokio::test]
async fn a_reader_never_receives_the_writers_token_by_cache_or_by_push() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    let mut events = e.broker.subscribe();
    // The writer first: its token carries write:invoices and is cached.
    let wide = e
        .broker
        .token_for(&request("billing-admin", writer(), ""))
        .await
        .unwrap();
    assert!(granted(&wide).contains("write:invoices"));
    // The reader asks: not the cached wide token, a token of its own.
    let narrow = e
        .broker
        .token_for(&request("billing-viewer", reader(), ""))
        .await
        .unwrap();
    record(
        SUITE,
        "reader after writer: never the wider token",
        "read:invoices",
        &narrow.scope,
        json!({"writer_scope": wide.scope}),
    );
    assert_ne!(narrow.access_token, wide.access_token);
    assert!(
        !granted(&narrow).contains("write:invoices"),
        "{}",
        narrow.scope
    );
    // And again from the cache: the narrow one, while the wide one is also there for the writer.
    let again = e
        .broker
        .cached_token_for(&request("billing-viewer", reader(), ""))
        .unwrap();
    assert_eq!(again.access_token, narrow.access_token);
    let writer_again = e
        .broker
        .cached_token_for(&request("billing-admin", writer(), ""))
        .unwrap();
    assert_eq!(writer_again.access_token, wide.access_token);
    // The announcements carry what each request asked for: a host pushes the wide one only to
    // callers whose ceiling admits it.
    let mut announced = Vec::new();
    while let Some(BrokerEvent::TokenRefreshed {
        grant, requested, ..
    }) = wait_event(&mut events, 1, |ev| {
        matches!(ev, BrokerEvent::TokenRefreshed { .. })
    })
    .await
    {
        announced.push((granted(&grant), requested));
    }
    assert_eq!(announced.len(), 2, "{announced:?}");
    let (wide_scopes, wide_requested) = &announced[0];
    assert!(!reader().admits(wide_scopes, wide_requested));
    assert!(writer().admits(wide_scopes, wide_requested));
    let (narrow_scopes, narrow_requested) = &announced[1];
    assert!(reader().admits(narrow_scopes, narrow_requested));
}

#[tokio::test]
async fn twenty_refused_calls_cost_one_request() {
    let e = env(Dialect::Auth0).await;
    // Bob is a viewer: the provider will not grant him write:invoices.
    login(&e.broker, "bob").await;
    e.admin.reset_counters();
    let asks = request("billing", writer(), "write:invoices");
    let mut kinds = Vec::new();
    for _ in 0..20 {
        kinds.push(kind_of(&e.broker.token_for(&asks).await));
    }
    let requests = e.admin.counters().token_refresh;
    record(
        SUITE,
        "20 calls for a scope the user lacks",
        "scope_not_granted",
        &kinds[19],
        json!({"calls": 20, "token_requests": requests, "bound": 2}),
    );
    assert!(kinds.iter().all(|k| k == "scope_not_granted"), "{kinds:?}");
    assert_eq!(requests, 1, "answered from memory after the first");
    // Briefly: after the memory lapses, the provider is asked once more.
    e.clock.advance(Duration::from_secs(31));
    assert_eq!(
        kind_of(&e.broker.token_for(&asks).await),
        "scope_not_granted"
    );
    assert_eq!(e.admin.counters().token_refresh, 2);
    // The same caller's own scope is not affected.
    e.broker
        .token_for(&request("billing", writer(), "read:invoices"))
        .await
        .unwrap();
}

#[tokio::test]
async fn one_caller_asking_too_often_is_held_back_alone() {
    // Tokens that are never good enough for the cache (min_ttl beyond their lifetime), so every
    // call misses: the worst an MFE can do.
    let mut idp = IdpConfig::portico_demo();
    idp.access_token_ttl = Duration::from_secs(60);
    let opts = BrokerOptions {
        min_ttl: Duration::from_secs(120),
        caller_token_rate: TokenRate {
            burst: 3,
            per_minute: 6,
        },
        ..options()
    };
    let e = env_with(idp, Dialect::Auth0, opts, Arc::new(MemoryStore::new())).await;
    login(&e.broker, "alice").await;
    e.admin.reset_counters();
    let noisy = request("billing", writer(), "read:invoices");
    for _ in 0..3 {
        e.broker.token_for(&noisy).await.unwrap();
    }
    let held = e.broker.token_for(&noisy).await.unwrap_err();
    record(
        SUITE,
        "a caller over its token-request budget",
        "rate_limited",
        held.kind(),
        json!({"token_requests": e.admin.counters().token_refresh, "burst": 3}),
    );
    match &held {
        AuthError::RateLimited {
            retry_after_secs: Some(10),
            caller: Some(caller),
            until: Some(_),
        } => assert_eq!(caller, "billing"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        held.to_string(),
        "The micro frontend billing asks for new tokens too often; try again in 10 seconds."
    );
    assert_eq!(e.admin.counters().token_refresh, 3, "the fourth never left");
    // Another caller is not held back.
    let other = TokenRequest::new(
        "dashboard",
        core(),
        scopes("read:dashboard"),
        ScopeCeiling::new(scopes("read:dashboard"), scopes("read:dashboard")),
    )
    .unwrap();
    e.broker.token_for(&other).await.unwrap();
    // The broker's own refreshes (proactive) and a trusted host are not charged to anyone.
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    // After the refill time the caller is served again.
    e.clock.advance(Duration::from_secs(10));
    e.broker.token_for(&noisy).await.unwrap();
}

#[tokio::test]
async fn a_429_for_one_audience_does_not_hold_back_another() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    // One 429 asking for ten minutes: longer than the broker waits inside a call.
    e.admin.set_faults(vec![Fault::times(
        Endpoint::Token,
        FaultKind::TooManyRequests {
            retry_after_secs: 600,
        },
        1,
    )]);
    let limited = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            limited,
            AuthError::RateLimited {
                retry_after_secs: Some(600),
                caller: None,
                ..
            }
        ),
        "{limited:?}"
    );
    let before = e.admin.counters().token_refresh;
    let other = e
        .broker
        .get_token(&analytics(), &scopes("read:reports"))
        .await;
    record(
        SUITE,
        "after a 429 for billing, analytics",
        "ok",
        &kind_of(&other),
        json!({"token_requests": e.admin.counters().token_refresh - before}),
    );
    assert_eq!(other.unwrap().audience, portico_dev_idp::ANALYTICS_API);
    // Billing itself stays held back for the provider's time, with no request.
    let before = e.admin.counters().token_refresh;
    let again = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), "rate_limited");
    assert_eq!(e.admin.counters().token_refresh, before);
    assert_eq!(BILLING_API, billing().as_str());
}

/// A keyring store of this test's own (the real Secret Service), removed at the end.
struct OwnKeyring(KeyringStore);

impl OwnKeyring {
    fn new(name: &str) -> OwnKeyring {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let service = format!("dev.portico.test.{name}.{}.{nanos}", std::process::id());
        OwnKeyring(KeyringStore::new(&service, "session"))
    }
}

impl Drop for OwnKeyring {
    fn drop(&mut self) {
        let _ = self.0.clear();
        let _ = self.0.clear_pending();
    }
}

/// Pending sign-ins hold the PKCE verifier: they leave the real keyring on sign-out, on cancel
/// and, when abandoned and expired, at the next start (issue 15, point 6).
#[tokio::test]
async fn pending_sign_ins_leave_the_keyring_on_sign_out_cancel_and_expiry() {
    let keyring = OwnKeyring::new("pending");
    let store: Arc<dyn SessionStore> = Arc::new(keyring.0.clone());
    let e = env_with(
        IdpConfig::portico_demo(),
        Dialect::Auth0,
        options(),
        store.clone(),
    )
    .await;
    let pending = || store.load_pending().expect("Secret Service reachable");

    // Sign-out while a sign-in is pending.
    login(&e.broker, "alice").await;
    e.broker.begin_login(None).await.unwrap();
    assert!(pending().is_some(), "a deep-link sign-in is persisted");
    e.broker.logout().await.unwrap();
    let after_sign_out = pending();
    record(
        SUITE,
        "pending sign-in at sign-out",
        "removed",
        if after_sign_out.is_none() {
            "removed"
        } else {
            "kept"
        },
        json!({}),
    );
    assert!(after_sign_out.is_none());

    // Cancel (removed off the caller's thread: wait for it, bounded).
    e.broker.begin_login(None).await.unwrap();
    assert!(pending().is_some());
    e.broker.cancel_login();
    let mut gone = false;
    for _ in 0..100 {
        if pending().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    record(
        SUITE,
        "pending sign-in at cancel",
        "removed",
        if gone { "removed" } else { "kept" },
        json!({}),
    );
    assert!(gone, "removed after cancel");

    // Abandoned: begun, never completed, and the app quit. At the next start after it expired,
    // it is removed; before that it stays (its deep link may still start the app).
    e.broker.begin_login(None).await.unwrap();
    let restarted = e.restart(options());
    let _ = restarted.silent_login().await;
    assert!(pending().is_some(), "not expired: kept for its deep link");
    e.clock.advance(Duration::from_secs(601));
    let restarted = e.restart(options());
    let _ = restarted.silent_login().await;
    let at_start = pending();
    record(
        SUITE,
        "expired pending sign-in at start",
        "removed",
        if at_start.is_none() {
            "removed"
        } else {
            "kept"
        },
        json!({}),
    );
    assert!(at_start.is_none());
}
