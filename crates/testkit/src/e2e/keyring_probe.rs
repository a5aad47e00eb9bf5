//! The `portico-keyring-probe` binary of `tests/` ([`main`]): reads the app's session entry from
//! the Secret Service of the D-Bus session in the environment: `portico-keyring-probe SERVICE
//! ACCOUNT`. [`super::scenario::Scenario::keyring_entry`] runs it and reads its answer. The tests run it inside their own
//! session (the test process itself is on another bus). Prints one JSON object with what is
//! stored, never the refresh token or ID token themselves.

use std::process::ExitCode;

use portico_broker::{KeyringStore, SessionStore};
use serde_json::json;

/// The binary's `main`.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [service, account] = args.as_slice() else {
        eprintln!("usage: portico-keyring-probe SERVICE ACCOUNT");
        return ExitCode::from(2);
    };
    let out = match KeyringStore::new(service, account).load() {
        Ok(None) => json!({ "present": false }),
        Ok(Some(s)) => json!({
            "present": true,
            "subject": s.subject,
            "issuer": s.issuer,
            "client_id": s.client_id,
            "has_refresh_token": !s.refresh_token.expose_secret().is_empty(),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    println!("{out}");
    ExitCode::SUCCESS
}
