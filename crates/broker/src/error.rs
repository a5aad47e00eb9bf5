//! The one error type of the broker, classified by consequence, serializable as tagged JSON.

use serde::{Deserialize, Serialize, Serializer};
use ts_rs::TS;

/// Why an ID token was rejected. Each defect has its own reason so callers and tests can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename_all = "snake_case")]
pub enum IdTokenDefect {
    /// Not a three-part compact JWS, or header/payload not valid base64url JSON.
    Malformed,
    /// `alg: none`: an unsigned token.
    Unsigned,
    /// A signature algorithm outside the configured allow-list (e.g. HS256 keyed with the public key).
    AlgorithmNotAllowed,
    /// No usable `kid`: empty or not a string, or absent while the JWKS holds several signing keys.
    MissingKeyId,
    /// `kid` not in the provider's JWKS, even after a (rate-limited) refetch.
    UnknownKeyId,
    /// Signature does not verify with the key the `kid` names.
    SignatureInvalid,
    /// `iss` differs from the discovered issuer.
    IssuerMismatch,
    /// `aud` does not contain the client id.
    AudienceMismatch,
    /// `azp` present (or required because of several audiences) and not the client id.
    AuthorizedPartyMismatch,
    /// No `sub`.
    MissingSubject,
    /// `sub` differs from the session's subject (refreshed ID token).
    SubjectChanged,
    /// No `iat`.
    MissingIssuedAt,
    /// `iat` lies in the future beyond the leeway.
    IssuedInFuture,
    /// No `exp`.
    MissingExpiry,
    /// `exp` passed (beyond the leeway).
    Expired,
    /// `nonce` missing or not the one sent at /authorize.
    NonceMismatch,
}

/// Why a callback URL was rejected before the state was even compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename_all = "snake_case")]
pub enum CallbackDefect {
    /// Not a parsable absolute URL.
    Malformed,
    /// Scheme, host, port or path differ from the redirect URI of the pending login.
    RedirectMismatch,
    /// A response parameter appears more than once (RFC 6749 §3.1).
    DuplicateParameter,
    /// No `state` parameter.
    MissingState,
    /// No `code` and no `error` parameter.
    MissingCode,
    /// The provider advertises RFC 9207 but the callback carries no `iss`.
    MissingIssuer,
}

/// Every failure the broker reports. Serialized (for IPC) as
/// `{"kind": "...", "message": "...", "retryable": bool, ...fields}`; the message is always ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Deserialize, TS)]
#[serde(
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
    #[error("sign-in required: {reason}")]
    LoginRequired { reason: String },
    /// The audience is not registered in the provider configuration.
    #[error("this micro frontend is not registered for audience {audience}")]
    ForbiddenAudience { audience: String },
    /// The provider did not issue a token for this audience (e.g. Auth0 MRRT default-audience fallback).
    #[error("the provider did not grant a token for audience {audience}")]
    AudienceNotGranted {
        audience: String,
        granted: Vec<String>,
    },
    /// The provider issued the audience but without some requested scopes.
    #[error("the provider did not grant scopes {missing:?} for audience {audience}")]
    ScopeNotGranted {
        audience: String,
        missing: Vec<String>,
    },
    /// Not a valid audience identifier.
    #[error("invalid audience: {reason}")]
    InvalidAudience { reason: String },
    /// Not a valid scope list.
    #[error("invalid scope: {reason}")]
    InvalidScope { reason: String },
    /// The calling webview may not use this command at all (not a registered micro frontend,
    /// or not the shell's own chrome). Decided from the webview, never from the message.
    #[error("not permitted: {reason}")]
    NotPermitted { reason: String },
    /// The provider could not be reached (after retries).
    #[error("network error talking to the {endpoint} endpoint: {detail}")]
    Network { endpoint: String, detail: String },
    /// The provider did not answer in time (after retries).
    #[error("the {endpoint} endpoint timed out")]
    Timeout { endpoint: String },
    /// HTTP 429 that outlasted our retries or asked for a longer wait than we accept.
    #[error("rate limited by the provider")]
    RateLimited {
        #[ts(type = "number | null")]
        retry_after_secs: Option<u64>,
    },
    /// The provider answered with an error (OAuth error code when it sent one) or an unusable response.
    #[error("the {endpoint} endpoint failed (status {status:?}, error {error:?})")]
    ProviderError {
        endpoint: String,
        status: Option<u16>,
        error: Option<String>,
    },
    /// The callback URL is not a valid response to our login.
    #[error("invalid callback: {reason:?}")]
    InvalidCallback { reason: CallbackDefect },
    /// The callback's `state` is not the one of the pending login (forgery or a stale tab).
    #[error("callback state does not match the pending sign-in")]
    StateMismatch,
    /// The callback's `iss` (RFC 9207) or the discovery `issuer` is not the configured issuer.
    #[error("issuer mismatch")]
    IssuerMismatch,
    /// A callback arrived while no login was pending (or after it completed).
    #[error("no sign-in is pending")]
    NoPendingLogin,
    /// The pending login expired before its callback arrived.
    #[error("the sign-in took too long and expired")]
    LoginExpired,
    /// The pending login was cancelled (or superseded by a new one).
    #[error("the sign-in was cancelled")]
    LoginCancelled,
    /// The provider redirected back with `error=` (user denied, consent required, ...).
    #[error("the provider refused the sign-in: {error}")]
    AccessDenied {
        error: String,
        description: Option<String>,
    },
    /// The ID token failed validation.
    #[error("invalid ID token: {reason:?}")]
    IdTokenInvalid { reason: IdTokenDefect },
    /// The discovery document or JWKS is unusable.
    #[error("invalid provider metadata: {reason}")]
    DiscoveryInvalid { reason: String },
    /// The session store (OS keyring) is locked, missing or failing. Never silently replaced by plaintext.
    #[error("secure storage unavailable: {reason}")]
    StorageUnavailable { reason: String },
    /// The broker configuration is invalid.
    #[error("invalid configuration: {reason}")]
    ConfigInvalid { reason: String },
    /// A bug or an impossible state.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl AuthError {
    /// Whether trying the same call again later can succeed without user interaction.
    pub fn retryable(&self) -> bool {
        match self {
            AuthError::Network { .. }
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

    pub(crate) fn login_required(reason: impl Into<String>) -> Self {
        AuthError::LoginRequired {
            reason: reason.into(),
        }
    }
}

/// Serialization adds `message` (our Display text) and `retryable` next to the tag and fields.
impl Serialize for AuthError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(
            tag = "kind",
            rename_all = "snake_case",
            rename_all_fields = "camelCase"
        )]
        enum Tagged<'a> {
            LoginRequired {
                reason: &'a str,
            },
            ForbiddenAudience {
                audience: &'a str,
            },
            AudienceNotGranted {
                audience: &'a str,
                granted: &'a [String],
            },
            ScopeNotGranted {
                audience: &'a str,
                missing: &'a [String],
            },
            InvalidAudience {
                reason: &'a str,
            },
            InvalidScope {
                reason: &'a str,
            },
            NotPermitted {
                reason: &'a str,
            },
            Network {
                endpoint: &'a str,
                detail: &'a str,
            },
            Timeout {
                endpoint: &'a str,
            },
            RateLimited {
                retry_after_secs: Option<u64>,
            },
            ProviderError {
                endpoint: &'a str,
                status: Option<u16>,
                error: Option<&'a str>,
            },
            InvalidCallback {
                reason: CallbackDefect,
            },
            StateMismatch,
            IssuerMismatch,
            NoPendingLogin,
            LoginExpired,
            LoginCancelled,
            AccessDenied {
                error: &'a str,
                description: Option<&'a str>,
            },
            IdTokenInvalid {
                reason: IdTokenDefect,
            },
            DiscoveryInvalid {
                reason: &'a str,
            },
            StorageUnavailable {
                reason: &'a str,
            },
            ConfigInvalid {
                reason: &'a str,
            },
            Internal {
                reason: &'a str,
            },
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(flatten)]
            tagged: Tagged<'a>,
            message: String,
            retryable: bool,
        }
        let tagged = match self {
            AuthError::LoginRequired { reason } => Tagged::LoginRequired { reason },
            AuthError::ForbiddenAudience { audience } => Tagged::ForbiddenAudience { audience },
            AuthError::AudienceNotGranted { audience, granted } => {
                Tagged::AudienceNotGranted { audience, granted }
            }
            AuthError::ScopeNotGranted { audience, missing } => {
                Tagged::ScopeNotGranted { audience, missing }
            }
            AuthError::InvalidAudience { reason } => Tagged::InvalidAudience { reason },
            AuthError::InvalidScope { reason } => Tagged::InvalidScope { reason },
            AuthError::NotPermitted { reason } => Tagged::NotPermitted { reason },
            AuthError::Network { endpoint, detail } => Tagged::Network { endpoint, detail },
            AuthError::Timeout { endpoint } => Tagged::Timeout { endpoint },
            AuthError::RateLimited { retry_after_secs } => Tagged::RateLimited {
                retry_after_secs: *retry_after_secs,
            },
            AuthError::ProviderError {
                endpoint,
                status,
                error,
            } => Tagged::ProviderError {
                endpoint,
                status: *status,
                error: error.as_deref(),
            },
            AuthError::InvalidCallback { reason } => Tagged::InvalidCallback { reason: *reason },
            AuthError::StateMismatch => Tagged::StateMismatch,
            AuthError::IssuerMismatch => Tagged::IssuerMismatch,
            AuthError::NoPendingLogin => Tagged::NoPendingLogin,
            AuthError::LoginExpired => Tagged::LoginExpired,
            AuthError::LoginCancelled => Tagged::LoginCancelled,
            AuthError::AccessDenied { error, description } => Tagged::AccessDenied {
                error,
                description: description.as_deref(),
            },
            AuthError::IdTokenInvalid { reason } => Tagged::IdTokenInvalid { reason: *reason },
            AuthError::DiscoveryInvalid { reason } => Tagged::DiscoveryInvalid { reason },
            AuthError::StorageUnavailable { reason } => Tagged::StorageUnavailable { reason },
            AuthError::ConfigInvalid { reason } => Tagged::ConfigInvalid { reason },
            AuthError::Internal { reason } => Tagged::Internal { reason },
        };
        Wire {
            tagged,
            message: self.to_string(),
            retryable: self.retryable(),
        }
        .serialize(serializer)
    }
}

/// TypeScript shape of a serialized [`AuthError`]: the tagged variant plus `message` and `retryable`.
#[derive(TS)]
#[ts(rename = "AuthError")]
#[allow(dead_code)] // exists for its TypeScript declaration only
pub(crate) struct AuthErrorWire {
    message: String,
    retryable: bool,
    #[ts(flatten)]
    kind: AuthError,
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
        AuthError::StorageUnavailable {
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn serializes_kind_message_retryable_and_fields() {
        let e = AuthError::RateLimited {
            retry_after_secs: Some(3),
        };
        let v: Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "rate_limited");
        assert_eq!(v["retryable"], true);
        assert_eq!(v["retryAfterSecs"], 3);
        assert_eq!(v["message"], "rate limited by the provider");

        let v = serde_json::to_value(AuthError::StateMismatch).unwrap();
        assert_eq!(
            v,
            json!({"kind": "state_mismatch", "message": "callback state does not match the pending sign-in", "retryable": false})
        );

        let v = serde_json::to_value(AuthError::IdTokenInvalid {
            reason: IdTokenDefect::NonceMismatch,
        })
        .unwrap();
        assert_eq!(v["reason"], "nonce_mismatch");
        assert_eq!(v["kind"], "id_token_invalid");
    }

    #[test]
    fn round_trips_through_json_ignoring_message() {
        let all = [
            AuthError::login_required("no session"),
            AuthError::AudienceNotGranted {
                audience: "https://a".into(),
                granted: vec!["https://b".into()],
            },
            AuthError::ProviderError {
                endpoint: "token".into(),
                status: Some(503),
                error: None,
            },
            AuthError::AccessDenied {
                error: "access_denied".into(),
                description: Some("user said no".into()),
            },
            AuthError::InvalidCallback {
                reason: CallbackDefect::DuplicateParameter,
            },
            AuthError::LoginCancelled,
        ];
        for e in all {
            let s = serde_json::to_string(&e).unwrap();
            let back: AuthError = serde_json::from_str(&s).unwrap();
            assert_eq!(back, e, "{s}");
            let v: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(v["kind"], e.kind());
            assert_eq!(v["retryable"], e.retryable());
        }
    }

    #[test]
    fn retryable_classification() {
        assert!(AuthError::Timeout {
            endpoint: "token".into()
        }
        .retryable());
        assert!(AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(502),
            error: None
        }
        .retryable());
        assert!(!AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(400),
            error: Some("invalid_request".into())
        }
        .retryable());
        assert!(!AuthError::login_required("x").retryable());
        assert!(!AuthError::StateMismatch.retryable());
    }
}
