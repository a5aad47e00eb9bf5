//! # portico-testkit
//!
//! Portico's one test-support crate. Each module has one owner of one thing:
//!
//! - [`desktop`]: the headless desktop session (Xvfb, a private D-Bus bus, an unlocked
//!   gnome-keyring) that `cargo xtask session`/`test`, the benchmarks and every end-to-end
//!   scenario run in; [`process`]: the process groups it and the harness start.
//! - [`figures`]: figure recording for the generated reports and the reliability report itself;
//!   [`machine`]: the machine and commit a report names.
//! - With the `fixtures` feature (default): [`browser`], the scripted person on the development
//!   provider's sign-in page; [`glewlwyd`], a real Glewlwyd OpenID Provider on loopback, so
//!   every flow is proven against a provider we did not write; [`provider`], the broker's
//!   `ProviderConfig` builder preset to our providers' registrations.
//! - With the `e2e` feature: [`e2e`], the real app through tauri-driver (fantoccini) and the
//!   scripted system browser; [`bench`], the benchmark scenarios (binary `portico-bench`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), portico_testkit::glewlwyd::GlewlwydError> {
//! use portico_testkit::glewlwyd::{Glewlwyd, GlewlwydOptions};
//! let op = Glewlwyd::start(GlewlwydOptions::default()).await?;
//! println!("issuer {}, client {}", op.issuer(), op.client_id());
//! // let callback = op.sign_in(&authorize_url, "alice").await?;
//! # Ok(()) }
//! ```

pub mod desktop;
pub mod figures;
pub mod machine;
pub mod process;

#[cfg(feature = "fixtures")]
pub mod browser;
#[cfg(feature = "fixtures")]
pub mod glewlwyd;
#[cfg(feature = "fixtures")]
pub mod provider;

#[cfg(feature = "e2e")]
pub mod bench;
#[cfg(feature = "e2e")]
pub mod e2e;
