//! 1000 concurrent `get_token` calls over three audiences, short token lifetimes, rotation on,
//! the broker's clock advanced in steps (issue 6): exactly one token request per audience per
//! expiry, no refresh token ever presented twice, no deadlock (every wave under a timeout).

mod adversarial;
mod common;
use adversarial::record;
use common::*;
use portico_broker::*;
use portico_dev_idp::{Endpoint, Fault, FaultKind, IdpConfig};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const CALLERS: usize = 1000;
const STEPS: u64 = 6;
const TTL: Duration = Duration::from_secs(60);

async fn waves(dialect: Dialect) {
    let mut idp = IdpConfig::portico_demo();
    idp.access_token_ttl = TTL;
    // Refreshed ID tokens are checked against the advanced clock; keep them valid throughout.
    idp.id_token_ttl = Duration::from_secs(86_400);
    let opts = BrokerOptions {
        min_ttl: Duration::from_secs(10),
        ..options()
    };
    let e = env_with(idp, dialect, opts, Arc::new(MemoryStore::new())).await;
    login(&e.broker, "alice").await;
    e.admin.reset_counters();
    // Every token request takes a while, so callers pile up behind the flights.
    e.admin.set_faults(vec![Fault::always(
        Endpoint::Token,
        FaultKind::Latency(Duration::from_millis(30)),
    )]);
    let auds = [
        (billing(), "read:invoices"),
        (core(), "read:dashboard"),
        (analytics(), "read:reports"),
    ];
    let mut minimum = 0u64;
    let mut total = 0u64;
    for step in 0..STEPS {
        let before = e.admin.counters().token_refresh;
        let tasks: Vec<_> = (0..CALLERS)
            .map(|i| {
                let b = e.broker.clone();
                let (a, s) = auds[i % 3].clone();
                tokio::spawn(async move { (a.clone(), b.get_token(&a, &scopes(s)).await) })
            })
            .collect();
        let joined = tokio::time::timeout(Duration::from_secs(60), async {
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.expect("no panic"));
            }
            out
        })
        .await
        .expect("no deadlock: the wave finishes");
        let mut tokens: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, r) in joined {
            let g = r.unwrap_or_else(|err| panic!("step {step} {a}: {err:?}"));
            assert_eq!(g.audience, a.as_str());
            tokens
                .entry(g.audience.clone())
                .or_default()
                .insert(g.access_token.expose_secret().to_owned());
        }
        for (a, t) in &tokens {
            assert_eq!(t.len(), 1, "step {step}: one token per audience for {a}");
        }
        let made = e.admin.counters().token_refresh - before;
        // The sign-in already produced one token (Auth0: the login audience `core`; RFC 8707:
        // the one resource the code exchange named, `billing`), so the first wave needs two.
        let needed = if step == 0 { 2 } else { 3 };
        minimum += needed;
        total += made;
        assert_eq!(made, needed, "step {step}: minimum token requests");
        // Every token is now within min_ttl of expiry (or past it): the next wave must refresh.
        e.clock.advance(TTL - Duration::from_secs(9));
    }
    let c = e.admin.counters();
    record(
        "concurrency",
        &format!(
            "{CALLERS} callers x {STEPS} expiry steps, 3 audiences, rotation on ({dialect:?})"
        ),
        "ok",
        if c.reuse_detections == 0 && total == minimum {
            "ok"
        } else {
            "excess"
        },
        json!({"calls": CALLERS as u64 * STEPS, "token_requests": total, "minimum": minimum,
               "reuse_detections": c.reuse_detections, "families_revoked": c.families_revoked,
               "token_errors": c.token_errors}),
    );
    assert_eq!(total, minimum);
    assert_eq!(c.reuse_detections, 0, "no refresh token presented twice");
    assert_eq!(c.families_revoked, 0);
    assert_eq!(c.token_errors, 0);
    // The persisted refresh token is the live end of the lineage.
    let (status, body) = e.raw_refresh(&e.stored_rt().unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_callers_three_audiences_rotation_auth0() {
    waves(Dialect::Auth0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_callers_three_audiences_rotation_rfc8707() {
    waves(Dialect::Rfc8707).await;
}
