//! Provider dialects: how an audience is asked for and how logout works. The types and their
//! protocol rules are `portico_types::dialect`'s; re-exported here so `portico_broker::dialect`
//! keeps naming them.

pub use portico_types::dialect::{Dialect, Revocation};
