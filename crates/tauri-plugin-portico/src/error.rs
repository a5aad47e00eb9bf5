//! Why the plugin could not start (shown to the person who started the host). Command errors
//! are the broker's typed [`portico_broker::AuthError`], which crosses IPC as a tagged object.

/// Why the plugin could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] portico_shell_core::ConfigError),
    #[error("cannot read PORTICO_CONFIG file {path}: {reason}")]
    ConfigFile { path: String, reason: String },
    #[error("the embedded development provider did not start: {0}")]
    Embedded(String),
    /// No provider configured, and this build (the release package) has no development
    /// provider to fall back to.
    #[error("no identity provider is configured, and this build has no embedded development provider. Configure one: `plugins.portico.provider` in tauri.conf.json (or in the file PORTICO_CONFIG names), or the environment variables PORTICO_ISSUER and PORTICO_CLIENT_ID (see docs/configuration.md)")]
    NoProvider,
    #[error("cannot serve bundled micro frontend `{id}`: {reason}")]
    Host { id: String, reason: String },
    /// The broker refused to start (its text is a sentence).
    #[error(transparent)]
    Broker(portico_broker::AuthError),
    #[error(transparent)]
    Tauri(#[from] tauri::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
