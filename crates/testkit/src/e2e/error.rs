//! What can go wrong in the harness itself (as opposed to an assertion failing in a scenario).

use std::time::Duration;

/// A harness or WebDriver failure, with what the harness was doing at the time.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    /// A helper process could not be started, read or waited for (desktop session, tauri-driver).
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A condition did not hold within its time limit.
    #[error("timed out after {waited:?} waiting for {what} (last seen: {last})")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
    /// tauri-driver refused to create a session (the app did not start).
    #[error("WebDriver session for the app could not be created: {0}")]
    NewSession(#[from] fantoccini::error::NewSessionError),
    /// A WebDriver command failed.
    #[error("WebDriver command failed while {what}: {source}")]
    WebDriver {
        what: String,
        #[source]
        source: fantoccini::error::CmdError,
    },
    /// The page answered a script with something unexpected.
    #[error("unexpected answer from the page while {what}: {detail}")]
    Page { what: String, detail: String },
    /// The development provider or its demo APIs failed.
    #[error("dev identity provider: {0}")]
    Provider(#[from] portico_dev_idp::IdpError),
    /// The scripted sign-in (in-process browser) failed.
    #[error("scripted sign-in: {0}")]
    Browser(#[from] crate::browser::BrowserError),
    /// The harness is misconfigured (missing binary, bad repository file).
    #[error("harness setup: {0}")]
    Setup(String),
}

impl E2eError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> E2eError {
        let what = what.into();
        move |source| E2eError::Io { what, source }
    }

    pub(crate) fn spawn(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> E2eError {
        let what = what.into();
        move |source| E2eError::Process(crate::process::ProcessError::Spawn { what, source })
    }

    pub(crate) fn webdriver(
        what: impl Into<String>,
    ) -> impl FnOnce(fantoccini::error::CmdError) -> E2eError {
        let what = what.into();
        move |source| E2eError::WebDriver { what, source }
    }
}

/// Result of harness operations.
pub type Result<T, E = E2eError> = std::result::Result<T, E>;
