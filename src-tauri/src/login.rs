//! Interactive sign-in through the system browser (RFC 8252): open the authorize URL, take the
//! callback by deep link or on a one-shot loopback listener, hand it to the broker. Forged or
//! stale callbacks are refused by the broker and shown as a warning; the pending sign-in stays.

use std::sync::Arc;

use portico_broker::{AuthError, RedirectUri};
use portico_shell_core::loopback::LoopbackRedirect;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_opener::OpenerExt;

use crate::state::{LoginPhase, Shell};

/// Open a URL in the user's browser: the configured browser command (`PORTICO_BROWSER`,
/// `browser`, `$BROWSER`; the URL is appended as the last argument) or the desktop default.
pub fn open_in_browser<R: Runtime>(app: &AppHandle<R>, url: &str) {
    let command = app
        .try_state::<Arc<Shell>>()
        .and_then(|s| s.config.browser.clone());
    if let Some(command) = command {
        let mut parts = command.split_whitespace();
        if let Some(program) = parts.next() {
            match std::process::Command::new(program)
                .args(parts)
                .arg(url)
                .spawn()
            {
                // Reap it in the background; its exit status is not ours to judge.
                Ok(mut child) => {
                    std::thread::spawn(move || child.wait());
                }
                Err(error) => tracing::error!(%error, %program, "browser command failed to start"),
            }
            return;
        }
    }
    if let Err(error) = app.opener().open_url(url, None::<&str>) {
        tracing::error!(%error, "could not open the system browser");
    }
}

/// Start (or restart) a sign-in and open the browser on the provider.
pub async fn sign_in<R: Runtime>(app: AppHandle<R>, shell: Arc<Shell>) -> Result<(), AuthError> {
    let request = match &shell.provider_redirect() {
        RedirectUri::PrivateScheme(_) => shell.broker.begin_login(None).await?,
        RedirectUri::Loopback {
            path,
            port: Some(port),
        } => {
            let redirect_uri = fixed_loopback(&app, &shell, path, *port).await?;
            shell.broker.begin_login(Some(redirect_uri)).await?
        }
        RedirectUri::Loopback { path, port: None } => {
            let mut listener =
                LoopbackRedirect::bind(path, None)
                    .await
                    .map_err(|e| AuthError::Internal {
                        reason: format!("cannot listen on loopback for the redirect: {e}"),
                    })?;
            let request = shell
                .broker
                .begin_login(Some(listener.redirect_uri().clone()))
                .await?;
            let (app2, shell2) = (app.clone(), shell.clone());
            tauri::async_runtime::spawn(async move {
                // Forged requests to the listener are refused and the wait goes on, until a
                // callback completes the login or the login is cancelled or replaced.
                while let Some(url) = listener.next().await {
                    handle_callback(&app2, &shell2, url.as_str()).await;
                    if !shell2.broker.pending_login() {
                        break;
                    }
                }
            });
            request
        }
    };
    shell.set_login_phase(LoginPhase::Pending);
    open_in_browser(&app, request.authorize_url.as_str());
    Ok(())
}

/// The listener on the configured fixed loopback port: bound at the first sign-in and kept, every
/// request handed to the broker, which takes only the callback of the pending sign-in.
async fn fixed_loopback<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Arc<Shell>,
    path: &str,
    port: u16,
) -> Result<url::Url, AuthError> {
    let mut bound = shell.fixed_loopback.lock().await;
    if let Some(uri) = bound.as_ref() {
        return Ok(uri.clone());
    }
    let mut listener = LoopbackRedirect::bind(path, Some(port))
        .await
        .map_err(|e| AuthError::Internal {
            reason: if e.kind() == std::io::ErrorKind::AddrInUse {
                format!("the sign-in redirect port 127.0.0.1:{port} is in use by another program")
            } else {
                format!("cannot listen on 127.0.0.1:{port} for the sign-in redirect: {e}")
            },
        })?;
    let uri = listener.redirect_uri().clone();
    let (app2, shell2) = (app.clone(), shell.clone());
    tauri::async_runtime::spawn(async move {
        while let Some(url) = listener.next().await {
            handle_callback(&app2, &shell2, url.as_str()).await;
        }
    });
    *bound = Some(uri.clone());
    Ok(uri)
}

pub fn cancel(shell: &Shell) {
    shell.broker.cancel_login();
    shell.set_login_phase(LoginPhase::Idle);
}

/// A URL that came back from the browser (deep link or loopback request).
pub async fn handle_callback<R: Runtime>(app: &AppHandle<R>, shell: &Arc<Shell>, url: &str) {
    let _ = app;
    if shell.broker.pending_login() {
        shell.set_login_phase(LoginPhase::Completing);
    }
    let result = shell.broker.complete_login(url).await;
    let phase = if shell.broker.pending_login() {
        LoginPhase::Pending
    } else {
        LoginPhase::Idle
    };
    shell.set_login_phase(phase);
    match result {
        Ok(_) => {
            tracing::info!("signed in");
            focus_main(app);
        }
        Err(AuthError::StorageUnavailable { reason }) => {
            // Signed in for this run; nothing was written anywhere else.
            shell.warn(format!(
                "Signed in, but the system keyring is unavailable ({reason}). \
                 The session is kept in memory only and you will have to sign in again next time."
            ));
        }
        Err(
            e @ (AuthError::StateMismatch
            | AuthError::InvalidCallback { .. }
            | AuthError::IssuerMismatch
            | AuthError::NoPendingLogin
            | AuthError::LoginCancelled),
        ) => {
            shell.warn(format!("Ignored a sign-in response. {e}"));
        }
        Err(e) => {
            shell.warn(format!("Sign-in failed: {e}"));
            shell.report_error(&e);
        }
    }
}

fn focus_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_window(crate::layout::WINDOW_LABEL) {
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

pub async fn sign_out<R: Runtime>(app: AppHandle<R>, shell: Arc<Shell>) -> Result<(), AuthError> {
    let end_session = shell.broker.logout().await?;
    shell.push_state();
    shell.push_token_status();
    if let Some(url) = end_session {
        open_in_browser(&app, url.as_str());
    }
    Ok(())
}

impl Shell {
    fn provider_redirect(&self) -> RedirectUri {
        self.config
            .provider
            .as_ref()
            .map(|p| p.redirect().clone())
            .unwrap_or(RedirectUri::Loopback {
                path: "/callback".into(),
                port: None,
            })
    }
}
