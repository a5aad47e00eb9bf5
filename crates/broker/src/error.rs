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

impl IdTokenDefect {
    /// What is wrong with the token, as the end of a sentence a person reads.
    pub fn describe(self) -> &'static str {
        match self {
            IdTokenDefect::Malformed => "it is not a well-formed signed JWT",
            IdTokenDefect::Unsigned => "it is not signed (alg none)",
            IdTokenDefect::AlgorithmNotAllowed => "it is signed with an algorithm we do not accept",
            IdTokenDefect::MissingKeyId => "it does not say which of the provider's keys signed it",
            IdTokenDefect::UnknownKeyId => "it names a signing key the provider does not publish",
            IdTokenDefect::SignatureInvalid => "its signature does not verify",
            IdTokenDefect::IssuerMismatch => "it was issued by a different issuer",
            IdTokenDefect::AudienceMismatch => "it was issued to a different client",
            IdTokenDefect::AuthorizedPartyMismatch => {
                "its authorized party (azp) is a different client"
            }
            IdTokenDefect::MissingSubject => "it names no user (no sub)",
            IdTokenDefect::SubjectChanged => "it names a different user than the signed-in one",
            IdTokenDefect::MissingIssuedAt => "it has no issue time (no iat)",
            IdTokenDefect::IssuedInFuture => "it was issued in the future",
            IdTokenDefect::MissingExpiry => "it has no expiry (no exp)",
            IdTokenDefect::Expired => "it has expired",
            IdTokenDefect::NonceMismatch => "its nonce is not the one this sign-in sent",
        }
    }
}

impl CallbackDefect {
    /// What is wrong with the callback, as the end of a sentence a person reads.
    pub fn describe(self) -> &'static str {
        match self {
            CallbackDefect::Malformed => "it is not a valid URL",
            CallbackDefect::RedirectMismatch => "it is not addressed to this app's redirect URI",
            CallbackDefect::DuplicateParameter => "a parameter appears more than once",
            CallbackDefect::MissingState => "it carries no state",
            CallbackDefect::MissingCode => "it carries neither a code nor an error",
            CallbackDefect::MissingIssuer => {
                "it does not name its issuer although the provider promises to (RFC 9207)"
            }
        }
    }
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
    /// HTTP 429 that outlasted our retries or asked for a longer wait than we accept.
    #[error("{}", text::rate_limited(*retry_after_secs))]
    RateLimited {
        #[ts(type = "number | null")]
        retry_after_secs: Option<u64>,
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
    /// A bug or an impossible state.
    #[error("Internal error: {reason}.")]
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
                description: Option<&'a str>,
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
                description: Option<&'a str>,
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
            AuthError::AudienceNotGranted {
                audience,
                granted,
                description,
            } => Tagged::AudienceNotGranted {
                audience,
                granted,
                description: description.as_deref(),
            },
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
                description,
            } => Tagged::ProviderError {
                endpoint,
                status: *status,
                error: error.as_deref(),
                description: description.as_deref(),
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

/// The sentences of [`AuthError`]'s `Display`, for the variants whose text depends on optional
/// parts. Every text is a sentence a person reads: no debug output, no enum names.
pub(crate) mod text {
    /// Longest provider description we repeat.
    pub const MAX_DESCRIPTION: usize = 200;

    /// `token` -> `token endpoint`: how a person calls the thing that failed.
    pub fn endpoint(endpoint: &str) -> String {
        match endpoint {
            "discovery" => "discovery document".to_owned(),
            "jwks" => "signing keys (JWKS)".to_owned(),
            other => format!("{other} endpoint"),
        }
    }

    pub fn rate_limited(retry_after_secs: Option<u64>) -> String {
        match retry_after_secs {
            Some(1) => "The provider is limiting requests; try again in 1 second.".to_owned(),
            Some(s) => format!("The provider is limiting requests; try again in {s} seconds."),
            None => "The provider is limiting requests; try again later.".to_owned(),
        }
    }

    pub fn provider_error(
        endpoint: &str,
        status: Option<u16>,
        error: Option<&str>,
        description: Option<&str>,
    ) -> String {
        let what = self::endpoint(endpoint);
        let why = match (error, description) {
            (Some(e), Some(d)) => format!("{e}: {d}"),
            (Some(e), None) => e.to_owned(),
            (None, Some(d)) => d.to_owned(),
            (None, None) => String::new(),
        };
        match (status, why.is_empty()) {
            (Some(s), false) if s >= 500 => {
                format!("The provider's {what} failed (HTTP {s}, {why}).")
            }
            (Some(s), false) => {
                format!("The provider's {what} refused the request (HTTP {s}, {why}).")
            }
            (Some(s), true) if s >= 500 => {
                format!("The provider's {what} failed (HTTP {s}); it may be down.")
            }
            (Some(s), true) if (200..300).contains(&s) => {
                format!("The provider's {what} sent an answer that could not be read.")
            }
            (Some(s), true) => format!("The provider's {what} refused the request (HTTP {s})."),
            (None, false) => format!("The provider's {what} failed ({why})."),
            (None, true) => format!("The provider's {what} sent an unusable answer."),
        }
    }

    pub fn audience_not_granted(
        audience: &str,
        granted: &[String],
        description: Option<&str>,
    ) -> String {
        let mut out = format!("The provider did not grant a token for the audience {audience}");
        if let Some(d) = description {
            out.push_str(&format!(" ({d})"));
        }
        if !granted.is_empty() {
            out.push_str(&format!(
                "; the token it sent is for {}",
                granted.join(", ")
            ));
        }
        out.push('.');
        out
    }

    pub fn access_denied(error: &str, description: Option<&str>) -> String {
        match description {
            Some(d) => format!("The provider refused the sign-in ({error}: {d})."),
            None => format!("The provider refused the sign-in ({error})."),
        }
    }

    /// A provider's free-text reason (`error_description`), safe to show and log: control
    /// characters dropped, whitespace collapsed, anything that looks like a token or code
    /// replaced, at most [`MAX_DESCRIPTION`] characters. `None` if nothing readable is left.
    pub fn sanitize_description(raw: &str) -> Option<String> {
        let words: Vec<String> = raw
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| !w.is_empty())
            .map(|w| {
                let w: String = w.chars().filter(|c| !c.is_control()).collect();
                if looks_like_secret(&w) {
                    "[redacted]".to_owned()
                } else {
                    w
                }
            })
            .collect();
        let joined = words.join(" ");
        let trimmed = joined.trim_end_matches(['.', ' ']);
        if trimmed.is_empty() {
            return None;
        }
        let mut out: String = trimmed.chars().take(MAX_DESCRIPTION).collect();
        if trimmed.chars().count() > MAX_DESCRIPTION {
            out.push('…');
        }
        Some(out)
    }

    /// A JWT, or a long run of token characters (refresh tokens, codes, hashes).
    fn looks_like_secret(word: &str) -> bool {
        let core =
            word.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | ';' | ':' | '(' | ')'));
        core.contains("eyJ")
            || (core.len() >= 24
                && core.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
                }))
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
        assert_eq!(
            v["message"],
            "The provider is limiting requests; try again in 3 seconds."
        );

        let v = serde_json::to_value(AuthError::StateMismatch).unwrap();
        assert_eq!(
            v,
            json!({"kind": "state_mismatch", "message": "The sign-in response does not belong to the sign-in in progress (its state differs).", "retryable": false})
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
                description: None,
            },
            AuthError::ProviderError {
                endpoint: "token".into(),
                status: Some(503),
                error: None,
                description: None,
            },
            AuthError::ProviderError {
                endpoint: "token".into(),
                status: Some(400),
                error: Some("invalid_target".into()),
                description: Some("only one resource".into()),
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
                !m.split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.chars().any(char::is_lowercase)
                        && w.chars().skip(1).any(char::is_uppercase)),
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

    #[test]
    fn representative_texts_are_pinned() {
        let pinned = [
            (
                AuthError::ProviderError {
                    endpoint: "token".into(),
                    status: Some(400),
                    error: Some("invalid_target".into()),
                    description: Some("only a single resource indicator value must be requested/resolved during Access Token Request".into()),
                },
                "The provider's token endpoint refused the request (HTTP 400, invalid_target: only a single resource indicator value must be requested/resolved during Access Token Request).",
            ),
            (
                AuthError::ProviderError {
                    endpoint: "token".into(),
                    status: Some(503),
                    error: None,
                    description: None,
                },
                "The provider's token endpoint failed (HTTP 503); it may be down.",
            ),
            (
                AuthError::ProviderError {
                    endpoint: "discovery".into(),
                    status: Some(200),
                    error: None,
                    description: None,
                },
                "The provider's discovery document sent an answer that could not be read.",
            ),
            (
                AuthError::IdTokenInvalid {
                    reason: IdTokenDefect::SignatureInvalid,
                },
                "The provider's ID token was refused: its signature does not verify.",
            ),
            (
                AuthError::login_required("the provider no longer accepts the session (refresh token revoked)"),
                "Sign-in required: the provider no longer accepts the session (refresh token revoked).",
            ),
            (
                AuthError::AudienceNotGranted {
                    audience: "https://api.portico.dev/billing".into(),
                    granted: vec![],
                    description: Some("resource not granted at authorization".into()),
                },
                "The provider did not grant a token for the audience https://api.portico.dev/billing (resource not granted at authorization).",
            ),
            (
                AuthError::AudienceNotGranted {
                    audience: "https://api.portico.dev/billing".into(),
                    granted: vec!["https://api.portico.dev/core".into()],
                    description: None,
                },
                "The provider did not grant a token for the audience https://api.portico.dev/billing; the token it sent is for https://api.portico.dev/core.",
            ),
            (
                AuthError::ScopeNotGranted {
                    audience: "https://api.portico.dev/billing".into(),
                    missing: vec!["write:invoices".into(), "read:invoices".into()],
                },
                "The provider did not grant the scope write:invoices, read:invoices for the audience https://api.portico.dev/billing.",
            ),
            (
                AuthError::RateLimited {
                    retry_after_secs: Some(30),
                },
                "The provider is limiting requests; try again in 30 seconds.",
            ),
            (
                AuthError::RateLimited {
                    retry_after_secs: None,
                },
                "The provider is limiting requests; try again later.",
            ),
            (
                AuthError::Network {
                    endpoint: "token".into(),
                    detail: "could not connect".into(),
                },
                "Could not reach the provider's token endpoint (could not connect).",
            ),
            (
                AuthError::InvalidCallback {
                    reason: CallbackDefect::MissingIssuer,
                },
                "The sign-in response was refused: it does not name its issuer although the provider promises to (RFC 9207).",
            ),
            (
                AuthError::AccessDenied {
                    error: "access_denied".into(),
                    description: Some("User said no".into()),
                },
                "The provider refused the sign-in (access_denied: User said no).",
            ),
            (
                AuthError::from(StoreError::Unavailable("the OS keyring is locked".into())),
                "The system keyring is unavailable: the OS keyring is locked.",
            ),
        ];
        for (e, text) in pinned {
            assert_eq!(e.to_string(), text);
            assert_eq!(serde_json::to_value(&e).unwrap()["message"], text);
        }
    }

    #[test]
    fn provider_descriptions_are_bounded_stripped_and_never_a_token() {
        use super::text::sanitize_description as clean;
        assert_eq!(
            clean("refresh\ttoken\u{0}  revoked.\r\n").as_deref(),
            Some("refresh token revoked")
        );
        assert_eq!(clean(" \n\t ."), None);
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        assert_eq!(
            clean(&format!("token {jwt} is expired")).as_deref(),
            Some("token [redacted] is expired")
        );
        assert_eq!(
            clean("grant 8xLOxBtZp8QzVd2Wq1Ym9kRj3Hs7Tn0a was revoked").as_deref(),
            Some("grant [redacted] was revoked")
        );
        let long = "word ".repeat(100);
        let out = clean(&long).unwrap();
        assert_eq!(out.chars().count(), text::MAX_DESCRIPTION + 1);
        assert!(out.ends_with('…'));
        // Multi-byte characters are cut on a character boundary.
        assert!(clean(&"é".repeat(500)).is_some());
    }
}
