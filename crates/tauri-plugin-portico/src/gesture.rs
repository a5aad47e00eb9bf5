//! Whether a navigation or pop-up an MFE webview asks for follows a user gesture (a click, a
//! key press), so that only those may open the person's browser (issue 15.4).
//!
//! Tauri hands `on_navigation` and `on_new_window` the URL only, and wry's own `decide-policy`
//! handler claims every decision, so a second handler never runs. A GLib *emission hook* runs
//! before any handler of the signal, on the same (GTK main) thread and within the same
//! emission: it reads WebKit's navigation action (`webkit_navigation_action_is_user_gesture`)
//! and leaves it here for the Tauri handler that wry calls right after. Anything the hook did
//! not see is treated as no gesture: the browser is not opened.

use url::Url;

/// What is known about the navigation to a URL that a handler is deciding on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gesture {
    /// The person clicked or typed, and the navigation follows from it.
    Followed,
    /// Script or a frame asked on its own (or the hook saw nothing for this URL).
    Absent,
    /// This platform does not tell (not Linux): the caller keeps its rate limit only.
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    Unknown,
}

/// Start watching navigation decisions. Idempotent; any thread.
pub fn watch() {
    #[cfg(target_os = "linux")]
    linux::install();
}

/// The gesture behind the navigation to `url` that is being decided right now, taken (asked
/// once). Call from `on_navigation` / `on_new_window` only: they run on the main thread inside
/// the emission the hook saw.
pub fn take(url: &Url) -> Gesture {
    #[cfg(target_os = "linux")]
    {
        match linux::take() {
            Some((seen, true)) if same_url(&seen, url) => Gesture::Followed,
            _ => Gesture::Absent,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = url;
        Gesture::Unknown
    }
}

/// WebKit's URI string and Tauri's parsed `Url` of one request can differ in normalisation.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn same_url(seen: &str, url: &Url) -> bool {
    seen == url.as_str() || Url::parse(seen).is_ok_and(|u| &u == url)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::RefCell;
    use std::sync::Once;

    use glib::gobject_ffi::{self, GSignalInvocationHint, GValue};
    use glib::prelude::*;
    use glib::translate::IntoGlib;
    use webkit2gtk::{
        NavigationAction, NavigationPolicyDecision, NavigationPolicyDecisionExt, PolicyDecision,
    };

    thread_local! {
        /// The last navigation WebKit asked about on this (the main) thread: its URI and
        /// whether a user gesture caused it.
        static LAST: RefCell<Option<(String, bool)>> = const { RefCell::new(None) };
    }

    pub(super) fn take() -> Option<(String, bool)> {
        LAST.with(|l| l.borrow_mut().take())
    }

    fn record(action: &mut NavigationAction) {
        let gesture = action.is_user_gesture();
        let uri = action
            .request()
            .and_then(|r| webkit2gtk::URIRequestExt::uri(&r))
            .map(|u| u.to_string());
        LAST.with(|l| *l.borrow_mut() = uri.map(|u| (u, gesture)));
    }

    /// The instance and the signal's parameters an emission hook is given, when there are at
    /// least two (the instance and the one it reads).
    ///
    /// # Safety
    /// `params` must point to `n` initialised values, alive for the returned borrow (GLib
    /// guarantees both for the duration of a hook call).
    unsafe fn signal_params<'a>(n: u32, params: *const GValue) -> Option<&'a [glib::Value]> {
        if n < 2 || params.is_null() {
            return None;
        }
        // SAFETY: the caller's promise; `glib::Value` is a transparent wrapper of `GValue`.
        Some(unsafe { std::slice::from_raw_parts(params as *const glib::Value, n as usize) })
    }

    /// `WebKitWebView::decide-policy (decision, type)` — navigation and new-window decisions —
    /// and `WebKitWebView::create (navigation_action)` — a pop-up (`window.open`,
    /// `target=_blank`): the second value is a policy decision or the navigation action itself.
    unsafe extern "C" fn on_navigation_signal(
        _hint: *mut GSignalInvocationHint,
        n: u32,
        params: *const GValue,
        _data: glib::ffi::gpointer,
    ) -> glib::ffi::gboolean {
        // SAFETY: as GLib calls an emission hook.
        if let Some(values) = unsafe { signal_params(n, params) } {
            let action = match values[1].get::<PolicyDecision>() {
                Ok(decision) => decision
                    .downcast::<NavigationPolicyDecision>()
                    .ok()
                    .and_then(|nav| nav.navigation_action()),
                Err(_) => values[1].get::<NavigationAction>().ok(),
            };
            if let Some(mut action) = action {
                record(&mut action);
            }
        }
        glib::ffi::GTRUE // keep the hook
    }

    pub(super) fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let ty = webkit2gtk::WebView::static_type();
            // SAFETY: signals are looked up on an initialised class; the reference is kept for
            // the life of the process (the hooks are too).
            unsafe {
                gobject_ffi::g_type_class_ref(ty.into_glib());
                for name in [c"decide-policy", c"create"] {
                    let id = gobject_ffi::g_signal_lookup(name.as_ptr(), ty.into_glib());
                    if id == 0 {
                        tracing::warn!(signal = ?name, "WebKit signal not found; MFE navigations open the browser only within their rate limit");
                        continue;
                    }
                    gobject_ffi::g_signal_add_emission_hook(
                        id,
                        0,
                        Some(on_navigation_signal),
                        std::ptr::null_mut(),
                        None,
                    );
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_url_in_either_spelling() {
        let u = Url::parse("http://127.0.0.1:65533/a b").unwrap();
        assert!(same_url("http://127.0.0.1:65533/a%20b", &u));
        assert!(same_url("HTTP://127.0.0.1:65533/a b", &u));
        assert!(!same_url("http://127.0.0.1:65533/other", &u));
        assert!(!same_url("not a url", &u));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn nothing_seen_is_no_gesture() {
        let u = Url::parse("https://example.com/").unwrap();
        assert_eq!(take(&u), Gesture::Absent);
    }
}
