//! The one error type of the broker, classified by consequence, serializable as tagged JSON.

mod defect;
pub(crate) mod text;
mod wire;

pub use defect::{CallbackDefect, FetchDefect, IdTokenDefect};
pub(crate) use wire::AuthErrorWire;

use portico_types::invalid::{Invalid, Kind};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Every failure the broker reports. Serialized (for IPC) as
/// `{"kind": "...", "message": "...", "retryable": bool, ...fields}`; the message is always ours.
///
/// The tag and fields are derived (`remote = "Self"` makes the derives inherent functions that
/// the `Serialize`/`Deserialize` impls in `wire` wrap), so the wire form cannot drift from the
/// enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, TS)]
#[serde(
    remote = "Self",
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
#[ts(
    rename = "AuthErrorVariant",
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum AuthError {
    /// No usable session: the user has to sign in interactively.
    #[error("Sign-in required: {reason}.")]
    LoginRequired { reason: String },
    /// The audience is not registered in the provider configuration.
    #[error("This micro frontend is not registered for the audience {audience}.")]
    ForbiddenAudience { audience: String },
    /// The provider did not issue a token for this audience (e.g. Auth0 MRRT default-audience
    /// fallback, or RFC 8707 `invalid_target`). `description` is the provider's own reason.
    #[error("{}", text::audience_not_granted(audience, granted, description.as_deref()))]
    AudienceNotGranted {
        audience: String,
        granted: Vec<String>,
        #[serde(default)]
        description: Option<String>,
    },
    /// The provider issued the audience but without some requested scopes.
    #[error("The provider did not grant the scope {} for the audience {audience}.", missing.join(", "))]
    ScopeNotGranted {
        audience: String,
        missing: Vec<String>,
    },
    /// Not a valid audience identifier.
    #[error("The audience is not valid: {reason}.")]
    InvalidAudience { reason: String },
    /// Not a valid scope list.
    #[error("The scope is not valid: {reason}.")]
    InvalidScope { reason: String },
    /// The calling webview may not use this command at all (not a registered micro frontend,
    /// or not the shell's own chrome). Decided from the webview, never from the message.
    #[error("Not permitted: {reason}.")]
    NotPermitted { reason: String },
    /// The provider could not be reached (after retries).
    #[error(
        "Could not reach the provider's {} ({detail}).",
        text::endpoint(endpoint)
    )]
    Network { endpoint: String, detail: String },
    /// The provider did not answer in time (after retries).
    #[error("The provider's {} did not answer in time.", text::endpoint(endpoint))]
    Timeout { endpoint: String },
    /// Too many requests: the provider's 429 that outlasted our retries or asked for a longer
    /// wait than we accept (`caller` None), or Portico holding back one caller that asked for new
    /// tokens too often (`caller` names it). `until` is when to try again (Unix ms), when known.
    #[error("{}", text::rate_limited(*retry_after_secs, caller.as_deref()))]
    RateLimited {
        #[ts(type = "number | null")]
        retry_after_secs: Option<u64>,
        #[serde(default)]
        caller: Option<String>,
        #[serde(default)]
        #[ts(type = "number | null")]
        until: Option<u64>,
    },
    /// The provider granted more of this audience's scopes than the caller is registered for
    /// (it did not narrow the token to what was asked): the token is not handed to the caller.
    #[error(
        "The provider granted more than this micro frontend is registered for at {audience} ({}).",
        extra.join(", ")
    )]
    ScopeTooBroad {
        audience: String,
        extra: Vec<String>,
    },
    /// The provider answered with an error (OAuth error code and description when it sent them)
    /// or an unusable response.
    #[error("{}", text::provider_error(endpoint, *status, error.as_deref(), description.as_deref()))]
    ProviderError {
        endpoint: String,
        status: Option<u16>,
        error: Option<String>,
        #[serde(default)]
        description: Option<String>,
    },
    /// The callback URL is not a valid response to our login.
    #[error("The sign-in response was refused: {}.", reason.describe())]
    InvalidCallback { reason: CallbackDefect },
    /// The callback's `state` is not the one of the pending login (forgery or a stale tab).
    #[error(
        "The sign-in response does not belong to the sign-in in progress (its state differs)."
    )]
    StateMismatch,
    /// The callback's `iss` (RFC 9207) or the discovery `issuer` is not the configured issuer.
    #[error("The sign-in response names a different issuer than the configured provider.")]
    IssuerMismatch,
    /// A callback arrived while no login was pending (or after it completed).
    #[error("No sign-in is in progress.")]
    NoPendingLogin,
    /// The pending login expired before its callback arrived.
    #[error("The sign-in took too long and expired; please sign in again.")]
    LoginExpired,
    /// The pending login was cancelled (or superseded by a new one).
    #[error("The sign-in was cancelled.")]
    LoginCancelled,
    /// The provider redirected back with `error=` (user denied, consent required, ...).
    #[error("{}", text::access_denied(error, description.as_deref()))]
    AccessDenied {
        error: String,
        description: Option<String>,
    },
    /// The ID token failed validation.
    #[error("The provider's ID token was refused: {}.", reason.describe())]
    IdTokenInvalid { reason: IdTokenDefect },
    /// The discovery document or JWKS is unusable.
    #[error("The provider's metadata is unusable: {reason}.")]
    DiscoveryInvalid { reason: String },
    /// The session store (OS keyring) is locked, missing or failing. Never silently replaced by plaintext.
    #[error("The system keyring is unavailable: {reason}.")]
    StorageUnavailable { reason: String },
    /// The broker configuration is invalid.
    #[error("The configuration is invalid: {reason}.")]
    ConfigInvalid { reason: String },
    /// A native fetch was not sent (or its answer not delivered): `detail` says why in words.
    #[error("Portico did not complete this request: {detail}.")]
    FetchRefused { reason: FetchDefect, detail: String },
    /// The API of a native fetch could not be reached or did not answer in time.
    #[error("Could not reach the API at {origin} ({detail}).")]
    ApiUnreachable { origin: String, detail: String },
    /// The page aborted its native fetch.
    #[error("The request was aborted.")]
    FetchAborted,
    /// The API needs a scope the token does not carry (`insufficient_scope`, RFC 6750 §3.1).
    #[error("{}", text::insufficient_scope(audience, scope.as_deref()))]
    InsufficientScope {
        audience: String,
        scope: Option<String>,
    },
    /// A step-up requirement that cannot be asked for (`acr_values`, `max_age`, `claims`).
    #[error("The additional sign-in cannot be asked for: {reason}.")]
    InvalidStepUp { reason: String },
    /// The provider needs the person for this (`interaction_required`, `consent_required`,
    /// OIDC Core §3.1.2.6): Portico cannot finish it alone.
    #[error("{}", text::interaction_required(error, description.as_deref()))]
    InteractionRequired {
        error: String,
        #[serde(default)]
        description: Option<String>,
    },
    /// The person cancelled the additional sign-in (in the host's UI or at the provider).
    #[error("The additional sign-in was cancelled; nothing changed.")]
    StepUpCancelled,
    /// The provider's answer to the additional sign-in does not meet the requirement.
    #[error("The additional sign-in does not meet what was asked for: {reason}.")]
    StepUpNotMet { reason: String },
    /// The additional sign-in was made as another person: refused, the session is unchanged.
    #[error("The additional sign-in was made as another user; you are still signed in as before.")]
    StepUpWrongUser,
    /// This micro frontend only fetches through Portico: no token is handed to its page.
    #[error("This micro frontend is not given tokens; it calls its APIs through Portico's fetch.")]
    TokenNotExposed,
    /// A bug or an impossible state.
    #[error("Internal error: {reason}.")]
    Internal { reason: String },
}

/// A value refused by its rule in `portico-types`: an audience or a scope is the caller's
/// mistake (`invalid_audience`, `invalid_scope`), anything else the configuration's.
impl From<Invalid> for AuthError {
    fn from(e: Invalid) -> AuthError {
        match e.kind() {
            // The message already says "The audience is not valid"; the detail adds the value.
            Kind::Audience => AuthError::InvalidAudience { reason: e.detail() },
            Kind::Scope => AuthError::InvalidScope { reason: e.detail() },
            _ => AuthError::ConfigInvalid {
                reason: e.to_string(),
            },
        }
    }
}

impl AuthError {
    /// Whether trying the same call again later can succeed without user interaction.
    pub fn retryable(&self) -> bool {
        match self {
            AuthError::Network { .. }
            | AuthError::ApiUnreachable { .. }
            | AuthError::Timeout { .. }
            | AuthError::RateLimited { .. }
            | AuthError::StorageUnavailable { .. } => true,
            AuthError::ProviderError { status, .. } => matches!(status, Some(s) if *s >= 500),
            _ => false,
        }
    }

    /// The `kind` tag, e.g. `"login_required"`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::LoginRequired { .. } => "login_required",
            AuthError::ForbiddenAudience { .. } => "forbidden_audience",
            AuthError::AudienceNotGranted { .. } => "audience_not_granted",
            AuthError::ScopeNotGranted { .. } => "scope_not_granted",
            AuthError::InvalidAudience { .. } => "invalid_audience",
            AuthError::InvalidScope { .. } => "invalid_scope",
            AuthError::NotPermitted { .. } => "not_permitted",
            AuthError::Network { .. } => "network",
            AuthError::Timeout { .. } => "timeout",
            AuthError::RateLimited { .. } => "rate_limited",
            AuthError::ScopeTooBroad { .. } => "scope_too_broad",
            AuthError::ProviderError { .. } => "provider_error",
            AuthError::InvalidCallback { .. } => "invalid_callback",
            AuthError::StateMismatch => "state_mismatch",
            AuthError::IssuerMismatch => "issuer_mismatch",
            AuthError::NoPendingLogin => "no_pending_login",
            AuthError::LoginExpired => "login_expired",
            AuthError::LoginCancelled => "login_cancelled",
            AuthError::AccessDenied { .. } => "access_denied",
            AuthError::IdTokenInvalid { .. } => "id_token_invalid",
            AuthError::DiscoveryInvalid { .. } => "discovery_invalid",
            AuthError::StorageUnavailable { .. } => "storage_unavailable",
            AuthError::ConfigInvalid { .. } => "config_invalid",
            AuthError::FetchRefused { .. } => "fetch_refused",
            AuthError::ApiUnreachable { .. } => "api_unreachable",
            AuthError::FetchAborted => "fetch_aborted",
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::TokenNotExposed => "token_not_exposed",
            AuthError::InvalidStepUp { .. } => "invalid_step_up",
            AuthError::InteractionRequired { .. } => "interaction_required",
            AuthError::StepUpCancelled => "step_up_cancelled",
            AuthError::StepUpNotMet { .. } => "step_up_not_met",
            AuthError::StepUpWrongUser => "step_up_wrong_user",
            AuthError::Internal { .. } => "internal",
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        AuthError::ConfigInvalid {
            reason: reason.into(),
        }
    }

    pub(crate) fn discovery(reason: impl Into<String>) -> Self {
        AuthError::DiscoveryInvalid {
            reason: reason.into(),
        }
    }

    pub(crate) fn id_token(reason: IdTokenDefect) -> Self {
        AuthError::IdTokenInvalid { reason }
    }

    /// The provider's own rate limit (HTTP 429), `retry_after_secs` from its `Retry-After`.
    pub fn provider_rate_limited(retry_after_secs: Option<u64>) -> Self {
        AuthError::RateLimited {
            retry_after_secs,
            caller: None,
            until: None,
        }
    }

    pub(crate) fn login_required(reason: impl Into<String>) -> Self {
        AuthError::LoginRequired {
            reason: reason.into(),
        }
    }
}

/// Errors of a [`crate::SessionStore`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backing store is locked, missing or failing.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// The stored entry exists but cannot be decoded.
    #[error("stored session is corrupt: {0}")]
    Corrupt(String),
    /// The session does not fit the platform's secret size limit.
    #[error("session too large for the store ({0} bytes)")]
    TooLarge(usize),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        let reason = match e {
            StoreError::Unavailable(why) => why,
            StoreError::Corrupt(why) => format!("the stored session cannot be read ({why})"),
            StoreError::TooLarge(n) => format!("the session ({n} bytes) is too large to store"),
        };
        AuthError::StorageUnavailable { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_classification() {
        assert!(AuthError::Timeout {
            endpoint: "token".into()
        }
        .retryable());
        assert!(AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(502),
            error: None,
            description: None,
        }
        .retryable());
        assert!(!AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(400),
            error: Some("invalid_request".into()),
            description: None,
        }
        .retryable());
        assert!(!AuthError::login_required("x").retryable());
        assert!(!AuthError::StateMismatch.retryable());
    }

    /// One of every variant, with representative fields.
    fn one_of_each() -> Vec<AuthError> {
        vec![
            AuthError::login_required("the provider no longer accepts the session"),
            AuthError::ForbiddenAudience {
                audience: "https://api.portico.dev/analytics".into(),
            },
            AuthError::AudienceNotGranted {
                audience: "https://api.portico.dev/billing".into(),
                granted: vec!["https://api.portico.dev/core".into()],
                description: None,
            },
            AuthError::ScopeNotGranted {
                audience: "https://api.portico.dev/billing".into(),
                missing: vec!["write:invoices".into()],
            },
            AuthError::InvalidAudience {
                reason: "not an absolute URI".into(),
            },
            AuthError::InvalidScope {
                reason: "scope token with characters outside RFC 6749 §3.3".into(),
            },
            AuthError::NotPermitted {
                reason: "this webview is not a registered micro frontend".into(),
            },
            AuthError::Network {
                endpoint: "token".into(),
                detail: "could not connect".into(),
            },
            AuthError::Timeout {
                endpoint: "discovery".into(),
            },
            AuthError::RateLimited {
                retry_after_secs: Some(30),
                caller: None,
                until: None,
            },
            AuthError::ScopeTooBroad {
                audience: "https://api.portico.dev/billing".into(),
                extra: vec!["write:invoices".into()],
            },
            AuthError::ProviderError {
                endpoint: "token".into(),
                status: Some(400),
                error: Some("invalid_target".into()),
                description: None,
            },
            AuthError::InvalidCallback {
                reason: CallbackDefect::MissingIssuer,
            },
            AuthError::StateMismatch,
            AuthError::IssuerMismatch,
            AuthError::NoPendingLogin,
            AuthError::LoginExpired,
            AuthError::LoginCancelled,
            AuthError::AccessDenied {
                error: "access_denied".into(),
                description: None,
            },
            AuthError::IdTokenInvalid {
                reason: IdTokenDefect::SignatureInvalid,
            },
            AuthError::DiscoveryInvalid {
                reason: "the issuer differs from the configured one".into(),
            },
            AuthError::StorageUnavailable {
                reason: "the OS keyring is locked".into(),
            },
            AuthError::ConfigInvalid {
                reason: "client_id must be 1-256 visible characters".into(),
            },
            AuthError::FetchRefused {
                reason: FetchDefect::NotAnApi,
                detail: "`https://evil.test/` is not under any API this micro frontend is registered for".into(),
            },
            AuthError::ApiUnreachable {
                origin: "https://billing.example.com".into(),
                detail: "could not connect".into(),
            },
            AuthError::FetchAborted,
            AuthError::InsufficientScope {
                audience: "https://api.portico.dev/billing".into(),
                scope: Some("write:invoices".into()),
            },
            AuthError::InvalidStepUp {
                reason: "the claims request is not a JSON object".into(),
            },
            AuthError::InteractionRequired {
                error: "consent_required".into(),
                description: Some("the user must consent to the Billing API".into()),
            },
            AuthError::StepUpCancelled,
            AuthError::StepUpNotMet {
                reason: "the provider signed you in with `pwd` where `mfa` was asked for".into(),
            },
            AuthError::StepUpWrongUser,
            AuthError::TokenNotExposed,
            AuthError::Internal {
                reason: "the store task panicked".into(),
            },
        ]
    }

    #[test]
    fn every_message_is_a_sentence_without_debug_output() {
        for e in one_of_each() {
            let m = e.to_string();
            let first = m.chars().next().unwrap();
            assert!(first.is_uppercase(), "{m}");
            assert!(m.ends_with('.'), "{m}");
            for debug in [
                "Some(",
                "None",
                "\"",
                "{",
                "}",
                "[",
                "]",
                "_mismatch",
                "Invalid",
            ] {
                assert!(!m.contains(debug), "{debug:?} in {m}");
            }
            // No enum or kind names: CamelCase words or the snake_case kind itself.
            assert!(!m.contains(e.kind()) || e.kind() == "access_denied", "{m}");
            assert!(
                // An upper-case letter after a lower-case one (`IdToken`; not `APIs`).
                !m.split(|c: char| !c.is_alphanumeric()).any(|w| w
                    .chars()
                    .zip(w.chars().skip(1))
                    .any(|(a, b)| a.is_lowercase() && b.is_uppercase())),
                "CamelCase in {m}"
            );
        }
        for d in [
            IdTokenDefect::Malformed,
            IdTokenDefect::Unsigned,
            IdTokenDefect::AlgorithmNotAllowed,
            IdTokenDefect::MissingKeyId,
            IdTokenDefect::UnknownKeyId,
            IdTokenDefect::SignatureInvalid,
            IdTokenDefect::IssuerMismatch,
            IdTokenDefect::AudienceMismatch,
            IdTokenDefect::AuthorizedPartyMismatch,
            IdTokenDefect::MissingSubject,
            IdTokenDefect::SubjectChanged,
            IdTokenDefect::MissingIssuedAt,
            IdTokenDefect::IssuedInFuture,
            IdTokenDefect::MissingExpiry,
            IdTokenDefect::Expired,
            IdTokenDefect::NonceMismatch,
        ] {
            let m = AuthError::IdTokenInvalid { reason: d }.to_string();
            assert!(
                m.starts_with("The provider's ID token was refused: it"),
                "{m}"
            );
        }
    }
}
