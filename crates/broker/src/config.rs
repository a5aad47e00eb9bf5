//! Provider configuration, audiences, scopes and broker options, with validation.

use crate::dialect::{Dialect, Revocation};
use crate::error::AuthError;
use portico_types::net::is_loopback;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;
use url::Url;

/// Longest audience identifier we accept.
pub const MAX_AUDIENCE_LEN: usize = 512;

/// An API audience (Auth0 `audience`, RFC 8707 `resource`): a validated absolute URI, kept verbatim.
///
/// ```
/// use portico_broker::Audience;
/// let a = Audience::parse("https://api.portico.dev/billing").unwrap();
/// assert_eq!(a.as_str(), "https://api.portico.dev/billing");
/// assert!(Audience::parse("not a uri").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Audience(String);

impl Audience {
    /// Validates: non-empty, at most 512 chars, no whitespace or control chars, absolute URI, no fragment
    /// (RFC 8707 §2).
    pub fn parse(s: &str) -> Result<Audience, AuthError> {
        let bad = |reason: &str| AuthError::InvalidAudience {
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.len() > MAX_AUDIENCE_LEN {
            return Err(bad("longer than 512 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let url = Url::parse(s).map_err(|_| bad("not an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(bad("contains a fragment"));
        }
        Ok(Audience(s.to_owned()))
    }

    /// The identifier exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Audience::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A set of OAuth scopes (RFC 6749 §3.3), ordered, displayed space-separated.
///
/// ```
/// use portico_broker::ScopeSet;
/// let big = ScopeSet::parse("read:invoices write:invoices").unwrap();
/// let small = ScopeSet::parse("read:invoices").unwrap();
/// assert!(big.is_superset_of(&small));
/// assert_eq!(big.to_string(), "read:invoices write:invoices");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-separated list; every token must be RFC 6749 `scope-token` characters.
    pub fn parse(s: &str) -> Result<ScopeSet, AuthError> {
        let mut set = BTreeSet::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            let ok = tok
                .chars()
                .all(|c| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'));
            if !ok || tok.len() > 256 {
                return Err(AuthError::InvalidScope {
                    reason: "scope token with characters outside RFC 6749 §3.3".into(),
                });
            }
            set.insert(tok.to_owned());
        }
        Ok(ScopeSet(set))
    }

    /// Whether every scope of `other` is in `self`.
    pub fn is_superset_of(&self, other: &ScopeSet) -> bool {
        self.0.is_superset(&other.0)
    }

    /// Scopes of `other` missing from `self`.
    pub fn missing_from(&self, other: &ScopeSet) -> Vec<String> {
        other.0.difference(&self.0).cloned().collect()
    }

    /// Adds one scope (trusted input: our own constants).
    pub fn insert(&mut self, scope: &str) {
        self.0.insert(scope.to_owned());
    }

    /// Whether the set contains `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Union of two sets.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.union(&other.0).cloned().collect())
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates the scopes in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScopeSet::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Where the provider sends the browser back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectUri {
    /// A private-use URI scheme (RFC 8252 §7.1), e.g. `dev.portico.app:/callback`, delivered by deep link.
    PrivateScheme(Url),
    /// `http://127.0.0.1:{port}{path}` (RFC 8252 §7.3); the port is chosen at login.
    Loopback { path: String },
}

/// Everything the broker needs to know about the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// The issuer, compared exactly with discovery, `iss` and ID tokens. Plain http only on loopback.
    pub issuer: Url,
    /// The public client's id.
    pub client_id: String,
    /// The redirect URI registered for this client.
    pub redirect: RedirectUri,
    /// How audiences and logout are spoken.
    pub dialect: Dialect,
    /// Every audience any MFE may request (RFC 8707: all of them are sent at /authorize).
    pub audiences: Vec<Audience>,
    /// Auth0: the `audience` sent at login (must be one of `audiences`).
    pub default_audience: Option<Audience>,
    /// Login scopes; `openid` and `offline_access` are always added.
    pub scopes: ScopeSet,
    /// Extra /authorize parameters (e.g. `prompt=consent`); protocol parameters cannot be overridden.
    pub extra_authorize_params: Vec<(String, String)>,
    /// Where the provider returns the browser after logout (`returnTo` / `post_logout_redirect_uri`).
    #[serde(default)]
    pub post_logout_redirect: Option<Url>,
    /// How refresh tokens are revoked (RFC 7009 unless the provider needs otherwise).
    #[serde(default)]
    pub revocation: Revocation,
}

/// Parameters a caller may not set through `extra_authorize_params`.
const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "audience",
    "resource",
    "response_mode",
    "request",
    "request_uri",
];

/// https everywhere, http only for loopback hosts.
pub(crate) fn check_endpoint_url(url: &Url, what: &str) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!("{what} uses plain http on a non-loopback host")),
        _ => Err(format!("{what} is not an http(s) URL")),
    }
}

impl ProviderConfig {
    /// Checks the configuration; [`crate::Broker::new`] calls this.
    pub fn validate(&self) -> Result<(), AuthError> {
        check_endpoint_url(&self.issuer, "issuer").map_err(AuthError::config)?;
        if self.issuer.query().is_some() || self.issuer.fragment().is_some() {
            return Err(AuthError::config(
                "issuer must not have a query or fragment",
            ));
        }
        if !self.issuer.username().is_empty() || self.issuer.password().is_some() {
            return Err(AuthError::config("issuer must not carry credentials"));
        }
        if self.client_id.is_empty()
            || self.client_id.len() > 256
            || self
                .client_id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AuthError::config(
                "client_id must be 1-256 visible characters",
            ));
        }
        match &self.redirect {
            RedirectUri::PrivateScheme(u) => {
                // RFC 8252 §7.1: reverse-DNS private scheme; never http(s) here.
                if matches!(u.scheme(), "http" | "https") || !u.scheme().contains('.') {
                    return Err(AuthError::config(
                        "private-scheme redirect needs a reverse-DNS scheme like com.example.app",
                    ));
                }
                if u.fragment().is_some() || u.query().is_some() {
                    return Err(AuthError::config(
                        "redirect URI must not have a query or fragment",
                    ));
                }
            }
            RedirectUri::Loopback { path } => {
                if !path.starts_with('/') || path.contains(['?', '#']) {
                    return Err(AuthError::config(
                        "loopback redirect path must start with / and have no query or fragment",
                    ));
                }
            }
        }
        let mut seen = BTreeSet::new();
        for a in &self.audiences {
            if !seen.insert(a.as_str()) {
                return Err(AuthError::config(format!("duplicate audience {a}")));
            }
        }
        if let Some(d) = &self.default_audience {
            if !self.audiences.contains(d) {
                return Err(AuthError::config(
                    "default_audience must be one of the audiences",
                ));
            }
        }
        for (k, _) in &self.extra_authorize_params {
            if RESERVED_PARAMS.contains(&k.as_str()) {
                return Err(AuthError::config(format!(
                    "extra authorize parameter {k} would override the protocol"
                )));
            }
        }
        if let Some(u) = &self.post_logout_redirect {
            if u.fragment().is_some() {
                return Err(AuthError::config(
                    "post-logout redirect must not have a fragment",
                ));
            }
        }
        Ok(())
    }

    /// Login scopes including the ones the broker always needs.
    pub fn login_scopes(&self) -> ScopeSet {
        let mut s = self.scopes.clone();
        s.insert("openid");
        s.insert("offline_access");
        s
    }

    /// The audience the sign-in's own access token is for (see [`Dialect::login_token_audience`]).
    pub fn login_token_audience(&self) -> Option<&Audience> {
        self.dialect
            .login_token_audience(&self.audiences, self.default_audience.as_ref())
    }

    /// Whether an audience is registered.
    pub fn knows(&self, audience: &Audience) -> bool {
        self.audiences.contains(audience)
    }
}

/// Tunables of the broker. `Default` gives production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerOptions {
    /// A cached token is served only with more than this left.
    pub min_ttl: Duration,
    /// Tokens in use are refreshed this long before expiry.
    pub refresh_skew: Duration,
    /// Per-request timeout.
    pub http_timeout: Duration,
    /// Retries after the first attempt for network errors, 5xx and 429.
    pub max_retries: u32,
    /// How long a pending login stays valid.
    pub transaction_ttl: Duration,
    /// Clock skew tolerated for ID token `exp`/`iat`.
    pub leeway: Duration,
    /// Minimum time between JWKS refetches triggered by unknown `kid`s.
    pub jwks_refetch_min_interval: Duration,
    /// First backoff step; doubles per retry, with full jitter.
    pub retry_base_delay: Duration,
    /// Longest `Retry-After` we wait for inside one call; longer ones become `rate_limited` at once.
    pub max_retry_after: Duration,
    /// How often the proactive-refresh task looks at the cache (real time).
    pub proactive_check_interval: Duration,
    /// A token counts as "in use" if it was handed out within this window.
    pub in_use_window: Duration,
    /// How long a lasting refusal (a scope the user lacks, an audience not granted) is answered
    /// from memory before the provider is asked again.
    pub refusal_memory: Duration,
    /// Provider requests one caller (a micro frontend) may cause: a burst, then a steady rate.
    pub caller_token_rate: TokenRate,
    /// Bounds of a native fetch (bodies, time, redirects).
    pub fetch: crate::fetch::FetchLimits,
}

/// A token bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRate {
    /// Requests allowed at once.
    pub burst: u32,
    /// Requests added back per minute.
    pub per_minute: u32,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(60),
            refresh_skew: Duration::from_secs(120),
            http_timeout: Duration::from_secs(10),
            max_retries: 2,
            transaction_ttl: Duration::from_secs(600),
            leeway: Duration::from_secs(30),
            jwks_refetch_min_interval: Duration::from_secs(30),
            retry_base_delay: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(30),
            proactive_check_interval: Duration::from_secs(15),
            in_use_window: Duration::from_secs(900),
            refusal_memory: Duration::from_secs(30),
            // An MFE's own misses are rare (tokens are cached and refreshed ahead by the
            // broker, which is not charged); 20 at once and one every 2 s covers reloads.
            caller_token_rate: TokenRate {
                burst: 20,
                per_minute: 30,
            },
            fetch: crate::fetch::FetchLimits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aud(s: &str) -> Audience {
        Audience::parse(s).unwrap()
    }

    pub(crate) fn sample() -> ProviderConfig {
        ProviderConfig {
            issuer: Url::parse("https://tenant.example.com/").unwrap(),
            client_id: "portico-desktop".into(),
            redirect: RedirectUri::PrivateScheme(Url::parse("dev.portico.app:/callback").unwrap()),
            dialect: Dialect::Auth0,
            audiences: vec![
                aud("https://api.portico.dev/billing"),
                aud("https://api.portico.dev/core"),
            ],
            default_audience: Some(aud("https://api.portico.dev/core")),
            scopes: ScopeSet::parse("profile email").unwrap(),
            extra_authorize_params: vec![],
            post_logout_redirect: None,
            revocation: Default::default(),
        }
    }

    #[test]
    fn audience_validation() {
        assert!(Audience::parse("").is_err());
        assert!(Audience::parse("https://a b").is_err());
        assert!(Audience::parse("relative/path").is_err());
        assert!(Audience::parse("https://x/#frag").is_err());
        assert!(Audience::parse(&format!("https://x/{}", "a".repeat(600))).is_err());
        assert!(Audience::parse("urn:portico:api").is_ok());
        // Kept verbatim: no trailing slash added.
        assert_eq!(aud("https://api.x").as_str(), "https://api.x");
        let e = Audience::parse("nope").unwrap_err();
        assert_eq!(e.kind(), "invalid_audience");
    }

    #[test]
    fn scope_set_parsing_and_superset() {
        let s = ScopeSet::parse("  b a  a ").unwrap();
        assert_eq!(s.to_string(), "a b");
        assert!(ScopeSet::parse("bad\"quote").is_err());
        assert!(ScopeSet::parse("tab\tsep").is_err());
        assert!(s.is_superset_of(&ScopeSet::parse("a").unwrap()));
        assert!(!ScopeSet::parse("a").unwrap().is_superset_of(&s));
        assert!(s.is_superset_of(&ScopeSet::empty()));
        assert_eq!(
            ScopeSet::parse("a").unwrap().missing_from(&s),
            vec!["b".to_string()]
        );
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"a b\"");
    }

    #[test]
    fn valid_sample_and_login_scopes() {
        let c = sample();
        c.validate().unwrap();
        let s = c.login_scopes();
        assert!(s.contains("openid") && s.contains("offline_access") && s.contains("profile"));
    }

    #[test]
    fn config_rejections() {
        let mut c = sample();
        c.issuer = Url::parse("http://idp.example.com/").unwrap();
        assert_eq!(c.validate().unwrap_err().kind(), "config_invalid");
        c.issuer = Url::parse("http://127.0.0.1:8080/").unwrap();
        c.validate().unwrap();
        c.issuer = Url::parse("http://[::1]:8080/").unwrap();
        c.validate().unwrap();

        let mut c = sample();
        c.client_id = "has space".into();
        assert!(c.validate().is_err());

        let mut c = sample();
        c.redirect = RedirectUri::PrivateScheme(Url::parse("https://evil.example/cb").unwrap());
        assert!(c.validate().is_err());
        c.redirect = RedirectUri::PrivateScheme(Url::parse("portico:/callback").unwrap());
        assert!(
            c.validate().is_err(),
            "scheme without a dot is not reverse-DNS"
        );
        c.redirect = RedirectUri::Loopback {
            path: "callback".into(),
        };
        assert!(c.validate().is_err());

        let mut c = sample();
        c.default_audience = Some(aud("https://elsewhere/"));
        assert!(c.validate().is_err());

        let mut c = sample();
        c.audiences.push(aud("https://api.portico.dev/core"));
        assert!(c.validate().is_err());

        let mut c = sample();
        c.extra_authorize_params = vec![("state".into(), "x".into())];
        assert!(c.validate().is_err());
        c.extra_authorize_params = vec![("prompt".into(), "consent".into())];
        c.validate().unwrap();
    }
}
