//! # portico-testkit
//!
//! Test support shared by Portico's crates. Its first tenant is [`glewlwyd`]: a fixture that
//! runs the Debian-packaged [Glewlwyd](https://github.com/babelouest/glewlwyd) OpenID Provider
//! on loopback, configured entirely by this code through Glewlwyd's admin REST API, so that
//! every flow Portico speaks is proven against a provider we did not write.
//!
//! ```no_run
//! # async fn demo() -> Result<(), portico_testkit::glewlwyd::GlewlwydError> {
//! use portico_testkit::glewlwyd::{Glewlwyd, GlewlwydOptions};
//! let op = Glewlwyd::start(GlewlwydOptions::default()).await?;
//! println!("issuer {}, client {}", op.issuer(), op.client_id());
//! // let callback = op.sign_in(&authorize_url, "alice").await?;
//! # Ok(()) }
//! ```

pub mod glewlwyd;
