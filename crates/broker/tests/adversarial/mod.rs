//! Shared by the `adversarial_*` suites: machine-readable figures for `cargo xtask reliability`
//! (`portico_testkit::figures::record`, one JSON line per case when `PORTICO_FIGURES` is set).
#![allow(dead_code)] // each suite uses a part

pub use portico_testkit::figures::record;

/// `kind` of a result for the figures: the error kind, or `ok`.
pub fn kind_of<T>(r: &Result<T, portico_broker::AuthError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.kind().into(),
    }
}
