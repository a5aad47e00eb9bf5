//! The login transaction: authorize URL construction and callback validation.

use crate::config::ProviderConfig;
use crate::dpop::DpopKey;
use crate::error::{AuthError, CallbackDefect};
use crate::pkce;
use crate::secret::{AuthCode, PkceVerifier};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use url::Url;

/// The longest callback URL read at all: real ones are a few hundred bytes, and a longer one is
/// refused before it is parsed.
pub(crate) const MAX_CALLBACK_LEN: usize = 8192;

/// One pending authorization request. Single-use; expires at `expires_at`.
#[derive(Debug, Clone)]
pub(crate) struct LoginTransaction {
    pub state: String,
    pub nonce: String,
    pub verifier: PkceVerifier,
    pub redirect_uri: Url,
    pub expires_at: SystemTime,
    /// The key the code exchange proves (RFC 9449), when DPoP is on for this sign-in.
    pub dpop: Option<DpopKey>,
    /// Set for an additional sign-in of the signed-in person (a step-up): never persisted, its
    /// caller waits in this process.
    pub step_up: Option<StepUpTx>,
}

/// What a step-up transaction is for.
#[derive(Debug, Clone)]
pub(crate) struct StepUpTx {
    /// The audience whose token the step-up's code exchange brings.
    pub audience: crate::config::Audience,
    pub requirement: crate::step_up::AuthRequirement,
    /// The scopes the caller asked for at that audience.
    pub scopes: crate::config::ScopeSet,
    /// The signed-in person: the step-up must come back as them.
    pub subject: String,
}

impl StepUpTx {
    /// The step-up's `scope`: the sign-in's, with the caller's scopes at its audience (Entra:
    /// the audience's `.default`, the only form a code exchange may name it in).
    fn scope(&self, config: &ProviderConfig) -> String {
        let login = config.login_scopes();
        if config.dialect != crate::dialect::Dialect::Entra {
            return login.union(&self.scopes).to_string();
        }
        // The login audience's `{api}/.default` gives way to the step-up audience's.
        let mut s: Vec<String> = login
            .iter()
            .filter(|s| !s.contains('/'))
            .map(str::to_owned)
            .collect();
        s.extend(
            config
                .dialect
                .code_exchange_param(&self.audience)
                .map(|(_, scope)| scope),
        );
        s.join(" ")
    }
}

/// What a callback that passed validation carries.
#[derive(Debug)]
pub(crate) enum CallbackOutcome {
    Code(AuthCode),
    Error {
        error: String,
        description: Option<String>,
    },
}

impl LoginTransaction {
    /// The persistable form (see [`crate::PendingLogin`]).
    pub(crate) fn to_pending(&self) -> crate::store::PendingLogin {
        crate::store::PendingLogin {
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            verifier: self.verifier.clone(),
            redirect_uri: self.redirect_uri.to_string(),
            expires_at: self
                .expires_at
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            dpop_key: self.dpop.as_ref().map(|k| k.to_pkcs8().clone()),
        }
    }

    /// Back from the store; `None` if it does not parse (then it is simply not restored).
    pub(crate) fn from_pending(p: crate::store::PendingLogin) -> Option<Self> {
        let dpop = match &p.dpop_key {
            Some(k) => Some(DpopKey::from_pkcs8(k.expose_secret()).ok()?),
            None => None,
        };
        Some(Self {
            dpop,
            redirect_uri: Url::parse(&p.redirect_uri).ok()?,
            state: p.state,
            nonce: p.nonce,
            verifier: p.verifier,
            expires_at: std::time::UNIX_EPOCH + Duration::from_secs(p.expires_at),
            step_up: None,
        })
    }

    pub(crate) fn new(redirect_uri: Url, now: SystemTime, ttl: Duration) -> Self {
        Self {
            state: pkce::random_urlsafe(32),
            nonce: pkce::random_urlsafe(32),
            verifier: pkce::new_verifier(),
            redirect_uri,
            expires_at: now + ttl,
            dpop: None,
            step_up: None,
        }
    }

    /// The /authorize URL for this transaction.
    pub(crate) fn authorize_url(&self, endpoint: &Url, config: &ProviderConfig) -> Url {
        let mut url = endpoint.clone();
        url.query_pairs_mut()
            .extend_pairs(self.authorize_params(config));
        url
    }

    /// The authorization request's parameters, for the browser's URL or for a pushed request
    /// (RFC 9126).
    pub(crate) fn authorize_params(&self, config: &ProviderConfig) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code".to_owned()),
            ("client_id", config.client_id.clone()),
            ("redirect_uri", self.redirect_uri.to_string()),
            (
                "scope",
                match &self.step_up {
                    Some(s) => s.scope(config),
                    None => config.login_scopes().to_string(),
                },
            ),
            ("state", self.state.clone()),
            ("nonce", self.nonce.clone()),
            ("code_challenge", pkce::s256_challenge(&self.verifier)),
            ("code_challenge_method", "S256".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        // A step-up's own token is for the audience that asked (Auth0 takes it at /authorize);
        // RFC 8707 still names every resource, so the new refresh token reaches them all.
        let token_audience = self
            .step_up
            .as_ref()
            .map(|s| &s.audience)
            .or(config.default_audience.as_ref());
        params.extend(
            config
                .dialect
                .authorize_params(&config.audiences, token_audience),
        );
        params.extend(config.extra_authorize_params.iter().cloned());
        if let Some(s) = &self.step_up {
            params.extend(s.requirement.authorize_params());
        }
        // OIDC Core §5.5: one claims request, the client's capabilities and a step-up's claims.
        let extra = self.step_up.as_ref().and_then(|s| s.requirement.claims());
        if let Some(claims) = config.claims_param(extra) {
            params.push(("claims".to_owned(), claims));
        }
        params
    }

    /// Validates a callback URL against this transaction without consuming it.
    ///
    /// `issuer` is the validated issuer; `iss_required` is the provider's RFC 9207 advertisement.
    pub(crate) fn check_callback(
        &self,
        callback: &str,
        issuer: &str,
        iss_required: bool,
    ) -> Result<CallbackOutcome, AuthError> {
        let invalid = |reason| AuthError::InvalidCallback { reason };
        if callback.len() > MAX_CALLBACK_LEN {
            return Err(invalid(CallbackDefect::Malformed));
        }
        let url = Url::parse(callback).map_err(|_| invalid(CallbackDefect::Malformed))?;
        let expected = &self.redirect_uri;
        if url.scheme() != expected.scheme()
            || url.host_str() != expected.host_str()
            || url.port_or_known_default() != expected.port_or_known_default()
            || url.path() != expected.path()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(invalid(CallbackDefect::RedirectMismatch));
        }
        let mut params: HashMap<String, String> = HashMap::new();
        for (k, v) in url.query_pairs() {
            // Percent-decoding is lossy: invalid UTF-8 becomes U+FFFD, which no OAuth response
            // parameter may contain (RFC 6749 §4.1.2, §4.1.2.1 character sets).
            if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
                return Err(invalid(CallbackDefect::Malformed));
            }
            if params.insert(k.into_owned(), v.into_owned()).is_some() {
                return Err(invalid(CallbackDefect::DuplicateParameter));
            }
        }
        let state = params
            .get("state")
            .ok_or(invalid(CallbackDefect::MissingState))?;
        if *state != self.state {
            return Err(AuthError::StateMismatch);
        }
        match params.get("iss") {
            Some(iss) if !crate::id_token::issuer_matches(issuer, iss, None) => {
                return Err(AuthError::IssuerMismatch)
            }
            None if iss_required => return Err(invalid(CallbackDefect::MissingIssuer)),
            _ => {}
        }
        if let Some(error) = params.get("error") {
            return Ok(CallbackOutcome::Error {
                error: sanitize(error, 64).unwrap_or_else(|| "invalid_error".to_owned()),
                description: params
                    .get("error_description")
                    .and_then(|d| sanitize(d, 256)),
            });
        }
        match params.get("code") {
            Some(code) if !code.is_empty() => {
                Ok(CallbackOutcome::Code(AuthCode::new(code.clone())))
            }
            _ => Err(invalid(CallbackDefect::MissingCode)),
        }
    }
}

/// Keeps RFC 6749 error text characters only, truncated; `None` if nothing is left.
fn sanitize(s: &str, max: usize) -> Option<String> {
    let out: String = s
        .chars()
        .filter(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'))
        .take(max)
        .collect();
    (!out.trim().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Audience, RedirectUri, ScopeSet};
    use crate::dialect::Dialect;

    const ISS: &str = "https://tenant.example.com/";

    fn tx() -> LoginTransaction {
        LoginTransaction::new(
            Url::parse("dev.portico.app:/callback").unwrap(),
            SystemTime::now(),
            Duration::from_secs(600),
        )
    }

    fn cb(tx: &LoginTransaction, extra: &str) -> String {
        format!(
            "dev.portico.app:/callback?code=abc&state={}{extra}",
            tx.state
        )
    }

    #[test]
    fn authorize_url_has_everything() {
        let config = ProviderConfig::builder(Url::parse(ISS).unwrap(), "cid")
            .redirect(RedirectUri::PrivateScheme(
                Url::parse("dev.portico.app:/callback").unwrap(),
            ))
            .dialect(Dialect::Rfc8707)
            .audiences([
                Audience::parse("https://a/").unwrap(),
                Audience::parse("https://b/").unwrap(),
            ])
            .scopes(ScopeSet::parse("profile").unwrap())
            .extra_authorize_params([("prompt", "consent")])
            .build()
            .unwrap();
        let t = tx();
        let url = t.authorize_url(
            &Url::parse("https://tenant.example.com/authorize").unwrap(),
            &config,
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| {
            pairs
                .iter()
                .filter(|(a, _)| a == k)
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("response_type"), vec!["code"]);
        assert_eq!(get("code_challenge_method"), vec!["S256"]);
        assert_eq!(
            get("code_challenge"),
            vec![pkce::s256_challenge(&t.verifier)]
        );
        assert_eq!(get("state"), vec![t.state.clone()]);
        assert_eq!(get("nonce"), vec![t.nonce.clone()]);
        assert_eq!(get("scope"), vec!["offline_access openid profile"]);
        assert_eq!(get("resource"), vec!["https://a/", "https://b/"]);
        assert_eq!(get("prompt"), vec!["consent"]);
        assert!(
            !url.as_str().contains(t.verifier.expose_secret()),
            "verifier never leaves"
        );
    }

    #[test]
    fn good_callback_yields_code() {
        let t = tx();
        match t.check_callback(&cb(&t, ""), ISS, false).unwrap() {
            CallbackOutcome::Code(c) => assert_eq!(c.expose_secret(), "abc"),
            other => panic!("{other:?}"),
        }
        let with_iss = cb(&t, "&iss=https%3A%2F%2Ftenant.example.com%2F");
        assert!(matches!(
            t.check_callback(&with_iss, ISS, true),
            Ok(CallbackOutcome::Code(_))
        ));
    }

    #[test]
    fn forged_and_malformed_callbacks() {
        let t = tx();
        let err = |s: &str, req: bool| t.check_callback(s, ISS, req).unwrap_err();
        assert_eq!(
            err("not a url", false),
            AuthError::InvalidCallback {
                reason: CallbackDefect::Malformed
            }
        );
        assert_eq!(
            err(
                &format!("evil.app:/callback?code=a&state={}", t.state),
                false
            ),
            AuthError::InvalidCallback {
                reason: CallbackDefect::RedirectMismatch
            }
        );
        assert_eq!(
            err(
                &format!("dev.portico.app:/other?code=a&state={}", t.state),
                false
            ),
            AuthError::InvalidCallback {
                reason: CallbackDefect::RedirectMismatch
            }
        );
        assert_eq!(
            err("dev.portico.app:/callback?code=a&state=forged", false),
            AuthError::StateMismatch
        );
        assert_eq!(
            err("dev.portico.app:/callback?code=a", false),
            AuthError::InvalidCallback {
                reason: CallbackDefect::MissingState
            }
        );
        assert_eq!(
            err(&cb(&t, "&state=again"), false),
            AuthError::InvalidCallback {
                reason: CallbackDefect::DuplicateParameter
            }
        );
        assert_eq!(
            err(&cb(&t, "&code=second"), false),
            AuthError::InvalidCallback {
                reason: CallbackDefect::DuplicateParameter
            }
        );
        assert_eq!(
            err(&cb(&t, "&iss=https%3A%2F%2Fevil%2F"), false),
            AuthError::IssuerMismatch
        );
        assert_eq!(
            err(&cb(&t, ""), true),
            AuthError::InvalidCallback {
                reason: CallbackDefect::MissingIssuer
            }
        );
        assert_eq!(
            err(
                &format!("dev.portico.app:/callback?state={}", t.state),
                false
            ),
            AuthError::InvalidCallback {
                reason: CallbackDefect::MissingCode
            }
        );
    }

    #[test]
    fn invalid_utf8_after_percent_decoding_is_malformed() {
        let t = tx();
        for bad in [
            format!("dev.portico.app:/callback?code=%FF%FE&state={}", t.state),
            format!("dev.portico.app:/callback?code=abc&state={}%C3", t.state),
            format!("dev.portico.app:/callback?c%80de=abc&state={}", t.state),
            format!("dev.portico.app:/callback?code=\u{FFFD}&state={}", t.state),
        ] {
            assert_eq!(
                t.check_callback(&bad, ISS, false).unwrap_err(),
                AuthError::InvalidCallback {
                    reason: CallbackDefect::Malformed
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn loopback_port_must_match() {
        let t = LoginTransaction::new(
            Url::parse("http://127.0.0.1:4567/callback").unwrap(),
            SystemTime::now(),
            Duration::from_secs(60),
        );
        let ok = format!("http://127.0.0.1:4567/callback?code=c&state={}", t.state);
        assert!(t.check_callback(&ok, ISS, false).is_ok());
        let other_port = format!("http://127.0.0.1:4568/callback?code=c&state={}", t.state);
        assert_eq!(
            t.check_callback(&other_port, ISS, false).unwrap_err(),
            AuthError::InvalidCallback {
                reason: CallbackDefect::RedirectMismatch
            }
        );
    }

    #[test]
    fn error_callback_is_typed_and_sanitized() {
        let t = tx();
        let s = format!(
            "dev.portico.app:/callback?error=access_denied&error_description=User%20said%20%22no%22%0A&state={}",
            t.state
        );
        match t.check_callback(&s, ISS, false).unwrap() {
            CallbackOutcome::Error { error, description } => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("User said no"));
            }
            other => panic!("{other:?}"),
        }
        // An error without our state is a forgery, not a denial.
        let forged = "dev.portico.app:/callback?error=access_denied&state=nope";
        assert_eq!(
            t.check_callback(forged, ISS, false).unwrap_err(),
            AuthError::StateMismatch
        );
    }
}
