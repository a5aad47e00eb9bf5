//! The embedded default: with no provider configured, a development build runs the development
//! identity provider and the demo APIs in-process and points itself at them, so the app works
//! out of the box on a machine with no network.
//!
//! Only with the feature `embedded-provider`. A build without it (the release package) links no
//! development provider, and [`BUILT_IN`] tells the app to ask for a real one instead.

use url::Url;

use crate::config::ShellConfig;

/// Whether this build has the development provider inside.
pub const BUILT_IN: bool = cfg!(feature = "embedded-provider");

/// Why the embedded default did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmbeddedError(String);

#[cfg(feature = "embedded-provider")]
mod built_in {
    use portico_dev_idp::{DemoApis, DevIdp, IdpConfig, DEMO_CLIENT_ID};

    use super::*;

    /// The in-process provider and demo APIs; stopped when dropped with the app.
    pub struct Embedded {
        idp: DevIdp,
        apis: DemoApis,
    }

    impl Embedded {
        /// Start the demo provider (`IdpConfig::portico_demo`) and its three APIs on loopback.
        pub async fn start() -> Result<Embedded, EmbeddedError> {
            let mut config = IdpConfig::portico_demo();
            // DPoP binds the Analytics API's tokens (the fetch-only sample); Billing and the
            // Dashboard keep Bearer tokens their pages may hold.
            for api in &mut config.apis {
                api.sender_constrained = api.identifier == portico_dev_idp::ANALYTICS_API;
            }
            let apis_config = config.apis.clone();
            let failed = |e: portico_dev_idp::IdpError| EmbeddedError(e.to_string());
            let idp = DevIdp::start(config).await.map_err(failed)?;
            let apis = DemoApis::start(idp.issuer(), &apis_config)
                .await
                .map_err(failed)?;
            Ok(Embedded { idp, apis })
        }

        /// The embedded provider's issuer (`http://127.0.0.1:<port>/`).
        pub fn issuer(&self) -> &Url {
            self.idp.issuer()
        }

        /// The client id registered at the embedded provider.
        pub fn client_id(&self) -> &'static str {
            DEMO_CLIENT_ID
        }

        /// Give every MFE without an `apiUrl` setting the URL of the demo API for its first
        /// audience, so the sample MFEs know where to call, and every MFE without `apis` the
        /// demo APIs of its audiences, so its native `fetch` reaches them.
        pub fn fill_api_urls(&self, config: &mut ShellConfig) {
            for mfe in &mut config.mfes {
                if mfe.apis.is_empty() {
                    for audience in &mfe.audiences {
                        let base = self
                            .apis
                            .url_for(audience.as_str())
                            .and_then(|u| portico_broker::fetch::ApiBase::parse(u.as_str()).ok());
                        if let Some(base) = base {
                            mfe.apis.push(crate::config::MfeApi {
                                base,
                                audience: audience.clone(),
                            });
                        }
                    }
                }
                if mfe.settings.contains_key("apiUrl") {
                    continue;
                }
                if let Some(url) = mfe
                    .audiences
                    .first()
                    .and_then(|a| self.apis.url_for(a.as_str()))
                {
                    mfe.settings
                        .insert("apiUrl".into(), serde_json::Value::String(url.to_string()));
                }
            }
        }
    }
}

#[cfg(not(feature = "embedded-provider"))]
mod built_in {
    use super::*;

    /// Has no values: a build without the development provider cannot hold one. The methods
    /// exist so the app compiles the same either way; none can be called.
    pub enum Embedded {}

    impl Embedded {
        /// Always fails: this build has no development provider.
        pub async fn start() -> Result<Embedded, EmbeddedError> {
            Err(EmbeddedError(
                "this build has no embedded development provider (cargo feature `embedded-provider`)"
                    .into(),
            ))
        }

        pub fn issuer(&self) -> &Url {
            match *self {}
        }

        pub fn client_id(&self) -> &'static str {
            match *self {}
        }

        pub fn fill_api_urls(&self, _config: &mut ShellConfig) {
            match *self {}
        }
    }
}

pub use built_in::Embedded;
