//! The session store against the REAL OS keyring (Secret Service in a D-Bus session on Linux).
//!
//! Run inside a D-Bus session with an unlocked keyring, e.g.
//! `dbus-run-session -- bash -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test -p portico-broker'`.
//! Without a reachable Secret Service these tests FAIL: that is the point of them.

mod common;
use common::*;
use portico_broker::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

fn unique_service() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("dev.portico.test.{}.{nanos}", std::process::id())
}

/// Removes the test entry whatever happens.
struct Cleanup(KeyringStore);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.clear();
    }
}

fn session(rt: &str) -> StoredSession {
    StoredSession {
        refresh_token: RefreshToken::new(rt),
        issuer: "http://127.0.0.1:1/".into(),
        client_id: "portico-desktop".into(),
        subject: "auth0|alice".into(),
        name: Some("Alice Admin".into()),
        email: Some("alice@portico.dev".into()),
        id_token_hint: Some(IdToken::new("h.p.s")),
        dpop_key: None,
    }
}

#[test]
fn keyring_store_round_trip_in_the_real_secret_service() {
    let service = unique_service();
    let store = KeyringStore::new(&service, "session");
    let _cleanup = Cleanup(store.clone());
    assert_eq!(
        store.load().expect("Secret Service reachable and unlocked"),
        None
    );
    store.save(&session("rt-1")).unwrap();
    assert_eq!(store.load().unwrap(), Some(session("rt-1")));
    // A second handle (another process would do the same) sees the same entry.
    let again = KeyringStore::new(&service, "session");
    assert_eq!(
        again.load().unwrap().unwrap().refresh_token.expose_secret(),
        "rt-1"
    );
    store.save(&session("rt-2")).unwrap();
    assert_eq!(
        again.load().unwrap().unwrap().refresh_token.expose_secret(),
        "rt-2",
        "overwritten, not duplicated"
    );
    // Another account under the same service is a different entry.
    assert_eq!(KeyringStore::new(&service, "other").load().unwrap(), None);
    store.clear().unwrap();
    assert_eq!(store.load().unwrap(), None);
    store.clear().unwrap();
}

#[test]
fn oversized_sessions_are_refused_before_reaching_the_keyring() {
    let store = KeyringStore::new(&unique_service(), "session");
    let _cleanup = Cleanup(store.clone());
    let mut huge = session(&"r".repeat(4000));
    huge.id_token_hint = None;
    assert!(matches!(store.save(&huge), Err(StoreError::TooLarge(_))));
    assert_eq!(store.load().unwrap(), None);
}

#[tokio::test]
async fn broker_session_survives_a_restart_through_the_os_keyring() {
    let service = unique_service();
    let store = KeyringStore::new(&service, "portico-desktop");
    let _cleanup = Cleanup(store.clone());
    let e = env_with(
        portico_dev_idp::IdpConfig::portico_demo(),
        Dialect::Auth0,
        options(),
        Arc::new(store.clone()),
    )
    .await;
    login(&e.broker, "alice").await;
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    let stored = store.load().unwrap().expect("session in the keyring");
    assert_eq!(stored.subject, "auth0|alice");

    // "Restart": a new broker with a new keyring handle for the same entry.
    let fresh_store = Arc::new(KeyringStore::new(&service, "portico-desktop"));
    let restarted = Broker::new(e.config.clone(), options(), fresh_store, e.clock.clone()).unwrap();
    assert_eq!(
        restarted.silent_login().await.unwrap().subject,
        "auth0|alice"
    );
    restarted
        .get_token(&analytics(), &scopes("read:reports"))
        .await
        .unwrap();
    assert_eq!(e.admin.counters().reuse_detections, 0);

    restarted.logout().await.unwrap();
    assert_eq!(
        store.load().unwrap(),
        None,
        "logout removes the keyring entry"
    );
}

/// A private D-Bus session bus with no services at all (so no Secret Service can be activated).
struct EmptyBus {
    child: std::process::Child,
    address: String,
    _dir: std::path::PathBuf,
}

impl EmptyBus {
    fn start() -> EmptyBus {
        let dir = std::env::temp_dir().join(unique_service());
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>"#,
                dir.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (package dbus) is installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        EmptyBus {
            child,
            address: line.trim().to_owned(),
            _dir: dir,
        }
    }
}

impl Drop for EmptyBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// Runs this very test in a child process with `DBUS_SESSION_BUS_ADDRESS` pointing elsewhere.
fn run_child(test: &str, bus_address: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .env("PORTICO_KEYRING_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed for bus {bus_address}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn keyring_without_a_secret_service_is_storage_unavailable() {
    if std::env::var("PORTICO_KEYRING_CHILD").is_ok() {
        // Child: no Secret Service on this bus (or no bus at all).
        let store = KeyringStore::new(&unique_service(), "session");
        assert!(
            matches!(store.load(), Err(StoreError::Unavailable(_))),
            "{:?}",
            store.load()
        );
        assert!(matches!(
            store.save(&session("rt")),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(store.clear(), Err(StoreError::Unavailable(_))));
        let err: AuthError = store.load().unwrap_err().into();
        assert_eq!(err.kind(), "storage_unavailable");
        return;
    }
    let bus = EmptyBus::start();
    run_child(
        "keyring_without_a_secret_service_is_storage_unavailable",
        &bus.address,
    );
    run_child(
        "keyring_without_a_secret_service_is_storage_unavailable",
        "unix:path=/nonexistent/portico-no-bus",
    );
}

#[tokio::test]
async fn a_locked_store_is_storage_unavailable_never_a_silent_fallback() {
    let store = Arc::new(ObservedStore::default());
    let e = env_with(
        portico_dev_idp::IdpConfig::portico_demo(),
        Dialect::Auth0,
        options(),
        store.clone(),
    )
    .await;
    store.fail_all.store(true, Ordering::SeqCst);
    let err = e.broker.silent_login().await.unwrap_err();
    assert_eq!(err.kind(), "storage_unavailable");
    assert!(
        err.retryable(),
        "unlocking the keyring and retrying can work"
    );

    // Sign-in with a locked keyring: reported, session held in memory for this run only.
    let cb = callback_for(&e.broker, "alice").await;
    assert_eq!(
        e.broker.complete_login(&cb).await.unwrap_err().kind(),
        "storage_unavailable"
    );
    assert_eq!(e.broker.session().unwrap().subject, "auth0|alice");
    assert!(store.saves.lock().unwrap().is_empty());

    // Unlocked again: the next rotation lands in the store.
    store.fail_all.store(false, Ordering::SeqCst);
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_eq!(store.saves.lock().unwrap().len(), 1);
    // Logout with a locked keyring reports it (local state is still cleared).
    store.fail_all.store(true, Ordering::SeqCst);
    assert_eq!(
        e.broker.logout().await.unwrap_err().kind(),
        "storage_unavailable"
    );
    assert!(e.broker.session().is_none());
}

/// A deep link that starts the app completes a sign-in begun by the previous process: the
/// pending transaction (state, nonce, PKCE verifier) waits in the keyring, not in memory.
#[tokio::test]
async fn a_sign_in_begun_before_a_restart_completes_through_the_keyring() {
    let service = unique_service();
    let store = KeyringStore::new(&service, "portico-desktop");
    let _cleanup = Cleanup(store.clone());
    let pending_cleanup = PendingCleanup(store.clone());
    let e = env_with(
        portico_dev_idp::IdpConfig::portico_demo(),
        Dialect::Auth0,
        options(),
        Arc::new(store.clone()),
    )
    .await;
    let req = e.broker.begin_login(None).await.unwrap();
    let saved = store
        .load_pending()
        .unwrap()
        .expect("pending sign-in persisted");
    let callback = portico_testkit::browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    assert!(
        callback.contains(&saved.state),
        "the persisted state is the one sent"
    );
    drop(e.broker);

    // The new process knows nothing in memory; a forged callback still does not pass...
    let restarted = Broker::new(
        e.config.clone(),
        options(),
        Arc::new(KeyringStore::new(&service, "portico-desktop")),
        e.clock.clone(),
    )
    .unwrap();
    let forged = callback.replace(&format!("state={}", saved.state), "state=forged");
    assert!(matches!(
        restarted.complete_login(&forged).await,
        Err(AuthError::StateMismatch)
    ));
    // ...and the real one completes the sign-in, after which the pending entry is gone.
    let info = restarted.complete_login(&callback).await.unwrap();
    assert_eq!(info.subject, "auth0|alice");
    assert_eq!(e.admin.counters().token_authorization_code, 1);
    let mut gone = false;
    for _ in 0..100 {
        if store.load_pending().unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "a used transaction is removed from the keyring");
    drop(pending_cleanup);
}

struct PendingCleanup(KeyringStore);
impl Drop for PendingCleanup {
    fn drop(&mut self) {
        let _ = self.0.clear_pending();
    }
}
