//! # portico-broker
//!
//! The Portico token broker: one OpenID Connect login (authorization code + PKCE through the system
//! browser), then access tokens for many API audiences — Auth0 Multi-Resource Refresh Tokens or
//! RFC 8707 resource indicators — cached per audience, fetched single-flight, refreshed proactively,
//! and safe with refresh-token rotation (all grants of one lineage are serialized, and a rotated
//! refresh token is persisted before the new access token is returned).
//!
//! No Tauri types: the shell wraps [`Broker`] in a few command handlers.
//!
//! ```no_run
//! use portico_broker::*;
//! use std::sync::Arc;
//! # async fn demo() -> Result<(), AuthError> {
//! let core = Audience::parse("https://api.portico.dev/core")?;
//! let config = ProviderConfig::builder("http://127.0.0.1:8400/".parse().unwrap(), "portico-desktop")
//!     .redirect(RedirectUri::parse("loopback:/callback")?)
//!     .dialect(Dialect::Rfc8707)
//!     .audiences([core.clone()])
//!     .scopes(ScopeSet::parse("profile email")?)
//!     .revocation(Revocation::Rfc7009)
//!     .build()?;
//! let broker = Broker::new(config, BrokerOptions::default(), Arc::new(MemoryStore::new()), Arc::new(SystemClock))?;
//! let login = broker.begin_login(Some("http://127.0.0.1:53123/callback".parse().unwrap())).await?;
//! // ... the browser comes back to http://127.0.0.1:53123/callback?code=...&state=...&iss=...
//! # let callback = String::new();
//! let who = broker.complete_login(&callback).await?;
//! let grant = broker.get_token(&core, &ScopeSet::parse("read:dashboard")?).await?;
//! # let _ = (login, who, grant);
//! # Ok(()) }
//! ```
//!
//! Errors are one enum, [`AuthError`], serialized as `{"kind", "message", "retryable", ...}`.
//! TypeScript declarations of the IPC types: [`typescript_declarations`].

mod broker;
mod cache;
mod clock;
mod config;
pub mod dialect;
mod discovery;
pub mod dpop;
mod error;
pub mod fetch;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod id_token;
mod ipc;
mod jwks;
mod keyring_store;
mod pkce;
mod request;
mod secret;
mod step_up;
mod store;
mod transaction;

pub use broker::{Broker, Interaction, LoginRequest, StepUpPrompt, StepUpView};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    Audience, BrokerOptions, ProviderConfig, ProviderConfigBuilder, RedirectUri, ScopeSet,
    TokenRate, MAX_AUDIENCE_LEN,
};
pub use dialect::{Dialect, Revocation};
pub use error::{AuthError, CallbackDefect, FetchDefect, IdTokenDefect, StoreError};
pub use ipc::{
    typescript_declarations, AudienceStatus, BrokerEvent, SessionInfo, TokenGrant, TS_OUTPUT,
};
pub use keyring_store::KeyringStore;
/// Unguessable values (`state`, `nonce`, one-use URL paths): OS random bytes, base64url.
pub use pkce::random_urlsafe;
pub use portico_types::Mode;
/// The rule every configuration value is checked by, and its error (`portico_types`).
pub use portico_types::{invalid::Invalid, scope::MAX_SCOPE_TOKEN_LEN};
pub use request::{ScopeCeiling, TokenRequest};
pub use secret::{AccessToken, AuthCode, DpopPrivateKey, IdToken, PkceVerifier, RefreshToken};
pub use step_up::AuthRequirement;
pub use store::{MemoryStore, PendingLogin, SessionStore, StoredSession, MAX_SESSION_BYTES};
