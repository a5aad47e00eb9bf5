//! What an API's `WWW-Authenticate` says about the token it was given (RFC 6750 §3, RFC 9449 §7,
//! RFC 9470 §3), for the `Bearer` and `DPoP` schemes.

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

/// The API's verdict on the token, as far as it concerns the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiChallenge {
    /// `invalid_token`: expired, revoked or otherwise not good any more; a fresh token may do.
    InvalidToken,
    /// `insufficient_scope`: the request needs a scope the token lacks (`scope`, when named).
    InsufficientScope { scope: Option<String> },
    /// `insufficient_user_authentication` (RFC 9470): a stronger or more recent sign-in is needed.
    InsufficientUserAuthentication {
        acr_values: Option<String>,
        max_age: Option<u64>,
    },
    /// `insufficient_claims` with a base64 `claims` request: Entra's claims challenge.
    InsufficientClaims { claims: Option<String> },
    /// `use_dpop_nonce` (RFC 9449 §9): the API wants its nonce in the proof.
    UseDpopNonce,
}

impl ApiChallenge {
    /// What a step-up must meet to answer this challenge, if it asks for one.
    pub fn step_up(&self) -> Option<crate::step_up::AuthRequirement> {
        use crate::step_up::AuthRequirement;
        match self {
            ApiChallenge::InsufficientUserAuthentication {
                acr_values,
                max_age,
            } => AuthRequirement::user_authentication(acr_values.as_deref(), *max_age),
            ApiChallenge::InsufficientClaims { claims } => {
                AuthRequirement::claims_challenge(claims.as_deref()?)
            }
            _ => None,
        }
    }
}

/// The first Bearer or DPoP challenge with an `error` the shell acts on, if any.
pub fn classify(headers: &HeaderMap) -> Option<ApiChallenge> {
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(text) = value.to_str() else { continue };
        let Ok(challenges) = http_auth::parse_challenges(text) else {
            continue;
        };
        for c in challenges {
            if !c.scheme.eq_ignore_ascii_case("bearer") && !c.scheme.eq_ignore_ascii_case("dpop") {
                continue;
            }
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            let found = match param("error").as_deref() {
                Some("invalid_token") => ApiChallenge::InvalidToken,
                Some("insufficient_scope") => ApiChallenge::InsufficientScope {
                    scope: param("scope"),
                },
                Some("insufficient_user_authentication") => {
                    ApiChallenge::InsufficientUserAuthentication {
                        acr_values: param("acr_values"),
                        max_age: param("max_age").and_then(|m| m.parse().ok()),
                    }
                }
                Some("insufficient_claims") => ApiChallenge::InsufficientClaims {
                    claims: param("claims"),
                },
                Some("use_dpop_nonce") => ApiChallenge::UseDpopNonce,
                _ => continue,
            };
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn challenge(values: &[&str]) -> Option<ApiChallenge> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        classify(&h)
    }

    #[test]
    fn bearer_and_dpop_errors_are_told_apart() {
        assert_eq!(
            challenge(&[
                r#"Bearer realm="billing", error="invalid_token", error_description="expired""#
            ]),
            Some(ApiChallenge::InvalidToken)
        );
        assert_eq!(
            challenge(&[r#"DPoP algs="ES256", error="invalid_token""#]),
            Some(ApiChallenge::InvalidToken)
        );
        assert_eq!(
            challenge(&[r#"Bearer error="insufficient_scope", scope="write:invoices""#]),
            Some(ApiChallenge::InsufficientScope {
                scope: Some("write:invoices".into())
            })
        );
        assert_eq!(
            challenge(&[
                r#"Bearer error="insufficient_user_authentication", error_description="MFA", acr_values="mfa", max_age=300"#
            ]),
            Some(ApiChallenge::InsufficientUserAuthentication {
                acr_values: Some("mfa".into()),
                max_age: Some(300)
            })
        );
        assert_eq!(
            challenge(&[r#"DPoP error="use_dpop_nonce""#]),
            Some(ApiChallenge::UseDpopNonce)
        );
    }

    #[test]
    fn other_schemes_no_error_and_garbage_say_nothing() {
        assert_eq!(challenge(&[r#"Basic realm="x""#]), None);
        assert_eq!(challenge(&[r#"Bearer realm="x""#]), None);
        assert_eq!(
            challenge(&["Bearer error=\"invalid_token"]),
            None,
            "unterminated"
        );
        assert_eq!(challenge(&[]), None);
        // A second header or a second challenge in one header is still found.
        assert_eq!(
            challenge(&[r#"Basic realm="x""#, r#"Bearer error="invalid_token""#]),
            Some(ApiChallenge::InvalidToken)
        );
        assert_eq!(
            challenge(&[r#"Basic realm="x", Bearer error="invalid_token""#]),
            Some(ApiChallenge::InvalidToken)
        );
    }
}
