//! # portico-dev-idp
//!
//! A small, honest OpenID Provider for development and tests, speaking both the Auth0 dialect
//! (`audience=`, Multi-Resource Refresh Tokens, `/v2/logout`) and the standards
//! (RFC 6749, 7636 PKCE S256, 8252 loopback redirects, 8707 `resource=`, 7009 revocation,
//! 9207 `iss`, OIDC Core / Discovery / RP-initiated logout). It runs on 127.0.0.1 over real HTTP,
//! in-process ([`DevIdp::start`]) or as the `portico-dev-idp` binary, and has switches for the
//! failures a client must survive ([`Admin`]): latency, 5xx, 429, garbage bodies, dropped
//! connections, refresh-token reuse detection, revoked grants, key rotation, tampered ID tokens.
//!
//! [`DemoApis`] are three resource servers that validate bearer tokens the way a backend must.
//! [`browser`] is a scripted person who signs in on the HTML page.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use portico_dev_idp::{DevIdp, IdpConfig, DemoApis};
//! let idp = DevIdp::start(IdpConfig::portico_demo()).await?;
//! let apis = DemoApis::start(idp.issuer(), &IdpConfig::portico_demo().apis).await?;
//! println!("issuer {} billing {:?}", idp.issuer(), apis.url_for("https://api.portico.dev/billing"));
//! # Ok(()) }
//! ```

mod admin;
mod apis;
pub mod browser;
mod config;
mod counters;
mod error;
mod faults;
mod secret;

pub use admin::Admin;
pub use apis::DemoApis;
pub use config::{
    ApiConfig, ClientConfig, DemoUser, IdpConfig, MrrtPolicy, RefreshRotation, ANALYTICS_API,
    BILLING_API, CLAIM_NAMESPACE, CORE_API, DEMO_CLIENT_ID,
};
pub use counters::Counters;
pub use error::IdpError;
pub use faults::{Endpoint, Fault, FaultKind, IdTokenTamper};

/// A running provider. Dropping it (or [`DevIdp::shutdown`]) stops the server.
pub struct DevIdp {
    issuer: url::Url,
    admin: Admin,
}

impl DevIdp {
    /// Generate a signing key, bind `config.bind` and serve in the background on the current
    /// tokio runtime.
    pub async fn start(config: IdpConfig) -> Result<DevIdp, IdpError> {
        let _ = config;
        todo!("skeleton")
    }

    /// The issuer, `http://127.0.0.1:PORT/` (with trailing slash, like Auth0).
    pub fn issuer(&self) -> &url::Url {
        &self.issuer
    }

    /// A cheap, cloneable handle to the runtime switches and counters.
    pub fn admin(&self) -> Admin {
        self.admin.clone()
    }

    /// Stop accepting, close open connections and wait for the server task to end.
    pub async fn shutdown(self) {
        todo!("skeleton")
    }
}

/// Lock a mutex, recovering from poisoning: the guarded data stays consistent because no
/// critical section in this crate can panic half-way through an update.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
