//! Storage (issue 6): a locked or failing store is reported as `storage_unavailable` (also in the
//! token status the chrome shows) while the session goes on in memory; and after a full run
//! through the REAL OS keyring no token, code or verifier is found in plaintext in the data,
//! config, cache, state, runtime or temp directories — only inside the keyring's encrypted file.
//!
//! The keyring test needs the headless session (`cargo xtask session -- cargo test ...`), like
//! `keyring.rs`; without a Secret Service it FAILS.

mod adversarial;
mod common;
use adversarial::{kind_of, record};
use common::*;
use portico_broker::*;
use portico_dev_idp::IdpConfig;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[tokio::test]
async fn a_store_that_always_fails_is_surfaced_and_the_session_lives_in_memory() {
    let store = Arc::new(ObservedStore::default());
    store.fail_all.store(true, Ordering::SeqCst);
    let e = env_with(
        IdpConfig::portico_demo(),
        Dialect::Rfc8707,
        options(),
        store.clone(),
    )
    .await;
    let cb = callback_for(&e.broker, "alice").await;
    let signed_in = e.broker.complete_login(&cb).await;
    record(
        "storage",
        "keyring locked at sign-in",
        "storage_unavailable",
        &kind_of(&signed_in),
        json!({"session_in_memory": e.broker.session().is_some()}),
    );
    assert_eq!(kind_of(&signed_in), "storage_unavailable");
    assert!(signed_in.unwrap_err().retryable());
    assert_eq!(e.broker.session().unwrap().subject, "auth0|alice");

    // Billing's token came with the sign-in (the resource the code exchange named): no request.
    let before = e.admin.counters().token_refresh;
    let g = e
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await;
    assert_eq!(g.map(|g| g.audience).as_deref(), Ok(billing().as_str()));
    assert_eq!(e.admin.counters().token_refresh, before);

    let mut first_kinds = Vec::new();
    for (a, s) in [(core(), "read:dashboard"), (analytics(), "read:reports")] {
        // The rotation happened at the provider but could not be persisted: the caller hears it
        // once; the token it paid for is cached and the next call gets it without a request.
        let first = e.broker.get_token(&a, &scopes(s)).await;
        first_kinds.push(kind_of(&first));
        let before = e.admin.counters().token_refresh;
        let again = e.broker.get_token(&a, &scopes(s)).await.unwrap();
        assert_eq!(again.audience, a.as_str());
        assert_eq!(
            e.admin.counters().token_refresh,
            before,
            "served from memory"
        );
        let status = e.broker.status();
        let st = status.iter().find(|x| x.audience == a.as_str()).unwrap();
        assert_eq!(
            st.last_error.as_ref().map(AuthError::kind),
            Some("storage_unavailable"),
            "shown in the status panel"
        );
    }
    record(
        "storage",
        "keyring locked during rotations",
        "storage_unavailable",
        &{
            let mut k = first_kinds.clone();
            k.dedup();
            k.join(",")
        },
        json!({"tokens_served_from_memory": 2, "reuse_detections": e.admin.counters().reuse_detections}),
    );
    assert!(
        first_kinds.iter().all(|k| k == "storage_unavailable"),
        "{first_kinds:?}"
    );
    assert_eq!(
        e.admin.counters().reuse_detections,
        0,
        "in memory the lineage stays consistent"
    );
    assert!(
        store.saves.lock().unwrap().is_empty(),
        "nothing was written anywhere"
    );
}

fn unique_service() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("dev.portico.test.scan.{}.{nanos}", std::process::id())
}

/// Directories an app could leave files in: XDG data/config/cache/state/runtime and the temp dir.
fn candidate_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = |var: &str, fallback: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(fallback)))
    };
    let mut dirs: Vec<PathBuf> = [
        xdg("XDG_DATA_HOME", ".local/share"),
        xdg("XDG_CONFIG_HOME", ".config"),
        xdg("XDG_CACHE_HOME", ".cache"),
        xdg("XDG_STATE_HOME", ".local/state"),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some(std::env::temp_dir()),
    ]
    .into_iter()
    .flatten()
    .filter(|d| d.is_dir())
    .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Files under `dir` modified since `since` (depth-limited, no symlinks, ≤ 32 MB).
fn recent_files(dir: &Path, since: SystemTime, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() && depth > 0 {
            recent_files(&entry.path(), since, depth - 1, out);
        } else if meta.is_file()
            && meta.len() <= 32 << 20
            && meta.modified().is_ok_and(|m| m >= since)
        {
            out.push(entry.path());
        }
    }
}

/// (file, secret label) for every plaintext hit.
fn scan(since: SystemTime, secrets: &[(String, String)]) -> (usize, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    for d in candidate_dirs() {
        recent_files(&d, since, 8, &mut files);
    }
    let mut hits = Vec::new();
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        for (label, s) in secrets {
            if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                hits.push((f.clone(), label.clone()));
            }
        }
    }
    (files.len(), hits)
}

struct Cleanup(KeyringStore);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.clear();
        let _ = self.0.clear_pending();
    }
}

#[tokio::test]
async fn no_secret_in_plaintext_on_disk_after_a_full_run_through_the_os_keyring() {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .expect("run inside the headless session (cargo xtask session -- ...): XDG_DATA_HOME");
    // File times can be coarse; a second of slack only widens the scan.
    let since = SystemTime::now() - Duration::from_secs(1);
    let store = KeyringStore::new(&unique_service(), "portico-desktop");
    let _cleanup = Cleanup(store.clone());
    let e = env_with(
        IdpConfig::portico_demo(),
        Dialect::Auth0,
        options(),
        Arc::new(store.clone()),
    )
    .await;
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |label: &str, v: &str| {
        assert!(v.len() >= 16, "{label} is long enough to be searched for");
        secrets.push((label.to_owned(), v.to_owned()));
    };

    let req = e.broker.begin_login(None).await.unwrap();
    let pending = store
        .load_pending()
        .unwrap()
        .expect("pending sign-in kept in the keyring");
    keep("pkce verifier", pending.verifier.expose_secret());
    let cb = portico_testkit::browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    let code = url::Url::parse(&cb)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    keep("authorization code", &code);
    e.broker.complete_login(&cb).await.unwrap();
    let s = store.load().unwrap().unwrap();
    keep("refresh token (sign-in)", s.refresh_token.expose_secret());
    if let Some(id) = &s.id_token_hint {
        keep("id token", id.expose_secret());
    }
    for (a, sc) in [
        (billing(), "read:invoices"),
        (core(), "read:dashboard"),
        (analytics(), "read:reports"),
    ] {
        let g = e.broker.get_token(&a, &scopes(sc)).await.unwrap();
        keep(&format!("access token {a}"), g.access_token.expose_secret());
        keep(
            &format!("refresh token after {a}"),
            store.load().unwrap().unwrap().refresh_token.expose_secret(),
        );
    }
    let restarted = e.restart(options());
    restarted.silent_login().await.unwrap();
    let rt = store
        .load()
        .unwrap()
        .unwrap()
        .refresh_token
        .expose_secret()
        .to_owned();
    keep("refresh token (restart)", &rt);

    // The scanner itself finds a planted plaintext secret (so a clean result means something).
    let canary_dir = std::env::temp_dir().join(unique_service());
    std::fs::create_dir_all(&canary_dir).unwrap();
    std::fs::write(canary_dir.join("leak.json"), format!("{{\"rt\":\"{rt}\"}}")).unwrap();
    let (_, planted) = scan(since, &secrets);
    std::fs::remove_dir_all(&canary_dir).unwrap();
    assert!(
        planted
            .iter()
            .any(|(f, l)| f.starts_with(&canary_dir) && l == "refresh token (restart)"),
        "{planted:?}"
    );

    let (files, hits) = scan(since, &secrets);
    // The secrets did go to disk — in the keyring's own (encrypted) file.
    let mut keyring_files = Vec::new();
    recent_files(&data_home.join("keyrings"), since, 1, &mut keyring_files);
    record(
        "storage",
        "plaintext scan after sign-in, 3 rotations and a restart",
        "clean",
        if hits.is_empty() { "clean" } else { "leak" },
        json!({"files_scanned": files, "secrets_searched": secrets.len(), "keyring_files_written": keyring_files.len()}),
    );
    assert!(hits.is_empty(), "plaintext secrets on disk: {hits:?}");
    assert!(
        !keyring_files.is_empty(),
        "the session reached the keyring's file under {}",
        data_home.display()
    );

    restarted.logout().await.unwrap();
    assert_eq!(store.load().unwrap(), None);
    let (files, hits) = scan(since, &secrets);
    record(
        "storage",
        "plaintext scan after logout",
        "clean",
        if hits.is_empty() { "clean" } else { "leak" },
        json!({"files_scanned": files, "secrets_searched": secrets.len()}),
    );
    assert!(
        hits.is_empty(),
        "plaintext secrets on disk after logout: {hits:?}"
    );
}
