//! The embedded default: with no provider configured, the shell runs the development identity
//! provider and the demo APIs in-process and points itself at them, so the app works out of the
//! box on a machine with no network.

use portico_dev_idp::{DemoApis, DevIdp, IdpConfig, IdpError, DEMO_CLIENT_ID};

use crate::config::ShellConfig;

/// The in-process provider and demo APIs; stopped when dropped with the app.
pub struct Embedded {
    pub idp: DevIdp,
    pub apis: DemoApis,
}

impl Embedded {
    /// Start the demo provider (`IdpConfig::portico_demo`) and its three APIs on loopback.
    pub async fn start() -> Result<Embedded, IdpError> {
        let config = IdpConfig::portico_demo();
        let apis_config = config.apis.clone();
        let idp = DevIdp::start(config).await?;
        let apis = DemoApis::start(idp.issuer(), &apis_config).await?;
        Ok(Embedded { idp, apis })
    }

    /// The client id registered at the embedded provider.
    pub fn client_id(&self) -> &'static str {
        DEMO_CLIENT_ID
    }

    /// Give every MFE without an `apiUrl` setting the URL of the demo API for its first
    /// audience, so the sample MFEs know where to call.
    pub fn fill_api_urls(&self, config: &mut ShellConfig) {
        for mfe in &mut config.mfes {
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
