//! The shell's own IPC commands: the chrome's tabs and its height. Everything about sign-in,
//! tokens and the session is the Portico plugin's (`plugin:portico|…`).

use portico_broker::AuthError;
use tauri::{AppHandle, Runtime, Webview};
use tauri_plugin_portico::PorticoExt;

use crate::layout::{self, CHROME_LABEL};

/// Only the shell's own chrome webview may drive the layout.
fn require_chrome<R: Runtime>(webview: &Webview<R>) -> Result<(), AuthError> {
    if webview.label() == CHROME_LABEL {
        Ok(())
    } else {
        Err(AuthError::NotPermitted {
            reason: "only the shell's own chrome may drive the layout".into(),
        })
    }
}

fn internal(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal {
        reason: e.to_string(),
    }
}

/// Show MFE `id`, hide the others.
#[tauri::command]
pub fn shell_select_mfe<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    id: String,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    let portico = app.portico();
    if portico.config().mfe(&id).is_none() {
        return Err(AuthError::ConfigInvalid {
            reason: format!("no micro frontend `{id}`"),
        });
    }
    layout::select(&app, &portico, &id).map_err(internal)?;
    portico.set_active_mfe(&id);
    Ok(())
}

/// Grow the chrome for its drawer, or shrink it back to the bar.
#[tauri::command]
pub fn shell_set_chrome_expanded<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    expanded: bool,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    layout::set_chrome_expanded(&app, expanded).map_err(internal)
}
