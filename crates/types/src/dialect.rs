//! Provider dialects: how an audience is asked for and how logout works, and how a refresh
//! token is revoked. Everything Auth0- or Glewlwyd-specific about the protocol lives here.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::audience::Audience;
use crate::invalid::{Invalid, Kind};

/// The provider's way of speaking about audiences and logout.
///
/// ```
/// use portico_types::dialect::Dialect;
/// assert_eq!(Dialect::parse("auth0"), Ok(Dialect::Auth0));
/// assert_eq!(Dialect::Rfc8707.as_str(), "rfc8707");
/// assert!(Dialect::parse("okta").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Auth0: `audience=` (one at login, others by Multi-Resource Refresh Token policy), `/v2/logout`.
    Auth0,
    /// RFC 8707 resource indicators (all at /authorize, one per token request) and OIDC RP-initiated logout.
    Rfc8707,
    /// Microsoft Entra ID (identity platform v2): a resource is named by its scopes
    /// (`{audience}/.default` or `{audience}/{scope}`), one resource per token request, one
    /// refresh token for all of them; OIDC RP-initiated logout.
    Entra,
}

/// Scopes about the sign-in itself rather than an API.
pub const OIDC_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    "address",
    "phone",
];

/// How a refresh token is revoked (at sign-out, and after a refused sign-in).
///
/// ```
/// use portico_types::dialect::Revocation;
/// let r: Revocation = serde_json::from_str("\"glewlwyd-delete-token\"").unwrap();
/// assert_eq!(r, Revocation::GlewlwydDeleteToken);
/// assert_eq!(Revocation::default(), Revocation::Rfc7009);
/// assert_eq!(Revocation::parse("rfc7009"), Ok(Revocation::Rfc7009));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revocation {
    /// RFC 7009 at the discovered `revocation_endpoint`, as a public client (`client_id` only).
    #[default]
    Rfc7009,
    /// Glewlwyd 2.7 answers a public client's RFC 7009 request with 401 (it demands client
    /// authentication, which RFC 7009 §2.1 asks of confidential clients only). Its token
    /// endpoint's own `grant_type=delete_token` revokes the refresh token instead.
    GlewlwydDeleteToken,
}

impl Revocation {
    /// The configuration spelling (`rfc7009`, `glewlwyd-delete-token`).
    pub fn as_str(self) -> &'static str {
        match self {
            Revocation::Rfc7009 => "rfc7009",
            Revocation::GlewlwydDeleteToken => "glewlwyd-delete-token",
        }
    }

    /// Parses the configuration spelling.
    pub fn parse(s: &str) -> Result<Revocation, Invalid> {
        [Revocation::Rfc7009, Revocation::GlewlwydDeleteToken]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    Kind::Revocation,
                    s,
                    "is not one of `rfc7009`, `glewlwyd-delete-token`",
                )
            })
    }
}

impl Dialect {
    /// The configuration spelling (`auth0`, `rfc8707`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Auth0 => "auth0",
            Dialect::Rfc8707 => "rfc8707",
            Dialect::Entra => "entra",
        }
    }

    /// Parses the configuration spelling.
    pub fn parse(s: &str) -> Result<Dialect, Invalid> {
        [Dialect::Auth0, Dialect::Rfc8707, Dialect::Entra]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    Kind::Dialect,
                    s,
                    "is not one of `auth0`, `rfc8707`, `entra`",
                )
            })
    }

    /// Entra's name for scope `s` of `audience`: `{audience}/{s}`, unless it is already
    /// qualified (it names a URI, or starts with the audience).
    pub fn entra_scope(audience: &Audience, s: &str) -> String {
        let aud = audience.as_str().trim_end_matches('/');
        if s.contains("://") || s.starts_with(&format!("{aud}/")) {
            s.to_owned()
        } else {
            format!("{aud}/{s}")
        }
    }

    /// A granted scope as the broker names it: Entra answers with `{audience}/{scope}`, the
    /// access token's `scp` and the registry say `{scope}`.
    pub fn granted_scope<'a>(self, audience: &Audience, s: &'a str) -> &'a str {
        match self {
            Dialect::Entra => s
                .strip_prefix(audience.as_str().trim_end_matches('/'))
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|rest| !rest.is_empty())
                .unwrap_or(s),
            _ => s,
        }
    }

    /// The sign-in's scopes from the configured ones. Entra names the login audience's API
    /// by `{audience}/.default` (all its permissions the app was granted); a bare API scope there
    /// would be read as one of Microsoft Graph's, so only the OIDC scopes stay.
    pub fn login_scopes(
        self,
        configured: &[&str],
        login_audience: Option<&Audience>,
    ) -> Vec<String> {
        match self {
            Dialect::Entra => configured
                .iter()
                .filter(|s| OIDC_SCOPES.contains(s) || s.contains("://"))
                .map(|s| (*s).to_owned())
                .chain(login_audience.map(|a| Self::entra_scope(a, ".default")))
                .collect(),
            _ => configured.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Audience parameters for the authorization request.
    ///
    /// ```
    /// use portico_types::{audience::Audience, dialect::Dialect};
    /// let a = Audience::parse("https://api.a/").unwrap();
    /// let b = Audience::parse("https://api.b/").unwrap();
    /// let p = Dialect::Rfc8707.authorize_params(&[a.clone(), b], None);
    /// assert_eq!(p.len(), 2);
    /// assert_eq!(p[0], ("resource".to_string(), "https://api.a/".to_string()));
    /// let p = Dialect::Auth0.authorize_params(&[], Some(&a));
    /// assert_eq!(p, vec![("audience".to_string(), "https://api.a/".to_string())]);
    /// ```
    pub fn authorize_params(
        self,
        audiences: &[Audience],
        default_audience: Option<&Audience>,
    ) -> Vec<(String, String)> {
        match self {
            // MRRT: one audience at login; the refresh-token policy covers the others.
            Dialect::Auth0 => default_audience
                .map(|a| vec![("audience".to_owned(), a.as_str().to_owned())])
                .unwrap_or_default(),
            // Entra: the login audience travels in the scope (see `login_scopes`).
            Dialect::Entra => Vec::new(),
            // RFC 8707 §2: a refresh token only reaches resources granted here, so ask for all.
            Dialect::Rfc8707 => audiences
                .iter()
                .map(|a| ("resource".to_owned(), a.as_str().to_owned()))
                .collect(),
        }
    }

    /// The audience the sign-in's own access token is for. Auth0: the `audience` sent at
    /// /authorize (the default audience; none means a userinfo-only token). RFC 8707: the one
    /// resource the code exchange names, the default audience, else the first registered one.
    ///
    /// ```
    /// use portico_types::{audience::Audience, dialect::Dialect};
    /// let a = Audience::parse("https://api.a/").unwrap();
    /// let b = Audience::parse("https://api.b/").unwrap();
    /// let all = [a.clone(), b.clone()];
    /// assert_eq!(Dialect::Rfc8707.login_token_audience(&all, None), Some(&a));
    /// assert_eq!(Dialect::Rfc8707.login_token_audience(&all, Some(&b)), Some(&b));
    /// assert_eq!(Dialect::Auth0.login_token_audience(&all, None), None);
    /// ```
    pub fn login_token_audience<'a>(
        self,
        audiences: &'a [Audience],
        default_audience: Option<&'a Audience>,
    ) -> Option<&'a Audience> {
        match self {
            Dialect::Auth0 => default_audience,
            Dialect::Rfc8707 | Dialect::Entra => default_audience.or(audiences.first()),
        }
    }

    /// The audience parameter of the `authorization_code` grant, if the dialect has one.
    /// RFC 8707 §2.2 lets a server require every token request to resolve to one resource, so
    /// the code exchange names exactly one; Auth0 took its `audience` at /authorize.
    pub fn code_exchange_param(self, audience: &Audience) -> Option<(&'static str, String)> {
        match self {
            Dialect::Auth0 => None,
            Dialect::Rfc8707 => Some(("resource", audience.as_str().to_owned())),
            Dialect::Entra => Some(("scope", Self::entra_scope(audience, ".default"))),
        }
    }

    /// The single audience parameter of a refresh-token grant.
    pub fn refresh_param(self, audience: &Audience) -> (&'static str, String) {
        match self {
            Dialect::Auth0 => ("audience", audience.as_str().to_owned()),
            Dialect::Rfc8707 => ("resource", audience.as_str().to_owned()),
            Dialect::Entra => ("scope", Self::entra_scope(audience, ".default")),
        }
    }

    /// A refresh-token grant's parameters for `audience` (if one) and `scopes` (if any): the
    /// audience parameter and `scope`, or for Entra one `scope` naming both.
    ///
    /// ```
    /// use portico_types::{audience::Audience, dialect::Dialect};
    /// let a = Audience::parse("api://billing").unwrap();
    /// assert_eq!(
    ///     Dialect::Entra.refresh_params(Some(&a), &["read"]),
    ///     vec![("scope", "api://billing/read".to_string())]
    /// );
    /// assert_eq!(
    ///     Dialect::Auth0.refresh_params(Some(&a), &["read"]),
    ///     vec![("audience", "api://billing".to_string()), ("scope", "read".to_string())]
    /// );
    /// ```
    pub fn refresh_params(
        self,
        audience: Option<&Audience>,
        scopes: &[&str],
    ) -> Vec<(&'static str, String)> {
        match (self, audience) {
            (Dialect::Entra, Some(a)) if !scopes.is_empty() => vec![(
                "scope",
                scopes
                    .iter()
                    .map(|s| Self::entra_scope(a, s))
                    .collect::<Vec<_>>()
                    .join(" "),
            )],
            (Dialect::Entra, Some(a)) => vec![self.refresh_param(a)],
            _ => audience
                .map(|a| self.refresh_param(a))
                .into_iter()
                .chain((!scopes.is_empty()).then(|| ("scope", scopes.join(" "))))
                .collect(),
        }
    }

    /// The URL to open in the browser to end the provider session, if the provider has one:
    /// Auth0's `/v2/logout` below the issuer, else the discovered `end_session_endpoint`.
    pub fn end_session_url(
        self,
        issuer: &Url,
        client_id: &str,
        post_logout_redirect: Option<&Url>,
        end_session_endpoint: Option<&Url>,
        id_token_hint: Option<&str>,
    ) -> Option<Url> {
        match self {
            Dialect::Auth0 => {
                let mut base = issuer.clone();
                if !base.path().ends_with('/') {
                    let p = format!("{}/", base.path());
                    base.set_path(&p);
                }
                let mut url = base.join("v2/logout").ok()?;
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("client_id", client_id);
                    if let Some(r) = post_logout_redirect {
                        q.append_pair("returnTo", r.as_str());
                    }
                }
                Some(url)
            }
            Dialect::Rfc8707 | Dialect::Entra => {
                let mut url = end_session_endpoint?.clone();
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(h) = id_token_hint {
                        q.append_pair("id_token_hint", h);
                    }
                    q.append_pair("client_id", client_id);
                    if let Some(r) = post_logout_redirect {
                        q.append_pair("post_logout_redirect_uri", r.as_str());
                    }
                }
                Some(url)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aud(s: &str) -> Audience {
        Audience::parse(s).unwrap()
    }

    fn audiences() -> Vec<Audience> {
        vec![aud("https://api/a"), aud("https://api/b")]
    }

    #[test]
    fn entra_names_resources_by_scope() {
        let billing = aud("api://billing");
        assert_eq!(
            Dialect::Entra.authorize_params(std::slice::from_ref(&billing), None),
            vec![]
        );
        assert_eq!(
            Dialect::Entra.login_scopes(&["openid", "profile", "read:invoices"], Some(&billing)),
            vec!["openid", "profile", "api://billing/.default"]
        );
        assert_eq!(
            Dialect::Entra.code_exchange_param(&billing),
            Some(("scope", "api://billing/.default".to_owned()))
        );
        assert_eq!(
            Dialect::Entra.refresh_params(Some(&billing), &[]),
            vec![("scope", "api://billing/.default".to_owned())]
        );
        assert_eq!(
            Dialect::Entra.refresh_params(None, &[]),
            Vec::<(&str, String)>::new()
        );
        assert_eq!(
            Dialect::entra_scope(&billing, "api://billing/read"),
            "api://billing/read"
        );
        assert_eq!(
            Dialect::Entra.granted_scope(&billing, "api://billing/read"),
            "read"
        );
        assert_eq!(
            Dialect::Entra.granted_scope(&billing, "User.Read"),
            "User.Read"
        );
        assert_eq!(
            Dialect::Rfc8707.granted_scope(&billing, "api://billing/read"),
            "api://billing/read"
        );
        assert_eq!(Dialect::parse("entra"), Ok(Dialect::Entra));
    }

    #[test]
    fn authorize_params_per_dialect() {
        let all = audiences();
        let default = aud("https://api/b");
        assert_eq!(
            Dialect::Auth0.authorize_params(&all, Some(&default)),
            vec![("audience".into(), "https://api/b".into())]
        );
        assert_eq!(
            Dialect::Rfc8707.authorize_params(&all, Some(&default)),
            vec![
                ("resource".into(), "https://api/a".into()),
                ("resource".into(), "https://api/b".into())
            ]
        );
        assert!(Dialect::Auth0.authorize_params(&all, None).is_empty());
    }

    #[test]
    fn refresh_param_per_dialect() {
        let a = aud("https://api/a");
        assert_eq!(Dialect::Auth0.refresh_param(&a).0, "audience");
        assert_eq!(Dialect::Rfc8707.refresh_param(&a).0, "resource");
        assert_eq!(Dialect::Rfc8707.refresh_param(&a).1, "https://api/a");
    }

    #[test]
    fn code_exchange_names_one_resource_in_rfc8707_only() {
        let all = audiences();
        let default = aud("https://api/b");
        let login = Dialect::Rfc8707
            .login_token_audience(&all, Some(&default))
            .unwrap();
        assert_eq!(
            login.as_str(),
            "https://api/b",
            "the default audience first"
        );
        assert_eq!(
            Dialect::Rfc8707.code_exchange_param(login),
            Some(("resource", "https://api/b".to_owned()))
        );
        assert_eq!(
            Dialect::Rfc8707
                .login_token_audience(&all, None)
                .map(Audience::as_str),
            Some("https://api/a"),
            "else the first registered one"
        );
        assert_eq!(Dialect::Auth0.code_exchange_param(login), None);
        assert_eq!(
            Dialect::Auth0
                .login_token_audience(&all, Some(&default))
                .map(Audience::as_str),
            Some("https://api/b")
        );
    }

    #[test]
    fn logout_urls() {
        let issuer = Url::parse("https://tenant.example.com/").unwrap();
        let bye = Url::parse("http://127.0.0.1:9/bye").unwrap();
        let u = Dialect::Auth0
            .end_session_url(&issuer, "cid", Some(&bye), None, Some("idt"))
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://tenant.example.com/v2/logout?client_id=cid&returnTo=http%3A%2F%2F127.0.0.1%3A9%2Fbye"
        );
        assert!(Dialect::Rfc8707
            .end_session_url(&issuer, "cid", Some(&bye), None, Some("x"))
            .is_none());
        let ep = Url::parse("https://tenant.example.com/oidc/logout").unwrap();
        let u = Dialect::Rfc8707
            .end_session_url(&issuer, "cid", Some(&bye), Some(&ep), Some("idt"))
            .unwrap();
        let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            vec![
                ("id_token_hint".into(), "idt".into()),
                ("client_id".into(), "cid".into()),
                (
                    "post_logout_redirect_uri".into(),
                    "http://127.0.0.1:9/bye".into()
                )
            ]
        );
    }

    #[test]
    fn names_on_the_wire_and_in_the_configuration_agree() {
        for d in [Dialect::Auth0, Dialect::Rfc8707, Dialect::Entra] {
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                format!("\"{}\"", d.as_str())
            );
            assert_eq!(Dialect::parse(d.as_str()), Ok(d));
        }
        for r in [Revocation::Rfc7009, Revocation::GlewlwydDeleteToken] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
            assert_eq!(Revocation::parse(r.as_str()), Ok(r));
        }
        assert_eq!(
            Dialect::parse("okta").unwrap_err().detail(),
            "`okta` is not one of `auth0`, `rfc8707`, `entra`"
        );
        assert_eq!(Revocation::parse("x").unwrap_err().kind(), Kind::Revocation);
    }
}

/// Whether a provider feature is used: when the provider advertises it (`auto`), always, or never.
///
/// ```
/// use portico_types::dialect::Mode;
/// assert_eq!(Mode::parse("auto"), Ok(Mode::Auto));
/// assert_eq!((Mode::Auto.use_with(true), Mode::Auto.use_with(false)), (Some(true), Some(false)));
/// assert_eq!((Mode::On.use_with(false), Mode::Off.use_with(true)), (None, Some(false)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Auto,
    On,
    Off,
}

impl Mode {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::On => "on",
            Mode::Off => "off",
        }
    }

    /// Parses the configuration spelling.
    pub fn parse(s: &str) -> Result<Mode, Invalid> {
        [Mode::Auto, Mode::On, Mode::Off]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| Invalid::new(Kind::Mode, s, "is not one of `auto`, `on`, `off`"))
    }

    /// Whether the feature is used, given whether the provider advertises it; `None` when it
    /// is switched on and the provider does not offer it (the caller says which feature).
    pub fn use_with(self, advertised: bool) -> Option<bool> {
        match self {
            Mode::Auto => Some(advertised),
            Mode::On => advertised.then_some(true),
            Mode::Off => Some(false),
        }
    }
}
