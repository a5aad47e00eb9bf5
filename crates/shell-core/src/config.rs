//! The shell's configuration: the micro frontend registry and the provider, read from the
//! `plugins.portico` section of the root `tauri.conf.json` (or the file `PORTICO_CONFIG` names),
//! with environment overrides for the provider. Everything is validated once, at start, into
//! types that cannot hold a bad value: the provider becomes the broker's own [`ProviderConfig`],
//! and every value is checked by its one rule in `portico-types`, reported here with its field.

use std::collections::{BTreeMap, BTreeSet};

use portico_broker::fetch::ApiBase;
use portico_broker::ProviderConfig;
use portico_types::invalid::{Invalid, Kind};
use portico_types::provider::{
    check_authorize_param, check_client_capability, check_client_id, check_secure_url,
    parse_issuer, parse_url,
};
use portico_types::scope::check_scope_token;
use portico_types::{Audience, Dialect, Mode, RedirectUri, Revocation, ScopeSet};
use serde::Deserialize;
use url::Url;

/// What went wrong in the configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error at `{field}`: {problem}")]
pub struct ConfigError {
    /// A JSON-path-like location (`mfes[1].audiences[0]`) or an environment variable name.
    pub field: String,
    /// What is wrong with it, in words a person configuring the app understands.
    pub problem: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// A value its rule refused (the rule's own words, with the value), at `field`.
    fn invalid(field: impl Into<String>, e: Invalid) -> Self {
        Self::new(field, e.detail())
    }
}

/// Where a micro frontend's page comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfeSource {
    /// Files embedded in the app under this folder of `ui/web`, served on a loopback origin of
    /// its own.
    Bundled(String),
    /// A remote page (`https://`, or `http://` on loopback for development).
    Remote(Url),
}

/// A web origin (`scheme://host:port`), compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin(String);

impl Origin {
    /// The origin of a URL; `None` for opaque origins (`data:`, `about:`).
    pub fn of(url: &Url) -> Option<Origin> {
        match url.origin() {
            url::Origin::Tuple(..) => Some(Origin(url.origin().ascii_serialization())),
            url::Origin::Opaque(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One registered micro frontend.
#[derive(Debug, Clone, PartialEq)]
pub struct MfeEntry {
    /// `[a-z0-9-]{1,32}`; the webview label is `mfe-{id}`.
    pub id: String,
    pub title: String,
    pub source: MfeSource,
    /// Origins its webview may show; for bundled MFEs filled in once the host has a port.
    pub origins: Vec<Origin>,
    /// The only audiences it may ask tokens for.
    pub audiences: Vec<Audience>,
    /// The most it may ask for; a request for more is narrowed by the provider, not here.
    pub scopes: Vec<String>,
    /// Free-form settings handed to the page by `mfe_context` (e.g. `apiUrl`).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The APIs its native `fetch` may reach, each with the audience whose token it gets.
    pub apis: Vec<MfeApi>,
    /// Whether its page may hold tokens, or only fetch through the shell.
    pub token_exposure: TokenExposure,
    /// Whether a host creates its webview at start even when it is not shown (by default a
    /// webview is made when its MFE is first shown; the first MFE always is at start).
    pub preload: bool,
    /// How long its webview may stay hidden, after it was shown, before a host frees it (made
    /// again when shown); `None`: kept while the app runs.
    pub unload_after: Option<std::time::Duration>,
}

/// One API of an MFE: requests under `base` get a token for `audience` (one of the MFE's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfeApi {
    pub base: ApiBase,
    pub audience: Audience,
}

/// Whether an MFE's page is handed tokens (`getToken`, pushes) or only fetches through the shell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenExposure {
    /// `getToken` and token pushes, as well as `fetch`.
    #[default]
    Page,
    /// `fetch` only: no token ever reaches the page (`"tokenExposure": "fetch-only"`).
    FetchOnly,
}

impl TokenExposure {
    fn parse(s: &str) -> Option<TokenExposure> {
        match s {
            "page" => Some(TokenExposure::Page),
            "fetch-only" => Some(TokenExposure::FetchOnly),
            _ => None,
        }
    }
}

impl MfeEntry {
    /// The label the shell gives this MFE's webview.
    pub fn webview_label(&self) -> String {
        format!("{MFE_LABEL_PREFIX}{}", self.id)
    }

    /// The content policy its bundled pages are served with: network access to its own origin,
    /// the shell's IPC, its `apis`, and the http(s) URLs among its `settings` (`apiUrl`, which
    /// its page calls itself, or a bench's report URL): all named by the host's configuration.
    pub fn content_policy(&self) -> crate::mfe_host::ContentPolicy {
        let in_settings = self
            .settings
            .values()
            .filter_map(serde_json::Value::as_str)
            .filter_map(|u| url::Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        self.apis
            .iter()
            .map(|a| a.base.url().clone())
            .chain(in_settings)
            .fold(crate::mfe_host::ContentPolicy::default(), |p, u| {
                p.connect_to(&u)
            })
    }
}

/// Every MFE webview label starts with this; nothing else does.
pub const MFE_LABEL_PREFIX: &str = "mfe-";

/// The validated configuration of the shell.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellConfig {
    /// `None`: none configured (the embedded default, when the app has it, fills it in). The
    /// broker's configuration itself: every registered audience, and the sign-in scopes with
    /// those of the MFEs the sign-in covers.
    pub provider: Option<ProviderConfig>,
    pub mfes: Vec<MfeEntry>,
    /// A command that opens URLs instead of the desktop's default browser (`$BROWSER` style:
    /// the URL is appended as the last argument).
    pub browser: Option<String>,
    /// How a URL that carries secrets (sign-in, step-up, sign-out) reaches the browser.
    pub browser_handoff: BrowserHandoff,
    /// The keyring service name under which the session is stored.
    pub keyring_service: String,
}

/// How a URL that carries secrets reaches the system browser (`browserHandoff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrowserHandoff {
    /// Through a one-use loopback URL that forwards to it ([`crate::handoff`]): the secrets are
    /// never on a command line.
    #[default]
    Loopback,
    /// As the browser's argument, for a desktop whose URL handler fetches a link before the
    /// browser does (the one use would be gone).
    Direct,
}

impl BrowserHandoff {
    fn parse(raw: &str) -> Result<BrowserHandoff, String> {
        match raw {
            "loopback" => Ok(BrowserHandoff::Loopback),
            "direct" => Ok(BrowserHandoff::Direct),
            other => Err(format!("`{other}` is not one of `loopback`, `direct`")),
        }
    }
}

impl ShellConfig {
    /// Every audience any MFE may request, in registry order, without repeats.
    pub fn all_audiences(&self) -> Vec<Audience> {
        let mut seen = BTreeSet::new();
        self.mfes
            .iter()
            .flat_map(|m| m.audiences.iter())
            .filter(|a| seen.insert(a.as_str()))
            .cloned()
            .collect()
    }

    pub fn mfe(&self, id: &str) -> Option<&MfeEntry> {
        self.mfes.iter().find(|m| m.id == id)
    }

    /// Read and validate. `section` is the `plugins.portico` JSON value; `env` answers
    /// environment lookups (injected so tests do not touch the process environment);
    /// `deep_link_schemes` are the schemes the app registers (the default redirect uses the
    /// first).
    pub fn load(
        section: &serde_json::Value,
        env: &dyn Fn(&str) -> Option<String>,
        deep_link_schemes: &[String],
    ) -> Result<ShellConfig, ConfigError> {
        let raw: RawConfig = serde_json::from_value(section.clone())
            .map_err(|e| ConfigError::new("plugins.portico", e.to_string()))?;
        let mfes = validate_mfes(&raw.mfes)?;
        let mut config = ShellConfig {
            provider: None,
            mfes,
            browser: env_nonempty(env, "PORTICO_BROWSER")
                .or(raw.browser)
                .or_else(|| env_nonempty(env, "BROWSER")),
            // The error names where the value came from.
            browser_handoff: match env_nonempty(env, "PORTICO_BROWSER_HANDOFF")
                .map(|v| (v, "PORTICO_BROWSER_HANDOFF"))
                .or(raw
                    .browser_handoff
                    .map(|v| (v, "plugins.portico.browserHandoff")))
            {
                Some((v, field)) => {
                    BrowserHandoff::parse(&v).map_err(|e| ConfigError::new(field, e))?
                }
                None => BrowserHandoff::default(),
            },
            keyring_service: env_nonempty(env, "PORTICO_KEYRING_SERVICE")
                .or(raw.keyring_service)
                .unwrap_or_else(|| DEFAULT_KEYRING_SERVICE.to_string()),
        };
        if config.keyring_service.trim().is_empty() || config.keyring_service.len() > 128 {
            return Err(ConfigError::new(
                "keyringService",
                "must be 1 to 128 characters",
            ));
        }
        let raw_provider = apply_provider_env(raw.provider, env)?;
        if let Some(p) = raw_provider {
            config.provider = Some(validate_provider(p, &config, deep_link_schemes)?);
            config.check_apis()?;
        }
        Ok(config)
    }

    /// Every fetch-only MFE has an API to fetch from. Checked at load when a provider is
    /// configured; with none, the embedded default names its demo APIs first and the host checks
    /// afterwards.
    pub fn check_apis(&self) -> Result<(), ConfigError> {
        match self
            .mfes
            .iter()
            .position(|m| m.token_exposure == TokenExposure::FetchOnly && m.apis.is_empty())
        {
            Some(i) => Err(ConfigError::new(
                format!("mfes[{i}].apis"),
                "a fetch-only micro frontend needs at least one API to fetch from",
            )),
            None => Ok(()),
        }
    }

    /// The provider for the embedded development provider at `issuer`, honouring
    /// `PORTICO_DIALECT`, `PORTICO_REDIRECT` and `PORTICO_SCOPES` (default: Auth0 dialect,
    /// deep-link redirect).
    pub fn embedded_provider(
        &mut self,
        issuer: Url,
        client_id: &str,
        env: &dyn Fn(&str) -> Option<String>,
        deep_link_schemes: &[String],
    ) -> Result<(), ConfigError> {
        let raw = RawProvider {
            issuer: Some(issuer.to_string()),
            client_id: Some(client_id.to_string()),
            dialect: env_nonempty(env, "PORTICO_DIALECT").or(Some("auth0".into())),
            redirect: env_nonempty(env, "PORTICO_REDIRECT"),
            default_audience: None,
            scopes: env_words(env, "PORTICO_SCOPES"),
            extra_authorize_params: BTreeMap::new(),
            revocation: None,
            par: env_nonempty(env, "PORTICO_PAR"),
            // The embedded default shows DPoP: the dev provider offers it, and binds only the
            // fetch-only sample's API.
            dpop: env_nonempty(env, "PORTICO_DPOP").or(Some("auto".into())),
            accepted_audiences: BTreeMap::new(),
            client_capabilities: env_words(env, "PORTICO_CLIENT_CAPABILITIES").unwrap_or_default(),
        };
        self.provider = Some(validate_provider(raw, self, deep_link_schemes)?);
        Ok(())
    }
}

/// The keyring service name used when none is configured.
pub const DEFAULT_KEYRING_SERVICE: &str = "dev.portico.app";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    provider: Option<RawProvider>,
    #[serde(default)]
    mfes: Vec<RawMfe>,
    #[serde(default)]
    browser: Option<String>,
    #[serde(default)]
    browser_handoff: Option<String>,
    #[serde(default)]
    keyring_service: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawProvider {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    dialect: Option<String>,
    #[serde(default)]
    redirect: Option<String>,
    #[serde(default)]
    default_audience: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    extra_authorize_params: BTreeMap<String, String>,
    #[serde(default)]
    revocation: Option<String>,
    #[serde(default)]
    par: Option<String>,
    #[serde(default)]
    dpop: Option<String>,
    #[serde(default)]
    accepted_audiences: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    client_capabilities: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawMfe {
    id: String,
    title: String,
    source: RawSource,
    #[serde(default)]
    origins: Vec<String>,
    audiences: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    settings: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    apis: Vec<RawApi>,
    #[serde(default)]
    token_exposure: Option<String>,
    #[serde(default)]
    preload: bool,
    #[serde(default)]
    unload_after_secs: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawApi {
    base_url: String,
    audience: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
enum RawSource {
    Bundled(String),
    Url(String),
}

fn env_nonempty(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.trim().is_empty())
}

/// A space-separated list from the environment (`PORTICO_SCOPES`, `PORTICO_CLIENT_CAPABILITIES`).
fn env_words(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<Vec<String>> {
    env_nonempty(env, key).map(|v| v.split_whitespace().map(str::to_owned).collect())
}

/// The provider from the file, with `PORTICO_*` variables laid over it. Setting
/// `PORTICO_ISSUER` alone is enough to leave the embedded default (with `PORTICO_CLIENT_ID`).
fn apply_provider_env(
    file: Option<RawProvider>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RawProvider>, ConfigError> {
    // Dialect, redirect and scopes alone also tune the embedded default; only an issuer or a
    // client id means "use another provider".
    let any_env = ["PORTICO_ISSUER", "PORTICO_CLIENT_ID"]
        .iter()
        .any(|k| env_nonempty(env, k).is_some());
    if file.is_none() && !any_env {
        return Ok(None);
    }
    let mut p = file.unwrap_or_default();
    if let Some(v) = env_nonempty(env, "PORTICO_ISSUER") {
        p.issuer = Some(v);
    }
    if let Some(v) = env_nonempty(env, "PORTICO_CLIENT_ID") {
        p.client_id = Some(v);
    }
    if let Some(v) = env_nonempty(env, "PORTICO_DIALECT") {
        p.dialect = Some(v);
    }
    if let Some(v) = env_nonempty(env, "PORTICO_REDIRECT") {
        p.redirect = Some(v);
    }
    if let Some(v) = env_nonempty(env, "PORTICO_DEFAULT_AUDIENCE") {
        p.default_audience = Some(v);
    }
    if let Some(v) = env_words(env, "PORTICO_SCOPES") {
        p.scopes = Some(v);
    }
    if let Some(v) = env_nonempty(env, "PORTICO_REVOCATION") {
        p.revocation = Some(v);
    }
    if let Some(v) = env_nonempty(env, "PORTICO_PAR") {
        p.par = Some(v);
    }
    if let Some(v) = env_nonempty(env, "PORTICO_DPOP") {
        p.dpop = Some(v);
    }
    if let Some(v) = env_words(env, "PORTICO_CLIENT_CAPABILITIES") {
        p.client_capabilities = v;
    }
    Ok(Some(p))
}

fn validate_provider(
    p: RawProvider,
    config: &ShellConfig,
    deep_link_schemes: &[String],
) -> Result<ProviderConfig, ConfigError> {
    let issuer_raw = p.issuer.ok_or_else(|| {
        ConfigError::new(
            "provider.issuer",
            "missing (set it, or PORTICO_ISSUER, or remove `provider` for the embedded default)",
        )
    })?;
    let issuer =
        parse_issuer(&issuer_raw).map_err(|e| ConfigError::invalid("provider.issuer", e))?;
    let client_id = p
        .client_id
        .ok_or_else(|| ConfigError::new("provider.clientId", "missing"))?;
    check_client_id(&client_id).map_err(|e| ConfigError::invalid("provider.clientId", e))?;
    let dialect = Dialect::parse(p.dialect.as_deref().unwrap_or("rfc8707"))
        .map_err(|e| ConfigError::invalid("provider.dialect", e))?;
    let redirect = match p.redirect {
        Some(r) => parse_redirect(&r, deep_link_schemes)?,
        None => {
            let scheme = deep_link_schemes.first().ok_or_else(|| {
                ConfigError::new(
                    "provider.redirect",
                    "no redirect given and no deep-link scheme registered",
                )
            })?;
            parse_redirect(&format!("{scheme}:/callback"), deep_link_schemes)?
        }
    };
    let audiences = config.all_audiences();
    let default_audience = match p.default_audience {
        Some(a) => Some(
            audiences
                .iter()
                .find(|known| known.as_str() == a)
                .cloned()
                .ok_or_else(|| {
                    ConfigError::new(
                        "provider.defaultAudience",
                        format!("`{a}` is not an audience of any registered MFE"),
                    )
                })?,
        ),
        None => audiences.first().cloned(),
    };
    let configured = p.scopes.unwrap_or_else(|| {
        ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec()
    });
    for (i, s) in configured.iter().enumerate() {
        check_scope_token(s)
            .map_err(|e| ConfigError::invalid(format!("provider.scopes[{i}]"), e))?;
    }
    let scopes = login_scopes(configured, dialect, default_audience.as_ref(), &config.mfes);
    let scopes = ScopeSet::from_tokens(scopes.iter().map(String::as_str))
        .map_err(|e| ConfigError::invalid("provider.scopes", e))?;
    for key in p.extra_authorize_params.keys() {
        check_authorize_param(key)
            .map_err(|e| ConfigError::invalid(format!("provider.extraAuthorizeParams.{key}"), e))?;
    }
    let revocation = Revocation::parse(p.revocation.as_deref().unwrap_or("rfc7009"))
        .map_err(|e| ConfigError::invalid("provider.revocation", e))?;
    let par = Mode::parse(p.par.as_deref().unwrap_or("auto"))
        .map_err(|e| ConfigError::invalid("provider.par", e))?;
    let dpop = Mode::parse(p.dpop.as_deref().unwrap_or("off"))
        .map_err(|e| ConfigError::invalid("provider.dpop", e))?;
    for (i, c) in p.client_capabilities.iter().enumerate() {
        check_client_capability(c)
            .map_err(|e| ConfigError::invalid(format!("provider.clientCapabilities[{i}]"), e))?;
    }
    let mut accepted = Vec::new();
    for (aud, names) in &p.accepted_audiences {
        let field = format!("provider.acceptedAudiences.{aud}");
        let audience = Audience::parse(aud).map_err(|e| ConfigError::invalid(&field, e))?;
        if !audiences.contains(&audience) {
            return Err(ConfigError::new(
                field,
                format!("`{aud}` is not the audience of any micro frontend"),
            ));
        }
        if let Some(bad) = names.iter().find(|n| n.trim().is_empty() || n.len() > 512) {
            return Err(ConfigError::new(
                field,
                format!("`{bad}` is empty or longer than 512 characters"),
            ));
        }
        accepted.push((audience, names.clone()));
    }
    accepted
        .into_iter()
        .fold(ProviderConfig::builder(issuer, client_id), |b, (a, n)| {
            b.accepted_audiences(a, n)
        })
        .redirect(redirect)
        .dialect(dialect)
        .audiences(audiences)
        .default_audience(default_audience)
        .scopes(scopes)
        .extra_authorize_params(p.extra_authorize_params)
        .revocation(revocation)
        .par(par)
        .dpop(dpop)
        .client_capabilities(p.client_capabilities)
        .build()
        // Every setting passed its rule above; what is left are the broker's rules between
        // settings (e.g. entra with a tenant-independent issuer), reported at the provider.
        .map_err(|e| ConfigError::new("provider", e.to_string()))
}

/// A refresh can only narrow what the sign-in granted for an audience (RFC 6749 §6). So the
/// sign-in asks for the API scopes of every MFE it covers: with RFC 8707 all of them (every
/// resource is bound at /authorize); with Auth0 those of the login audience (MRRT grants the
/// other audiences' scopes from the application's refresh-token policy). `openid` and
/// `offline_access` are always asked for.
fn login_scopes(
    configured: Vec<String>,
    dialect: Dialect,
    login_audience: Option<&Audience>,
    mfes: &[MfeEntry],
) -> Vec<String> {
    let mut scopes = configured;
    let always = ["openid", "offline_access"].map(String::from);
    let covered = mfes.iter().filter(|mfe| match dialect {
        Dialect::Rfc8707 => true,
        Dialect::Auth0 => login_audience.is_some_and(|d| mfe.audiences.contains(d)),
        // `{login audience}/.default` stands for them (the broker names it at sign-in).
        Dialect::Entra => false,
    });
    for s in always
        .iter()
        .chain(covered.flat_map(|mfe| mfe.scopes.iter()))
    {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    scopes
}

/// The redirect by its rule, and for a private-use scheme one the app registers (the desktop
/// hands the callback only to a registered scheme's handler).
fn parse_redirect(raw: &str, schemes: &[String]) -> Result<RedirectUri, ConfigError> {
    const FIELD: &str = "provider.redirect";
    let redirect = RedirectUri::parse(raw).map_err(|e| ConfigError::invalid(FIELD, e))?;
    if let RedirectUri::PrivateScheme(url) = &redirect {
        if !schemes.iter().any(|s| s == url.scheme()) {
            return Err(ConfigError::new(
                FIELD,
                format!(
                    "scheme `{}` is not registered for deep links (plugins.deep-link.desktop.schemes: {:?})",
                    url.scheme(),
                    schemes
                ),
            ));
        }
    }
    Ok(redirect)
}

/// A page URL or origin of an MFE: a URL, https (plain http on loopback).
fn page_url(raw: &str, field: &str) -> Result<Url, ConfigError> {
    let url = parse_url(Kind::PageUrl, raw).map_err(|e| ConfigError::invalid(field, e))?;
    check_secure_url(Kind::PageUrl, &url).map_err(|e| ConfigError::invalid(field, e))?;
    Ok(url)
}

fn validate_mfes(raw: &[RawMfe]) -> Result<Vec<MfeEntry>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            "mfes",
            "register at least one micro frontend",
        ));
    }
    let mut ids = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        let at = |f: &str| format!("mfes[{i}].{f}");
        let id_ok = !m.id.is_empty()
            && m.id.len() <= 32
            && m.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(ConfigError::new(
                at("id"),
                format!("`{}` must match [a-z0-9-]{{1,32}}", m.id),
            ));
        }
        if !ids.insert(m.id.clone()) {
            return Err(ConfigError::new(
                at("id"),
                format!("`{}` is registered twice", m.id),
            ));
        }
        if m.title.trim().is_empty() || m.title.len() > 64 {
            return Err(ConfigError::new(at("title"), "1 to 64 characters"));
        }
        let source = match &m.source {
            RawSource::Bundled(path) => {
                let ok = !path.is_empty()
                    && !path.starts_with('/')
                    && path
                        .split('/')
                        .all(|seg| !seg.is_empty() && seg != ".." && seg != ".");
                if !ok {
                    return Err(ConfigError::new(
                        at("source.bundled"),
                        "a relative folder inside ui/web without `..`",
                    ));
                }
                MfeSource::Bundled(path.clone())
            }
            RawSource::Url(u) => MfeSource::Remote(page_url(u, &at("source.url"))?),
        };
        let mut origins = Vec::new();
        for (j, o) in m.origins.iter().enumerate() {
            let url = page_url(o, &at(&format!("origins[{j}]")))?;
            let origin = Origin::of(&url).ok_or_else(|| {
                ConfigError::new(at(&format!("origins[{j}]")), "has no tuple origin")
            })?;
            if url.as_str().trim_end_matches('/') != origin.as_str() {
                return Err(ConfigError::new(
                    at(&format!("origins[{j}]")),
                    format!("an origin has no path; did you mean `{origin}`?"),
                ));
            }
            origins.push(origin);
        }
        if let MfeSource::Remote(url) = &source {
            if let Some(origin) = Origin::of(url) {
                if !origins.contains(&origin) {
                    origins.insert(0, origin);
                }
            }
        }
        if m.audiences.is_empty() {
            return Err(ConfigError::new(
                at("audiences"),
                "an MFE needs at least one audience",
            ));
        }
        let mut audiences = Vec::with_capacity(m.audiences.len());
        for (j, a) in m.audiences.iter().enumerate() {
            audiences.push(
                Audience::parse(a)
                    .map_err(|e| ConfigError::invalid(at(&format!("audiences[{j}]")), e))?,
            );
        }
        for (j, s) in m.scopes.iter().enumerate() {
            check_scope_token(s)
                .map_err(|e| ConfigError::invalid(at(&format!("scopes[{j}]")), e))?;
        }
        let mut apis = Vec::with_capacity(m.apis.len());
        for (j, api) in m.apis.iter().enumerate() {
            let base = ApiBase::parse(&api.base_url).map_err(|why| {
                ConfigError::new(
                    at(&format!("apis[{j}].baseUrl")),
                    format!("`{}`: {why}", api.base_url),
                )
            })?;
            let field = at(&format!("apis[{j}].audience"));
            let audience =
                Audience::parse(&api.audience).map_err(|e| ConfigError::invalid(&field, e))?;
            if !audiences.contains(&audience) {
                return Err(ConfigError::new(
                    field,
                    format!("`{audience}` is not one of this micro frontend's audiences"),
                ));
            }
            if apis.iter().any(|a: &MfeApi| a.base == base) {
                return Err(ConfigError::new(
                    at(&format!("apis[{j}].baseUrl")),
                    format!("`{}` is listed twice", api.base_url),
                ));
            }
            apis.push(MfeApi { base, audience });
        }
        let token_exposure = match m.token_exposure.as_deref() {
            None => TokenExposure::Page,
            Some(v) => TokenExposure::parse(v).ok_or_else(|| {
                ConfigError::new(
                    at("tokenExposure"),
                    format!("`{v}` is not one of `page`, `fetch-only`"),
                )
            })?,
        };
        // Two MFEs on one origin would share cookies, storage and the browser's trust: the
        // separation the per-MFE webviews exist for (issue 15.3).
        if let Some((other, origin)) = out.iter().find_map(|prev: &MfeEntry| {
            origins
                .iter()
                .find(|o| prev.origins.contains(o))
                .map(|o| (prev.id.clone(), o.clone()))
        }) {
            return Err(ConfigError::new(
                at("origins"),
                format!("`{origin}` is already the origin of `{other}`; each micro frontend needs an origin of its own"),
            ));
        }
        let unload_after = match &m.unload_after_secs {
            None => None,
            Some(v) => match v.as_u64().filter(|n| (1..=86_400).contains(n)) {
                Some(n) => Some(std::time::Duration::from_secs(n)),
                None => {
                    return Err(ConfigError::new(
                        at("unloadAfterSecs"),
                        format!("`{v}` is not a whole number of seconds from 1 to 86400"),
                    ))
                }
            },
        };
        out.push(MfeEntry {
            id: m.id.clone(),
            title: m.title.clone(),
            source,
            origins,
            audiences,
            scopes: m.scopes.clone(),
            settings: m.settings.clone(),
            apis,
            token_exposure,
            preload: m.preload,
            unload_after,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn schemes() -> Vec<String> {
        vec!["dev.portico.app".to_string()]
    }

    fn sample() -> serde_json::Value {
        json!({
            "mfes": [
                {"id": "billing", "title": "Billing", "source": {"bundled": "mfes/billing"},
                 "audiences": ["https://api.portico.dev/billing"], "scopes": ["read:invoices"]},
                {"id": "remote", "title": "Remote", "source": {"url": "https://mfe.example.com/app/"},
                 "audiences": ["https://api.portico.dev/core"]}
            ]
        })
    }

    #[test]
    fn no_provider_means_embedded_default() {
        let c = ShellConfig::load(&sample(), &no_env, &schemes()).unwrap();
        assert!(c.provider.is_none());
        assert_eq!(c.mfes.len(), 2);
        assert_eq!(c.keyring_service, DEFAULT_KEYRING_SERVICE);
        assert_eq!(
            c.mfes[1].origins,
            vec![Origin("https://mfe.example.com".into())]
        );
        assert!(c.mfes[0].origins.is_empty(), "bundled origins come later");
        assert_eq!(c.mfes[0].webview_label(), "mfe-billing");
    }

    #[test]
    fn env_issuer_selects_a_provider_with_defaults() {
        let env = |k: &str| match k {
            "PORTICO_ISSUER" => Some("https://tenant.eu.auth0.com/".to_string()),
            "PORTICO_CLIENT_ID" => Some("abc".to_string()),
            "PORTICO_DIALECT" => Some("auth0".to_string()),
            _ => None,
        };
        let c = ShellConfig::load(&sample(), &env, &schemes()).unwrap();
        let p = c.provider.unwrap();
        assert_eq!(p.issuer().as_str(), "https://tenant.eu.auth0.com/");
        assert_eq!(p.client_id(), "abc");
        assert_eq!(p.dialect(), Dialect::Auth0);
        assert_eq!(
            p.redirect(),
            &RedirectUri::PrivateScheme(Url::parse("dev.portico.app:/callback").unwrap())
        );
        assert_eq!(
            p.default_audience().map(Audience::as_str),
            Some("https://api.portico.dev/billing")
        );
        assert_eq!(
            p.audiences(),
            [
                Audience::parse("https://api.portico.dev/billing").unwrap(),
                Audience::parse("https://api.portico.dev/core").unwrap()
            ]
        );
        assert_eq!(p.revocation(), Revocation::Rfc7009);
        assert_eq!(p.par(), Mode::Auto);
        assert_eq!(p.dpop(), Mode::Off);
        // Auth0 signs in for billing, so billing's scopes are asked for; core's come from the
        // MRRT policy.
        assert_eq!(
            p.scopes().to_string(),
            "email offline_access openid profile read:invoices"
        );
    }

    #[test]
    fn rfc8707_signs_in_with_every_mfe_scope() {
        let env = |k: &str| match k {
            "PORTICO_ISSUER" => Some("https://idp.example.com/".to_string()),
            "PORTICO_CLIENT_ID" => Some("abc".to_string()),
            "PORTICO_SCOPES" => Some("profile read:core".to_string()),
            _ => None,
        };
        let mut v = sample();
        v["mfes"][1]["scopes"] = json!(["read:core", "write:core"]);
        let p = ShellConfig::load(&v, &env, &schemes())
            .unwrap()
            .provider
            .unwrap();
        assert_eq!(p.dialect(), Dialect::Rfc8707);
        assert_eq!(
            p.scopes().to_string(),
            "offline_access openid profile read:core read:invoices write:core"
        );
    }

    fn provider_err(provider: serde_json::Value) -> ConfigError {
        let mut v = sample();
        v["provider"] = provider;
        ShellConfig::load(&v, &no_env, &schemes()).unwrap_err()
    }

    fn mfes_err(mfes: serde_json::Value) -> ConfigError {
        ShellConfig::load(&json!({ "mfes": mfes }), &no_env, &schemes()).unwrap_err()
    }

    #[test]
    fn apis_and_fetch_only_are_read_and_checked_with_the_field() {
        let c = ShellConfig::load(
            &json!({"mfes": [
                {"id": "analytics", "title": "Analytics", "source": {"bundled": "mfes/analytics"},
                 "audiences": ["https://api.portico.dev/analytics"], "tokenExposure": "fetch-only",
                 "apis": [{"baseUrl": "https://analytics.example.com/api",
                           "audience": "https://api.portico.dev/analytics"}]}
            ]}),
            &no_env,
            &schemes(),
        )
        .unwrap();
        let m = &c.mfes[0];
        assert_eq!(m.token_exposure, TokenExposure::FetchOnly);
        assert_eq!(
            m.apis[0].base.url().as_str(),
            "https://analytics.example.com/api/"
        );
        let aud = "https://api.portico.dev/analytics";
        let one = |extra: serde_json::Value| {
            let mut m = json!({"id": "a", "title": "A", "source": {"bundled": "mfes/a"},
                               "audiences": [aud]});
            for (k, v) in extra.as_object().unwrap() {
                m[k] = v.clone();
            }
            mfes_err(json!([m]))
        };
        let e = one(json!({"apis": [{"baseUrl": "http://api.example.com/", "audience": aud}]}));
        assert_eq!(e.field, "mfes[0].apis[0].baseUrl");
        assert!(e.to_string().contains("only allowed for loopback"), "{e}");
        let e =
            one(json!({"apis": [{"baseUrl": "https://u:p@api.example.com/", "audience": aud}]}));
        assert_eq!(e.field, "mfes[0].apis[0].baseUrl");
        let e = one(json!({"apis": [{"baseUrl": "https://api.example.com/",
                                     "audience": "https://api.portico.dev/billing"}]}));
        assert_eq!(e.field, "mfes[0].apis[0].audience");
        assert!(
            e.to_string()
                .contains("not one of this micro frontend's audiences"),
            "{e}"
        );
        let e = one(json!({"tokenExposure": "sometimes"}));
        assert_eq!(e.field, "mfes[0].tokenExposure");
        // Checked once the provider (and so, for the embedded default, the demo APIs) is known.
        let mut fetch_only = sample();
        fetch_only["mfes"][0]["tokenExposure"] = json!("fetch-only");
        fetch_only["provider"] = json!({"issuer": "https://idp.example.com/", "clientId": "x"});
        let e = ShellConfig::load(&fetch_only, &no_env, &schemes()).unwrap_err();
        assert_eq!(e.field, "mfes[0].apis");
        fetch_only.as_object_mut().unwrap().remove("provider");
        let c = ShellConfig::load(&fetch_only, &no_env, &schemes()).unwrap();
        assert_eq!(c.check_apis().unwrap_err().field, "mfes[0].apis");
    }

    #[test]
    fn entra_accepted_audiences_and_issuer_rules() {
        let base = |extra: serde_json::Value| {
            let mut c = sample();
            let mut p = json!({"issuer": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
                               "clientId": "x", "dialect": "entra"});
            for (k, v) in extra.as_object().unwrap() {
                p[k] = v.clone();
            }
            c["provider"] = p;
            ShellConfig::load(&c, &no_env, &schemes())
        };
        let c =
            base(json!({"acceptedAudiences": {"https://api.portico.dev/billing": ["0b7a3c52"]}}))
                .unwrap();
        let p = c.provider.unwrap();
        let billing = Audience::parse("https://api.portico.dev/billing").unwrap();
        assert_eq!(
            p.audience_names(&billing),
            ["https://api.portico.dev/billing", "0b7a3c52"]
        );
        let c = base(json!({"clientCapabilities": ["CP1"]})).unwrap();
        assert!(c.provider.is_some());
        let e = base(json!({"clientCapabilities": ["CP 1"]})).unwrap_err();
        assert_eq!(e.field, "provider.clientCapabilities[0]");
        let e = base(json!({"acceptedAudiences": {"https://api.portico.dev/nope": ["x"]}}))
            .unwrap_err();
        assert_eq!(
            e.field,
            "provider.acceptedAudiences.https://api.portico.dev/nope"
        );
        let e = base(json!({"acceptedAudiences": {"https://api.portico.dev/billing": [" "]}}))
            .unwrap_err();
        assert_eq!(
            e.field,
            "provider.acceptedAudiences.https://api.portico.dev/billing"
        );
        // Tenant-independent authorities are checked by the token's `tid`; consumers is a tenant.
        assert!(
            base(json!({"issuer": "https://login.microsoftonline.com/organizations/v2.0"})).is_ok()
        );
        let e = base(json!({"issuer": "https://login.microsoftonline.com/consumers/v2.0"}))
            .unwrap_err();
        assert_eq!(e.field, "provider");
        assert!(e.to_string().contains("consumers tenant's id"), "{e}");
    }

    #[test]
    fn the_content_policy_names_the_apis_and_urls_in_settings() {
        let c = ShellConfig::load(
            &json!({"mfes": [
                {"id": "a", "title": "A", "source": {"bundled": "mfes/a"},
                 "audiences": ["https://api.portico.dev/billing"],
                 "apis": [{"baseUrl": "https://billing.example.com/api/",
                           "audience": "https://api.portico.dev/billing"}],
                 "settings": {"apiUrl": "http://127.0.0.1:4100/billing/", "report": "http://127.0.0.1:4200/r",
                              "title": "not a URL", "icon": "data:image/png;base64,AAAA"}}
            ]}),
            &no_env,
            &schemes(),
        )
        .unwrap();
        let header = c.mfes[0].content_policy().header();
        assert!(
            header.contains("connect-src 'self' ipc: http://ipc.localhost https://billing.example.com http://127.0.0.1:4100 http://127.0.0.1:4200;"),
            "{header}"
        );
    }

    #[test]
    fn two_mfes_on_one_origin_are_refused() {
        let e = mfes_err(json!([
            {"id": "a", "title": "A", "source": {"url": "https://mfe.example.com/a/"},
             "audiences": ["https://api.portico.dev/billing"]},
            {"id": "b", "title": "B", "source": {"url": "https://mfe.example.com/b/"},
             "audiences": ["https://api.portico.dev/core"]}
        ]));
        assert_eq!(e.field, "mfes[1].origins");
        assert!(
            e.to_string()
                .contains("`https://mfe.example.com` is already the origin of `a`"),
            "{e}"
        );
    }

    #[test]
    fn insecure_or_broken_provider_settings_are_refused_with_the_field() {
        let e = provider_err(json!({"issuer": "http://idp.example.com/", "clientId": "x"}));
        assert_eq!(e.field, "provider.issuer");
        let e = provider_err(json!({"issuer": "https://idp.example.com/"}));
        assert_eq!(e.field, "provider.clientId");
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x", "dialect": "okta"}),
        );
        assert_eq!(e.field, "provider.dialect");
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x", "par": "sometimes"}),
        );
        assert_eq!(e.field, "provider.par");
        assert!(
            e.to_string()
                .contains("`sometimes` is not one of `auto`, `on`, `off`"),
            "{e}"
        );
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x", "dpop": "yes"}),
        );
        assert_eq!(e.field, "provider.dpop");
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x", "redirect": "other.app:/cb"}),
        );
        assert_eq!(e.field, "provider.redirect");
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x",
            "extraAuthorizeParams": {"state": "fixed"}}),
        );
        assert_eq!(e.field, "provider.extraAuthorizeParams.state");
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x",
            "defaultAudience": "https://api.portico.dev/nope"}),
        );
        assert_eq!(e.field, "provider.defaultAudience");
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x", "colour": 1}),
        );
        assert_eq!(e.field, "plugins.portico");
    }

    #[test]
    fn what_only_the_broker_refused_before_is_refused_at_its_field() {
        let e =
            provider_err(json!({"issuer": "https://u:secret@idp.example.com/", "clientId": "x"}));
        assert_eq!(e.field, "provider.issuer");
        assert!(!e.to_string().contains("secret"), "{e}");
        let e =
            provider_err(json!({"issuer": "https://idp.example.com/", "clientId": "has space"}));
        assert_eq!(e.field, "provider.clientId");
        assert_eq!(
            e.problem,
            "`has space` must be 1 to 256 visible characters without spaces"
        );
        for reserved in ["response_mode", "request", "request_uri"] {
            let e = provider_err(
                json!({"issuer": "https://idp.example.com/", "clientId": "x",
                "extraAuthorizeParams": {reserved: "x"}}),
            );
            assert_eq!(e.field, format!("provider.extraAuthorizeParams.{reserved}"));
        }
        let e = provider_err(
            json!({"issuer": "https://idp.example.com/", "clientId": "x",
            "redirect": "dev.portico.app:/callback#x"}),
        );
        assert_eq!(e.field, "provider.redirect");
        let e = mfe_err(json!({"id": "a", "title": "A", "source": {"bundled": "a"},
            "audiences": ["https://api.example.com/a#frag"]}));
        assert_eq!(e.field, "mfes[0].audiences[0]");
        assert_eq!(
            e.to_string(),
            "configuration error at `mfes[0].audiences[0]`: `https://api.example.com/a#frag` has a fragment (RFC 8707 §2)"
        );
    }

    #[test]
    fn scope_tokens_have_one_limit_everywhere() {
        let longest = "s".repeat(portico_types::MAX_SCOPE_TOKEN_LEN);
        let mut v = sample();
        v["provider"] = json!({"issuer": "https://idp.example.com/", "clientId": "x",
            "scopes": ["openid", "profile", format!("{longest}s")]});
        let e = ShellConfig::load(&v, &no_env, &schemes()).unwrap_err();
        assert_eq!(e.field, "provider.scopes[2]");
        assert!(e.problem.ends_with("is longer than 256 characters"), "{e}");
        v["provider"]["scopes"] = json!(["openid", longest.clone()]);
        v["mfes"][0]["scopes"] = json!([longest.clone()]);
        let p = ShellConfig::load(&v, &no_env, &schemes())
            .unwrap()
            .provider
            .unwrap();
        assert!(p.scopes().contains(&longest));
    }

    #[test]
    fn loopback_redirect_and_plain_http_on_loopback_are_accepted() {
        let mut v = sample();
        v["provider"] = json!({"issuer": "http://127.0.0.1:5555/", "clientId": "x",
            "redirect": "loopback:/oauth/cb", "extraAuthorizeParams": {"prompt": "consent"}});
        let p = ShellConfig::load(&v, &no_env, &schemes())
            .unwrap()
            .provider
            .unwrap();
        assert_eq!(
            p.redirect(),
            &RedirectUri::Loopback {
                path: "/oauth/cb".into(),
                port: None,
            }
        );
        assert_eq!(
            p.extra_authorize_params(),
            [("prompt".to_string(), "consent".to_string())]
        );
    }

    fn redirect(value: &str) -> Result<RedirectUri, ConfigError> {
        let mut v = sample();
        v["provider"] = json!({"issuer": "https://idp.example.com/", "clientId": "x",
            "redirect": value});
        ShellConfig::load(&v, &no_env, &schemes()).map(|c| c.provider.unwrap().redirect().clone())
    }

    #[test]
    fn browser_handoff_is_loopback_unless_told_direct() {
        let load = |extra: serde_json::Value, var: Option<&str>| {
            let var = var.map(str::to_owned);
            let mut section = sample();
            if let (Some(s), serde_json::Value::Object(more)) = (section.as_object_mut(), extra) {
                s.extend(more);
            }
            ShellConfig::load(
                &section,
                &move |k| {
                    (k == "PORTICO_BROWSER_HANDOFF")
                        .then(|| var.clone())
                        .flatten()
                },
                &[],
            )
        };
        assert_eq!(
            load(json!({}), None).unwrap().browser_handoff,
            BrowserHandoff::Loopback
        );
        let direct = load(json!({"browserHandoff": "direct"}), None).unwrap();
        assert_eq!(direct.browser_handoff, BrowserHandoff::Direct);
        let env_wins = load(json!({"browserHandoff": "direct"}), Some("loopback")).unwrap();
        assert_eq!(env_wins.browser_handoff, BrowserHandoff::Loopback);
        let bad = load(json!({"browserHandoff": "portal"}), None).unwrap_err();
        assert_eq!(bad.field, "plugins.portico.browserHandoff");
        assert!(bad.problem.contains("`portal`"), "{}", bad.problem);
        let bad_env = load(json!({}), Some("yes")).unwrap_err();
        assert_eq!(bad_env.field, "PORTICO_BROWSER_HANDOFF");
    }

    #[test]
    fn a_fixed_loopback_port_is_accepted_on_127_0_0_1_only() {
        assert_eq!(
            redirect("http://127.0.0.1:53682/callback").unwrap(),
            RedirectUri::Loopback {
                path: "/callback".into(),
                port: Some(53682),
            }
        );
        for (bad, says) in [
            ("http://localhost:53682/callback", "plain http on 127.0.0.1"),
            (
                "https://127.0.0.1:53682/callback",
                "plain http on 127.0.0.1",
            ),
            (
                "http://192.168.1.2:53682/callback",
                "plain http on 127.0.0.1",
            ),
            ("http://[::1]:53682/callback", "plain http on 127.0.0.1"),
            ("http://127.0.0.1/callback", "a port other than 0"),
            ("http://127.0.0.1:0/callback", "a port other than 0"),
            (
                "http://127.0.0.1:53682/cb?x=1",
                "no query, fragment or user",
            ),
            ("http://u@127.0.0.1:53682/cb", "no query, fragment or user"),
        ] {
            let e = redirect(bad).unwrap_err();
            assert_eq!(e.field, "provider.redirect", "{bad}");
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }

    fn mfe_err(mfe: serde_json::Value) -> ConfigError {
        ShellConfig::load(&json!({ "mfes": [mfe] }), &no_env, &schemes()).unwrap_err()
    }

    #[test]
    fn bad_registry_entries_are_refused_with_the_field() {
        let base = json!({"id": "a", "title": "A", "source": {"bundled": "mfes/a"},
                          "audiences": ["https://api.example.com/a"]});
        let with = |k: &str, v: serde_json::Value| {
            let mut m = base.clone();
            m[k] = v;
            m
        };
        assert_eq!(mfe_err(with("id", json!("Bad Id"))).field, "mfes[0].id");
        assert_eq!(mfe_err(with("title", json!(""))).field, "mfes[0].title");
        assert_eq!(
            mfe_err(with("source", json!({"bundled": "../etc"}))).field,
            "mfes[0].source.bundled"
        );
        assert_eq!(
            mfe_err(with("source", json!({"url": "http://evil.example.com/"}))).field,
            "mfes[0].source.url"
        );
        assert_eq!(
            mfe_err(with("audiences", json!([]))).field,
            "mfes[0].audiences"
        );
        assert_eq!(
            mfe_err(with("audiences", json!(["not a uri"]))).field,
            "mfes[0].audiences[0]"
        );
        assert_eq!(
            mfe_err(with("scopes", json!(["bad\"scope"]))).field,
            "mfes[0].scopes[0]"
        );
        assert_eq!(
            mfe_err(with("origins", json!(["https://x.example.com/path"]))).field,
            "mfes[0].origins[0]"
        );
        let twice = json!({ "mfes": [base.clone(), base] });
        assert_eq!(
            ShellConfig::load(&twice, &no_env, &schemes())
                .unwrap_err()
                .field,
            "mfes[1].id"
        );
        assert_eq!(
            ShellConfig::load(&json!({"mfes": []}), &no_env, &schemes())
                .unwrap_err()
                .field,
            "mfes"
        );
    }

    #[test]
    fn all_audiences_is_deduplicated_in_order() {
        let v = json!({"mfes": [
            {"id": "a", "title": "A", "source": {"bundled": "a"}, "audiences": ["https://x/1", "https://x/2"]},
            {"id": "b", "title": "B", "source": {"bundled": "b"}, "audiences": ["https://x/2", "https://x/3"]}
        ]});
        let c = ShellConfig::load(&v, &no_env, &schemes()).unwrap();
        assert_eq!(
            c.all_audiences()
                .iter()
                .map(Audience::as_str)
                .collect::<Vec<_>>(),
            vec!["https://x/1", "https://x/2", "https://x/3"]
        );
    }

    #[test]
    fn unload_after_secs_is_a_positive_number_of_seconds() {
        let mfe = |extra: serde_json::Value| {
            let mut m = json!({"id": "a", "title": "A", "source": {"bundled": "a"},
                "audiences": ["https://x/1"]});
            if let (Some(m), Some(e)) = (m.as_object_mut(), extra.as_object()) {
                m.extend(e.clone());
            }
            ShellConfig::load(&json!({ "mfes": [m] }), &no_env, &schemes())
        };
        assert_eq!(mfe(json!({})).unwrap().mfes[0].unload_after, None);
        assert_eq!(
            mfe(json!({"unloadAfterSecs": 300})).unwrap().mfes[0].unload_after,
            Some(std::time::Duration::from_secs(300))
        );
        for bad in [json!(0), json!(-5), json!(1.5), json!("300"), json!(86_401)] {
            let e = mfe(json!({ "unloadAfterSecs": bad })).unwrap_err();
            assert_eq!(e.field, "mfes[0].unloadAfterSecs", "{bad}");
            assert!(
                e.problem.contains("seconds from 1 to 86400"),
                "{}",
                e.problem
            );
        }
    }
}
