//! How an [`AuthError`] crosses IPC: its tag and fields, plus our `message` and `retryable`.

use super::AuthError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ts_rs::TS;

/// Serialization adds `message` (our Display text) and `retryable` next to the derived tag and
/// fields.
impl Serialize for AuthError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(flatten, serialize_with = "tagged")]
            error: &'a AuthError,
            message: String,
            retryable: bool,
        }
        fn tagged<S: Serializer>(e: &&AuthError, s: S) -> Result<S::Ok, S::Error> {
            // The derived form (inherent, from `remote = "Self"`).
            AuthError::serialize(e, s)
        }
        Wire {
            error: self,
            message: self.to_string(),
            retryable: self.retryable(),
        }
        .serialize(serializer)
    }
}

/// `message` and `retryable` are ours to compute: ignored on the way in.
impl<'de> Deserialize<'de> for AuthError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        AuthError::deserialize(deserializer)
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
    use crate::error::{CallbackDefect, FetchDefect, IdTokenDefect};
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
            AuthError::RateLimited {
                retry_after_secs: Some(4),
                caller: Some("billing".into()),
                until: Some(1_700_000_000_000),
            },
            AuthError::FetchRefused {
                reason: FetchDefect::RedirectOutside,
                detail: "the API redirected outside itself".into(),
            },
            AuthError::InsufficientScope {
                audience: "https://a".into(),
                scope: Some("write:x".into()),
            },
            AuthError::TokenNotExposed,
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
