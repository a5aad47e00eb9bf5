//! Provider dialects: how an audience is asked for and how logout works. Everything Auth0-specific lives here.

use crate::config::{Audience, ProviderConfig};
use serde::{Deserialize, Serialize};
use url::Url;

/// The provider's way of speaking about audiences and logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Auth0: `audience=` (one at login, others by Multi-Resource Refresh Token policy), `/v2/logout`.
    Auth0,
    /// RFC 8707 resource indicators (all at /authorize, one per token request) and OIDC RP-initiated logout.
    Rfc8707,
}

/// How a refresh token is revoked (at sign-out, and after a refused sign-in).
///
/// ```
/// use portico_broker::Revocation;
/// let r: Revocation = serde_json::from_str("\"glewlwyd-delete-token\"").unwrap();
/// assert_eq!(r, Revocation::GlewlwydDeleteToken);
/// assert_eq!(Revocation::default(), Revocation::Rfc7009);
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
    pub fn parse(s: &str) -> Option<Revocation> {
        [Revocation::Rfc7009, Revocation::GlewlwydDeleteToken]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

impl Dialect {
    /// Audience parameters for the authorization request.
    ///
    /// ```
    /// use portico_broker::{dialect, Audience, Dialect};
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
    /// use portico_broker::{Audience, Dialect};
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
            Dialect::Rfc8707 => default_audience.or(audiences.first()),
        }
    }

    /// The audience parameter of the `authorization_code` grant, if the dialect has one.
    /// RFC 8707 §2.2 lets a server require every token request to resolve to one resource, so
    /// the code exchange names exactly one; Auth0 took its `audience` at /authorize.
    pub fn code_exchange_param(self, audience: &Audience) -> Option<(&'static str, String)> {
        match self {
            Dialect::Auth0 => None,
            Dialect::Rfc8707 => Some(("resource", audience.as_str().to_owned())),
        }
    }

    /// The single audience parameter of a refresh-token grant.
    pub fn refresh_param(self, audience: &Audience) -> (&'static str, String) {
        match self {
            Dialect::Auth0 => ("audience", audience.as_str().to_owned()),
            Dialect::Rfc8707 => ("resource", audience.as_str().to_owned()),
        }
    }

    /// The URL to open in the browser to end the provider session, if the provider has one.
    pub fn end_session_url(
        self,
        config: &ProviderConfig,
        end_session_endpoint: Option<&Url>,
        id_token_hint: Option<&str>,
    ) -> Option<Url> {
        match self {
            Dialect::Auth0 => {
                let mut base = config.issuer.clone();
                if !base.path().ends_with('/') {
                    let p = format!("{}/", base.path());
                    base.set_path(&p);
                }
                let mut url = base.join("v2/logout").ok()?;
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("client_id", &config.client_id);
                    if let Some(r) = &config.post_logout_redirect {
                        q.append_pair("returnTo", r.as_str());
                    }
                }
                Some(url)
            }
            Dialect::Rfc8707 => {
                let mut url = end_session_endpoint?.clone();
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(h) = id_token_hint {
                        q.append_pair("id_token_hint", h);
                    }
                    q.append_pair("client_id", &config.client_id);
                    if let Some(r) = &config.post_logout_redirect {
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
    use crate::config::{RedirectUri, ScopeSet};
    use crate::Revocation;

    fn config(dialect: Dialect) -> ProviderConfig {
        ProviderConfig {
            issuer: Url::parse("https://tenant.example.com/").unwrap(),
            client_id: "cid".into(),
            redirect: RedirectUri::Loopback {
                path: "/callback".into(),
            },
            dialect,
            audiences: vec![
                Audience::parse("https://api/a").unwrap(),
                Audience::parse("https://api/b").unwrap(),
            ],
            default_audience: Some(Audience::parse("https://api/b").unwrap()),
            scopes: ScopeSet::empty(),
            extra_authorize_params: vec![],
            post_logout_redirect: Some(Url::parse("http://127.0.0.1:9/bye").unwrap()),
            revocation: Revocation::Rfc7009,
        }
    }

    #[test]
    fn authorize_params_per_dialect() {
        let c = config(Dialect::Auth0);
        assert_eq!(
            Dialect::Auth0.authorize_params(&c.audiences, c.default_audience.as_ref()),
            vec![("audience".into(), "https://api/b".into())]
        );
        assert_eq!(
            Dialect::Rfc8707.authorize_params(&c.audiences, c.default_audience.as_ref()),
            vec![
                ("resource".into(), "https://api/a".into()),
                ("resource".into(), "https://api/b".into())
            ]
        );
        assert!(Dialect::Auth0
            .authorize_params(&c.audiences, None)
            .is_empty());
    }

    #[test]
    fn refresh_param_per_dialect() {
        let a = Audience::parse("https://api/a").unwrap();
        assert_eq!(Dialect::Auth0.refresh_param(&a).0, "audience");
        assert_eq!(Dialect::Rfc8707.refresh_param(&a).0, "resource");
        assert_eq!(Dialect::Rfc8707.refresh_param(&a).1, "https://api/a");
    }

    #[test]
    fn code_exchange_names_one_resource_in_rfc8707_only() {
        let c = config(Dialect::Rfc8707);
        let login = Dialect::Rfc8707
            .login_token_audience(&c.audiences, c.default_audience.as_ref())
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
                .login_token_audience(&c.audiences, None)
                .map(Audience::as_str),
            Some("https://api/a"),
            "else the first registered one"
        );
        assert_eq!(Dialect::Auth0.code_exchange_param(login), None);
        assert_eq!(
            Dialect::Auth0
                .login_token_audience(&c.audiences, c.default_audience.as_ref())
                .map(Audience::as_str),
            Some("https://api/b")
        );
    }

    #[test]
    fn logout_urls() {
        let c = config(Dialect::Auth0);
        let u = Dialect::Auth0
            .end_session_url(&c, None, Some("idt"))
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://tenant.example.com/v2/logout?client_id=cid&returnTo=http%3A%2F%2F127.0.0.1%3A9%2Fbye"
        );
        let c = config(Dialect::Rfc8707);
        assert!(Dialect::Rfc8707
            .end_session_url(&c, None, Some("x"))
            .is_none());
        let ep = Url::parse("https://tenant.example.com/oidc/logout").unwrap();
        let u = Dialect::Rfc8707
            .end_session_url(&c, Some(&ep), Some("idt"))
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
    fn serde_names() {
        assert_eq!(serde_json::to_string(&Dialect::Auth0).unwrap(), "\"auth0\"");
        assert_eq!(
            serde_json::to_string(&Dialect::Rfc8707).unwrap(),
            "\"rfc8707\""
        );
    }
}
