//! How an [`AuthError`] crosses IPC: its tag and fields, plus our `message` and `retryable`.

use super::{AuthError, CallbackDefect, IdTokenDefect};
use serde::{Serialize, Serializer};
use ts_rs::TS;

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
                caller: Option<&'a str>,
                until: Option<u64>,
            },
            ScopeTooBroad {
                audience: &'a str,
                extra: &'a [String],
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
            AuthError::RateLimited {
                retry_after_secs,
                caller,
                until,
            } => Tagged::RateLimited {
                retry_after_secs: *retry_after_secs,
                caller: caller.as_deref(),
                until: *until,
            },
            AuthError::ScopeTooBroad { audience, extra } => {
                Tagged::ScopeTooBroad { audience, extra }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn serializes_kind_message_retryable_and_fields() {
        let e = AuthError::provider_rate_limited(Some(3));
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
}
