//! A broker process that a test kills with SIGKILL at a chosen point of a refresh-token
//! rotation (issue 6, crash safety): `portico-crash-probe ISSUER SERVICE ACCOUNT STEP`.
//!
//! It runs the real broker on the real Secret Service of the D-Bus session in its environment,
//! against the development provider at ISSUER. STEP is one of:
//! - `sign-in`: sign in as alice (scripted browser) and store the session; prints `{"step":"signed_in"}`.
//! - `rotate-then-hang-before-store`: restore the session from the keyring (a refresh grant,
//!   so the provider rotates); when the rotated refresh token reaches the store, print
//!   `{"step":"rotation_received"}` and hang *before* writing it. The test kills us there.
//! - `rotate-then-hang-after-store`: the same, but write the rotated token first, then print
//!   `{"step":"rotation_stored"}` and hang.
//! - `restart`: a new process after the kill: silent sign-in from the keyring, then a token for
//!   the billing API; prints the outcome of each as one JSON line.
//!
//! Nothing secret is printed: outcomes are error kinds, never tokens.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use portico_broker::{
    Audience, Broker, BrokerOptions, Dialect, KeyringStore, ProviderConfig, ProviderConfigBuilder,
    ScopeSet, SessionStore, StoreError, StoredSession, SystemClock,
};
use portico_dev_idp::BILLING_API;
use portico_testkit::browser;
use portico_testkit::provider as fixture;
use serde_json::json;
use url::Url;

/// Where the probe hangs (and is killed) during the rotation's store write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HangPoint {
    BeforeWrite,
    AfterWrite,
}

/// The keyring store, with a point of no return on the first save.
struct KillPointStore {
    inner: KeyringStore,
    hang: HangPoint,
}

fn announce(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn hang_forever() -> ! {
    loop {
        std::thread::park();
    }
}

impl SessionStore for KillPointStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        self.inner.load()
    }
    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        match self.hang {
            HangPoint::BeforeWrite => {
                announce(json!({ "step": "rotation_received" }));
                hang_forever()
            }
            HangPoint::AfterWrite => {
                self.inner.save(session)?;
                announce(json!({ "step": "rotation_stored" }));
                hang_forever()
            }
        }
    }
    fn clear(&self) -> Result<(), StoreError> {
        self.inner.clear()
    }
}

/// The demo client on the development provider, as the broker's own tests configure it.
fn provider(issuer: &Url) -> Result<ProviderConfig, String> {
    fixture::dev_idp(issuer, Dialect::Auth0)
        .and_then(ProviderConfigBuilder::build)
        .map_err(|e| e.to_string())
}

fn kind<T>(r: &Result<T, portico_broker::AuthError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let [issuer, service, account, step] = args else {
        return Err("usage: portico-crash-probe ISSUER SERVICE ACCOUNT STEP".into());
    };
    let config = provider(&Url::parse(issuer).map_err(|e| format!("ISSUER: {e}"))?)?;
    let keyring = KeyringStore::new(service, account);
    let store: Arc<dyn SessionStore> = match step.as_str() {
        "rotate-then-hang-before-store" => Arc::new(KillPointStore {
            inner: keyring,
            hang: HangPoint::BeforeWrite,
        }),
        "rotate-then-hang-after-store" => Arc::new(KillPointStore {
            inner: keyring,
            hang: HangPoint::AfterWrite,
        }),
        _ => Arc::new(keyring),
    };
    let broker = Broker::new(
        config,
        BrokerOptions::default(),
        store.clone(),
        Arc::new(SystemClock),
    )
    .map_err(|e| e.to_string())?;
    let billing = Audience::parse(BILLING_API).map_err(|e| e.to_string())?;
    let read_invoices = ScopeSet::parse("read:invoices").map_err(|e| e.to_string())?;
    match step.as_str() {
        "sign-in" => {
            let request = broker.begin_login(None).await.map_err(|e| e.to_string())?;
            let callback = browser::sign_in(request.authorize_url.as_str(), "alice")
                .await
                .map_err(|e| e.to_string())?;
            broker
                .complete_login(&callback)
                .await
                .map_err(|e| e.to_string())?;
            announce(json!({ "step": "signed_in" }));
        }
        "rotate-then-hang-before-store" | "rotate-then-hang-after-store" => {
            // Restoring the session is a refresh grant: the provider rotates, the broker saves.
            let r = broker.silent_login().await;
            return Err(format!(
                "the rotation never reached the store (silent login: {})",
                kind(&r)
            ));
        }
        "restart" => {
            let silent = broker.silent_login().await;
            let token = broker.get_token(&billing, &read_invoices).await;
            let stored = store.load().map_err(|e| e.to_string())?.is_some();
            announce(json!({
                "step": "restarted",
                "silent_login": kind(&silent),
                "billing_token": kind(&token),
                "session_stored": stored,
            }));
        }
        other => return Err(format!("unknown STEP `{other}`")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portico-crash-probe: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portico-crash-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
