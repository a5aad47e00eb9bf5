//! What every host does the same way: an MFE's webview pinned to its origins, and deep links
//! handed to the plugin. The host decides where the webviews go.

use std::sync::Arc;

use tauri::webview::{NewWindowResponse, PageLoadEvent, WebviewBuilder};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::{Portico, PorticoExt};

/// The webview of the MFE `id`, ready for the host to place (`Window::add_child`): labelled as
/// the plugin's capabilities expect, loading the MFE's page, pinned to its origins (any other
/// navigation or pop-up is refused; one that follows a click goes to the system browser, at most
/// [`BROWSER_OPENS`](crate::BROWSER_OPENS)), its page loads reported so `get_token` judges the
/// caller by the page its webview shows. `None` for an unknown id.
pub fn mfe_webview<R: Runtime>(app: &AppHandle<R>, id: &str) -> Option<WebviewBuilder<R>> {
    let portico = app.portico();
    let mfe = portico.mfes().iter().find(|m| m.id == id)?;
    let url = portico.mfe_start_url(id)?;
    let label = mfe.webview_label();
    let policy = portico.policy().clone();
    let nav_label = label.clone();
    let popup_label = label.clone();
    let opener = app.clone();
    let popup_opener = app.clone();
    crate::gesture::watch();
    Some(
        WebviewBuilder::new(&label, WebviewUrl::External(url))
            .on_navigation(move |url| {
                if policy.may_navigate(&nav_label, url) {
                    return true;
                }
                leave_for(&opener, &nav_label, url);
                false
            })
            .on_new_window(move |url, _| {
                leave_for(&popup_opener, &popup_label, &url);
                NewWindowResponse::Deny
            })
            // The navigation guard above only lets pages of the MFE's origins load, so the page
            // recorded here is one of them (get_token reads it without a main-thread hop).
            .on_page_load(|webview, payload| {
                if payload.event() == PageLoadEvent::Started {
                    if let Some(portico) = webview.try_state::<Arc<Portico>>() {
                        portico.record_mfe_page(webview.label(), payload.url());
                    }
                }
            }),
    )
}

/// A refused navigation or pop-up of the MFE webview `label`: opened in the system browser
/// when the person clicked for it (within the MFE's allowance), else only refused — a script
/// or a frame of the page cannot send the person anywhere (issue 15.4).
fn leave_for<R: Runtime>(app: &AppHandle<R>, label: &str, url: &url::Url) {
    let Some(p) = app.try_state::<Arc<Portico>>() else {
        return;
    };
    if !matches!(url.scheme(), "http" | "https") {
        tracing::info!(%label, "navigation outside the MFE's origin refused");
        return;
    }
    match crate::gesture::take(url) {
        crate::gesture::Gesture::Absent => p.refuse_for_mfe(label, url),
        crate::gesture::Gesture::Followed | crate::gesture::Gesture::Unknown => {
            p.open_for_mfe(app, label, url.as_str());
        }
    }
}

/// Hands every deep link to the plugin: those a second instance forwards (single-instance with
/// its `deep-link` feature) and the ones this instance was started with. Registers the URL
/// scheme with the desktop where that is done at run time (Linux; Windows in debug builds).
pub fn forward_deep_links<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if let Err(error) = app.deep_link().register_all() {
        tracing::warn!(%error, "could not register the URL scheme with the desktop");
    }
    let h = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            let h = h.clone();
            tauri::async_runtime::spawn(async move {
                h.portico().handle_callback(&h, url.as_str()).await;
            });
        }
    });
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            let h = app.clone();
            tauri::async_runtime::spawn(async move {
                h.portico().handle_callback(&h, url.as_str()).await;
            });
        }
    }
}
