//! `ProviderConfig`s for tests: the registrations our providers have for the demo client, as
//! the broker's own [`ProviderConfigBuilder`] preset to them, so a test names only what it
//! changes and every fixture passes the rules a real configuration does.
//!
//! ```
//! # fn demo() -> Result<(), portico_broker::AuthError> {
//! use portico_broker::Dialect;
//! use portico_testkit::provider;
//! let issuer = url::Url::parse("http://127.0.0.1:9/").expect("url");
//! let config = provider::dev_idp(&issuer, Dialect::Rfc8707)?
//!     .post_logout_redirect(url::Url::parse("http://127.0.0.1:1/signed-out").expect("url"))
//!     .build()?;
//! assert_eq!(config.audiences().len(), 3);
//! # Ok(()) }
//! # demo().unwrap();
//! ```

use portico_broker::{
    Audience, AuthError, Dialect, ProviderConfig, ProviderConfigBuilder, RedirectUri, Revocation,
    ScopeSet,
};
use portico_dev_idp::{ANALYTICS_API, BILLING_API, CORE_API, DEMO_CLIENT_ID};
use url::Url;

use crate::glewlwyd::{self, Glewlwyd};

/// The deep link both providers have registered for the demo client.
pub const DEEP_LINK: &str = "dev.portico.app:/callback";

/// RFC 6749 §6: a refresh can only narrow the scopes of the sign-in, so with resource indicators
/// every API scope is asked for at login; Auth0's MRRT takes them from its policy instead.
fn login_scopes(dialect: Dialect) -> &'static str {
    match dialect {
        // Entra: the login audience's `.default` stands for its scopes (see Dialect::login_scopes).
        Dialect::Auth0 | Dialect::Entra => "profile email read:dashboard",
        Dialect::Rfc8707 => {
            "profile email read:invoices write:invoices read:dashboard read:reports export:reports"
        }
    }
}

fn audiences(ids: [&str; 3]) -> Result<Vec<Audience>, AuthError> {
    ids.into_iter()
        .map(|a| Audience::parse(a).map_err(AuthError::from))
        .collect()
}

/// The demo client on the development provider at `issuer`: the deep link, the three demo
/// APIs, Auth0 logging in for the core API.
pub fn dev_idp(issuer: &Url, dialect: Dialect) -> Result<ProviderConfigBuilder, AuthError> {
    // In its Entra-like mode the dev provider's tokens come from its tenant's issuer.
    let issuer = match dialect {
        Dialect::Entra => portico_dev_idp::entra_issuer(issuer, portico_dev_idp::ENTRA_TENANT),
        _ => issuer.clone(),
    };
    let builder = ProviderConfig::builder(issuer, DEMO_CLIENT_ID)
        .redirect(RedirectUri::parse(DEEP_LINK)?)
        .dialect(dialect)
        .audiences(audiences([BILLING_API, CORE_API, ANALYTICS_API])?)
        .scopes(ScopeSet::parse(login_scopes(dialect))?)
        .revocation(Revocation::Rfc7009);
    Ok(match dialect {
        Dialect::Auth0 | Dialect::Entra => builder.default_audience(Audience::parse(CORE_API)?),
        Dialect::Rfc8707 => builder,
    })
}

/// What Portico's shell derives for the Glewlwyd fixture in RFC 8707 mode: every API scope
/// at sign-in, one resource per token request, Glewlwyd's own revocation.
pub fn glewlwyd(op: &Glewlwyd) -> Result<ProviderConfigBuilder, AuthError> {
    Ok(dev_idp(op.issuer(), Dialect::Rfc8707)?
        .client_id(glewlwyd::CLIENT_ID)
        .audiences(audiences([
            glewlwyd::BILLING,
            glewlwyd::CORE,
            glewlwyd::ANALYTICS,
        ])?)
        .revocation(Revocation::GlewlwydDeleteToken))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_presets_pass_the_rules() {
        let issuer = Url::parse("http://127.0.0.1:9/").expect("url");
        for dialect in [Dialect::Auth0, Dialect::Rfc8707] {
            let config = dev_idp(&issuer, dialect)
                .and_then(ProviderConfigBuilder::build)
                .expect("dev-idp preset");
            assert_eq!(config.client_id(), DEMO_CLIENT_ID);
            assert_eq!(
                config.default_audience().map(Audience::as_str),
                (dialect == Dialect::Auth0).then_some(CORE_API)
            );
        }
    }
}
