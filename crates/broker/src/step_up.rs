//! What a call may demand of the sign-in behind its token, and what a sign-in proved: the
//! authentication context class (`acr`, OIDC Core §3.1.2.1 `acr_values`), its age (`max_age`,
//! `auth_time`), and an OIDC claims request (§5.5; Entra's claims challenges). An API says what
//! it wants in its 401 (RFC 9470 §3); a page says it in `getToken`.

use crate::error::AuthError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest `claims` request accepted (it rides in the authorization URL or a pushed request).
const MAX_CLAIMS: usize = 4096;
/// Most `acr_values` accepted, each a token of at most 256 characters.
const MAX_ACR_VALUES: usize = 8;

/// A requirement on the authentication behind a token. Empty: any sign-in will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AuthRequirement {
    acr_values: Vec<String>,
    max_age: Option<u64>,
    claims: Option<String>,
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::InvalidStepUp {
        reason: reason.into(),
    }
}

impl AuthRequirement {
    /// Checks and builds a requirement: `acr_values` are space-free printable tokens (in order
    /// of preference), `max_age` in seconds, `claims` a JSON object (OIDC Core §5.5).
    pub fn new(
        acr_values: impl IntoIterator<Item = String>,
        max_age: Option<u64>,
        claims: Option<String>,
    ) -> Result<AuthRequirement, AuthError> {
        let mut values: Vec<String> = Vec::new();
        for v in acr_values {
            let ok = !v.is_empty()
                && v.len() <= 256
                && v.chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
            if !ok {
                return Err(invalid(format!(
                    "`{}` is not an authentication context class",
                    v.chars().take(64).collect::<String>()
                )));
            }
            if !values.contains(&v) {
                values.push(v);
            }
        }
        if values.len() > MAX_ACR_VALUES {
            return Err(invalid(format!(
                "at most {MAX_ACR_VALUES} acr values may be asked for"
            )));
        }
        if let Some(c) = &claims {
            if c.len() > MAX_CLAIMS {
                return Err(invalid(format!(
                    "the claims request is longer than {MAX_CLAIMS} characters"
                )));
            }
            match serde_json::from_str::<serde_json::Value>(c) {
                Ok(serde_json::Value::Object(_)) => {}
                _ => return Err(invalid("the claims request is not a JSON object")),
            }
        }
        Ok(AuthRequirement {
            acr_values: values,
            max_age,
            claims,
        })
    }

    /// The requirement of an RFC 9470 challenge (`WWW-Authenticate: Bearer
    /// error="insufficient_user_authentication", acr_values="…", max_age=…`), or of a claims
    /// challenge (`error="insufficient_claims", claims="<base64>"`, as Entra sends), from the
    /// challenge's parameters. `None` when it asks for neither.
    pub fn from_challenge(params: &[(String, String)]) -> Option<AuthRequirement> {
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        match get("error")? {
            "insufficient_user_authentication" => Self::user_authentication(
                get("acr_values"),
                get("max_age").and_then(|v| v.trim().parse().ok()),
            ),
            "insufficient_claims" => Self::claims_challenge(get("claims")?),
            _ => None,
        }
    }

    /// An RFC 9470 `insufficient_user_authentication` challenge's requirement: its
    /// space-separated `acr_values` and its `max_age`. `None` when it names neither.
    pub fn user_authentication(acr_values: Option<&str>, max_age: Option<u64>) -> Option<Self> {
        let acr = acr_values
            .map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default();
        Self::new(acr, max_age, None).ok().filter(|r| !r.is_empty())
    }

    /// An `insufficient_claims` challenge's requirement: its claims request, base64 (standard,
    /// or URL-safe without padding) as Entra sends it.
    pub fn claims_challenge(base64_claims: &str) -> Option<Self> {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(base64_claims)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(base64_claims))
            .ok()?;
        Self::new([], None, Some(String::from_utf8(decoded).ok()?)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.acr_values.is_empty() && self.max_age.is_none() && self.claims.is_none()
    }

    pub fn acr_values(&self) -> &[String] {
        &self.acr_values
    }

    /// Seconds.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    pub fn claims(&self) -> Option<&str> {
        self.claims.as_deref()
    }

    /// The authorization request's parameters for this requirement (OIDC Core §3.1.2.1).
    pub(crate) fn authorize_params(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if !self.acr_values.is_empty() {
            p.push(("acr_values".to_owned(), self.acr_values.join(" ")));
        }
        if let Some(m) = self.max_age {
            p.push(("max_age".to_owned(), m.to_string()));
        }
        p
    }

    /// Whether a sign-in with `authn` meets this requirement at `now`. A claims request is met
    /// only by the sign-in that was asked for it.
    pub(crate) fn met_by(&self, authn: &Authn, now: SystemTime) -> bool {
        let acr_ok = self.acr_values.is_empty()
            || authn
                .acr
                .as_ref()
                .is_some_and(|a| self.acr_values.contains(a));
        let age_ok = match self.max_age {
            None => true,
            Some(max) => authn.auth_time.is_some_and(|t| {
                let now = now
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs();
                now.saturating_sub(t) <= max
            }),
        };
        let claims_ok = self.claims.is_none() || self.claims == authn.claims;
        acr_ok && age_ok && claims_ok
    }

    /// Why `authn` does not meet this requirement, in words (for `step_up_not_met`).
    pub(crate) fn shortfall(&self, authn: &Authn, now: SystemTime) -> String {
        let acr_only = AuthRequirement {
            acr_values: self.acr_values.clone(),
            ..AuthRequirement::default()
        };
        if !acr_only.met_by(authn, now) {
            let got = authn
                .acr
                .as_deref()
                .map_or("no authentication class".to_owned(), |a| format!("`{a}`"));
            let wanted = self
                .acr_values
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(" or ");
            return format!("the provider signed you in with {got} where {wanted} was asked for");
        }
        if let Some(max) = self.max_age {
            let age_only = AuthRequirement {
                max_age: Some(max),
                ..AuthRequirement::default()
            };
            if !age_only.met_by(authn, now) {
                return match authn.auth_time {
                    None => "the provider did not say when you signed in (auth_time)".to_owned(),
                    Some(_) => format!("the sign-in is older than the {max} seconds asked for"),
                };
            }
        }
        "the provider's sign-in does not carry the requested claims".to_owned()
    }
}

/// What a sign-in proved, as its ID token says: the `acr` it reached, when it happened, and the
/// claims request it answered. Stamped on every token obtained under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Authn {
    pub acr: Option<String>,
    /// Seconds since the epoch.
    pub auth_time: Option<u64>,
    pub claims: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn acr_and_age_are_both_required() {
        let r = AuthRequirement::new(["mfa".to_owned()], Some(300), None).unwrap();
        let mfa_recent = Authn {
            acr: Some("mfa".into()),
            auth_time: Some(1_000),
            claims: None,
        };
        assert!(r.met_by(&mfa_recent, at(1_200)));
        assert!(!r.met_by(&mfa_recent, at(1_301)), "too old");
        let pwd = Authn {
            acr: Some("pwd".into()),
            ..mfa_recent.clone()
        };
        assert!(!r.met_by(&pwd, at(1_000)));
        assert!(r.shortfall(&pwd, at(1_000)).contains("`pwd`"));
        assert!(!r.met_by(&Authn::default(), at(1_000)));
        assert!(AuthRequirement::default().met_by(&Authn::default(), at(0)));
    }

    #[test]
    fn a_claims_request_is_met_only_by_the_sign_in_that_answered_it() {
        let c = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        let r = AuthRequirement::new([], None, Some(c.into())).unwrap();
        assert!(!r.met_by(&Authn::default(), at(0)));
        let answered = Authn {
            claims: Some(c.into()),
            ..Authn::default()
        };
        assert!(r.met_by(&answered, at(0)));
    }

    #[test]
    fn bad_requirements_are_refused_with_a_reason() {
        for (acr, claims) in [
            (vec!["has space".to_owned()], None),
            (vec![String::new()], None),
            (vec![], Some("[1]".to_owned())),
            (vec![], Some("{".to_owned())),
        ] {
            let e = AuthRequirement::new(acr, None, claims).unwrap_err();
            assert_eq!(e.kind(), "invalid_step_up");
        }
    }

    #[test]
    fn challenges_are_read_as_rfc_9470_and_entra_send_them() {
        let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let r = AuthRequirement::from_challenge(&p(&[
            ("error", "insufficient_user_authentication"),
            ("acr_values", "mfa phr"),
            ("max_age", "60"),
        ]))
        .unwrap();
        assert_eq!(r.acr_values(), ["mfa", "phr"]);
        assert_eq!(r.max_age(), Some(60));
        // Entra: base64 of the claims request.
        let r = AuthRequirement::from_challenge(&p(&[
            ("error", "insufficient_claims"),
            (
                "claims",
                "eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19",
            ),
        ]))
        .unwrap();
        assert_eq!(
            r.claims(),
            Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#)
        );
        assert!(AuthRequirement::from_challenge(&p(&[("error", "invalid_token")])).is_none());
        assert!(AuthRequirement::from_challenge(&p(&[(
            "error",
            "insufficient_user_authentication"
        )]))
        .is_none());
    }
}
