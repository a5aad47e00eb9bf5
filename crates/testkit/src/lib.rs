//! # portico-testkit
//!
//! Test support shared by Portico's crates. Each module has one owner of one thing:
//!
//! - [`figures`]: figure recording for the generated reports and the reliability report itself;
//!   [`machine`]: the machine and commit a report names.
//! - With the `fixtures` feature (default): [`browser`], the scripted person on the development
//!   provider's sign-in page; [`glewlwyd`], a real Glewlwyd OpenID Provider on loopback, so
//!   every flow is proven against a provider we did not write; [`provider`], `ProviderConfig`
//!   builders for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), portico_testkit::glewlwyd::GlewlwydError> {
//! use portico_testkit::glewlwyd::{Glewlwyd, GlewlwydOptions};
//! let op = Glewlwyd::start(GlewlwydOptions::default()).await?;
//! println!("issuer {}, client {}", op.issuer(), op.client_id());
//! // let callback = op.sign_in(&authorize_url, "alice").await?;
//! # Ok(()) }
//! ```

pub mod figures;
pub mod machine;

#[cfg(feature = "fixtures")]
pub mod browser;
#[cfg(feature = "fixtures")]
pub mod glewlwyd;
#[cfg(feature = "fixtures")]
pub mod provider;
