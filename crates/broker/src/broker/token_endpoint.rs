//! The token endpoint, for the code exchange and the refresh alike: the form we send, and what
//! an answer means — which audience its access token is for, which scopes it carries, how long
//! it lives.

use crate::cache::CacheEntry;
use crate::clock::{unix_ms, unix_secs};
use crate::config::{Audience, ProviderConfig, ScopeSet};
use crate::error::AuthError;
use crate::id_token;
use crate::ipc::TokenGrant;
use crate::secret::AccessToken;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime};

/// Scopes that describe the login, not an API; never what a proactive refresh asks for.
use portico_types::dialect::OIDC_SCOPES;
/// Lifetime assumed when a token response has neither `expires_in` nor a JWT `exp`.
const FALLBACK_TTL: Duration = Duration::from_secs(300);
/// Longest lifetime we believe, whatever `expires_in` or `exp` claim.
const MAX_TTL: Duration = Duration::from_secs(86_400 * 30);

/// A token request's form. Its values include secrets, so it has no `Debug`.
#[derive(Default)]
pub(crate) struct Form(Vec<(&'static str, String)>);

impl Form {
    /// Adds a parameter.
    pub(crate) fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.push((name, value.into()));
        self
    }

    /// Adds a parameter if there is one.
    pub(crate) fn with_opt(self, param: Option<(&'static str, String)>) -> Self {
        match param {
            Some((name, value)) => self.with(name, value),
            None => self,
        }
    }

    /// As the HTTP client takes it.
    pub(crate) fn pairs(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[cfg(test)]
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|(k, _)| *k).collect()
    }
}

/// A successful token response (RFC 6749 §5.1), as sent.
#[derive(Clone, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: Option<String>,
    pub(crate) expires_in: Option<Value>,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) id_token: Option<String>,
}

/// Checks a token response's access token for `audience` and builds its cache entry: when it
/// is a JWT its `aud` must name `audience` and no other of the `configured` audiences; its
/// granted scopes must cover `requested`. An opaque token is the provider's answer for the
/// audience the request named.
pub(crate) fn accept_access_token(
    resp: &TokenResponse,
    audience: &Audience,
    requested: &ScopeSet,
    config: &ProviderConfig,
    now: SystemTime,
) -> Result<CacheEntry, AuthError> {
    let claims = id_token::unverified_claims(&resp.access_token);
    if let Some(c) = &claims {
        let auds = id_token::audiences(c);
        // An audience may be known to its tokens by other names too (accepted audiences).
        let ours = config.audience_names(audience);
        let leaks_other = auds.iter().any(|a| {
            !ours.contains(&a.as_str())
                && config
                    .audiences
                    .iter()
                    .any(|k| config.audience_names(k).contains(&a.as_str()))
        });
        if !auds.iter().any(|a| ours.contains(&a.as_str())) || leaks_other {
            // E.g. Auth0 MRRT fallback to the login audience: never hand out a wrong token.
            tracing::warn!(audience = %audience, granted = %auds.join(" "),
                "the provider returned a token for a different audience");
            return Err(AuthError::AudienceNotGranted {
                audience: audience.to_string(),
                granted: auds,
                description: None,
            });
        }
    }
    let empty = Map::new();
    let granted = granted_scopes(
        resp.scope.as_deref(),
        claims.as_ref().unwrap_or(&empty),
        requested,
    );
    let missing = granted.missing_from(requested);
    if !missing.is_empty() {
        return Err(AuthError::ScopeNotGranted {
            audience: audience.to_string(),
            missing,
        });
    }
    let expires_at = expiry(resp.expires_in.as_ref(), claims.as_ref(), now);
    Ok(CacheEntry {
        grant: TokenGrant {
            access_token: AccessToken::new(resp.access_token.clone()),
            expires_at: unix_ms(expires_at),
            scope: granted.to_string(),
            token_type: resp.token_type.clone().unwrap_or_else(|| "Bearer".into()),
            audience: audience.to_string(),
        },
        granted,
        requested: requested.clone(),
        obtained_at: now,
        expires_at,
        last_used: now,
        authn: Default::default(),
    })
}

/// The API scopes of `s`: what a refresh of a token carrying `s` asks for again.
pub(crate) fn api_scopes(s: &ScopeSet) -> ScopeSet {
    let mut out = ScopeSet::empty();
    for x in s.iter().filter(|x| !OIDC_SCOPES.contains(x)) {
        out.insert(x);
    }
    out
}

/// Granted scopes: the response's `scope`, else the token's `scope`/`scp` claim, else (RFC 6749 §5.1) as requested.
pub(crate) fn granted_scopes(
    scope: Option<&str>,
    claims: &Map<String, Value>,
    requested: &ScopeSet,
) -> ScopeSet {
    if let Some(s) = scope.and_then(|s| ScopeSet::parse(s).ok()) {
        return s;
    }
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => ScopeSet::parse(s).unwrap_or_else(|_| requested.clone()),
        Some(Value::Array(a)) => {
            let joined: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
            ScopeSet::parse(&joined.join(" ")).unwrap_or_else(|_| requested.clone())
        }
        _ => requested.clone(),
    }
}

/// When a token from this response expires, by our clock.
pub(crate) fn expiry(
    expires_in: Option<&Value>,
    claims: Option<&Map<String, Value>>,
    now: SystemTime,
) -> SystemTime {
    now.checked_add(lifetime(expires_in, claims, now))
        .unwrap_or(now)
}

/// Token lifetime from `expires_in` (number or numeric string), else the JWT `exp`, else a fallback.
fn lifetime(
    expires_in: Option<&Value>,
    claims: Option<&Map<String, Value>>,
    now: SystemTime,
) -> Duration {
    let from_response = expires_in.and_then(|v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    if let Some(secs) = from_response {
        return Duration::from_secs(secs).min(MAX_TTL);
    }
    let exp = claims.and_then(|c| c.get("exp")).and_then(Value::as_u64);
    match exp {
        // Capped like `expires_in`: found by the token_response fuzz target (an `exp` in the far
        // future was believed, and `u64::MAX` overflowed the expiry time).
        Some(exp) => Duration::from_secs(exp.saturating_sub(unix_secs(now))).min(MAX_TTL),
        None => FALLBACK_TTL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    const BILLING: &str = "https://api.portico.dev/billing";
    const CORE: &str = "https://api.portico.dev/core";

    /// An unsigned JWT-shaped access token: only its claims matter here.
    fn jwt(claims: Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.sig", part(&json!({"alg": "RS256"})), part(&claims))
    }

    fn response(access_token: String, scope: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: None,
            expires_in: Some(json!(600)),
            scope: scope.map(str::to_owned),
            refresh_token: None,
            id_token: None,
        }
    }

    fn configured() -> ProviderConfig {
        ProviderConfig::builder(url::Url::parse("https://idp.example.com/").unwrap(), "c")
            .audiences([
                Audience::parse(BILLING).unwrap(),
                Audience::parse(CORE).unwrap(),
            ])
            .accepted_audiences(
                Audience::parse(CORE).unwrap(),
                ["8f0c1b8e-core-app-id".to_owned()],
            )
            .build()
            .unwrap()
    }

    #[test]
    fn granted_scope_precedence() {
        let req = ScopeSet::parse("a").unwrap();
        let claims = json!({"scope": "x y"}).as_object().unwrap().clone();
        assert_eq!(
            granted_scopes(Some("b c"), &claims, &req).to_string(),
            "b c"
        );
        assert_eq!(granted_scopes(None, &claims, &req).to_string(), "x y");
        let scp = json!({"scp": ["p", "q"]}).as_object().unwrap().clone();
        assert_eq!(granted_scopes(None, &scp, &req).to_string(), "p q");
        assert_eq!(granted_scopes(None, &Map::new(), &req).to_string(), "a");
    }

    #[test]
    fn lifetime_sources() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            lifetime(Some(&json!(600)), None, now),
            Duration::from_secs(600)
        );
        assert_eq!(
            lifetime(Some(&json!("90")), None, now),
            Duration::from_secs(90)
        );
        let c = json!({"exp": 1300}).as_object().unwrap().clone();
        assert_eq!(lifetime(None, Some(&c), now), Duration::from_secs(300));
        assert_eq!(lifetime(None, None, now), FALLBACK_TTL);
        let far = json!({"exp": u64::MAX}).as_object().unwrap().clone();
        assert_eq!(lifetime(None, Some(&far), now), MAX_TTL);
        assert_eq!(expiry(None, Some(&far), now), now + MAX_TTL);
        assert_eq!(lifetime(Some(&json!(u64::MAX)), None, now), MAX_TTL);
    }

    #[test]
    fn api_scopes_drop_oidc_ones() {
        let s = ScopeSet::parse("openid profile email offline_access read:x").unwrap();
        assert_eq!(api_scopes(&s).to_string(), "read:x");
    }

    #[test]
    fn an_access_token_for_the_audience_is_accepted_with_its_scopes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let billing = Audience::parse(BILLING).unwrap();
        let token = jwt(json!({"aud": [BILLING, "https://idp/userinfo"], "scope": "read:x"}));
        let requested = ScopeSet::parse("read:x").unwrap();
        let entry = accept_access_token(
            &response(token.clone(), None),
            &billing,
            &requested,
            &configured(),
            now,
        )
        .unwrap();
        assert_eq!(entry.grant.access_token.expose_secret(), token);
        assert_eq!(entry.grant.audience, BILLING);
        assert_eq!(entry.grant.scope, "read:x");
        assert_eq!(entry.grant.token_type, "Bearer");
        assert_eq!(entry.expires_at, now + Duration::from_secs(600));
        assert_eq!(entry.requested, requested);
    }

    #[test]
    fn a_token_for_another_or_a_second_configured_audience_is_refused() {
        let now = SystemTime::UNIX_EPOCH;
        let billing = Audience::parse(BILLING).unwrap();
        let none = ScopeSet::empty();
        for aud in [json!(CORE), json!([BILLING, CORE])] {
            let token = jwt(json!({ "aud": aud }));
            let refused =
                accept_access_token(&response(token, None), &billing, &none, &configured(), now);
            assert!(
                matches!(&refused, Err(AuthError::AudienceNotGranted { granted, .. }) if granted.iter().any(|g| g == CORE)),
                "{aud}"
            );
        }
        // Another name of core (its application id) is core's too: refused for billing,
        // accepted for core.
        let core = Audience::parse(CORE).unwrap();
        let token = jwt(json!({ "aud": "8f0c1b8e-core-app-id" }));
        assert!(matches!(
            accept_access_token(
                &response(token.clone(), None),
                &billing,
                &none,
                &configured(),
                now
            ),
            Err(AuthError::AudienceNotGranted { .. })
        ));
        assert!(
            accept_access_token(&response(token, None), &core, &none, &configured(), now).is_ok()
        );
        // An opaque token is the answer for the audience the request named.
        assert!(accept_access_token(
            &response("opaque".into(), None),
            &billing,
            &none,
            &configured(),
            now
        )
        .is_ok());
    }

    #[test]
    fn missing_scopes_are_refused_by_name() {
        let billing = Audience::parse(BILLING).unwrap();
        let requested = ScopeSet::parse("read:x write:x").unwrap();
        let refused = accept_access_token(
            &response("opaque".into(), Some("read:x")),
            &billing,
            &requested,
            &configured(),
            SystemTime::UNIX_EPOCH,
        );
        assert!(
            matches!(&refused, Err(AuthError::ScopeNotGranted { missing, .. }) if missing == &["write:x".to_owned()]),
            "{:?}",
            refused.err()
        );
    }

    #[test]
    fn forms_keep_their_order_and_skip_what_is_absent() {
        let form = Form::default()
            .with("grant_type", "refresh_token")
            .with_opt(None)
            .with_opt(Some(("resource", "https://a/".to_owned())));
        assert_eq!(
            form.pairs(),
            vec![("grant_type", "refresh_token"), ("resource", "https://a/")]
        );
        assert_eq!(form.get("resource"), Some("https://a/"));
        assert_eq!(form.names(), vec!["grant_type", "resource"]);
    }
}
