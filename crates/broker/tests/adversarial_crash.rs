//! Crash safety (issue 6): the process dies right after a rotation response arrived. Simulated
//! with a store whose `save` of the rotated token never returns (the process is gone) — either
//! before the write reached the store or just after — while the test aborts the call and drops
//! the broker. A new broker on the same store then has a working session or a clean
//! `login_required`, and never keeps a dead refresh token. The same two cases with a real
//! SIGKILL of a broker process on the real keyring are in `tests/tests/crash_safety.rs`.

mod adversarial;
mod common;
use adversarial::{kind_of, record};
use common::*;
use portico_broker::*;
use portico_dev_idp::IdpConfig;
use serde_json::json;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const NORMAL: u8 = 0;
/// `save` hangs and then fails: the rotated token never reached the store.
const DIE_BEFORE_WRITE: u8 = 1;
/// `save` writes, then hangs: the rotated token is stored but the caller never learns it.
const DIE_AFTER_WRITE: u8 = 2;

#[derive(Default)]
struct CrashingStore {
    inner: MemoryStore,
    mode: AtomicU8,
    saves_started: AtomicU32,
    released: Mutex<bool>,
    wake: Condvar,
}

impl CrashingStore {
    fn hang(&self) {
        let mut done = self.released.lock().unwrap();
        while !*done {
            done = self.wake.wait(done).unwrap();
        }
    }
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.wake.notify_all();
    }
}

impl SessionStore for CrashingStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        self.inner.load()
    }
    fn save(&self, s: &StoredSession) -> Result<(), StoreError> {
        match self.mode.load(Ordering::SeqCst) {
            DIE_BEFORE_WRITE => {
                self.saves_started.fetch_add(1, Ordering::SeqCst);
                self.hang();
                Err(StoreError::Unavailable("process was killed".into()))
            }
            DIE_AFTER_WRITE => {
                let r = self.inner.save(s);
                self.saves_started.fetch_add(1, Ordering::SeqCst);
                self.hang();
                r
            }
            _ => self.inner.save(s),
        }
    }
    fn clear(&self) -> Result<(), StoreError> {
        self.inner.clear()
    }
}

/// Signs in, then "kills" the process during the rotation's save in `mode`; returns the store,
/// the provider (kept alive) and the refresh token stored before the crash.
async fn crash(
    mode: u8,
) -> (
    Arc<CrashingStore>,
    portico_dev_idp::DevIdp,
    String,
    ProviderConfig,
) {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    let config = provider(&idp, Dialect::Auth0);
    let store = Arc::new(CrashingStore::default());
    let broker = Broker::new(
        config.clone(),
        options(),
        store.clone(),
        Arc::new(SystemClock),
    )
    .unwrap();
    login(&broker, "alice").await;
    let before = store
        .load()
        .unwrap()
        .unwrap()
        .refresh_token
        .expose_secret()
        .to_owned();
    store.mode.store(mode, Ordering::SeqCst);
    let call = {
        let b = broker.clone();
        tokio::spawn(async move { b.get_token(&billing(), &scopes("read:invoices")).await })
    };
    // The rotation response has arrived once the broker is saving its refresh token.
    tokio::time::timeout(Duration::from_secs(10), async {
        while store.saves_started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the rotation reached the store");
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    drop(broker);
    // The dead process's thread is gone too.
    store.release();
    store.mode.store(NORMAL, Ordering::SeqCst);
    (store, idp, before, config)
}

fn restarted(store: &Arc<CrashingStore>, config: &ProviderConfig) -> Broker {
    Broker::new(
        config.clone(),
        options(),
        store.clone(),
        Arc::new(SystemClock),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_rotated_token_was_stored_restarts_to_a_clean_login_required() {
    let (store, idp, before, config) = crash(DIE_BEFORE_WRITE).await;
    assert_eq!(
        store.load().unwrap().unwrap().refresh_token.expose_secret(),
        before,
        "only the pre-rotation token is stored"
    );
    let broker = restarted(&store, &config);
    let r = broker.silent_login().await;
    let c = idp.admin().counters();
    let cleared = store.load().unwrap().is_none();
    record(
        "crash_safety",
        "killed after the rotation response, before the store write",
        "login_required",
        &kind_of(&r),
        json!({"store_cleared": cleared, "reuse_detections": c.reuse_detections}),
    );
    // The provider rotated; the stored token is the old one, so presenting it is reuse: the
    // family dies and the broker says so instead of keeping the dead token.
    assert_eq!(kind_of(&r), "login_required", "{r:?}");
    assert!(cleared, "the dead refresh token is not kept");
    assert!(broker.session().is_none());
    assert_eq!(c.reuse_detections, 1);
    // And the way back is an ordinary sign-in.
    login(&broker, "alice").await;
    broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_rotated_token_was_stored_restarts_signed_in() {
    let (store, idp, before, config) = crash(DIE_AFTER_WRITE).await;
    let stored = store
        .load()
        .unwrap()
        .unwrap()
        .refresh_token
        .expose_secret()
        .to_owned();
    assert_ne!(
        stored, before,
        "the rotated token was persisted before anything else"
    );
    let broker = restarted(&store, &config);
    let r = broker.silent_login().await;
    let c = idp.admin().counters();
    record(
        "crash_safety",
        "killed after the rotation response, after the store write",
        "ok",
        &kind_of(&r),
        json!({"reuse_detections": c.reuse_detections}),
    );
    assert_eq!(r.unwrap().subject, "auth0|alice");
    assert_eq!(c.reuse_detections, 0);
    broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_ne!(
        store.load().unwrap().unwrap().refresh_token.expose_secret(),
        stored,
        "the lineage goes on rotating"
    );
}
