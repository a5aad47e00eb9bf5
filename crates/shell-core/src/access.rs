//! Who may ask for what. The caller is the webview an IPC call came from: its label (set by the
//! shell when it created the webview) and the origin of the page it shows right now. Nothing the
//! page says about itself is consulted.

use url::Url;

use crate::config::{MfeEntry, Origin, ShellConfig, MFE_LABEL_PREFIX};

/// Why a caller was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// The webview is not a registered micro frontend (the chrome, or an unknown label).
    #[error("this webview is not a registered micro frontend")]
    UnknownCaller,
    /// The webview is an MFE's, but it shows a page from an origin that MFE is not pinned to.
    #[error("the page's origin `{origin}` is not one of this micro frontend's origins")]
    WrongOrigin { origin: String },
    /// The MFE is not registered for that audience.
    #[error("micro frontend `{mfe}` is not registered for audience `{audience}`")]
    ForbiddenAudience { mfe: String, audience: String },
}

/// The registry seen as an access policy.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    mfes: Vec<MfeEntry>,
}

impl AccessPolicy {
    /// Build from the validated configuration; bundled MFEs must have their origins filled in.
    pub fn new(config: &ShellConfig) -> Self {
        Self {
            mfes: config.mfes.clone(),
        }
    }

    /// The MFE behind a webview, if the webview is one and shows one of its origins.
    pub fn caller(&self, label: &str, url: &Url) -> Result<&MfeEntry, AccessDenied> {
        let id = label
            .strip_prefix(MFE_LABEL_PREFIX)
            .ok_or(AccessDenied::UnknownCaller)?;
        let mfe = self
            .mfes
            .iter()
            .find(|m| m.id == id)
            .ok_or(AccessDenied::UnknownCaller)?;
        let origin = Origin::of(url).ok_or_else(|| AccessDenied::WrongOrigin {
            origin: url.scheme().to_string(),
        })?;
        if !mfe.origins.contains(&origin) {
            return Err(AccessDenied::WrongOrigin {
                origin: origin.to_string(),
            });
        }
        Ok(mfe)
    }

    /// May this webview have a token for `audience`? Returns its MFE when it may.
    pub fn authorize(
        &self,
        label: &str,
        url: &Url,
        audience: &str,
    ) -> Result<&MfeEntry, AccessDenied> {
        let mfe = self.caller(label, url)?;
        if mfe.audiences.iter().any(|a| a.as_str() == audience) {
            Ok(mfe)
        } else {
            Err(AccessDenied::ForbiddenAudience {
                mfe: mfe.id.clone(),
                audience: audience.to_string(),
            })
        }
    }

    /// Labels of the webviews entitled to hear about `audience` (for pushed refreshes).
    pub fn entitled_labels(&self, audience: &str) -> Vec<String> {
        self.mfes
            .iter()
            .filter(|m| m.audiences.iter().any(|a| a.as_str() == audience))
            .map(MfeEntry::webview_label)
            .collect()
    }

    /// The MFEs that use an audience, by id (for the token status panel).
    pub fn users_of(&self, audience: &str) -> Vec<String> {
        self.mfes
            .iter()
            .filter(|m| m.audiences.iter().any(|a| a.as_str() == audience))
            .map(|m| m.id.clone())
            .collect()
    }

    /// Whether a navigation of an MFE's webview to `url` stays inside its origins.
    pub fn may_navigate(&self, label: &str, url: &Url) -> bool {
        self.caller(label, url).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MfeSource;

    fn policy() -> AccessPolicy {
        let mfe = |id: &str, origin: &str, aud: &str| MfeEntry {
            id: id.into(),
            title: id.into(),
            source: MfeSource::Bundled(format!("mfes/{id}")),
            origins: vec![Origin::of(&Url::parse(origin).unwrap()).unwrap()],
            audiences: vec![portico_types::Audience::parse(aud).unwrap()],
            scopes: vec![],
            settings: Default::default(),
            apis: vec![],
            token_exposure: Default::default(),
            preload: false,
            unload_after: None,
        };
        AccessPolicy {
            mfes: vec![
                mfe(
                    "billing",
                    "http://127.0.0.1:4001",
                    "https://api.portico.dev/billing",
                ),
                mfe(
                    "analytics",
                    "http://127.0.0.1:4003",
                    "https://api.portico.dev/analytics",
                ),
            ],
        }
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn an_mfe_gets_its_own_audience() {
        let p = policy();
        let m = p
            .authorize(
                "mfe-billing",
                &u("http://127.0.0.1:4001/index.html"),
                "https://api.portico.dev/billing",
            )
            .unwrap();
        assert_eq!(m.id, "billing");
    }

    #[test]
    fn an_mfe_is_refused_another_teams_audience() {
        let p = policy();
        assert_eq!(
            p.authorize(
                "mfe-billing",
                &u("http://127.0.0.1:4001/"),
                "https://api.portico.dev/analytics"
            )
            .unwrap_err(),
            AccessDenied::ForbiddenAudience {
                mfe: "billing".into(),
                audience: "https://api.portico.dev/analytics".into()
            }
        );
    }

    #[test]
    fn the_page_origin_decides_not_the_label_alone() {
        let p = policy();
        // The billing webview navigated (somehow) to the analytics origin: still refused.
        assert!(matches!(
            p.authorize(
                "mfe-billing",
                &u("http://127.0.0.1:4003/"),
                "https://api.portico.dev/billing"
            ),
            Err(AccessDenied::WrongOrigin { .. })
        ));
        assert!(matches!(
            p.authorize(
                "mfe-billing",
                &u("about:blank"),
                "https://api.portico.dev/billing"
            ),
            Err(AccessDenied::WrongOrigin { .. })
        ));
    }

    #[test]
    fn unknown_webviews_and_the_chrome_are_not_callers() {
        let p = policy();
        for label in ["chrome", "mfe-unknown", "billing", ""] {
            assert_eq!(
                p.authorize(
                    label,
                    &u("http://127.0.0.1:4001/"),
                    "https://api.portico.dev/billing"
                )
                .unwrap_err(),
                AccessDenied::UnknownCaller
            );
        }
    }

    #[test]
    fn refreshes_go_only_to_entitled_webviews() {
        let p = policy();
        assert_eq!(
            p.entitled_labels("https://api.portico.dev/billing"),
            vec!["mfe-billing"]
        );
        assert!(p.entitled_labels("https://api.portico.dev/core").is_empty());
    }
}
