//! # portico-types
//!
//! What every Portico crate shares, defined once: secrets that never print their value
//! ([`secret`]), the loopback rule for plain-http URLs ([`net`]) and the poison-tolerant lock
//! ([`sync`]). Configuration and protocol types are to join them here, so modules are named by
//! subject, not by the crate that first needed them.

pub mod net;
pub mod secret;
pub mod sync;

pub use secret::Secret;
