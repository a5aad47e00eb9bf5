//! Provider configuration and broker options. The value types (audiences, scopes, dialect,
//! redirect) and the rule for each setting are `portico-types`'; this module puts them together
//! and adds the rules that span settings.

use crate::error::AuthError;
use portico_types::provider::{
    check_authorize_param, check_client_capability, check_client_id, check_issuer,
    check_post_logout_redirect, DEFAULT_LOOPBACK_PATH,
};
pub use portico_types::{
    Audience, Dialect, Mode, RedirectUri, Revocation, ScopeSet, MAX_AUDIENCE_LEN,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use url::Url;

/// Everything the broker needs to know about the identity provider.
///
/// Built with [`ProviderConfig::builder`] (or deserialized), both of which check every rule, and
/// read through getters: a `ProviderConfig` that exists is a valid one.
///
/// ```
/// use portico_broker::{Audience, Dialect, ProviderConfig, RedirectUri, ScopeSet};
/// # fn main() -> Result<(), portico_broker::AuthError> {
/// let billing = Audience::parse("https://api.portico.dev/billing")?;
/// let config = ProviderConfig::builder("https://tenant.eu.auth0.com/".parse().unwrap(), "portico-desktop")
///     .redirect(RedirectUri::parse("dev.portico.app:/callback")?)
///     .dialect(Dialect::Auth0)
///     .audiences([billing.clone()])
///     .default_audience(billing)
///     .scopes(ScopeSet::parse("profile email")?)
///     .extra_authorize_params([("prompt", "consent")])
///     .build()?;
/// assert_eq!(config.client_id(), "portico-desktop");
/// let refused = config.to_builder().extra_authorize_params([("state", "fixed")]).build();
/// assert_eq!(refused.unwrap_err().kind(), "config_invalid");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Fields")]
pub struct ProviderConfig {
    pub(crate) issuer: Url,
    pub(crate) client_id: String,
    pub(crate) redirect: RedirectUri,
    pub(crate) dialect: Dialect,
    pub(crate) audiences: Vec<Audience>,
    pub(crate) default_audience: Option<Audience>,
    pub(crate) scopes: ScopeSet,
    pub(crate) extra_authorize_params: Vec<(String, String)>,
    pub(crate) post_logout_redirect: Option<Url>,
    pub(crate) revocation: Revocation,
    pub(crate) par: Mode,
    pub(crate) dpop: Mode,
    /// Other names an audience's tokens may carry as `aud` (Entra: the API's application id).
    pub(crate) accepted_audiences: BTreeMap<Audience, Vec<String>>,
    pub(crate) client_capabilities: Vec<String>,
}

/// The settings of a [`ProviderConfig`] before they are checked: the builder's state and the
/// serialized form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Fields {
    issuer: Url,
    client_id: String,
    redirect: RedirectUri,
    dialect: Dialect,
    audiences: Vec<Audience>,
    default_audience: Option<Audience>,
    scopes: ScopeSet,
    extra_authorize_params: Vec<(String, String)>,
    #[serde(default)]
    post_logout_redirect: Option<Url>,
    #[serde(default)]
    revocation: Revocation,
    #[serde(default)]
    par: Mode,
    #[serde(default = "dpop_default")]
    dpop: Mode,
    #[serde(default)]
    accepted_audiences: BTreeMap<Audience, Vec<String>>,
    #[serde(default)]
    client_capabilities: Vec<String>,
}

/// DPoP is off unless asked for: a provider that binds every token it issues with a proof
/// would otherwise turn every `getToken` micro frontend into a refused one.
fn dpop_default() -> Mode {
    Mode::Off
}

impl TryFrom<Fields> for ProviderConfig {
    type Error = AuthError;

    fn try_from(f: Fields) -> Result<ProviderConfig, AuthError> {
        // Each setting by its own rule (portico-types), mapped to `config_invalid`.
        let config = |e: portico_types::Invalid| AuthError::config(e.to_string());
        check_issuer(&f.issuer).map_err(config)?;
        check_client_id(&f.client_id).map_err(config)?;
        f.redirect.check().map_err(config)?;
        for (name, _) in &f.extra_authorize_params {
            check_authorize_param(name).map_err(config)?;
        }
        if let Some(u) = &f.post_logout_redirect {
            check_post_logout_redirect(u).map_err(config)?;
        }
        // The rules between settings.
        let mut seen = BTreeSet::new();
        for a in &f.audiences {
            if !seen.insert(a.as_str()) {
                return Err(AuthError::config(format!(
                    "the audience `{a}` is listed twice"
                )));
            }
        }
        if let Some((a, _)) = f
            .accepted_audiences
            .iter()
            .find(|(a, _)| !f.audiences.contains(a))
        {
            return Err(AuthError::config(format!(
                "accepted audiences are given for `{a}`, which is not one of the audiences"
            )));
        }
        if let Some(alias) = f
            .accepted_audiences
            .values()
            .flatten()
            .find(|n| n.trim().is_empty() || n.len() > MAX_AUDIENCE_LEN)
        {
            return Err(AuthError::config(format!(
                "the accepted audience `{alias}` is empty or too long"
            )));
        }
        for c in &f.client_capabilities {
            check_client_capability(c).map_err(config)?;
        }
        if f.dialect == Dialect::Entra {
            // `common` and `organizations` are checked by the token's `tid` (see
            // `discovered_issuer`); `consumers` is one fixed tenant: use its id.
            let tenant = f.issuer.path_segments().and_then(|mut p| p.next());
            if tenant == Some("consumers") {
                return Err(AuthError::config(format!(
                    "for personal Microsoft accounts use the consumers tenant's id as the issuer (https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0), not `{}`",
                    f.issuer
                )));
            }
        }
        if let Some(d) = &f.default_audience {
            if !f.audiences.contains(d) {
                return Err(AuthError::config(format!(
                    "the default audience `{d}` is not one of the audiences"
                )));
            }
        }
        Ok(ProviderConfig {
            issuer: f.issuer,
            client_id: f.client_id,
            redirect: f.redirect,
            dialect: f.dialect,
            audiences: f.audiences,
            default_audience: f.default_audience,
            scopes: f.scopes,
            extra_authorize_params: f.extra_authorize_params,
            post_logout_redirect: f.post_logout_redirect,
            revocation: f.revocation,
            par: f.par,
            dpop: f.dpop,
            accepted_audiences: f.accepted_audiences,
            client_capabilities: f.client_capabilities,
        })
    }
}

/// For the fuzzer: `None` when `body` does not have a provider configuration's shape, else
/// whether its settings pass the rules (what deserializing a `ProviderConfig` does in one step).
pub(crate) fn shape_then_rules(body: &[u8]) -> Option<Result<ProviderConfig, AuthError>> {
    serde_json::from_slice::<Fields>(body)
        .ok()
        .map(ProviderConfig::try_from)
}

/// Builds a [`ProviderConfig`]; [`build`](ProviderConfigBuilder::build) checks it.
///
/// Defaults: the loopback redirect `http://127.0.0.1:{port chosen at sign-in}/callback`, the
/// RFC 8707 dialect, no audiences, no default audience, no extra scopes (`openid` and
/// `offline_access` are always asked for), no extra parameters, no post-logout redirect, RFC
/// 7009 revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ProviderConfigBuilder(Fields);

impl ProviderConfigBuilder {
    /// The issuer, compared exactly with discovery, `iss` and ID tokens. Plain http only on loopback.
    pub fn issuer(mut self, issuer: Url) -> Self {
        self.0.issuer = issuer;
        self
    }

    /// The public client's id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.0.client_id = client_id.into();
        self
    }

    /// The redirect URI registered for this client.
    pub fn redirect(mut self, redirect: RedirectUri) -> Self {
        self.0.redirect = redirect;
        self
    }

    /// How audiences and logout are spoken.
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.0.dialect = dialect;
        self
    }

    /// Every audience any MFE may request (RFC 8707: all of them are sent at /authorize).
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = Audience>) -> Self {
        self.0.audiences = audiences.into_iter().collect();
        self
    }

    /// Auth0: the `audience` sent at login; RFC 8707: the code exchange's resource (else the
    /// first audience). Must be one of the audiences. `None` for none.
    pub fn default_audience(mut self, audience: impl Into<Option<Audience>>) -> Self {
        self.0.default_audience = audience.into();
        self
    }

    /// Login scopes; `openid` and `offline_access` are always added.
    pub fn scopes(mut self, scopes: ScopeSet) -> Self {
        self.0.scopes = scopes;
        self
    }

    /// Extra /authorize parameters (e.g. `prompt=consent`); protocol parameters are refused
    /// ([`portico_types::provider::RESERVED_AUTHORIZE_PARAMS`]).
    pub fn extra_authorize_params<K: Into<String>, V: Into<String>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.0.extra_authorize_params = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Where the provider returns the browser after logout (`returnTo` / `post_logout_redirect_uri`).
    pub fn post_logout_redirect(mut self, url: impl Into<Option<Url>>) -> Self {
        self.0.post_logout_redirect = url.into();
        self
    }

    /// How refresh tokens are revoked (RFC 7009 unless the provider needs otherwise).
    pub fn revocation(mut self, revocation: Revocation) -> Self {
        self.0.revocation = revocation;
        self
    }

    /// Pushed authorization requests (RFC 9126): `auto` (default) uses them when the provider
    /// advertises `pushed_authorization_request_endpoint`.
    pub fn par(mut self, mode: Mode) -> Self {
        self.0.par = mode;
        self
    }

    /// DPoP (RFC 9449), default `off`. `auto`: when the provider advertises ES256 in
    /// `dpop_signing_alg_values_supported`; `on`: sign-in refuses to start otherwise. Every token
    /// request then carries a proof and the refresh token is bound to a key kept with it in the
    /// store; the provider decides per API whether an access token is bound (`token_type`
    /// `DPoP`), and a bound one is only used by the shell's native fetch, never handed to a page.
    pub fn dpop(mut self, mode: Mode) -> Self {
        self.0.dpop = mode;
        self
    }

    /// Client capabilities to declare (Entra's `xms_cc`, e.g. `CP1`: this client handles claims
    /// challenges), sent as an OIDC claims request with every authorization and token request.
    pub fn client_capabilities(mut self, caps: impl IntoIterator<Item = String>) -> Self {
        self.0.client_capabilities = caps.into_iter().collect();
        self
    }

    /// Other names `audience`'s tokens may carry as `aud` (Entra: an API is often known to its
    /// tokens by its application id, a GUID, rather than its `api://` URI).
    pub fn accepted_audiences(
        mut self,
        audience: Audience,
        names: impl IntoIterator<Item = String>,
    ) -> Self {
        self.0
            .accepted_audiences
            .insert(audience, names.into_iter().collect());
        self
    }

    /// Checks every setting and the rules between them: `config_invalid` naming the first
    /// broken one.
    pub fn build(self) -> Result<ProviderConfig, AuthError> {
        ProviderConfig::try_from(self.0)
    }
}

impl ProviderConfig {
    /// A builder for the client `client_id` at `issuer`, with the defaults of
    /// [`ProviderConfigBuilder`].
    pub fn builder(issuer: Url, client_id: impl Into<String>) -> ProviderConfigBuilder {
        ProviderConfigBuilder(Fields {
            issuer,
            client_id: client_id.into(),
            redirect: RedirectUri::Loopback {
                path: DEFAULT_LOOPBACK_PATH.into(),
                port: None,
            },
            dialect: Dialect::Rfc8707,
            audiences: Vec::new(),
            default_audience: None,
            scopes: ScopeSet::empty(),
            extra_authorize_params: Vec::new(),
            post_logout_redirect: None,
            revocation: Revocation::Rfc7009,
            par: Mode::Auto,
            dpop: dpop_default(),
            accepted_audiences: BTreeMap::new(),
            client_capabilities: Vec::new(),
        })
    }

    /// A builder holding this configuration, to change some of it.
    pub fn to_builder(&self) -> ProviderConfigBuilder {
        ProviderConfigBuilder(Fields {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            redirect: self.redirect.clone(),
            dialect: self.dialect,
            audiences: self.audiences.clone(),
            default_audience: self.default_audience.clone(),
            scopes: self.scopes.clone(),
            extra_authorize_params: self.extra_authorize_params.clone(),
            post_logout_redirect: self.post_logout_redirect.clone(),
            revocation: self.revocation,
            par: self.par,
            dpop: self.dpop,
            accepted_audiences: self.accepted_audiences.clone(),
            client_capabilities: self.client_capabilities.clone(),
        })
    }

    /// The OIDC `claims` parameter to send: the client capabilities (`xms_cc`) merged with
    /// `extra` (a step-up's claims request). `None` when there is neither.
    pub(crate) fn claims_param(&self, extra: Option<&str>) -> Option<String> {
        let mut merged = extra
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        if !self.client_capabilities.is_empty() {
            let at = &mut merged["access_token"];
            if !at.is_object() {
                *at = serde_json::json!({});
            }
            at["xms_cc"] = serde_json::json!({ "values": self.client_capabilities });
        }
        match merged.as_object() {
            Some(m) if m.is_empty() => None,
            _ => Some(merged.to_string()),
        }
    }

    /// The issuer discovery must state: the configured one, or for an Entra tenant-independent
    /// authority (`…/common/v2.0`, `…/organizations/v2.0`) Microsoft's template with
    /// `{tenantid}`, which ID tokens then match through their `tid`.
    pub(crate) fn discovered_issuer(&self) -> String {
        let mut segments = self.issuer.path_segments().into_iter().flatten();
        let tenant_independent = self.dialect == Dialect::Entra
            && matches!(segments.next(), Some("common" | "organizations"));
        if !tenant_independent {
            return self.issuer.as_str().to_owned();
        }
        let rest: Vec<&str> = segments.collect();
        let mut template = format!(
            "{}/{}",
            self.issuer.origin().ascii_serialization(),
            crate::id_token::TENANT_PLACEHOLDER
        );
        for s in rest {
            template.push('/');
            template.push_str(s);
        }
        template
    }

    /// How pushed authorization requests are used.
    pub fn par(&self) -> Mode {
        self.par
    }

    /// How DPoP is used.
    pub fn dpop(&self) -> Mode {
        self.dpop
    }

    /// The issuer, compared exactly with discovery, `iss` and ID tokens.
    pub fn issuer(&self) -> &Url {
        &self.issuer
    }

    /// The public client's id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The redirect URI registered for this client.
    pub fn redirect(&self) -> &RedirectUri {
        &self.redirect
    }

    /// How audiences and logout are spoken.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Every audience any MFE may request.
    pub fn audiences(&self) -> &[Audience] {
        &self.audiences
    }

    /// The audience of the login (one of [`audiences`](Self::audiences)), if any.
    pub fn default_audience(&self) -> Option<&Audience> {
        self.default_audience.as_ref()
    }

    /// The configured login scopes (without the ones [`login_scopes`](Self::login_scopes) adds).
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Extra /authorize parameters, in order.
    pub fn extra_authorize_params(&self) -> &[(String, String)] {
        &self.extra_authorize_params
    }

    /// Where the provider returns the browser after logout.
    pub fn post_logout_redirect(&self) -> Option<&Url> {
        self.post_logout_redirect.as_ref()
    }

    /// How refresh tokens are revoked.
    pub fn revocation(&self) -> Revocation {
        self.revocation
    }

    /// Login scopes including the ones the broker always needs, in the dialect's form.
    pub fn login_scopes(&self) -> ScopeSet {
        let mut s = self.scopes.clone();
        s.insert("openid");
        s.insert("offline_access");
        if self.dialect != Dialect::Entra {
            return s;
        }
        let configured: Vec<&str> = s.iter().collect();
        let mut out = ScopeSet::empty();
        for x in self
            .dialect
            .login_scopes(&configured, self.login_token_audience())
        {
            out.insert(&x);
        }
        out
    }

    /// The names `audience`'s tokens may carry as `aud`: the audience itself and the
    /// accepted other names.
    pub fn audience_names<'a>(&'a self, audience: &'a Audience) -> Vec<&'a str> {
        std::iter::once(audience.as_str())
            .chain(
                self.accepted_audiences
                    .get(audience)
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            )
            .collect()
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

    /// The URL that ends the provider session (see [`Dialect::end_session_url`]).
    pub fn end_session_url(
        &self,
        end_session_endpoint: Option<&Url>,
        id_token_hint: Option<&str>,
    ) -> Option<Url> {
        self.dialect.end_session_url(
            &self.issuer,
            &self.client_id,
            self.post_logout_redirect.as_ref(),
            end_session_endpoint,
            id_token_hint,
        )
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

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    pub(crate) fn sample() -> ProviderConfigBuilder {
        ProviderConfig::builder(url("https://tenant.example.com/"), "portico-desktop")
            .redirect(RedirectUri::PrivateScheme(url("dev.portico.app:/callback")))
            .dialect(Dialect::Auth0)
            .audiences([
                aud("https://api.portico.dev/billing"),
                aud("https://api.portico.dev/core"),
            ])
            .default_audience(aud("https://api.portico.dev/core"))
            .scopes(ScopeSet::parse("profile email").unwrap())
    }

    #[test]
    fn audience_and_scope_errors_keep_their_kinds() {
        let e: AuthError = Audience::parse("nope").unwrap_err().into();
        assert_eq!(e.kind(), "invalid_audience");
        assert_eq!(
            e.to_string(),
            "The audience is not valid: `nope` is not an absolute URI."
        );
        let e: AuthError = Audience::parse("").unwrap_err().into();
        assert_eq!(
            e.to_string(),
            "The audience is not valid: the audience is empty."
        );
        let e: AuthError = ScopeSet::parse("bad\"quote").unwrap_err().into();
        assert_eq!(e.kind(), "invalid_scope");
    }

    #[test]
    fn valid_sample_and_login_scopes() {
        let c = sample().build().unwrap();
        let s = c.login_scopes();
        assert!(s.contains("openid") && s.contains("offline_access") && s.contains("profile"));
        assert_eq!(c.to_builder().build().unwrap(), c);
    }

    #[test]
    fn config_rejections() {
        let kind = |b: ProviderConfigBuilder| b.build().unwrap_err().kind();
        assert_eq!(
            kind(sample().issuer(url("http://idp.example.com/"))),
            "config_invalid"
        );
        sample()
            .issuer(url("http://127.0.0.1:8080/"))
            .build()
            .unwrap();
        sample().issuer(url("http://[::1]:8080/")).build().unwrap();
        assert_eq!(
            kind(sample().issuer(url("https://u:p@idp.example.com/"))),
            "config_invalid"
        );

        assert_eq!(kind(sample().client_id("has space")), "config_invalid");
        assert_eq!(kind(sample().client_id("")), "config_invalid");

        let redirect = |r: RedirectUri| kind(sample().redirect(r));
        assert_eq!(
            redirect(RedirectUri::PrivateScheme(url("https://evil.example/cb"))),
            "config_invalid"
        );
        assert_eq!(
            redirect(RedirectUri::PrivateScheme(url("portico:/callback"))),
            "config_invalid",
            "scheme without a dot is not reverse-DNS"
        );
        assert_eq!(
            redirect(RedirectUri::Loopback {
                path: "callback".into(),
                port: None
            }),
            "config_invalid"
        );

        assert_eq!(
            kind(sample().default_audience(aud("https://elsewhere/"))),
            "config_invalid"
        );
        assert_eq!(
            kind(sample().audiences([
                aud("https://api.portico.dev/core"),
                aud("https://api.portico.dev/core")
            ])),
            "config_invalid"
        );

        for reserved in ["state", "response_mode", "request", "request_uri"] {
            assert_eq!(
                kind(sample().extra_authorize_params([(reserved, "x")])),
                "config_invalid",
                "{reserved}"
            );
        }
        sample()
            .extra_authorize_params([("prompt", "consent")])
            .build()
            .unwrap();

        assert_eq!(
            kind(sample().post_logout_redirect(url("https://app.example/bye#x"))),
            "config_invalid"
        );
    }

    #[test]
    fn deserializing_checks_the_same_rules() {
        let good = serde_json::to_value(sample().build().unwrap()).unwrap();
        let back: ProviderConfig = serde_json::from_value(good.clone()).unwrap();
        assert_eq!(back, sample().build().unwrap());
        let mut bad = good;
        bad["extra_authorize_params"] = serde_json::json!([["nonce", "x"]]);
        let e = serde_json::from_value::<ProviderConfig>(bad).unwrap_err();
        assert!(e.to_string().contains("`nonce` is set by Portico"), "{e}");
    }
}
