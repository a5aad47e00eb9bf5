//! Secrets in logs (issue 6): every log line of the process — broker, HTTP stack, the in-process
//! dev-idp — captured at TRACE through `tracing` (and `log`, bridged) during sign-in, refreshes
//! with rotation, a restart, refused callbacks and ID tokens, a revoked grant and logout; not one
//! access, refresh or ID token, code or PKCE verifier may appear in it.
//!
//! One test per binary: the capturing subscriber is process-global.

mod adversarial;
mod common;
use adversarial::record;
use common::*;
use portico_broker::*;
use portico_dev_idp::IdTokenTamper;
use portico_testkit::browser;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_code_or_verifier_in_any_log_line_at_trace() {
    let capture = Capture::default();
    let sink = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |label: &str, v: &str| {
        assert!(v.len() >= 16, "{label}: long enough to search for");
        secrets.push((label.to_owned(), v.to_owned()));
    };
    let e = env(Dialect::Auth0).await;

    // Sign-in, with the pending transaction's verifier taken from the store.
    let req = e.broker.begin_login(None).await.unwrap();
    keep(
        "verifier",
        e.store
            .load_pending()
            .unwrap()
            .unwrap()
            .verifier
            .expose_secret(),
    );
    let cb = browser::sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    keep("code", &param(&cb, "code"));
    // A refused callback logs its refusal: with the code in the URL it was given.
    e.broker
        .complete_login(&format!("{cb}&code=dup"))
        .await
        .unwrap_err();
    e.broker.complete_login(&cb).await.unwrap();
    let stored = e.store.load().unwrap().unwrap();
    keep("refresh token 0", stored.refresh_token.expose_secret());
    keep(
        "id token",
        stored.id_token_hint.as_ref().unwrap().expose_secret(),
    );

    // Refreshes with rotation for every audience.
    for (i, (a, s)) in [
        (billing(), "read:invoices"),
        (core(), "read:dashboard"),
        (analytics(), "read:reports"),
    ]
    .into_iter()
    .enumerate()
    {
        let g = e.broker.get_token(&a, &scopes(s)).await.unwrap();
        keep(&format!("access token {i}"), g.access_token.expose_secret());
        keep(
            &format!("refresh token {}", i + 1),
            e.stored_rt().as_deref().unwrap(),
        );
    }
    // A restart: silent sign-in with the stored token.
    let restarted = e.restart(options());
    restarted.silent_login().await.unwrap();
    keep(
        "refresh token after restart",
        e.stored_rt().as_deref().unwrap(),
    );

    // A tampered ID token is refused (and logged as refused).
    e.admin
        .set_id_token_tamper(Some(IdTokenTamper::BadSignature));
    let other = e.restart(options());
    let req = other.begin_login(None).await.unwrap();
    keep(
        "verifier 2",
        e.store
            .load_pending()
            .unwrap()
            .unwrap()
            .verifier
            .expose_secret(),
    );
    let cb2 = browser::sign_in(req.authorize_url.as_str(), "bob")
        .await
        .unwrap();
    keep("code 2", &param(&cb2, "code"));
    other.complete_login(&cb2).await.unwrap_err();
    e.admin.set_id_token_tamper(None);

    // Logout revokes the refresh token at the provider.
    keep("refresh token at logout", e.stored_rt().as_deref().unwrap());
    restarted.logout().await.unwrap();

    let text = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    // Kept for inspection when asked (`cargo xtask reliability` does): it is secret-free or failing.
    if let Some(path) = std::env::var_os("PORTICO_TRACE_LOG") {
        std::fs::write(path, &text).unwrap();
    }
    let lines = text.lines().count();
    let leaks: Vec<&str> = secrets
        .iter()
        .filter(|(_, s)| text.contains(s.as_str()))
        .map(|(l, _)| l.as_str())
        .collect();
    record(
        "secrets_in_logs",
        "sign-in, 3 rotations, restart, refused callback and ID token, logout at TRACE",
        "clean",
        if leaks.is_empty() { "clean" } else { "leak" },
        json!({"log_lines": lines, "secrets_searched": secrets.len(), "leaked": leaks}),
    );
    // The capture really saw the broker, the provider and the HTTP stack at TRACE.
    assert!(text.contains("portico_broker"), "broker lines captured");
    assert!(text.contains("portico_dev_idp"), "provider lines captured");
    assert!(text.contains("TRACE"), "TRACE level captured");
    assert!(leaks.is_empty(), "secrets in the log: {leaks:?}");
}
