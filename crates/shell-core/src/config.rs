//! The shell's configuration: the micro frontend registry and the provider, read from the
//! `plugins.portico` section of the root `tauri.conf.json` (or the file `PORTICO_CONFIG` names),
//! with environment overrides for the provider. Everything is validated once, at start, into
//! types that cannot hold a bad value.

use std::collections::{BTreeMap, BTreeSet};

use portico_types::net::is_loopback;
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
}

/// How the provider is asked for an audience, and how logout works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectSetting {
    /// Auth0: `audience=`, Multi-Resource Refresh Tokens, `/v2/logout`.
    Auth0,
    /// Any standards provider: RFC 8707 `resource=`, `end_session_endpoint`.
    Rfc8707,
}

/// Where the provider sends the browser back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectSetting {
    /// A private-use URI scheme delivered as a deep link, e.g. `dev.portico.app:/callback`.
    PrivateScheme(Url),
    /// `http://127.0.0.1:{port}{path}` (RFC 8252 §7.3): with `port: None` a listener on a port the
    /// OS picks at each sign-in; with a fixed port (for providers that compare the whole callback
    /// URL, port included, such as Auth0) one listener on that port for the app's lifetime.
    Loopback { path: String, port: Option<u16> },
}

/// A validated provider configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    pub issuer: Url,
    pub client_id: String,
    pub dialect: DialectSetting,
    pub redirect: RedirectSetting,
    /// Auth0: the `audience` sent at login. Defaults to the first registered audience.
    pub default_audience: Option<String>,
    pub scopes: Vec<String>,
    pub extra_authorize_params: BTreeMap<String, String>,
    /// How refresh tokens are revoked: `rfc7009` (default) or `glewlwyd-delete-token`.
    pub revocation: RevocationSetting,
}

/// How the provider revokes a refresh token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RevocationSetting {
    /// RFC 7009 at the discovered `revocation_endpoint`.
    #[default]
    Rfc7009,
    /// Glewlwyd's `grant_type=delete_token` (its RFC 7009 endpoint refuses public clients).
    GlewlwydDeleteToken,
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
    pub audiences: Vec<String>,
    /// The most it may ask for; a request for more is narrowed by the provider, not here.
    pub scopes: Vec<String>,
    /// Free-form settings handed to the page by `mfe_context` (e.g. `apiUrl`).
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl MfeEntry {
    /// The label the shell gives this MFE's webview.
    pub fn webview_label(&self) -> String {
        format!("{MFE_LABEL_PREFIX}{}", self.id)
    }
}

/// Every MFE webview label starts with this; nothing else does.
pub const MFE_LABEL_PREFIX: &str = "mfe-";

/// The validated configuration of the shell.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellConfig {
    /// `None`: the embedded default (development provider and demo APIs in-process).
    pub provider: Option<ProviderSettings>,
    pub mfes: Vec<MfeEntry>,
    /// A command that opens URLs instead of the desktop's default browser (`$BROWSER` style:
    /// the URL is appended as the last argument).
    pub browser: Option<String>,
    /// The keyring service name under which the session is stored.
    pub keyring_service: String,
}

impl ShellConfig {
    /// Every audience any MFE may request, in registry order, without repeats.
    pub fn all_audiences(&self) -> Vec<String> {
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
        }
        Ok(config)
    }

    /// The provider settings for the embedded development provider at `issuer`, honouring
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
            scopes: env_nonempty(env, "PORTICO_SCOPES")
                .map(|v| v.split_whitespace().map(str::to_string).collect()),
            extra_authorize_params: BTreeMap::new(),
            revocation: None,
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
    if let Some(v) = env_nonempty(env, "PORTICO_SCOPES") {
        p.scopes = Some(v.split_whitespace().map(str::to_string).collect());
    }
    if let Some(v) = env_nonempty(env, "PORTICO_REVOCATION") {
        p.revocation = Some(v);
    }
    Ok(Some(p))
}

fn validate_provider(
    p: RawProvider,
    config: &ShellConfig,
    deep_link_schemes: &[String],
) -> Result<ProviderSettings, ConfigError> {
    let issuer_raw = p.issuer.ok_or_else(|| {
        ConfigError::new(
            "provider.issuer",
            "missing (set it, or PORTICO_ISSUER, or remove `provider` for the embedded default)",
        )
    })?;
    let issuer = Url::parse(&issuer_raw).map_err(|e| {
        ConfigError::new("provider.issuer", format!("not a URL ({e}): {issuer_raw}"))
    })?;
    check_secure_url(&issuer, "provider.issuer")?;
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(ConfigError::new(
            "provider.issuer",
            "must not have a query or fragment",
        ));
    }
    let client_id = p
        .client_id
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ConfigError::new("provider.clientId", "missing"))?;
    let dialect = match p.dialect.as_deref().unwrap_or("rfc8707") {
        "auth0" => DialectSetting::Auth0,
        "rfc8707" => DialectSetting::Rfc8707,
        other => {
            return Err(ConfigError::new(
                "provider.dialect",
                format!("`{other}` is not one of `auth0`, `rfc8707`"),
            ))
        }
    };
    let redirect = match p.redirect.as_deref() {
        None => {
            let scheme = deep_link_schemes.first().ok_or_else(|| {
                ConfigError::new(
                    "provider.redirect",
                    "no redirect given and no deep-link scheme registered",
                )
            })?;
            parse_redirect(&format!("{scheme}:/callback"), deep_link_schemes)?
        }
        Some(r) => parse_redirect(r, deep_link_schemes)?,
    };
    let all = config.all_audiences();
    let default_audience = match p.default_audience {
        Some(a) => {
            if !all.contains(&a) {
                return Err(ConfigError::new(
                    "provider.defaultAudience",
                    format!("`{a}` is not an audience of any registered MFE"),
                ));
            }
            Some(a)
        }
        None => all.first().cloned(),
    };
    let mut scopes = p.scopes.unwrap_or_else(|| {
        ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec()
    });
    for s in ["openid", "offline_access"] {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    for (i, s) in scopes.iter().enumerate() {
        check_scope_token(s, &format!("provider.scopes[{i}]"))?;
    }
    for key in p.extra_authorize_params.keys() {
        // These are the protocol's own; letting configuration override them would break PKCE,
        // state or the redirect check.
        const RESERVED: [&str; 10] = [
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
        ];
        if RESERVED.contains(&key.as_str()) {
            return Err(ConfigError::new(
                format!("provider.extraAuthorizeParams.{key}"),
                "is set by Portico itself and cannot be overridden",
            ));
        }
    }
    let revocation = match p.revocation.as_deref().unwrap_or("rfc7009") {
        "rfc7009" => RevocationSetting::Rfc7009,
        "glewlwyd-delete-token" => RevocationSetting::GlewlwydDeleteToken,
        other => {
            return Err(ConfigError::new(
                "provider.revocation",
                format!("`{other}` is not one of `rfc7009`, `glewlwyd-delete-token`"),
            ))
        }
    };
    Ok(ProviderSettings {
        issuer,
        client_id,
        dialect,
        redirect,
        default_audience,
        scopes,
        extra_authorize_params: p.extra_authorize_params,
        revocation,
    })
}

/// `loopback`, `loopback:/path`, `http://127.0.0.1:<port>/path` (a fixed loopback port), or a
/// private-use scheme URI whose scheme the app registers.
fn parse_redirect(raw: &str, schemes: &[String]) -> Result<RedirectSetting, ConfigError> {
    const FIELD: &str = "provider.redirect";
    if raw == "loopback" {
        return Ok(RedirectSetting::Loopback {
            path: "/callback".into(),
            port: None,
        });
    }
    if raw.starts_with("http:") || raw.starts_with("https:") {
        return parse_fixed_loopback(raw);
    }
    if let Some(path) = raw.strip_prefix("loopback:") {
        if !path.starts_with('/') || path.contains(['?', '#']) {
            return Err(ConfigError::new(
                FIELD,
                "a loopback path starts with `/` and has no query",
            ));
        }
        return Ok(RedirectSetting::Loopback {
            path: path.into(),
            port: None,
        });
    }
    let url = Url::parse(raw).map_err(|e| ConfigError::new(FIELD, format!("not a URI ({e})")))?;
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
    if !url.scheme().contains('.') {
        return Err(ConfigError::new(
            FIELD,
            "a private-use scheme must be a reverse domain name (RFC 8252 §7.1)",
        ));
    }
    Ok(RedirectSetting::PrivateScheme(url))
}

/// `http://127.0.0.1:<port>/path`: the loopback redirect on a port fixed in advance.
fn parse_fixed_loopback(raw: &str) -> Result<RedirectSetting, ConfigError> {
    const FIELD: &str = "provider.redirect";
    let url = Url::parse(raw).map_err(|e| ConfigError::new(FIELD, format!("not a URI ({e})")))?;
    // RFC 8252 §7.3 and §8.3: plain http on the IPv4 loopback literal (Portico listens on
    // 127.0.0.1 only; `localhost` may resolve elsewhere and is not accepted).
    if url.scheme() != "http" || url.host() != Some(url::Host::Ipv4([127, 0, 0, 1].into())) {
        return Err(ConfigError::new(
            FIELD,
            "a fixed loopback redirect is plain http on 127.0.0.1: `http://127.0.0.1:<port>/<path>` (RFC 8252 §7.3)",
        ));
    }
    let port = url.port().filter(|p| *p != 0).ok_or_else(|| {
        ConfigError::new(
            FIELD,
            "a fixed loopback redirect needs a port other than 0 (or use `loopback` for a port chosen at each sign-in)",
        )
    })?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::new(
            FIELD,
            "a fixed loopback redirect has no query, fragment or user",
        ));
    }
    Ok(RedirectSetting::Loopback {
        path: url.path().to_string(),
        port: Some(port),
    })
}

/// `https://` anywhere; plain `http://` only on loopback, where nothing crosses a network.
fn check_secure_url(url: &Url, field: &str) -> Result<(), ConfigError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(ConfigError::new(
            field,
            "plain http is only allowed for loopback hosts (127.0.0.1, [::1], localhost)",
        )),
        other => Err(ConfigError::new(
            field,
            format!("scheme `{other}` is not https"),
        )),
    }
}

fn check_scope_token(s: &str, field: &str) -> Result<(), ConfigError> {
    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("`{s}` is not a valid scope token"),
        ))
    }
}

/// An audience is an absolute URI with no whitespace, at most 512 characters.
pub fn check_audience(a: &str, field: &str) -> Result<(), ConfigError> {
    if a.is_empty() || a.len() > 512 || a.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            field,
            "an audience is 1 to 512 characters without spaces",
        ));
    }
    Url::parse(a)
        .map(|_| ())
        .map_err(|_| ConfigError::new(field, format!("`{a}` is not an absolute URI")))
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
            RawSource::Url(u) => {
                let url = Url::parse(u)
                    .map_err(|e| ConfigError::new(at("source.url"), format!("not a URL ({e})")))?;
                check_secure_url(&url, &at("source.url"))?;
                MfeSource::Remote(url)
            }
        };
        let mut origins = Vec::new();
        for (j, o) in m.origins.iter().enumerate() {
            let url = Url::parse(o)
                .map_err(|e| ConfigError::new(at(&format!("origins[{j}]")), e.to_string()))?;
            check_secure_url(&url, &at(&format!("origins[{j}]")))?;
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
        for (j, a) in m.audiences.iter().enumerate() {
            check_audience(a, &at(&format!("audiences[{j}]")))?;
        }
        for (j, s) in m.scopes.iter().enumerate() {
            check_scope_token(s, &at(&format!("scopes[{j}]")))?;
        }
        out.push(MfeEntry {
            id: m.id.clone(),
            title: m.title.clone(),
            source,
            origins,
            audiences: m.audiences.clone(),
            scopes: m.scopes.clone(),
            settings: m.settings.clone(),
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
        assert_eq!(p.issuer.as_str(), "https://tenant.eu.auth0.com/");
        assert_eq!(p.dialect, DialectSetting::Auth0);
        assert_eq!(
            p.redirect,
            RedirectSetting::PrivateScheme(Url::parse("dev.portico.app:/callback").unwrap())
        );
        assert_eq!(
            p.default_audience.as_deref(),
            Some("https://api.portico.dev/billing")
        );
        assert!(p.scopes.contains(&"offline_access".to_string()));
    }

    fn provider_err(provider: serde_json::Value) -> ConfigError {
        let mut v = sample();
        v["provider"] = provider;
        ShellConfig::load(&v, &no_env, &schemes()).unwrap_err()
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
    fn loopback_redirect_and_plain_http_on_loopback_are_accepted() {
        let mut v = sample();
        v["provider"] = json!({"issuer": "http://127.0.0.1:5555/", "clientId": "x",
            "redirect": "loopback:/oauth/cb", "extraAuthorizeParams": {"prompt": "consent"}});
        let p = ShellConfig::load(&v, &no_env, &schemes())
            .unwrap()
            .provider
            .unwrap();
        assert_eq!(
            p.redirect,
            RedirectSetting::Loopback {
                path: "/oauth/cb".into(),
                port: None,
            }
        );
        assert_eq!(p.extra_authorize_params["prompt"], "consent");
    }

    fn redirect(value: &str) -> Result<RedirectSetting, ConfigError> {
        let mut v = sample();
        v["provider"] = json!({"issuer": "https://idp.example.com/", "clientId": "x",
            "redirect": value});
        ShellConfig::load(&v, &no_env, &schemes()).map(|c| c.provider.unwrap().redirect)
    }

    #[test]
    fn a_fixed_loopback_port_is_accepted_on_127_0_0_1_only() {
        assert_eq!(
            redirect("http://127.0.0.1:53682/callback").unwrap(),
            RedirectSetting::Loopback {
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
            c.all_audiences(),
            vec!["https://x/1", "https://x/2", "https://x/3"]
        );
    }
}
