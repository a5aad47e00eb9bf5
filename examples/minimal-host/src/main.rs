//! The smallest host of `tauri-plugin-portico`: a bar of its own (sign-in, who is signed in)
//! above the first registered micro frontend. See docs/plugin.md.

use tauri::webview::WebviewBuilder;
use tauri::{LogicalPosition as At, LogicalSize as Size, WebviewUrl};
use tauri_plugin_portico::{host, PorticoExt};

const BAR: f64 = 56.0;
const W: f64 = 960.0;
const H: f64 = 720.0;

fn main() {
    tauri::Builder::default()
        // First: a deep link on Linux starts a second instance, which forwards it here and exits.
        .plugin(tauri_plugin_single_instance::init(|_, _, _| {}))
        .plugin(tauri_plugin_deep_link::init())
        // Without its link script: it would take an MFE's `target=_blank` link clicks to a
        // command MFEs may not call, so they did nothing (see tauri-plugin-portico's docs).
        .plugin(
            tauri_plugin_opener::Builder::new()
                .open_js_links_on_click(false)
                .build(),
        )
        .plugin(tauri_plugin_portico::init())
        .setup(|app| {
            let handle = app.handle();
            let window = tauri::window::WindowBuilder::new(app, "main")
                .title("Portico minimal host")
                .inner_size(W, H)
                .build()?;
            // The host's own page, granted `portico:host-ui` in capabilities/host.json.
            let bar = WebviewBuilder::new("host", WebviewUrl::App("minimal-host/".into()));
            window.add_child(bar, At::new(0.0, 0.0), Size::new(W, BAR))?;
            let first = handle.portico().mfes().first().map(|m| m.id.clone());
            let mfe = first.and_then(|id| host::mfe_webview(handle, &id));
            let mfe = mfe.ok_or("plugins.portico registers no micro frontend")?;
            window.add_child(mfe, At::new(0.0, BAR), Size::new(W, H - BAR))?;
            host::forward_deep_links(handle);
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the minimal host runs");
}
