//! `ProviderConfig`s for tests: the registrations our providers have for the demo client, as one
//! builder, so a test names only what it changes. (`portico_broker::ProviderConfig` is a plain
//! struct; a builder may move into the broker later.)
//!
//! ```
//! # fn demo() -> Result<(), portico_testkit::provider::ProviderFixtureError> {
//! use portico_broker::Dialect;
//! use portico_testkit::provider::ProviderBuilder;
//! let issuer = url::Url::parse("http://127.0.0.1:9/").expect("url");
//! let config = ProviderBuilder::dev_idp(&issuer, Dialect::Rfc8707)
//!     .post_logout_redirect("http://127.0.0.1:1/signed-out")
//!     .build()?;
//! assert_eq!(config.audiences.len(), 3);
//! # Ok(()) }
//! ```

use portico_broker::{Audience, Dialect, ProviderConfig, RedirectUri, Revocation, ScopeSet};
use portico_dev_idp::{ANALYTICS_API, BILLING_API, CORE_API, DEMO_CLIENT_ID};
use url::Url;

use crate::glewlwyd::{self, Glewlwyd};

/// The deep link both providers have registered for the demo client.
pub const DEEP_LINK: &str = "dev.portico.app:/callback";

/// A value of the fixture the broker does not accept.
#[derive(Debug, thiserror::Error)]
pub enum ProviderFixtureError {
    #[error("provider fixture: {field} `{value}`: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
}

fn invalid(field: &'static str, value: &str) -> impl FnOnce(String) -> ProviderFixtureError {
    let value = value.to_owned();
    move |reason| ProviderFixtureError::Invalid {
        field,
        value,
        reason,
    }
}

/// Builds a [`ProviderConfig`]; start from the provider's registration, change what the test is about.
#[derive(Debug, Clone)]
pub struct ProviderBuilder {
    issuer: Url,
    client_id: String,
    redirect: Option<RedirectUri>,
    dialect: Dialect,
    audiences: Vec<String>,
    default_audience: Option<String>,
    scopes: String,
    post_logout_redirect: Option<String>,
    revocation: Revocation,
}

/// RFC 6749 §6: a refresh can only narrow the scopes of the sign-in, so with resource indicators
/// every API scope is asked for at login; Auth0's MRRT takes them from its policy instead.
fn login_scopes(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Auth0 => "profile email read:dashboard",
        Dialect::Rfc8707 => {
            "profile email read:invoices write:invoices read:dashboard read:reports export:reports"
        }
    }
}

impl ProviderBuilder {
    /// The demo client on the development provider at `issuer`: the deep link, the three demo
    /// APIs, Auth0 logging in for the core API.
    pub fn dev_idp(issuer: &Url, dialect: Dialect) -> ProviderBuilder {
        ProviderBuilder {
            issuer: issuer.clone(),
            client_id: DEMO_CLIENT_ID.into(),
            redirect: None,
            dialect,
            audiences: [BILLING_API, CORE_API, ANALYTICS_API]
                .map(String::from)
                .to_vec(),
            default_audience: (dialect == Dialect::Auth0).then(|| CORE_API.into()),
            scopes: login_scopes(dialect).into(),
            post_logout_redirect: None,
            revocation: Revocation::Rfc7009,
        }
    }

    /// What Portico's shell derives for the Glewlwyd fixture in RFC 8707 mode: every API scope
    /// at sign-in, one resource per token request, Glewlwyd's own revocation.
    pub fn glewlwyd(op: &Glewlwyd) -> ProviderBuilder {
        ProviderBuilder {
            client_id: glewlwyd::CLIENT_ID.into(),
            audiences: [glewlwyd::BILLING, glewlwyd::CORE, glewlwyd::ANALYTICS]
                .map(String::from)
                .to_vec(),
            revocation: Revocation::GlewlwydDeleteToken,
            ..ProviderBuilder::dev_idp(op.issuer(), Dialect::Rfc8707)
        }
    }

    pub fn client_id(mut self, id: &str) -> Self {
        self.client_id = id.into();
        self
    }

    /// Where the provider sends the browser back (default: [`DEEP_LINK`]).
    pub fn redirect(mut self, redirect: RedirectUri) -> Self {
        self.redirect = Some(redirect);
        self
    }

    /// The audiences MFEs may ask for.
    pub fn audiences(mut self, audiences: &[&str]) -> Self {
        self.audiences = audiences.iter().map(|a| (*a).into()).collect();
        self
    }

    /// Auth0: the audience of the login (`None`: none).
    pub fn default_audience(mut self, audience: Option<&str>) -> Self {
        self.default_audience = audience.map(Into::into);
        self
    }

    /// Login scopes, space-separated.
    pub fn scopes(mut self, scopes: &str) -> Self {
        self.scopes = scopes.into();
        self
    }

    pub fn post_logout_redirect(mut self, url: &str) -> Self {
        self.post_logout_redirect = Some(url.into());
        self
    }

    pub fn build(self) -> Result<ProviderConfig, ProviderFixtureError> {
        let audience =
            |a: &String| Audience::parse(a).map_err(|e| invalid("audience", a)(e.to_string()));
        let redirect = match self.redirect {
            Some(r) => r,
            None => RedirectUri::PrivateScheme(
                Url::parse(DEEP_LINK).map_err(|e| invalid("redirect", DEEP_LINK)(e.to_string()))?,
            ),
        };
        let post_logout_redirect = self
            .post_logout_redirect
            .map(|u| Url::parse(&u).map_err(|e| invalid("post-logout redirect", &u)(e.to_string())))
            .transpose()?;
        Ok(ProviderConfig {
            issuer: self.issuer,
            client_id: self.client_id,
            redirect,
            dialect: self.dialect,
            audiences: self
                .audiences
                .iter()
                .map(audience)
                .collect::<Result<_, _>>()?,
            default_audience: self.default_audience.as_ref().map(audience).transpose()?,
            scopes: ScopeSet::parse(&self.scopes)
                .map_err(|e| invalid("scopes", &self.scopes)(e.to_string()))?,
            extra_authorize_params: Vec::new(),
            post_logout_redirect,
            revocation: self.revocation,
        })
    }
}
