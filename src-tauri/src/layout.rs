//! One window: the chrome webview as a top bar and one visible MFE webview below it, each MFE in
//! its own webview pinned to its origin. An MFE's webview is made when its tab is first shown
//! (each is a WebKit web process); the first MFE and those registered `preload` are made at start. On Linux, child webviews are packed into a GtkBox and
//! ignore positions (tauri#10420), so the shell sets the box packing itself there: the chrome
//! gets a fixed height, the visible MFE the rest; hidden webviews take no space.

use tauri::webview::{NewWindowResponse, WebviewBuilder};
use tauri::{AppHandle, LogicalPosition, LogicalSize, Manager, Runtime, WebviewUrl};

use tauri_plugin_portico::{Portico, PorticoExt};

pub const WINDOW_LABEL: &str = "main";
pub const CHROME_LABEL: &str = "chrome";
pub const CHROME_HEIGHT: f64 = 64.0;
pub const CHROME_EXPANDED_HEIGHT: f64 = 360.0;
const WIDTH: f64 = 1280.0;
const HEIGHT: f64 = 800.0;

pub fn create<R: Runtime>(app: &AppHandle<R>, portico: &Portico) -> tauri::Result<()> {
    let window = tauri::window::WindowBuilder::new(app, WINDOW_LABEL)
        .title("Portico")
        .inner_size(WIDTH, HEIGHT)
        .min_inner_size(720.0, 480.0)
        .build()?;
    let chrome = window.add_child(
        WebviewBuilder::new(CHROME_LABEL, WebviewUrl::App("shell/index.html".into()))
            // The chrome is ours and never navigates; anything it links to opens outside.
            .on_navigation(|url| {
                url.scheme() == "tauri" || url.host_str() == Some("tauri.localhost")
            })
            .on_new_window(|_, _| NewWindowResponse::Deny),
        LogicalPosition::new(0.0, 0.0),
        LogicalSize::new(WIDTH, CHROME_HEIGHT),
    )?;
    set_chrome_height(&chrome, CHROME_HEIGHT)?;

    let active = portico.active_mfe();
    if let Some(id) = &active {
        Unloads::shown(app, id);
    }
    for mfe in portico.mfes() {
        let shown = active.as_deref() == Some(mfe.id.as_str());
        if !shown && !mfe.preload {
            continue;
        }
        if let Some(webview) = add_mfe(&window, app, &mfe.id)? {
            if !shown {
                webview.hide()?;
            }
        }
    }
    Ok(())
}

/// Makes MFE `id`'s webview in `window`, below the chrome.
fn add_mfe<R: Runtime>(
    window: &tauri::Window<R>,
    app: &AppHandle<R>,
    id: &str,
) -> tauri::Result<Option<tauri::Webview<R>>> {
    let Some(builder) = tauri_plugin_portico::host::mfe_webview(app, id) else {
        return Ok(None);
    };
    let size = window
        .inner_size()
        .and_then(|s| Ok(s.to_logical::<f64>(window.scale_factor()?)))
        .unwrap_or(LogicalSize::new(WIDTH, HEIGHT));
    window
        .add_child(
            builder,
            LogicalPosition::new(0.0, CHROME_HEIGHT),
            LogicalSize::new(size.width, (size.height - CHROME_HEIGHT).max(0.0)),
        )
        .map(Some)
}

/// Show one MFE (making its webview the first time), hide the others.
pub fn select<R: Runtime>(app: &AppHandle<R>, portico: &Portico, id: &str) -> tauri::Result<()> {
    let label = portico
        .mfes()
        .iter()
        .find(|m| m.id == id)
        .map(|m| m.webview_label());
    if label.is_some_and(|l| app.get_webview(&l).is_none()) {
        if let Some(window) = app.get_window(WINDOW_LABEL) {
            add_mfe(&window, app, id)?;
        }
    }
    for mfe in portico.mfes() {
        if let Some(w) = app.get_webview(&mfe.webview_label()) {
            if mfe.id == id {
                w.show()?;
            } else {
                w.hide()?;
            }
        }
    }
    // Only the MFE that was shown until now starts to count its time hidden.
    if let Some(previous) = Unloads::shown(app, id) {
        let after = portico.mfes().iter().find(|m| m.id == previous);
        if let Some(after) = after.and_then(|m| m.unload_after) {
            Unloads::schedule(app, &previous, after);
        }
    }
    Ok(())
}

/// `mfes[].unloadAfterSecs`: a webview hidden that long is closed, which ends its web process;
/// showing its tab makes it again. Each show or hide of an MFE gets a number, so a pending unload
/// goes stale when the MFE is shown again in between.
#[derive(Default)]
struct Unloads(std::sync::Mutex<UnloadState>);

#[derive(Default)]
struct UnloadState {
    shown: Option<String>,
    turns: std::collections::HashMap<String, u64>,
}

impl Unloads {
    fn with<R: Runtime, T>(app: &AppHandle<R>, f: impl FnOnce(&mut UnloadState) -> T) -> T {
        if app.try_state::<Unloads>().is_none() {
            app.manage(Unloads::default());
        }
        let state = app.state::<Unloads>();
        let mut s = state.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }

    /// MFE `id` is now the one shown; returns the one shown until now, if another.
    fn shown<R: Runtime>(app: &AppHandle<R>, id: &str) -> Option<String> {
        Self::with(app, |s| {
            *s.turns.entry(id.to_owned()).or_default() += 1;
            s.shown.replace(id.to_owned()).filter(|p| p != id)
        })
    }

    fn schedule<R: Runtime>(app: &AppHandle<R>, id: &str, after: std::time::Duration) {
        let hide = Self::with(app, |s| {
            let n = s.turns.entry(id.to_owned()).or_default();
            *n += 1;
            *n
        });
        let (app, id) = (app.clone(), id.to_owned());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(after).await;
            if Self::with(&app, |s| s.turns.get(&id).copied()) != Some(hide) {
                return;
            }
            let Some(label) = app
                .portico()
                .mfes()
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.webview_label())
            else {
                return;
            };
            if let Some(w) = app.get_webview(&label) {
                match w.close() {
                    Ok(()) => tracing::info!(mfe = %id, "freed a webview hidden for {after:?}"),
                    Err(error) => {
                        tracing::warn!(mfe = %id, %error, "could not free a hidden webview")
                    }
                }
            }
        });
    }
}

pub fn set_chrome_expanded<R: Runtime>(app: &AppHandle<R>, expanded: bool) -> tauri::Result<()> {
    if let Some(chrome) = app.get_webview(CHROME_LABEL) {
        let h = if expanded {
            CHROME_EXPANDED_HEIGHT
        } else {
            CHROME_HEIGHT
        };
        set_chrome_height(&chrome, h)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn set_chrome_height<R: Runtime>(chrome: &tauri::Webview<R>, height: f64) -> tauri::Result<()> {
    let h = height as i32;
    chrome.with_webview(move |platform| {
        use gtk::prelude::*;
        let widget = platform.inner();
        widget.set_size_request(-1, h);
        if let Some(parent) = widget.parent() {
            if let Ok(vbox) = parent.downcast::<gtk::Box>() {
                vbox.set_child_packing(&widget, false, true, 0, gtk::PackType::Start);
            }
        }
    })
}

#[cfg(not(target_os = "linux"))]
fn set_chrome_height<R: Runtime>(chrome: &tauri::Webview<R>, height: f64) -> tauri::Result<()> {
    let window = chrome.window();
    let size = window
        .inner_size()?
        .to_logical::<f64>(window.scale_factor()?);
    chrome.set_bounds(tauri::Rect {
        position: LogicalPosition::new(0.0, 0.0).into(),
        size: LogicalSize::new(size.width, height).into(),
    })?;
    for w in window.webviews() {
        if w.label() != CHROME_LABEL {
            w.set_bounds(tauri::Rect {
                position: LogicalPosition::new(0.0, height).into(),
                size: LogicalSize::new(size.width, (size.height - height).max(0.0)).into(),
            })?;
        }
    }
    Ok(())
}
