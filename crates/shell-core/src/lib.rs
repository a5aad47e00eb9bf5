//! # portico-shell-core
//!
//! The Portico shell's logic that needs no webview: the micro frontend registry and its
//! validation ([`config`]), who may ask for which audience ([`access`]), the one-shot loopback
//! redirect listener ([`loopback`]), the loopback origins that serve bundled MFEs
//! ([`mfe_host`]) and the embedded development provider ([`embedded`], with the feature
//! `embedded-provider` only). The Tauri crate (`src-tauri`) wires these to webviews and keeps
//! itself thin.

pub mod access;
pub mod config;
pub mod embedded;
pub mod handoff;
pub mod loopback;
pub mod mfe_host;
mod peer;
mod served;

pub use access::{AccessDenied, AccessPolicy};
pub use config::{ConfigError, MfeApi, MfeEntry, MfeSource, Origin, ShellConfig, TokenExposure};
