//! End-to-end tests of Portico as a tester writes them: the real app binary, started through
//! `tauri-driver` (WebKitWebDriver) in a private desktop session (own D-Bus bus, unlocked
//! gnome-keyring, Xvfb when there is no display), signing in against a real identity provider
//! over loopback HTTP with a scripted system browser. The scenarios are in `tests/tests/*.rs`
//! (package `portico-e2e`); the benchmarks ([`crate::bench`]) drive the same app the same way.
//!
//! ```no_run
//! use portico_testkit::e2e::prelude::*;
//!
//! # async fn demo() {
//! Scenario::builder("my_scenario")
//!     .start()
//!     .await
//!     .expect("scenario setup")
//!     .run(async |s: &mut Scenario| {
//!         let app = s.launch().await?;
//!         app.chrome().click("sign-in").await?;
//!         app.mfe("billing").wait_for("api-data", wait::UI).await?;
//!         assert_eq!(s.counters().authorize, 1);
//!         Ok(())
//!     })
//!     .await;
//! # }
//! ```
//!
//! See `tests/README.md` for running one scenario and writing a new one.

pub mod app;
pub mod checks;
pub mod error;
pub mod keyring_probe;
pub mod scenario;
pub mod system_browser;
pub mod wait;

/// What a scenario file needs.
pub mod prelude {
    pub use super::app::{App, FetchAnswer, Shown, TokenAnswer, View};
    pub use super::checks::{
        each_mfe_refused_login_required, each_mfe_served_by_its_own_api, each_mfe_signed_out,
        now_ms, sign_out_from_the_chrome,
    };
    pub use super::error::{E2eError, Result};
    pub use super::scenario::{BrowserMode, Dialect, Host, KeyringEntry, Provider, Scenario};
    pub use super::wait::{self, Check};
    pub use portico_dev_idp::{Endpoint, Fault, FaultKind, ANALYTICS_API, BILLING_API, CORE_API};
    pub use std::time::Duration;
}
