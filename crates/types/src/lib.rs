//! # portico-types
//!
//! What every Portico crate shares, defined once: secrets that never print their value
//! ([`secret`]), the loopback rule for plain-http URLs ([`net`]), the poison-tolerant lock
//! ([`sync`]), and the configuration and protocol types with one validator per setting:
//! [`audience`], [`scope`], [`dialect`] (and revocation), [`provider`] (issuer, client id,
//! redirect, extra authorize parameters), all failing with one error, [`invalid::Invalid`]; and
//! the token bucket behind Portico's local rate limits ([`rate`]).
//! Modules are named by subject, not by the crate that first needed them.

pub mod audience;
pub mod dialect;
pub mod invalid;
pub mod net;
pub mod provider;
pub mod rate;
pub mod scope;
pub mod secret;
pub mod sync;
pub mod ts;

pub use audience::{Audience, MAX_AUDIENCE_LEN};
pub use dialect::{Dialect, Mode, Revocation};
pub use invalid::{Invalid, Kind};
pub use provider::RedirectUri;
pub use scope::{ScopeSet, MAX_SCOPE_TOKEN_LEN};
pub use secret::Secret;
