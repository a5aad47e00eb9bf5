//! # Portico shell
//!
//! The Tauri v2 app: one window with the shell's chrome and one webview per micro frontend,
//! native sign-in through the system browser with the callback by deep link (or loopback), and
//! the typed `get_token` command. Token logic lives in `portico-broker`, registry and access
//! policy in `portico-shell-core`; this crate only wires them to webviews.

pub mod commands;
pub mod layout;
pub mod login;
pub mod setup;
pub mod state;

use std::sync::Arc;

use portico_broker::{AuthError, BrokerEvent};
use serde_json::json;
use tauri::ipc::CapabilityBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::state::Shell;

/// Permissions an MFE webview gets: its token command and its own push channel. No
/// `core:event`, no opener, no shell, no plugin commands.
pub const MFE_PERMISSIONS: &[&str] = &[
    "allow-get-token",
    "allow-mfe-subscribe",
    "allow-mfe-context",
    "allow-mfe-sign-in",
    "allow-mfe-ping",
];

/// Build the Tauri app with every plugin and command of the shell (tests add their runtime).
pub fn builder<R: Runtime>() -> tauri::Builder<R> {
    let builder = tauri::Builder::<R>::new()
        // Must be first: a second instance (how Linux delivers a deep link) forwards its
        // arguments here and exits before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(w) = app.get_window(layout::WINDOW_LABEL) {
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init());
    with_commands(builder)
}

/// Register the shell's IPC commands (the IPC tests use this on a mock runtime).
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    let generated: Box<tauri::ipc::InvokeHandler<R>> = Box::new(tauri::generate_handler![
        commands::get_token,
        commands::mfe_subscribe,
        commands::mfe_context,
        commands::mfe_sign_in,
        commands::mfe_ping,
        commands::shell_state,
        commands::shell_subscribe,
        commands::shell_sign_in,
        commands::shell_cancel_sign_in,
        commands::shell_sign_out,
        commands::shell_select_mfe,
        commands::shell_set_chrome_expanded,
        commands::token_status,
    ]);
    // Tauri has checked the ACL before calling this. Cache hits of `get_token` are answered right
    // here; everything else goes to the generated handler.
    builder.invoke_handler(move |invoke| {
        if let Some(grant) = commands::get_token_from_cache(&invoke) {
            invoke.resolver.resolve(grant);
            return true;
        }
        generated(invoke)
    })
}

pub fn run() {
    init_logging();
    #[cfg(target_os = "linux")]
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "portico: no display (DISPLAY and WAYLAND_DISPLAY are unset). Portico is a desktop app; \
             start it from a graphical session, or headless with `xvfb-run -a`."
        );
        std::process::exit(2);
    }
    let result = builder::<tauri::Wry>()
        .setup(|app| {
            let handle = app.handle().clone();
            let shell = match setup::build_shell(&handle) {
                Ok(shell) => Arc::new(shell),
                Err(error) => {
                    eprintln!("portico: cannot start: {error}");
                    std::process::exit(2);
                }
            };
            app.manage(Arc::clone(&shell));
            grant_mfe_capabilities(&handle, &shell)?;
            layout::create(&handle, &shell)?;
            wire_deep_links(&handle, &shell);
            wire_broker_events(&handle, &shell);
            let background = Arc::clone(&shell);
            tauri::async_runtime::spawn(async move {
                // Spawns onto the runtime it is called from, hence inside this task.
                background.broker.start_proactive_refresh();
                silent_login(&background).await;
            });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(error) = result {
        eprintln!("portico: {error}");
        std::process::exit(1);
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTICO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// One runtime capability per MFE: only its webview label, only its origin(s), only the MFE
/// permissions. Never linked to the window label (children would inherit it).
pub fn grant_mfe_capabilities<R: Runtime>(app: &AppHandle<R>, shell: &Shell) -> tauri::Result<()> {
    for mfe in &shell.config.mfes {
        let mut cap = CapabilityBuilder::new(format!("mfe-{}", mfe.id))
            .webview(mfe.webview_label())
            .local(false);
        for origin in &mfe.origins {
            cap = cap.remote(format!("{origin}/*"));
        }
        for p in MFE_PERMISSIONS {
            cap = cap.permission(*p);
        }
        app.add_capability(cap)?;
    }
    Ok(())
}

/// Deep links arrive from the OS (a second instance forwarded by single-instance, or the
/// arguments of this one when a link started the app). Handled in Rust only.
fn wire_deep_links<R: Runtime>(app: &AppHandle<R>, shell: &Arc<Shell>) {
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if let Err(error) = app.deep_link().register_all() {
        tracing::warn!(%error, "could not register the URL scheme with the desktop");
    }
    let (h, s) = (app.clone(), Arc::clone(shell));
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            let (h, s) = (h.clone(), Arc::clone(&s));
            tauri::async_runtime::spawn(async move {
                login::handle_callback(&h, &s, url.as_str()).await;
            });
        }
    });
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            let (h, s) = (app.clone(), Arc::clone(shell));
            tauri::async_runtime::spawn(async move {
                login::handle_callback(&h, &s, url.as_str()).await;
            });
        }
    }
}

/// Broker announcements become pushes to the webviews entitled to them, never broadcasts.
fn wire_broker_events<R: Runtime>(_app: &AppHandle<R>, shell: &Arc<Shell>) {
    let mut events = shell.broker.subscribe();
    let shell = Arc::clone(shell);
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
                    audience, grant, ..
                } => {
                    let labels = shell.policy.entitled_labels(audience.as_str());
                    shell.push_to_mfes(&labels, &json!({ "type": "tokenChanged", "grant": grant }));
                    shell.push_token_status();
                }
                BrokerEvent::SessionChanged(session) => {
                    let labels = shell.all_mfe_labels();
                    shell.push_to_mfes(
                        &labels,
                        &json!({ "type": "sessionChanged", "session": session }),
                    );
                    shell.push_state();
                    shell.push_token_status();
                }
                BrokerEvent::RefreshFailed { audience, error } => {
                    let labels = shell.policy.entitled_labels(audience.as_str());
                    shell.push_to_mfes(
                        &labels,
                        &json!({ "type": "refreshFailed", "audience": audience.as_str(), "error": error }),
                    );
                    shell.push_token_status();
                }
            }
        }
    });
}

async fn silent_login(shell: &Shell) {
    match shell.broker.silent_login().await {
        Ok(_) => tracing::info!("session restored from the keyring"),
        Err(AuthError::LoginRequired { .. }) => {}
        Err(AuthError::StorageUnavailable { reason }) => shell.warn(format!(
            "The system keyring is unavailable ({reason}); sign-ins will last for this run only."
        )),
        Err(error) => {
            shell.warn(format!("Could not restore your session: {error}"));
            shell.report_error(&error);
        }
    }
    shell.push_state();
}
