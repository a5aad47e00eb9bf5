//! # Portico shell
//!
//! The reference host of `tauri-plugin-portico`: one window with the shell's chrome and one
//! webview per micro frontend. Sign-in, tokens, the session and who may have which audience are
//! the plugin's (and `portico-broker`'s); this crate keeps the window, the layout, the tabs and
//! the chrome, and hands deep links to the plugin.

pub mod commands;
pub mod layout;

use tauri::{Manager, Runtime};
use tauri_plugin_portico::PorticoExt;

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
        .plugin(tauri_plugin_deep_link::init());
    with_host(builder, tauri_plugin_portico::Builder::new())
}

/// The opener plugin without its link script. That script, injected into every webview, takes
/// a click on a `target=_blank` link (or a Ctrl/Shift-click) away from WebKit and invokes
/// `plugin:opener|open_url`, which an MFE webview may not call: the link did nothing. Without
/// it WebKit asks for a new window, and the Portico plugin opens the system browser for the
/// click (within the MFE's allowance).
fn opener<R: Runtime>() -> impl tauri::plugin::Plugin<R> {
    tauri_plugin_opener::Builder::new()
        .open_js_links_on_click(false)
        .build()
}

/// The opener (the plugin opens the system browser through it), the Portico plugin and the
/// shell's own commands (the IPC tests use this on a mock runtime with a prepared plugin).
pub fn with_host<R: Runtime>(
    builder: tauri::Builder<R>,
    portico: tauri_plugin_portico::Builder,
) -> tauri::Builder<R> {
    builder
        .plugin(opener())
        .plugin(portico.build())
        .invoke_handler(tauri::generate_handler![
            commands::shell_select_mfe,
            commands::shell_set_chrome_expanded,
        ])
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
            layout::create(&handle, &handle.portico())?;
            tauri_plugin_portico::host::forward_deep_links(&handle);
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"));
    match result {
        Ok(()) => {}
        // The plugin could not start (configuration, provider, MFE hosts): said to the person
        // who started the app, with the status the release checks expect.
        Err(tauri::Error::PluginInitialization(plugin, reason))
            if plugin == tauri_plugin_portico::PLUGIN_NAME =>
        {
            eprintln!("portico: cannot start: {reason}");
            std::process::exit(2);
        }
        Err(error) => {
            eprintln!("portico: {error}");
            std::process::exit(1);
        }
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
