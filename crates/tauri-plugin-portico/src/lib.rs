//! # tauri-plugin-portico
//!
//! One sign-in through the system browser (RFC 8252), and OAuth access tokens per API audience
//! for every micro frontend (MFE) webview of a Tauri v2 host. Token, session and policy logic
//! live here and in `portico-broker`; the host keeps its windows, layout and chrome.
//!
//! ```no_run
//! fn host<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
//!     builder
//!         // Without the opener's link script (see "The system browser" below).
//!         .plugin(tauri_plugin_opener::Builder::new().open_js_links_on_click(false).build())
//!         .plugin(tauri_plugin_portico::init())
//!         .setup(|app| {
//!             use tauri_plugin_portico::PorticoExt;
//!             for mfe in app.portico().mfes() {
//!                 let _label = mfe.webview_label(); // one webview per MFE, with this label
//!             }
//!             Ok(())
//!         })
//! }
//! ```
//!
//! - Configuration: the `plugins.portico` section of `tauri.conf.json` (or the JSON file
//!   `PORTICO_CONFIG` names), validated by `portico-shell-core`.
//! - Commands: `plugin:portico|get_token`, `fetch`, `fetch_abort`, `mfe_subscribe`,
//!   `mfe_context`, `mfe_sign_in`, `mfe_ping` (the `portico:default` set, for MFE webviews) and `host_state`,
//!   `host_subscribe`, `host_sign_in`, `host_cancel_sign_in`, `host_sign_out`,
//!   `host_token_status` (the `portico:host-ui` set, for the host's own UI).
//! - `get_token`'s scope: `{ "audience": "<uri>" }` entries ([`models::AudienceScope`]). The
//!   plugin adds one runtime capability per registered MFE (its webview label, its origins) with
//!   `portico:default` scoped to its registered audiences; a host may allow more audiences in its
//!   own capability files, and a deny entry always wins.
//! - The host places each MFE's webview, built by [`host::mfe_webview`] (its label, its page,
//!   pinned to its origins, page loads reported), and hands deep links to the plugin with
//!   [`host::forward_deep_links`]. The opener and deep-link plugins must be registered.
//! - The system browser: an MFE's navigation or pop-up off its origins opens the person's
//!   browser only when a click caused it, within a small allowance per MFE. Register the opener
//!   plugin with `open_js_links_on_click(false)`: its default script, injected into every
//!   webview, turns a click on a `target=_blank` link into a `plugin:opener|open_url` call,
//!   which MFE webviews are not allowed, so such links would do nothing.

mod commands;
mod desktop;
mod error;
mod fetch;
mod gesture;
pub mod host;
mod login;
pub mod models;
mod setup;

use std::sync::Arc;

use portico_broker::{AuthError, BrokerEvent};
use tauri::ipc::{CapabilityBuilder, CommandArg, CommandItem, CommandScope, GlobalScope, Invoke};
use tauri::plugin::{PluginApi, TauriPlugin};
use tauri::{AppHandle, Manager, Runtime};

pub use desktop::{Portico, BROWSER_OPENS};
pub use error::{Error, Result};
pub use models::{AudienceScope, ProviderView};
pub use setup::{broker_options, deep_link_schemes};

/// The plugin's name: commands are `plugin:portico|…`, permissions `portico:…`, configuration
/// `plugins.portico`.
pub const PLUGIN_NAME: &str = "portico";

/// The permission (a set) the plugin grants each MFE webview, scoped to its audiences.
pub const MFE_PERMISSION: &str = "portico:default";

/// The set a host grants its own UI in a capability file.
pub const HOST_UI_PERMISSION: &str = "portico:host-ui";

/// The plugin configuration: the `plugins.portico` section as Tauri hands it over, validated by
/// [`portico_shell_core::ShellConfig::load`] at start (with `PORTICO_*` overrides and the
/// `PORTICO_CONFIG` file), so its errors name the field that is wrong.
pub type Config = serde_json::Value;

/// Access to the plugin from anything that can reach the app (`app.portico()`).
pub trait PorticoExt<R: Runtime> {
    /// The plugin's state. Panics if the plugin is not registered (a programming error).
    fn portico(&self) -> Arc<Portico>;
}

impl<R: Runtime, T: Manager<R>> PorticoExt<R> for T {
    fn portico(&self) -> Arc<Portico> {
        Arc::clone(self.state::<Arc<Portico>>().inner())
    }
}

/// Builds the plugin.
pub struct Builder {
    prepared: Option<Portico>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Everything from the `plugins.portico` configuration (the embedded development provider
    /// when none is configured, in a build with the feature `embedded-provider`).
    pub fn new() -> Self {
        Self { prepared: None }
    }

    /// A [`Portico`] the host built itself (its own broker, store or clock; the tests).
    pub fn with_portico(portico: Portico) -> Self {
        Self {
            prepared: Some(portico),
        }
    }

    pub fn build<R: Runtime>(self) -> TauriPlugin<R, Config> {
        let generated: Box<tauri::ipc::InvokeHandler<R>> = Box::new(tauri::generate_handler![
            commands::get_token,
            commands::mfe_subscribe,
            commands::mfe_context,
            commands::mfe_sign_in,
            commands::mfe_ping,
            commands::fetch,
            commands::fetch_abort,
            commands::host_state,
            commands::host_subscribe,
            commands::host_sign_in,
            commands::host_cancel_sign_in,
            commands::host_sign_out,
            commands::host_token_status,
        ]);
        let prepared = self.prepared;
        tauri::plugin::Builder::<R, Config>::new(PLUGIN_NAME)
            // Tauri has checked the ACL before calling this. Cache hits of `get_token` are
            // answered right here, on the thread the call arrives on, without the hop to the
            // async runtime and back (`cargo xtask bench`); everything else goes to the
            // generated handler.
            .invoke_handler(move |invoke| {
                if let Some(grant) = get_token_from_cache(&invoke) {
                    invoke.resolver.resolve(grant);
                    return true;
                }
                generated(invoke)
            })
            .setup(move |app, api: PluginApi<R, Config>| {
                let portico = match prepared {
                    Some(p) => p,
                    None => setup::build(app, api.config())?,
                };
                let portico = Arc::new(portico);
                app.manage(Arc::clone(&portico));
                grant_mfe_capabilities(app, &portico)?;
                wire_broker_events(app, &portico);
                let (weak, handle) = (Arc::downgrade(&portico), app.clone());
                // A step-up opens the system browser like a sign-in; the host UI shows it from
                // its state (`stepUp`) and can cancel it. Weak: the broker lives in Portico.
                portico.broker().set_interaction(Arc::new(
                    move |prompt: portico_broker::StepUpPrompt| {
                        if let Some(portico) = weak.upgrade() {
                            let handle = handle.clone();
                            tauri::async_runtime::spawn(async move {
                                crate::login::open_with_secrets(
                                    &handle,
                                    &portico,
                                    &prompt.login.authorize_url,
                                    crate::login::Secrets::SignIn,
                                    prompt.login.expires_at,
                                )
                                .await;
                            });
                        }
                    },
                ));
                let background = Arc::clone(&portico);
                tauri::async_runtime::spawn(async move {
                    // Spawns onto the runtime it is called from, hence inside this task.
                    background.broker().start_proactive_refresh();
                    silent_login(&background).await;
                });
                Ok(())
            })
            .build()
    }
}

/// The plugin with everything from `plugins.portico`.
pub fn init<R: Runtime>() -> TauriPlugin<R, Config> {
    Builder::new().build()
}

/// `get_token` answered from the broker's cache, if the call passes every check the command
/// makes. `None` — the command runs — for anything else: a miss or a refusal (reported once, by
/// the command).
fn get_token_from_cache<R: Runtime>(invoke: &Invoke<R>) -> Option<portico_broker::TokenGrant> {
    if invoke.message.command() != "get_token" {
        return None;
    }
    let webview = invoke.message.webview();
    let portico = webview.try_state::<Arc<Portico>>()?;
    let item = |key| CommandItem {
        plugin: Some(PLUGIN_NAME),
        name: "get_token",
        key,
        message: &invoke.message,
        acl: &invoke.acl,
    };
    let command = CommandScope::<AudienceScope>::from_command(item("command_scope")).ok()?;
    let global = GlobalScope::<AudienceScope>::from_command(item("global_scope")).ok()?;
    let rules = commands::AudienceRules::new(&command, &global);
    let args = match invoke.message.payload() {
        tauri::ipc::InvokeBody::Json(serde_json::Value::Object(args)) => Some(args),
        _ => None,
    };
    // A step-up request is the command's: the plain cache does not know what a sign-in proved.
    if args.is_some_and(|a| {
        ["acrValues", "maxAge", "claims"]
            .iter()
            .any(|k| a.get(*k).is_some_and(|v| !v.is_null()))
    }) {
        return None;
    }
    let request = commands::token_request(
        &portico,
        &webview,
        &rules,
        args.and_then(|a| a.get("audience")),
        args.and_then(|a| a.get("scopes")),
    )
    .ok()?;
    portico.broker().cached_token_for(&request)
}

/// One runtime capability per MFE: only its webview label, only its origin(s), only
/// `portico:default`, scoped to its registered audiences. Never linked to a window label
/// (children would inherit it).
fn grant_mfe_capabilities<R: Runtime>(app: &AppHandle<R>, portico: &Portico) -> tauri::Result<()> {
    for mfe in portico.mfes() {
        let mut cap = CapabilityBuilder::new(format!("portico-mfe-{}", mfe.id))
            .webview(mfe.webview_label())
            .local(false);
        for origin in &mfe.origins {
            cap = cap.remote(format!("{origin}/*"));
        }
        let allow = mfe
            .audiences
            .iter()
            .map(|a| AudienceScope {
                audience: a.as_str().to_owned(),
            })
            .collect();
        cap = cap.permission_scoped(MFE_PERMISSION, allow, Vec::<AudienceScope>::new());
        app.add_capability(cap)?;
    }
    Ok(())
}

/// The audiences the webview `label` may have tokens for right now, by its capabilities.
fn audience_rules<R: Runtime>(app: &AppHandle<R>, label: &str) -> Option<commands::AudienceRules> {
    let webview = app.get_webview(label)?;
    let scope = webview
        .resolve_command_scope::<AudienceScope>(PLUGIN_NAME, "get_token")
        .ok()??;
    let list = |v: &Vec<Arc<AudienceScope>>| -> Vec<String> {
        v.iter().map(|e| e.audience.clone()).collect()
    };
    let mut allow = list(scope.command_scope().allows());
    allow.extend(list(scope.global_scope().allows()));
    let mut deny = list(scope.command_scope().denies());
    deny.extend(list(scope.global_scope().denies()));
    Some(commands::AudienceRules::from_lists(allow, deny))
}

/// The subscribed MFE webviews that may hear about `audience` (their scope allows it) and, for a
/// token, may hold it (their ceiling admits the granted scopes): a reader never receives a
/// writer's token.
fn entitled<R: Runtime>(
    app: &AppHandle<R>,
    portico: &Portico,
    audience: &portico_broker::Audience,
    token: Option<(&portico_broker::ScopeSet, &portico_broker::ScopeSet)>,
) -> Vec<String> {
    portico
        .subscribed_mfe_labels()
        .into_iter()
        .filter(|label| {
            let Some(mfe) = portico.mfes().iter().find(|m| &m.webview_label() == label) else {
                return false;
            };
            // No token push reaches a fetch-only page (issue 16.4).
            if token.is_some() && mfe.token_exposure == portico_shell_core::TokenExposure::FetchOnly
            {
                return false;
            }
            let allowed = audience_rules(app, label).is_some_and(|r| r.admits(audience.as_str()));
            if !allowed {
                return false;
            }
            match token {
                None => true,
                Some((granted, requested)) => portico
                    .ceiling(mfe, audience)
                    .is_ok_and(|c| c.admits(granted, requested)),
            }
        })
        .collect()
}

/// Broker announcements become pushes to the webviews entitled to them, never broadcasts.
fn wire_broker_events<R: Runtime>(app: &AppHandle<R>, portico: &Arc<Portico>) {
    let mut events = portico.broker().subscribe();
    let portico = Arc::clone(portico);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "broker events lagged");
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            match event {
                BrokerEvent::TokenRefreshed {
                    audience,
                    grant,
                    requested,
                } => {
                    match portico_broker::ScopeSet::parse(&grant.scope) {
                        // A DPoP-bound token is useless without the key and never reaches a
                        // page; only the native fetch uses it.
                        Ok(_) if grant.is_sender_constrained() => {}
                        Ok(granted) => {
                            let labels =
                                entitled(&app, &portico, &audience, Some((&granted, &requested)));
                            portico.push_to_mfes(&labels, &models::MfePush::TokenChanged { grant });
                        }
                        Err(error) => {
                            tracing::warn!(%error, "refreshed token with unreadable scopes not pushed")
                        }
                    }
                    portico.push_token_status();
                }
                BrokerEvent::SessionChanged(session) => {
                    let labels = portico.all_mfe_labels();
                    portico.push_to_mfes(&labels, &models::MfePush::SessionChanged { session });
                    portico.push_state();
                    portico.push_token_status();
                }
                BrokerEvent::StepUpChanged(view) => {
                    portico.set_step_up(view);
                    portico.push_state();
                }
                BrokerEvent::RefreshFailed { audience, error } => {
                    let labels = entitled(&app, &portico, &audience, None);
                    portico.push_to_mfes(
                        &labels,
                        &models::MfePush::RefreshFailed {
                            audience: audience.as_str().to_owned(),
                            error,
                        },
                    );
                    portico.push_token_status();
                }
            }
        }
    });
}

async fn silent_login(portico: &Portico) {
    // A host that built its broker itself may have signed in already: restoring the stored
    // session over it would race its refreshes (and could present a rotated refresh token).
    if portico.broker().session().is_some() {
        portico.push_state();
        return;
    }
    match portico.broker().silent_login().await {
        Ok(_) => tracing::info!("session restored from the keyring"),
        Err(AuthError::LoginRequired { .. }) => {}
        Err(AuthError::StorageUnavailable { reason }) => portico.warn(format!(
            "The system keyring is unavailable ({reason}); sign-ins will last for this run only."
        )),
        Err(error) => {
            portico.warn(format!("Could not restore your session: {error}"));
            portico.report_error(&error);
        }
    }
    portico.push_state();
}
